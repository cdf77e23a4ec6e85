"""One synthetic patient living a pathway in memory, for ``engine.authoring.simulate``.

A ``Setting`` holds what is computed once per pathway (runtime, which
observations each state waits for, which events end the pathway…); a ``Life``
drives one case with the real ``Runtime``: it keeps a queue of what will
happen (a professional completing a task, a laboratory result, an exit, a
hospital stay), fires the case's timers when they fall due, and counts the
tasks created per month and role.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine import events
from engine.authoring import synthetic
from engine.case import Case, Event, ObservationValue, Outcome, Subject, TaskCreated
from engine.clock import PARIS
from engine.exceptions import ParcoursError
from engine.pathway.compiler import CompiledPathway
from engine.runtime import Runtime

YEAR = timedelta(days=365.25)
RAMP = timedelta(days=30)    # enrolments are spread over the first month
_MAX_STEPS = 100_000


def month_index(start: datetime, at: datetime) -> int:
    local, first = at.astimezone(PARIS), start.astimezone(PARIS)
    return (local.year - first.year) * 12 + local.month - first.month


@dataclass(frozen=True)
class Setting:
    """Per-pathway facts a simulated life needs, computed once per process."""

    pathway: CompiledPathway
    runtime: Runtime
    start: datetime
    end: datetime
    finals: frozenset[str]
    awaits: dict[str, tuple[str, ...]]       # atomic state → observations its own transitions read
    exits: frozenset[str]                    # manual events leading to a top-level final state
    hospital: bool                           # the pathway reacts to admissions
    conditions: tuple[str, ...]              # condition codes named by text parameters

    @classmethod
    def of(cls, pathway: CompiledPathway, start: datetime, end: datetime) -> Setting:
        runtime = Runtime(pathway)
        finals = frozenset(s for s, state in pathway.states.items() if state.top_final)
        awaits: dict[str, list[str]] = {}
        for t in pathway.transitions.values():
            key = events.key_of(t.event, events.OBSERVATION)
            if key is not None and not pathway.tree.nodes[t.source].children:
                awaits.setdefault(t.source, [])
                if key not in awaits[t.source]:
                    awaits[t.source].append(key)
        exits = frozenset(t.event for t in pathway.transitions.values()
                          if t.target in finals and t.event in pathway.definition.events)
        codes = tuple(v for v in runtime.params.values() if isinstance(v, str) and v.isdigit())
        return cls(pathway, runtime, start, end, finals,
                   {k: tuple(v) for k, v in awaits.items()}, exits,
                   events.ADMISSION in pathway.selection, codes)

    def subject(self, rng: random.Random, at: datetime) -> Subject:
        """A patient eligible at ``at``: age drawn between 40 and 100 (mode 72), sex F or M,
        and every condition code a text parameter names (e.g. SNOMED 44054006)."""
        for _ in range(200):
            age = int(rng.triangular(40, 100, 72))
            born = at.date() - timedelta(days=round(age * 365.25) + rng.randrange(365))
            subject = Subject(born, rng.choice("FM"), self.conditions)
            if self.runtime.is_eligible(subject, at):
                return subject
        raise ParcoursError("no synthetic patient meets the eligibility of this pathway "
                            f"({self.pathway.definition.eligibility})")

    def check_eligible_patient(self, rng: random.Random) -> None:
        self.subject(rng, self.start)


class Life:
    """One patient's case, from enrolment to the end of the simulation."""

    def __init__(self, setting: Setting, rng: random.Random) -> None:
        self.setting, self.rng = setting, rng
        self.patient = synthetic.Patient(rng, {})
        self.queue: list[tuple[datetime, int, str, Any]] = []
        self.seq = 0
        self.created: Counter[tuple[int, str]] = Counter()
        self.refused = 0
        self.awaited: set[str] = set()
        at = setting.start + rng.uniform(0, 1) * RAMP
        self.subject = setting.subject(rng, at)
        self.enrolled_at = at

    def run(self) -> Case:
        setting, runtime = self.setting, self.setting.runtime
        outcome = runtime.start(self.subject, self.enrolled_at)
        case = self._absorb(outcome, (), self.enrolled_at)
        for name in setting.pathway.definition.events:
            self._recur(name, self.enrolled_at)
        if setting.hospital:
            self._push(self.enrolled_at + self._poisson(synthetic.ADMISSION_RATE), events.ADMISSION)
        for _ in range(_MAX_STEPS):
            if case.closed:
                break
            due, ahead = case.next_due, self.queue[0][0] if self.queue else None
            if due is not None and due < setting.end and (ahead is None or due <= ahead):
                outcome, now = runtime.advance(case, self.subject, due), due
            elif ahead is not None and ahead < setting.end:
                now, _, kind, payload = heapq.heappop(self.queue)
                found = self._act(case, now, kind, payload)
                if found is None:
                    continue
                outcome = found
            else:
                break
            case = self._absorb(outcome, case.active, now)
        return case

    # -- what happens ----------------------------------------------------------------------

    def _push(self, at: datetime, kind: str, payload: Any = None) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, payload))

    def _poisson(self, rate: float) -> timedelta:
        return self.rng.expovariate(rate) * YEAR

    def _recur(self, name: str, after: datetime) -> None:
        rate = synthetic.EXIT_RATE if name in self.setting.exits else synthetic.EVENT_RATE
        self._push(after + self._poisson(rate), "event", name)

    def _act(self, case: Case, at: datetime, kind: str, payload: Any) -> Outcome | None:
        definition = self.setting.pathway.definition
        if kind == "task":
            ref, key = payload
            if not any(t.ref == ref for t in case.tasks):
                return None          # cancelled, or completed by something else
            fields = definition.tasks[key].result
            event = Event(events.task_completed(key), at, task=ref,
                          result=self.patient.result(fields))
        elif kind == events.OBSERVATION:
            self.awaited.discard(payload)
            spec = definition.observations[payload]
            event = Event(events.observation(payload), at, value=self.patient.observation(spec),
                          unit=spec.unit)
        elif kind == "event":
            self._recur(payload, at)
            event = Event(payload, at, data=self.patient.result(definition.events[payload].data))
        else:
            event = self._hospital(kind, at)
        try:
            outcome = self.setting.runtime.apply(case, event, self.subject)
        except ParcoursError:
            self.refused += 1
            return None
        if kind == events.OBSERVATION:
            self._observed(payload, event)
        return outcome

    def _hospital(self, kind: str, at: datetime) -> Event:
        if kind == events.ADMISSION:
            low, mode, high = synthetic.STAY_DAYS
            self._push(at + timedelta(days=self.rng.triangular(low, high, mode)), events.DISCHARGE)
        elif self.rng.random() < synthetic.EARLY_READMISSION:
            self._push(at + timedelta(days=self.rng.uniform(1, 30)), events.ADMISSION)
        else:
            self._push(at + self._poisson(synthetic.ADMISSION_RATE), events.ADMISSION)
        return Event(kind, at)

    def _observed(self, key: str, event: Event) -> None:
        observations = dict(self.subject.observations)
        observations[key] = ObservationValue(event.value, event.at, event.unit)
        s = self.subject
        self.subject = Subject(s.birth_date, s.sex, s.conditions, observations)

    # -- reacting to what the pathway did ----------------------------------------------------

    def _absorb(self, outcome: Outcome, before: tuple[str, ...], now: datetime) -> Case:
        start = self.setting.start
        for effect in outcome.effects:
            if isinstance(effect, TaskCreated):
                self.created[(month_index(start, effect.at), effect.role)] += 1
                self._plan_task(effect)
        for leaf in outcome.case.active:
            if leaf not in before:
                self._plan_awaited(leaf, now)
        return outcome.case

    def _plan_task(self, task: TaskCreated) -> None:
        factor = synthetic.task_delay_factor(self.rng)
        if factor is None:
            return
        at = task.at + (task.due_at - task.at) * factor
        completing = self.setting.pathway.tasks[task.key].completing_events()
        by = completing[0] if completing else ""
        if (key := events.key_of(by, events.OBSERVATION)) is not None:
            self._push(at, events.OBSERVATION, key)
        else:
            self._push(at, "task", (task.ref, task.key))

    def _plan_awaited(self, leaf: str, now: datetime) -> None:
        """A state that waits for an observation without a task for it: a result comes."""
        keys = self.setting.awaits.get(leaf)
        if not keys or self.rng.random() >= synthetic.OBSERVED:
            return
        key = keys[0] if len(keys) == 1 or self.rng.random() < 0.75 else self.rng.choice(keys)
        if key not in self.awaited:
            self.awaited.add(key)
            self._push(now + timedelta(days=self.rng.uniform(3, 40)), events.OBSERVATION, key)
