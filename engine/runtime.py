"""The in-memory case runtime: (case, event) → (new case, effects).

Statechart semantics, kept small:

- the active configuration is the set of active *atomic* states (one per
  parallel region); their ancestors are active too;
- for an event, each active atomic state takes, from the shared machine's
  table, the first transition (its own, then its ancestors') whose guard
  holds; a transition already taken from another region, or whose source was
  left by an earlier one, is skipped;
- an external transition exits every active state under its domain (deepest
  first: open tasks cancelled, timers disarmed), runs its actions, then enters
  the states down to its target (timers armed, entry actions run). When the
  domain is a parallel state, only its regions holding the source or the
  target are exited and re-entered; its other regions carry on;
- before any event at time *t*, every timer due at or before *t* fires, in
  time order, each at its own time; a recurring timer is re-armed from its
  scheduled time, so there is no drift;
- entering a top-level final state closes the case.

Time comes only from the events (and from ``now`` given to ``advance``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import attrgetter
from typing import Any

from engine import events, history, hospital
from engine.case import (
    Case,
    CaseClosed,
    Effect,
    Entered,
    Event,
    FactSet,
    GuardFailed,
    Notification,
    ObservationValue,
    OpenTask,
    Outcome,
    Subject,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TimerCancelled,
    TimerFired,
    TimerSet,
    TimerState,
    Transitioned,
)
from engine.clock import CalendarCache
from engine.durations import Duration
from engine.exceptions import (
    ClosedCaseError,
    EvaluationError,
    RuntimeEventError,
    UnknownEventError,
)
from engine.pathway.compiler import CompiledActions, CompiledPathway, CompiledTransition
from engine.pathway.expressions import CompiledExpression, Scope, evaluate_value, plain
from engine.pathway.statetree import ROOT
from engine.units import same_unit, to_declared
from engine.values import check_fields, check_value, plainly_valid

MAX_TIMER_FIRINGS = 10_000
_TIMER_ORDER = attrgetter("fire_at", "name")
_FIRE_AT = attrgetter("fire_at")


class _EventScope(Scope):
    __slots__ = ("guard_errors",)

    def __init__(self, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.guard_errors: list[tuple[str, str]] = []


@dataclass(slots=True)
class _Work:
    """The mutable copy of a case while one event is applied."""

    leaves: list[str]
    facts: dict[str, Any]
    timers: dict[tuple[str, str], TimerState]
    tasks: dict[str, OpenTask]
    seq: int
    closed_at: datetime | None
    #: shared with the case until an observation is recorded (copied then)
    history: Mapping[str, tuple[ObservationValue, ...]] = field(default_factory=dict)
    stays: Mapping[str, Any] = field(default_factory=dict)
    effects: list[Effect] = field(default_factory=list)
    #: the timer whose firing is being dispatched: re-entering its state keeps its schedule
    firing: TimerState | None = None

    @classmethod
    def of(cls, case: Case) -> _Work:
        return cls(list(case.active), dict(case.facts),
                   {(t.state, t.name): t for t in case.timers},
                   {t.ref: t for t in case.tasks}, case.seq, case.closed_at, case.history,
                   case.stays)

    def freeze(self, rank: Mapping[str, int]) -> Case:
        """The new case: leaves in document order, timers by time then name."""
        timers = self.timers
        leaves = self.leaves
        return Case(tuple(leaves) if len(leaves) < 2 else tuple(sorted(leaves,
                                                                       key=rank.__getitem__)),
                    self.facts,
                    tuple(timers.values()) if len(timers) < 2
                    else tuple(sorted(timers.values(), key=_TIMER_ORDER)),
                    tuple(self.tasks.values()), self.seq, self.closed_at, self.history,
                    self.stays)


class Runtime:
    """Applies events to cases of one compiled pathway with one set of parameters."""

    def __init__(self, pathway: CompiledPathway,
                 parameters: Mapping[str, Any] | None = None) -> None:
        self.pathway = pathway
        self.params = pathway.resolve_parameters(parameters)
        self._durations: dict[str, Duration] = {}
        #: due dates, reminders and timers: the same delays from the same instants
        self._calendar = CalendarCache()
        self._units: dict[tuple[str, str | None], bool] = {}
        #: per state: its timers and its entry actions (None when it has none)
        self._entering = {sid: (state.timers, state.entry if state.entry else None)
                          for sid, state in pathway.states.items()}
        self._obs_keys = set(pathway.definition.observations)
        # per-pathway lookups, computed once so that no event rebuilds them
        states = pathway.states
        self._rank = {sid: state.order for sid, state in states.items()}
        #: timers due at the same instant fire in document order (state, then declaration)
        self._timer_rank = {(sid, timer.name): (state.order, i)
                            for sid, state in states.items()
                            for i, timer in enumerate(state.timers)}
        self._exit_rank = {sid: (-state.depth, state.order) for sid, state in states.items()}
        #: a state, its ancestors and the root (the source of ``always`` transitions)
        self._lineage = {sid: frozenset((sid, *state.ancestors, ROOT))
                         for sid, state in states.items()}
        self._top_finals = frozenset(sid for sid, state in states.items() if state.top_final)
        self._default_facts = {name: fact.default
                               for name, fact in pathway.definition.facts.items()}
        #: tasks that survive leaving the state that created them
        self._outliving = frozenset(k for k, t in pathway.tasks.items() if t.outlives_state)
        #: whether any task has an ``on_expiry`` message (else timers need not look)
        self._on_expiry = any(t.on_expiry is not None for t in pathway.tasks.values())
        self._completes: dict[str, frozenset[str]] = {}
        for key, task in pathway.tasks.items():
            for event_name in task.completing_events():
                self._completes[event_name] = (
                    self._completes.get(event_name, frozenset()) | {key})
        self._task_results = {key: {name: f.model_dump(exclude_none=True)
                                    for name, f in task.result.items()}
                              for key, task in pathway.tasks.items()}
        self._kinds: dict[str, tuple[str, str]] = {}
        self._every: dict[str, str] = {}
        #: the roots of ``ROOTS`` some guard or ``set`` expression reads: the others are not
        #: built for each event (nothing else sees an event's scope)
        self._reads = _roots_read(pathway)
        #: observation kind → how much of it the case keeps for ``history.KEY`` guards
        self._retention = {key: history.Retention.resolve(needs, self.params)
                           for key, needs in pathway.history.items()}
        self._history_keys = tuple(self._retention)

    # -- public API -------------------------------------------------------------------------

    def is_eligible(self, subject: Subject, now: datetime) -> bool:
        if self.pathway.eligibility is None:
            return True
        scope = Scope({"params": self.params, "patient": self._patient(subject, now),
                       "now": now})
        try:
            return bool(self.pathway.eligibility.evaluate(scope))
        except Exception as exc:
            raise EvaluationError(self.pathway.eligibility.source, exc, "eligibility") from exc

    def start(self, subject: Subject, now: datetime) -> Outcome:
        """Enrol: a new case in the initial configuration, entry actions run at ``now``."""
        work = _Work([], dict(self._default_facts), {}, {}, 0, None)
        for key in self._history_keys:  # what the patient's record already holds
            if (latest := subject.observations.get(key)) is not None:
                self._remember(work, key, latest, now)
        scope = self._scope(work, subject, Event("enrolled", now), now)
        self._enter(work, self.pathway.initial_enter, scope, now)
        work.leaves = list(self.pathway.initial_leaves)
        work.effects.insert(0, Entered(now, self.pathway.initial_leaves))
        self._close_if_final(work, now)
        return Outcome(work.freeze(self._rank), tuple(work.effects))

    def advance(self, case: Case, subject: Subject, now: datetime) -> Outcome:
        """Fire every timer due at or before ``now``, in time order."""
        work = _Work.of(case)
        self._fire_due(work, subject, now)
        return Outcome(work.freeze(self._rank), tuple(work.effects))

    def apply(self, case: Case, event: Event, subject: Subject) -> Outcome:
        """Apply one event (after firing the timers due before it)."""
        if case.closed:
            raise ClosedCaseError(case.active[0] if case.active else "?")
        event = self.in_declared_unit(event)
        self._validate(event)
        if hospital.stay_of(event) is not None:
            return self._hospital(case, event, subject)
        return self._apply(case, event, subject)

    # -- migration to another version (``engine.migration``) ---------------------------------

    def duration(self, ref: str) -> Duration:
        """A delay of this pathway (duration text or parameter name) with these parameters."""
        return self._dur(ref)

    def period(self, ref: str) -> str:
        """A recurring timer's period as the runtime stores it on a case."""
        return self._period(ref)

    def arm(self, sid: str, name: str, delay: str, recurring: bool,
            now: datetime) -> TimerState:
        """A timer of ``sid`` armed at ``now`` (what entering the state would arm)."""
        duration = self._dur(delay)
        return TimerState(name, sid, duration.add_to(now),
                          self._period(delay) if recurring else None, now)

    def enter(self, case: Case, states: tuple[str, ...], leaves: tuple[str, ...],
              tasks: tuple[tuple[str, str], ...], subject: Subject, now: datetime) -> Outcome:
        """A migrated ``case`` (already in this version's states) enters ``states``, top-down
        (a parallel region the new version adds: its timers armed from ``now``, its entry
        actions run), gains the atomic ``leaves`` they lead to, and gets the ``tasks``
        (kind, owning state) the mapping creates: the same effects as an event would have."""
        work = _Work.of(case)
        scope = self._scope(work, subject, Event(events.MIGRATION, now), now)
        self._enter(work, states, scope, now)
        work.leaves = list(dict.fromkeys([*work.leaves, *leaves]))
        for key, owner in tasks:
            if not any(task.key == key for task in work.tasks.values()):  # entry made it
                self._create_task(work, key, owner, now)
        self._close_if_final(work, now)
        return Outcome(work.freeze(self._rank), tuple(work.effects))

    def _hospital(self, case: Case, event: Event, subject: Subject) -> Outcome:
        """A typed hospital event: once per stay and kind; a cancellation undoes."""
        if hospital.already_applied(case, event):
            return Outcome(case, ())
        if event.name in events.CANCELS:
            return hospital.undo(case, event)
        return hospital.remember(case, self._apply(case, event, subject), event)

    def _apply(self, case: Case, event: Event, subject: Subject) -> Outcome:
        work = _Work.of(case)
        self._fire_due(work, subject, event.at)
        if work.closed_at is not None:
            raise ClosedCaseError(work.leaves[0] if work.leaves else "?")
        self._validate_task(case, work, event)
        kind, key = self._kind(event.name)
        if kind == events.OBSERVATION and key in self._retention:
            self._remember(work, key, ObservationValue(event.value, event.at, event.unit),
                           event.at)
        scope = self._scope(work, subject, event, event.at)
        self._complete_tasks(work, event)
        self._dispatch(work, event.name, scope, event.at)
        return Outcome(work.freeze(self._rank), tuple(work.effects))

    def in_declared_unit(self, event: Event) -> Event:
        """An observation in an equivalent unit (ng/L for pg/mL, g for kg, HbA1c in
        mmol/mol for %), converted to the unit the pathway declares; ``UnitError`` when
        the unit measures something else."""
        kind, key = self._kind(event.name)
        if kind != events.OBSERVATION or event.unit is None:
            return event
        spec = self.pathway.definition.observations.get(key)
        if spec is None or self._same_unit(event.unit, spec.unit):
            return event
        converted = to_declared(spec.title, event.value, event.unit, spec.unit, spec.code)
        if converted is None:
            return event
        return replace(event, value=converted.value, unit=converted.unit)

    def _same_unit(self, unit: str, declared: str | None) -> bool:
        """``same_unit``, remembered per pair (a laboratory sends the same units all day)."""
        pair = (unit, declared)
        same = self._units.get(pair)
        if same is None:
            if len(self._units) >= 1024:
                self._units.clear()
            same = self._units[pair] = same_unit(unit, declared)
        return same

    # -- validation -------------------------------------------------------------------------

    def _kind(self, name: str) -> tuple[str, str]:
        """``observation:hba1c`` → ('observation', 'hba1c'); ``sortie`` → ('sortie', '')."""
        kind = self._kinds.get(name)
        if kind is None:
            kind = self._kinds[name] = events.parse(name)
        return kind

    def _validate(self, event: Event) -> None:
        names = self.pathway.event_names
        if event.name not in names:
            raise UnknownEventError(event.name, sorted(names))
        kind, arg = self._kind(event.name)
        if kind == events.OBSERVATION:
            spec = self.pathway.definition.observations[arg]
            if not plainly_valid(event.value, spec.type, spec.minimum, spec.maximum):
                check_value(spec.title, event.value, spec.type, spec.minimum, spec.maximum,
                            spec.choices, spec.unit)
        elif kind == events.TIMER:
            raise RuntimeEventError("timer events are fired by the runtime, not sent to it")
        elif events.is_hospital(event.name) and (event.data or event.name in events.CANCELS):
            hospital.check_data(event.name, event.data)
        elif event.name in self.pathway.definition.events:
            check_fields(f"data of event {event.name!r}", event.data,
                         self.pathway.definition.events[event.name].data)

    def _validate_task(self, case: Case, work: _Work, event: Event) -> None:
        """The task an event completes must be open once the timers due before it fired."""
        kind, arg = self._kind(event.name)
        if kind != events.TASK_COMPLETED:
            if event.task is not None and event.task not in work.tasks:
                raise _closed_by_timer(event)
            return
        task = work.tasks.get(event.task) if event.task is not None else None
        if task is None or task.key != arg:
            if any(t.ref == event.task and t.key == arg for t in case.tasks):
                raise _closed_by_timer(event)
            refs = ([t.ref for t in work.tasks.values() if t.key == arg]
                    or list(work.tasks))
            raise RuntimeEventError(f"no open task {event.task!r} of kind {arg!r} in this "
                                    f"case; open tasks: {', '.join(refs) or 'none'}")
        check_fields(f"result of task {arg!r}", event.result, self.pathway.tasks[arg].result)

    # -- scope ------------------------------------------------------------------------------

    def _patient(self, subject: Subject, now: datetime) -> dict[str, Any]:
        return {"age": subject.age_at(now), "sex": subject.sex,
                "conditions": list(subject.conditions), "birth_date": subject.birth_date,
                "ald": subject.ald, "condition_years": subject.condition_years(now)}

    def _scope(self, work: _Work, subject: Subject, event: Event, now: datetime) -> _EventScope:
        """What guards see; an observation event is the latest value of its key."""
        values = {"params": self.params, "facts": work.facts, "now": now}
        reads = self._reads
        if "obs" in reads:
            obs: dict[str, Any] = dict.fromkeys(self._obs_keys)
            for key, value in subject.observations.items():
                obs[key] = self._obs_view(value, now)
            kind, key = self._kind(event.name)
            if kind == events.OBSERVATION:
                latest = subject.observations.get(key)
                if latest is None or latest.at <= event.at:
                    obs[key] = self._obs_view(
                        ObservationValue(event.value, event.at, event.unit), now)
            values["obs"] = obs
        if "patient" in reads:
            values["patient"] = self._patient(subject, now)
        if "event" in reads:
            values["event"] = event.view()
        if history.ROOT in reads:
            values[history.ROOT] = history.views(work.history, self._history_keys, now)
        return _EventScope(values)

    def _obs_view(self, value: ObservationValue, now: datetime) -> dict[str, Any]:
        at = value.at  # the event's own value is of its day (equal instants, equal dates)
        return {"value": value.value, "unit": value.unit, "date": at,
                "days_ago": 0 if at == now else self._calendar.days(at, now)}

    def _remember(self, work: _Work, key: str, value: ObservationValue, now: datetime) -> None:
        work.history = {**work.history, key: history.record(
            work.history.get(key, ()), value, now, self._retention[key])}

    # -- timers -----------------------------------------------------------------------------

    def _fire_due(self, work: _Work, subject: Subject, now: datetime) -> None:
        for _ in range(MAX_TIMER_FIRINGS):
            if work.closed_at is not None or not work.timers:
                return
            timers = work.timers.values()
            if min(timers, key=_FIRE_AT).fire_at > now:  # the common case: none is due
                return
            timer = min(timers, key=self._firing_order)
            slot = (timer.state, timer.name)
            del work.timers[slot]
            if timer.every is not None:
                work.timers[slot] = self._rearm(timer)
            work.effects.append(TimerFired(timer.fire_at, timer.name, timer.state))
            event = Event(events.timer(timer.name), timer.fire_at)
            work.firing = timer
            self._dispatch(work, event.name, self._scope(work, subject, event, timer.fire_at),
                           timer.fire_at)
            work.firing = None
        raise RuntimeEventError(f"more than {MAX_TIMER_FIRINGS} timer firings in one step")

    def _firing_order(self, timer: TimerState) -> tuple[datetime, tuple[int, int]]:
        return timer.fire_at, self._timer_rank.get((timer.state, timer.name), (0, 0))

    def _rearm(self, timer: TimerState) -> TimerState:
        """The next firing of a recurring timer: the first anchor + k × period after this one."""
        anchor = timer.anchor or timer.fire_at
        nxt = _on_schedule(anchor, self._dur(timer.every or ""), timer.fire_at)
        return TimerState(timer.name, timer.state, nxt, timer.every, anchor)

    def _arm(self, work: _Work, sid: str, name: str, delay: str, recurring: bool,
             now: datetime) -> TimerState:
        """A timer armed on entering ``sid``; every timer remembers when its schedule began.

        An ``after`` timer re-armed by its own firing (a state that re-enters itself when
        its timer fires) stays on its first schedule: anchor + n × delay, so a 3-month
        timer first armed on 31 January fires on 30 April, then 31 July, not 30 July.
        """
        duration = self._dur(delay)
        if recurring:
            return TimerState(name, sid, self._calendar.add(duration, now), self._period(delay),
                              now)
        fired = work.firing
        if fired is not None and fired.state == sid and fired.name == name \
                and fired.every is None:
            anchor = fired.anchor or fired.fire_at
            return TimerState(name, sid, _on_schedule(anchor, duration, fired.fire_at),
                              None, anchor)
        return TimerState(name, sid, self._calendar.add(duration, now), None, now)

    def _period(self, ref: str) -> str:
        """A recurring timer's period as stored on the case: the duration's canonical text."""
        text = self._every.get(ref)
        if text is None:
            text = self._every[ref] = str(self._dur(ref))
        return text

    def _dur(self, ref: str) -> Duration:
        duration = self._durations.get(ref)
        if duration is None:
            duration = self._durations[ref] = self.pathway.duration(ref, self.params)
        return duration

    # -- transitions ------------------------------------------------------------------------

    def _dispatch(self, work: _Work, event_name: str, scope: _EventScope, now: datetime) -> None:
        table = self.pathway.selection.get(event_name)
        if table is None:
            return
        chosen: list[CompiledTransition] = []
        for leaf in work.leaves:
            # the machine's order for this state: the first transition whose guard holds
            for transition, guard in table.get(leaf, ()):
                if guard is None or guard.holds(scope):
                    if transition not in chosen:
                        chosen.append(transition)
                    break
        if scope.guard_errors:
            for tid, error in dict.fromkeys(scope.guard_errors):  # once, whatever the regions
                work.effects.append(GuardFailed(now, tid, error))
        for transition in chosen:
            if work.closed_at is None and self._is_active(work, transition.source):
                self._take(work, transition, scope, now, event_name)

    def _is_active(self, work: _Work, sid: str) -> bool:
        lineage = self._lineage
        return any(sid in lineage[leaf] for leaf in work.leaves)

    def _take(self, work: _Work, t: CompiledTransition, scope: _EventScope, now: datetime,
              event_name: str) -> None:
        if t.target is None:
            work.effects.append(Transitioned(now, event_name, t.id, t.source, None, (), ()))
            self._run(work, t.actions, t.source, scope, now)
            return
        expiring = self._on_expiry and events.key_of(event_name, events.TIMER) is not None
        exited = self._exit(work, t.exits, now, t.renews if expiring else None)
        work.effects.append(Transitioned(now, event_name, t.id, t.source, t.target,
                                         exited, t.enter))
        self._run(work, t.actions, t.target, scope, now)
        self._enter(work, t.enter, scope, now)
        gone = set(exited)
        work.leaves = [leaf for leaf in work.leaves if leaf not in gone] + list(t.enter_leaves)
        self._close_if_final(work, now)

    def _exit(self, work: _Work, exits: frozenset[str], now: datetime,
              renewed: frozenset[str] | None = None) -> tuple[str, ...]:
        """Leave the active states in ``exits``, deepest first; their tasks and timers go.

        When a timer moves the case on (``renewed`` is then the task kinds it creates
        again), a dropped task's ``on_expiry`` message is sent: the request expired,
        someone is told."""
        lineage = self._lineage
        gone: set[str] = set()
        for leaf in work.leaves:
            if leaf in exits:  # ``exits`` holds whole subtrees: the leaf's exited ancestors
                gone |= exits & lineage[leaf]
        exited = tuple(sorted(gone, key=self._exit_rank.__getitem__))
        for ref, task in list(work.tasks.items()):
            if task.state in gone and task.key not in self._outliving:
                del work.tasks[ref]
                work.effects.append(TaskCancelled(now, ref, task.key,
                                                  f"left state '{task.state}'"))
                notice = (self.pathway.tasks[task.key].on_expiry
                          if renewed is not None and task.key not in renewed else None)
                if notice is not None:  # once per kind: several open tasks, one message
                    renewed = renewed | {task.key} if renewed is not None else None
                    work.effects.append(Notification(now, tuple(notice.to), notice.message,
                                                     notice.template))
        for slot, timer in list(work.timers.items()):
            if timer.state in gone:
                del work.timers[slot]
                work.effects.append(TimerCancelled(now, timer.name, timer.state))
        return exited

    def _enter(self, work: _Work, entered: tuple[str, ...], scope: _EventScope,
               now: datetime) -> None:
        entering = self._entering
        for sid in entered:
            timers, entry = entering[sid]
            for timer in timers:
                armed = self._arm(work, sid, timer.name, timer.delay, timer.recurring, now)
                work.timers[(sid, timer.name)] = armed
                work.effects.append(TimerSet(timer.name, sid, armed.fire_at))
            if entry is not None:
                self._run(work, entry, sid, scope, now)

    def _run(self, work: _Work, actions: CompiledActions, owner: str, scope: _EventScope,
             now: datetime) -> None:
        for name, value in actions.set:
            try:
                result = plain(evaluate_value(value, scope))
            except Exception as exc:
                raise EvaluationError(value.source, exc, f"fact {name!r} set in '{owner}'") from exc
            work.facts[name] = result
            work.effects.append(FactSet(now, name, result))
        for key in actions.cancel:
            self._cancel_tasks(work, key, owner, now)
        for key in actions.tasks:
            self._create_task(work, key, owner, now)
        for notify in actions.notify:
            work.effects.append(Notification(now, tuple(notify.to), notify.message,
                                             notify.template))

    def _create_task(self, work: _Work, key: str, owner: str, now: datetime) -> None:
        spec = self.pathway.tasks[key]
        work.seq += 1
        ref = f"{key}-{work.seq}"
        due_at = self._deadline(spec.due, now)
        work.tasks[ref] = OpenTask(ref, key, owner, spec.role, due_at)
        add = self._calendar.add
        work.effects.append(TaskCreated(
            now, ref, key, owner, spec.title, spec.description, spec.role, due_at,
            add(self._dur(spec.reminder), now) if spec.reminder else None,
            add(self._dur(spec.escalation), now) if spec.escalation else None,
            {name: _copy_view(view) for name, view in self._task_results[key].items()}))

    def _cancel_tasks(self, work: _Work, key: str, owner: str, now: datetime) -> None:
        """A ``cancel:`` action: every open task of kind ``key`` ends, wherever it was created."""
        for ref, task in list(work.tasks.items()):
            if task.key == key:
                del work.tasks[ref]
                work.effects.append(TaskCancelled(now, ref, key, f"cancelled by '{owner}'"))

    def _deadline(self, ref: str, now: datetime) -> datetime:
        """A task's due time: a delay in whole days (P7D, P2W, P1M) ends with the last instant
        of that calendar day in the territory (a task due "in 7 days" is not late before
        midnight, Europe/Paris); a delay with a time part (PT48H, P1DT12H) is exact."""
        duration = self._dur(ref)
        moment = self._calendar.add(duration, now)
        return moment if duration.seconds else self._calendar.end_of_day(moment)

    def _complete_tasks(self, work: _Work, event: Event) -> None:
        if event.task is not None:
            task = work.tasks.pop(event.task)
            work.effects.append(TaskCompleted(event.at, task.ref, task.key, dict(event.result)))
        keys = self._completes.get(event.name)
        if not keys:
            return
        for ref, task in list(work.tasks.items()):
            if task.key in keys:
                del work.tasks[ref]
                work.effects.append(TaskCompleted(event.at, ref, task.key, {}, event.name))

    def _close_if_final(self, work: _Work, now: datetime) -> None:
        if self._top_finals.isdisjoint(work.leaves):
            return
        final = next(s for s in work.leaves if s in self._top_finals)
        for ref, task in list(work.tasks.items()):
            del work.tasks[ref]
            work.effects.append(TaskCancelled(now, ref, task.key, "case closed"))
        for slot, timer in list(work.timers.items()):
            del work.timers[slot]
            work.effects.append(TimerCancelled(now, timer.name, timer.state))
        work.closed_at = now
        work.effects.append(CaseClosed(now, final))


def on_schedule(anchor: datetime, period: Duration, after: datetime) -> datetime:
    """The first ``anchor + k × period`` (k ≥ 1) strictly after ``after``: no drift."""
    return _on_schedule(anchor, period, after)


def _on_schedule(anchor: datetime, period: Duration, after: datetime) -> datetime:
    """The first ``anchor + k × period`` (k ≥ 1) strictly after ``after``: no drift."""
    k = max(1, int((after - anchor).days / max(period.approx_days(), 1e-9)))
    nxt = period.add_to(anchor, k)
    while nxt <= after:
        k += 1
        nxt = period.add_to(anchor, k)
    return nxt


def _roots_read(pathway: CompiledPathway) -> frozenset[str]:
    """Every root name read by a guard or a ``set`` expression of the pathway."""
    expressions: list[Any] = [t.guard for t in pathway.transitions.values()]
    for actions in [*(t.actions for t in pathway.transitions.values()),
                    *(s.entry for s in pathway.states.values())]:
        expressions += [value for _, value in actions.set]
    return frozenset(path[0] for e in expressions if isinstance(e, CompiledExpression)
                     for path in e.names if path)


def _copy_view(view: dict[str, Any]) -> dict[str, Any]:
    """A task result field as effects carry it: a fresh dict, ``choices`` a fresh list."""
    return {k: list(v) if isinstance(v, list) else v for k, v in view.items()}


def _closed_by_timer(event: Event) -> RuntimeEventError:
    return RuntimeEventError(f"task {event.task!r} was closed by a timer before "
                             f"{event.at.isoformat()}")
