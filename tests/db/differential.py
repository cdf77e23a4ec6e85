"""The two sides of the differential test: the in-memory runtime and the database.

``Reference`` applies events to a plain ``Case`` with ``engine.runtime.Runtime``
and keeps what the database should hold: the history lines its effects imply
and the status of every task it ever created. ``stored`` reads the same from
the database for one case, in the same shape, so a test compares two values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    Outcome,
    Subject,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TimerFired,
    Transitioned,
    jsonable,
)
from engine.runtime import Runtime
from engine.store.bulk import dumps
from engine.store.tables import CASE_TABLE, EVENT_TABLE, TASK_TABLE, TIMER_TABLE

#: history lines written by the service for the inbound message itself, not by effects
INBOUND = frozenset({"observation", "admission", "discharge", "event"})
TASK_LINES = frozenset({"task_created", "task_completed", "task_cancelled"})

Line = tuple[str, datetime, str | None, str | None, str | None]


def history_line(effect: Effect) -> Line | None:
    """(kind, at, name, from, to) of the history row an effect is written as."""
    match effect:
        case Entered(at=at, states=states):
            return ("enrolment", at, None, None, ", ".join(states))
        case Transitioned(at=at, source=source, target=target, transition=tid):
            return ("transition", at, tid, source, target)
        case TaskCreated(at=at, ref=ref, state=state):
            return ("task_created", at, ref, state, None)
        case TaskCompleted(at=at, ref=ref):
            return ("task_completed", at, ref, None, None)
        case TaskCancelled(at=at, ref=ref):
            return ("task_cancelled", at, ref, None, None)
        case TimerFired(at=at, name=name, state=state):
            return ("timer_fired", at, name, state, None)
        case FactSet(at=at, name=name):
            return ("fact_set", at, name, None, None)
        case Notification(at=at, template=template):
            return ("notification", at, template, None, None)
        case GuardFailed(at=at, transition=tid):
            return ("guard_failed", at, tid, None, None)
        case CaseClosed(at=at, state=state):
            return ("case_closed", at, None, None, state)
    return None  # timers set or cancelled: the timer table says it


@dataclass
class Snapshot:
    """What one case looks like, from either side."""

    active: list[str]
    facts: dict[str, Any]
    seq: int
    closed_at: datetime | None
    next_due: datetime | None
    timers: list[tuple[str, str, datetime, str | None, datetime | None]]
    tasks: dict[str, tuple[str, str, str, str, datetime]]
    history: list[Line]


@dataclass
class Reference:
    """The in-memory side: a runtime, a case, the patient as the runtime sees them."""

    runtime: Runtime
    subject: Subject
    case: Case = field(default_factory=lambda: Case(()))
    history: list[Line] = field(default_factory=list)
    tasks: dict[str, list[Any]] = field(default_factory=dict)

    def start(self, now: datetime) -> None:
        self._keep(self.runtime.start(self.subject, now))

    def advance(self, now: datetime) -> None:
        self._keep(self.runtime.advance(self.case, self.subject, now))

    def apply(self, event: Event) -> None:
        self._keep(self.runtime.apply(self.case, event, self.subject))

    def observed(self, key: str, value: Any, unit: str | None, at: datetime) -> None:
        observations = dict(self.subject.observations)
        observations[key] = ObservationValue(value, at, unit)
        s = self.subject
        self.subject = Subject(s.birth_date, s.sex, s.conditions, observations)

    def _keep(self, outcome: Outcome) -> None:
        self.case = outcome.case
        for effect in outcome.effects:
            line = history_line(effect)
            if line is not None:
                self.history.append(line)
            if isinstance(effect, TaskCreated):
                self.tasks[effect.ref] = [effect.key, effect.state, effect.role, "requested",
                                          effect.due_at]
            elif isinstance(effect, TaskCompleted):
                self.tasks[effect.ref][3] = "completed"
            elif isinstance(effect, TaskCancelled):
                self.tasks[effect.ref][3] = "cancelled"

    def snapshot(self) -> Snapshot:
        c = self.case
        return Snapshot(
            list(c.active), _json(c.facts), c.seq, c.closed_at, c.next_due,
            sorted((t.state, t.name, t.fire_at, t.every, t.anchor) for t in c.timers),
            {ref: (v[0], v[1], v[2], v[3], v[4]) for ref, v in self.tasks.items()},
            list(self.history))


def _json(value: Any) -> Any:
    """Facts as the database gives them back (JSON round trip)."""
    import json

    return json.loads(dumps(jsonable(value)))


def stored(session: Session, case_id: int) -> Snapshot:
    """The same view of one case, read from the database (plain rows: it runs often)."""
    c, tm, tk, ev = CASE_TABLE, TIMER_TABLE, TASK_TABLE, EVENT_TABLE
    row = session.execute(select(c.c.active_states, c.c.facts, c.c.seq, c.c.closed_at,
                                 c.c.next_due_at).where(c.c.id == case_id)).one()
    timers = session.execute(select(tm.c.state, tm.c.name, tm.c.fire_at, tm.c.every,
                                    tm.c.anchor_at).where(tm.c.case_id == case_id)).all()
    tasks = session.execute(select(tk.c.ref, tk.c.key, tk.c.state, tk.c.role, tk.c.status,
                                   tk.c.due_at).where(tk.c.case_id == case_id)).all()
    events = session.execute(select(ev.c.kind, ev.c.at, ev.c.from_state, ev.c.to_state,
                                    ev.c.data).where(ev.c.case_id == case_id)
                             .order_by(ev.c.id)).all()
    for e in events:  # every task line names the task row it is about
        if e.kind in TASK_LINES:
            assert e.data.get("task_id") is not None, f"history line without task id: {e.data}"
    return Snapshot(
        list(row.active_states), dict(row.facts), row.seq, row.closed_at, row.next_due_at,
        sorted(tuple(t) for t in timers),
        {t.ref: (t.key, t.state, t.role, t.status, t.due_at) for t in tasks},
        [_line(e.kind, e.at, e.from_state, e.to_state, e.data) for e in events
         if e.kind not in INBOUND])


#: which field of a history line's data names what the line is about
_NAMES = {"transition": "transition", "task_created": "ref", "task_completed": "ref",
          "task_cancelled": "ref", "timer_fired": "timer", "fact_set": "fact",
          "notification": "template", "guard_failed": "transition"}


def _line(kind: str, at: datetime, source: str | None, target: str | None,
          data: dict[str, Any]) -> Line:
    name = _NAMES.get(kind)
    return (kind, at, data.get(name) if name else None, source, target)
