"""Write runtime outcomes to the database in bulk, inside the caller's transaction.

For every case touched in a unit of work: the case row (optimistic lock on
``row_version``), its history rows, tasks created/completed/cancelled, its
timers (replaced), and the outbox rows for everyone who must be told. All of
it is flushed with a handful of multi-row statements.

Effects are applied in the order the runtime produced them, whatever the order
of the statements: a task created *and* closed in the same unit of work (a
result arriving minutes after the timer that requested it, a sweep catching up
over several periods) is inserted already closed, its history lines carry its
id once it has one, and no message announces or withdraws a task nobody ever
saw. Timers follow the same rule by construction: the case's final set of
timers replaces the stored one, so a timer set then cleared in one unit never
reaches the table.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine import caseformat, outbox
from engine.case import (
    CaseClosed,
    Effect,
    Entered,
    FactSet,
    GuardFailed,
    HospitalEventUndone,
    Migrated,
    Notification,
    Outcome,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TimerFired,
    Transitioned,
)
from engine.store.batch import COORDINATOR, Batch
from engine.store.bulk import in_ids, insert_rows, update_from_values, update_rows
from engine.store.exceptions import ConcurrentUpdateError
from engine.store.tables import (
    CASE_TABLE,
    EVENT_TABLE,
    OUTBOX_TABLE,
    TASK_TABLE,
    TIMER_TABLE,
)

# Core tables: multi-row statements without the ORM's per-row bookkeeping
_CASE = CASE_TABLE
_TASK = TASK_TABLE
_TIMER = TIMER_TABLE
_EVENT = EVENT_TABLE
_OUTBOX = OUTBOX_TABLE


@dataclass(frozen=True)
class Actor:
    kind: str = "system"   # professional, coordinator or system
    id: int | None = None


SYSTEM = Actor()


class Writer:
    """Collects rows for one unit of work; ``flush`` writes them."""

    def __init__(self, session: Session, batch: Batch, recorded_at: datetime) -> None:
        self.session = session
        self.batch = batch
        self.recorded_at = recorded_at
        self.events: list[dict[str, Any]] = []
        self.new_tasks: list[dict[str, Any]] = []
        self.task_updates: list[dict[str, Any]] = []
        self.timers: dict[int, tuple[Any, ...]] = {}
        self.case_updates: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()
        #: tasks created in this unit, by (case id, ref): closed here, they are inserted closed
        self._created: dict[tuple[int, str], dict[str, Any]] = {}
        #: history data waiting for the id of a task created in this unit
        self._needs_id: list[tuple[dict[str, Any], tuple[int, str]]] = []
        #: After ``flush``: the tasks created and still open, with their ids (what to tell
        #: the user next).
        self.created: list[dict[str, Any]] = []

    # -- collecting -------------------------------------------------------------------------

    def log(self, case_id: int, at: datetime, kind: str, actor: Actor = SYSTEM,
            from_state: str | None = None, to_state: str | None = None,
            data: dict[str, Any] | None = None) -> None:
        self.events.append({"case_id": case_id, "at": at, "recorded_at": self.recorded_at,
                            "actor_kind": actor.kind, "actor_id": actor.id, "kind": kind,
                            "from_state": from_state, "to_state": to_state,
                            "data": data or {}})
        self.counts[kind] += 1

    def record(self, case_id: int, outcome: Outcome, actor: Actor = SYSTEM) -> None:
        """Everything an outcome implies for one case (the case row included)."""
        for effect in outcome.effects:
            self._effect(case_id, effect, actor)
        row = self.batch.cases[case_id]
        case = outcome.case
        self.case_updates.append({
            "b_id": case_id, "b_version": row.row_version, "active_states": list(case.active),
            "facts": dict(case.facts), "memory": case.memory(), "seq": case.seq,
            "next_due_at": case.next_due, "format": caseformat.CURRENT,
            "closed_at": case.closed_at,
            "close_reason": "final state" if case.closed and row.closed_at is None
            else row.close_reason})
        self.timers[case_id] = case.timers

    def _effect(self, case_id: int, effect: Effect, actor: Actor) -> None:
        row = self.batch.cases[case_id]
        match effect:
            case Entered(at=at, states=states):
                self.log(case_id, at, "enrolment", actor, None, ", ".join(states))
            case Transitioned(at=at, source=source, target=target, event=event):
                self.log(case_id, at, "transition", actor, source, target,
                         {"event": event, "transition": effect.transition,
                          "exited": effect.exited, "entered": effect.entered})
            case TaskCreated():
                self._new_task(case_id, row.patient_id, effect)
            case TaskCompleted(at=at, ref=ref, key=key, result=result, by_event=by):
                task = self.batch.open_task(case_id, ref)
                self._close(case_id, self._task_close(case_id, ref, "completed", at, result,
                                                      actor.id, by))
                self.log(case_id, at, "task_completed", actor, data=self._with_id(case_id, {
                    "ref": ref, "key": key, "task_id": task.id if task else None,
                    "by_event": by}))
            case TaskCancelled(at=at, ref=ref, key=key, reason=reason):
                self._cancel(case_id, ref, key, at, reason)
            case TimerFired(at=at, name=name, state=state):
                self.log(case_id, at, "timer_fired", SYSTEM, state, None, {"timer": name})
            case FactSet(at=at, name=name, value=value):
                self.log(case_id, at, "fact_set", actor, data={"fact": name, "value": value})
            case Notification(at=at, roles=roles, message=message, template=template):
                self._notify(case_id, row.patient_id, at, roles, message, template)
            case GuardFailed(at=at, transition=tid, error=error):
                self.log(case_id, at, "guard_failed", SYSTEM, data={"transition": tid,
                                                                    "error": error})
            case CaseClosed(at=at, state=state):
                self.log(case_id, at, "case_closed", actor, None, state)
            case Migrated(at=at):
                self.log(case_id, at, effect.kind, actor, ", ".join(effect.source),
                         ", ".join(effect.target),
                         {"from_version": effect.from_version, "to_version": effect.to_version,
                          "run": effect.run, "note": effect.note})
            case HospitalEventUndone(at=at, event=event, stay=stay):
                self.log(case_id, at, effect.kind, actor, None, ", ".join(effect.restored),
                         {"event": event, "stay": stay, "cancelled": effect.cancelled,
                          "not_reopened": effect.not_reopened, "note": effect.note})

    def _recipient(self, patient_id: int, role: str) -> tuple[int | None, bool]:
        holders = self.batch.holders(patient_id, role)
        if holders:
            return holders[0], False
        # nobody holds the role: the CPTS coordinator gets it, flagged, unless the role
        # *is* the coordinator's (then it reached the right person)
        return self.batch.coordinator_id, role != COORDINATOR

    def _new_task(self, case_id: int, patient_id: int, t: TaskCreated) -> None:
        assignee, unassigned = self._recipient(patient_id, t.role)
        self.new_tasks.append({
            "case_id": case_id, "ref": t.ref, "key": t.key, "state": t.state, "title": t.title,
            "description": t.description, "role": t.role, "assignee_id": assignee,
            "unassigned_role": unassigned, "status": "requested", "created_at": t.at,
            "due_at": t.due_at, "reminder_at": t.reminder_at, "escalation_at": t.escalation_at,
            "expected_result": dict(t.result), "result": None, "closed_at": None,
            "closed_by": None, "close_reason": None})
        self._created[(case_id, t.ref)] = self.new_tasks[-1]
        self.log(case_id, t.at, "task_created", SYSTEM, t.state, None, self._with_id(case_id, {
            "ref": t.ref, "key": t.key, "task_id": None, "role": t.role,
            "assignee_id": assignee, "unassigned_role": unassigned, "due_at": t.due_at}))

    def _close(self, case_id: int, update: dict[str, Any]) -> None:
        """Close a stored task, or one created earlier in this unit (inserted closed)."""
        created = self._created.get((case_id, update["b_ref"]))
        if created is None:
            self.task_updates.append(update)
            return
        created.update({k: v for k, v in update.items() if not k.startswith("b_")})

    def _with_id(self, case_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """History data of a task created in this unit gets its id when it is inserted."""
        if data["task_id"] is None and (case_id, data["ref"]) in self._created:
            self._needs_id.append((data, (case_id, data["ref"])))
        return data

    def _task_close(self, case_id: int, ref: str, status: str, at: datetime,
                    result: Any, by: int | None, reason: str | None) -> dict[str, Any]:
        return {"b_case": case_id, "b_ref": ref, "status": status, "closed_at": at,
                "result": dict(result) if result is not None else None,
                "closed_by": by, "close_reason": reason}

    def _cancel(self, case_id: int, ref: str, key: str, at: datetime, reason: str) -> None:
        task = self.batch.open_task(case_id, ref)
        self._close(case_id, self._task_close(case_id, ref, "cancelled", at, None, None, reason))
        self.log(case_id, at, TaskCancelled.kind, SYSTEM, data=self._with_id(case_id, {
            "ref": ref, "key": key, "reason": reason, "task_id": task.id if task else None}))
        if task is not None and task.assignee_id is not None:
            self.outbox.append(self._message(
                outbox.TASK_CANCELLED, f"task:{task.id}:cancelled:{task.assignee_id}", case_id,
                task.id, task.assignee_id, at, {"reason": reason}))

    def _notify(self, case_id: int, patient_id: int, at: datetime, roles: tuple[str, ...],
                message: str, template: str) -> None:
        digest = hashlib.sha1(message.encode()).hexdigest()[:10]
        for role in roles:
            recipient, unassigned = self._recipient(patient_id, role)
            key = f"case:{case_id}:{template}:{at.isoformat()}:{digest}:{role}:{recipient}"
            self.outbox.append(self._message(template, key, case_id, None, recipient, at, {
                "role": role, "message": message, "unassigned_role": unassigned}))
        self.log(case_id, at, "notification", SYSTEM, data={"roles": roles,
                                                            "template": template})

    def message(self, kind: str, key: str, case_id: int, task_id: int | None,
                recipient: int | None, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
        """An outbox row (for callers that write their own messages in this unit)."""
        return self._message(kind, key, case_id, task_id, recipient, at, payload)

    def _message(self, kind: str, key: str, case_id: int, task_id: int | None,
                 recipient: int | None, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
        return {"idempotency_key": key, "kind": kind, "case_id": case_id, "task_id": task_id,
                "recipient_id": recipient, "payload": payload,
                "status": "pending" if recipient is not None else "dead",
                "attempts": 0, "created_at": self.recorded_at,
                "next_attempt_at": max(at, self.recorded_at) if at else self.recorded_at,
                "sent_at": None, "last_error": None if recipient is not None
                else "no recipient: nobody holds the role and no coordinator is registered"}

    # -- writing ----------------------------------------------------------------------------

    def flush(self) -> None:
        s = self.session
        pg = s.get_bind().dialect.name == "postgresql"
        if self.case_updates:
            self._update_cases(pg)
        if self.task_updates:
            if pg:
                update_from_values(s, _TASK, self.task_updates,
                                   {"b_case": "case_id", "b_ref": "ref"},
                                   {"b_case": "int", "b_ref": "text", "status": "text",
                                    "result": "jsonb", "closed_at": "timestamptz",
                                    "closed_by": "int", "close_reason": "text"})
            else:
                update_rows(s, _TASK, self.task_updates, {"b_case": "case_id", "b_ref": "ref"})
        if self.new_tasks:
            self._insert_tasks()
        if self.timers:
            s.execute(delete(_TIMER).where(in_ids(_TIMER.c.case_id, list(self.timers), s)))
            insert_rows(s, _TIMER, [
                {"case_id": case_id, "name": t.name, "state": t.state, "fire_at": t.fire_at,
                 "every": t.every, "anchor_at": t.anchor}
                for case_id, timers in self.timers.items() for t in timers])
        insert_rows(s, _EVENT, self.events)
        insert_rows(s, _OUTBOX, self.outbox)

    def _insert_tasks(self) -> None:
        """Insert the new tasks (some already closed); announce only those still open."""
        ids = insert_rows(self.session, _TASK, self.new_tasks, with_ids=True)
        for task_id, task in zip(ids, self.new_tasks, strict=True):
            task["id"] = task_id
            if task["status"] != "requested":
                continue
            self.created.append(task)
            assignee = task["assignee_id"]
            self.outbox.append(self._message(
                outbox.TASK_ASSIGNED, f"task:{task_id}:assigned:{assignee}", task["case_id"],
                task_id, assignee, self.recorded_at,
                {"unassigned_role": task["unassigned_role"]}))
        for data, slot in self._needs_id:
            data["task_id"] = self._created[slot]["id"]

    def _update_cases(self, pg: bool) -> None:
        if pg:
            updated = update_from_values(
                self.session, _CASE, self.case_updates, {"b_id": "id", "b_version": "row_version"},
                {"b_id": "int", "b_version": "int", "active_states": "jsonb",
                 "facts": "jsonb", "memory": "jsonb", "seq": "int", "next_due_at": "timestamptz",
                 "format": "int",
                 "closed_at": "timestamptz", "close_reason": "text"},
                extra_set='"row_version" = t."row_version" + 1')
            if updated != len(self.case_updates):
                raise ConcurrentUpdateError(self.case_updates[0]["b_id"])
            return
        updated = update_rows(self.session, _CASE, self.case_updates,
                              {"b_id": "id", "b_version": "row_version"},
                              extra_set='"row_version" = "row_version" + 1')
        if updated != len(self.case_updates):
            raise ConcurrentUpdateError(self.case_updates[0]["b_id"])
