"""Reminders and escalation of open tasks, as each pathway's task says.

A task carries the times its pathway computed when it was created:

- ``reminder_at`` (the task's ``reminder:`` delay): at that time the
  assignee gets a ``task_reminder`` message, once (``reminded_at`` is set);
- ``escalation_at`` (the task's ``escalation:`` delay): at that time the
  CPTS coordinator (the first active professional of profession
  ``coordinateur``) gets a ``task_overdue`` message, once (``escalated_at``).
  **Rule when the pathway gives no escalation delay: the task escalates at
  its due time** (``due_at``): an overdue task always reaches the
  coordinator. A task without ``reminder:`` gets no reminder. **The
  coordinator is never escalated about a task assigned to herself** (a
  coordinateur-role task, or a vacant role's task that fell to her): she
  gets its reminder like any assignee, and the task is never claimed for
  escalation while she holds it.

Only open tasks (FHIR requested, accepted, in-progress, on-hold) of open
cases are considered. Each batch is one transaction: the claimed tasks
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent runs take different
tasks), their outbox rows and their ``reminded_at``/``escalated_at`` commit
together. Outbox keys are ``task:{id}:reminder:{recipient}`` and
``task:{id}:overdue:{recipient}`` (inserted with ``ON CONFLICT DO NOTHING``),
so a message is queued once whatever happens. A row with nobody to send to
(no assignee and no coordinator) is written ``dead`` with the reason, like
the engine's own messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import outbox
from engine.store.batch import coordinator_id
from engine.store.db import transaction, with_retries
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    OUTBOX_TABLE,
    TASK_TABLE,
    CaseRow,
    TaskRow,
)

REMINDER, OVERDUE = outbox.TASK_REMINDER, outbox.TASK_OVERDUE
_TASK = TASK_TABLE
_OUTBOX = OUTBOX_TABLE
NO_RECIPIENT = "no recipient: no assignee and no coordinator is registered"


@dataclass
class EscalationReport:
    """Messages queued, by (pathway, role); the tasks concerned (ids only)."""

    reminders: Counter[tuple[str, str]] = field(default_factory=Counter)
    overdue: Counter[tuple[str, str]] = field(default_factory=Counter)
    reminded_ids: list[int] = field(default_factory=list)
    escalated_ids: list[int] = field(default_factory=list)
    batches: int = 0

    def merge(self, other: EscalationReport) -> None:
        self.reminders.update(other.reminders)
        self.overdue.update(other.overdue)
        self.reminded_ids.extend(other.reminded_ids)
        self.escalated_ids.extend(other.escalated_ids)
        self.batches += other.batches

    @property
    def tasks(self) -> int:
        return len(set(self.reminded_ids) | set(self.escalated_ids))


def escalation_time() -> Any:
    """When a task escalates: its escalation time, or its due time when it has none."""
    return func.coalesce(col(TaskRow.escalation_at), col(TaskRow.due_at))


def _escalates(now: datetime, coordinator: int | None) -> Any:
    """Not yet escalated, its time come, and not the coordinator's own task."""
    due = and_(col(TaskRow.escalated_at).is_(None), escalation_time() <= now)
    if coordinator is None:
        return due
    return and_(due, or_(col(TaskRow.assignee_id).is_(None),
                         col(TaskRow.assignee_id) != coordinator))


def _claim(session: Session, now: datetime, limit: int, coordinator: int | None) -> list[Any]:
    query = (select(col(TaskRow.id), col(TaskRow.case_id), col(TaskRow.role),
                    col(TaskRow.assignee_id), col(TaskRow.unassigned_role), col(TaskRow.due_at),
                    col(TaskRow.reminder_at), col(TaskRow.reminded_at), col(TaskRow.escalated_at),
                    escalation_time().label("esc"), col(CaseRow.pathway_key))
             .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
             .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES), col(CaseRow.closed_at).is_(None),
                    or_(and_(col(TaskRow.reminded_at).is_(None), col(TaskRow.reminder_at) <= now),
                        _escalates(now, coordinator)))
             .order_by(col(TaskRow.id)).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=TaskRow)
    return list(session.execute(query).all())


def has_due(session: Session, now: datetime) -> bool:
    """Whether a reminder or an escalation is due at ``now`` (the claim's query, no lock)."""
    coordinator = coordinator_id(session)
    query = (select(col(TaskRow.id)).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
             .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES), col(CaseRow.closed_at).is_(None),
                    or_(and_(col(TaskRow.reminded_at).is_(None), col(TaskRow.reminder_at) <= now),
                        _escalates(now, coordinator))).limit(1))
    return session.scalar(query) is not None


def _message(kind: str, task: Any, recipient: int | None, now: datetime) -> dict[str, Any]:
    return {"idempotency_key": f"task:{task.id}:{'reminder' if kind == REMINDER else 'overdue'}"
                               f":{recipient if recipient is not None else 'none'}",
            "kind": kind, "case_id": task.case_id, "task_id": task.id,
            "recipient_id": recipient,
            "payload": {"task_id": task.id, "role": task.role, "due_at": task.due_at.isoformat(),
                        "assignee_id": task.assignee_id,
                        "unassigned_role": bool(task.unassigned_role)},
            "status": "pending" if recipient is not None else "dead", "attempts": 0,
            "created_at": now, "next_attempt_at": now, "sent_at": None,
            "last_error": None if recipient is not None else NO_RECIPIENT}


def escalate_batch(session: Session, now: datetime, limit: int) -> EscalationReport:
    """One batch, in the caller's transaction; an empty report when nothing is due."""
    report = EscalationReport()
    coordinator = coordinator_id(session)
    tasks = _claim(session, now, limit, coordinator)
    if not tasks:
        return report
    messages, reminded, escalated = [], [], []
    for task in tasks:
        key = (task.pathway_key, task.role)
        if task.reminded_at is None and task.reminder_at is not None \
                and task.reminder_at <= now:
            messages.append(_message(REMINDER, task, task.assignee_id, now))
            reminded.append({"b_id": task.id, "reminded_at": now})
            report.reminders[key] += 1
            report.reminded_ids.append(task.id)
        if task.escalated_at is None and task.esc <= now and \
                (coordinator is None or task.assignee_id != coordinator):
            messages.append(_message(OVERDUE, task, coordinator, now))
            escalated.append({"b_id": task.id, "escalated_at": now})
            report.overdue[key] += 1
            report.escalated_ids.append(task.id)
    for rows, column in ((reminded, "reminded_at"), (escalated, "escalated_at")):
        if rows:
            session.execute(update(_TASK).where(_TASK.c.id == bindparam("b_id"))
                            .values({column: bindparam(column)}), rows)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(_OUTBOX).on_conflict_do_nothing(
        index_elements=["idempotency_key"]), messages)
    report.batches = 1
    return report


def escalate(engine: Engine, now: datetime, batch_size: int = 500,
             max_retries: int = 5) -> EscalationReport:
    """Every batch until nothing is due (outside Prefect: tests, scripts)."""
    report = EscalationReport()
    while True:
        part = escalate_one(engine, now, batch_size, max_retries)
        if not part.batches:
            return report
        report.merge(part)


def escalate_one(engine: Engine, now: datetime, batch_size: int,
                 max_retries: int = 5) -> EscalationReport:
    """One batch in its own transaction, retried on transient errors."""
    def attempt() -> EscalationReport:
        with transaction(engine) as session:
            return escalate_batch(session, now, batch_size)
    return with_retries(attempt, max_retries)


def overdue_by_role(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Open tasks past due, by pathway and role: how many, how many escalated, oldest due."""
    rows = session.execute(
        select(col(CaseRow.pathway_key), col(TaskRow.role), func.count(),
               func.count(col(TaskRow.escalated_at)), func.min(col(TaskRow.due_at)))
        .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES), col(CaseRow.closed_at).is_(None),
               col(TaskRow.due_at) < now)
        .group_by(col(CaseRow.pathway_key), col(TaskRow.role))
        .order_by(col(CaseRow.pathway_key), col(TaskRow.role))).all()
    return [{"pathway": p, "role": r, "overdue": n, "escalated": e, "oldest_due": oldest}
            for p, r, n, e, oldest in rows]
