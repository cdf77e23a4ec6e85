"""The coordinator is never escalated about a task assigned to herself (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlmodel import col

from engine.store.db import transaction
from engine.store.escalation import OVERDUE, REMINDER, escalate
from engine.store.tables import OutboxRow, Professional, TaskRow
from tests.db.world import T0, build

LATE = T0 + timedelta(days=31)  # bilan_initial: reminder P10D, due P15D, escalation P30D


def _rows(engine: Engine) -> list[tuple[str, int | None, int | None]]:
    with transaction(engine) as s:
        return [(r.kind, r.task_id, r.recipient_id) for r in s.scalars(
            select(OutboxRow).where(col(OutboxRow.kind).in_((REMINDER, OVERDUE)))
            .order_by(OutboxRow.id))]


def _ids(engine: Engine) -> tuple[int, int, int, int]:
    """(the GP's task, the coordinator's task, the GP, the coordinator)."""
    with transaction(engine) as s:
        pros = {p.profession: p.id for p in s.scalars(select(Professional))}
        tasks = {t.assignee_id: t.id for t in s.scalars(select(TaskRow))}
    gp, coordinator = int(pros["medecin"] or 0), int(pros["coordinateur"] or 0)
    return int(tasks[gp] or 0), int(tasks[coordinator] or 0), gp, coordinator


def test_her_own_overdue_task_reminds_her_but_never_escalates_to_her(
        engine: Engine, tmp_path: Path) -> None:
    service = build(engine, tmp_path)
    service.enroll("P-002", "exemple-suivi", T0)                 # the GP, Paul, holds the role
    service.enroll("P-003", "exemple-suivi", T0, check_eligibility=False)  # no GP: coordinator
    gp_task, own_task, gp, coordinator = _ids(engine)

    report = escalate(engine, LATE)
    assert sorted(report.reminded_ids) == sorted([gp_task, own_task])
    assert report.escalated_ids == [gp_task]
    assert sorted(_rows(engine)) == sorted([
        (REMINDER, gp_task, gp), (REMINDER, own_task, coordinator),
        (OVERDUE, gp_task, coordinator)])
    with transaction(engine) as s:
        assert s.get(TaskRow, own_task).escalated_at is None  # type: ignore[union-attr]

    again = escalate(engine, LATE + timedelta(days=30))
    assert again.batches == 0 and len(_rows(engine)) == 3     # never claimed again

    with transaction(engine) as s:                            # handed to the GP: it escalates
        s.execute(update(TaskRow).where(col(TaskRow.id) == own_task).values(assignee_id=gp))
    handed = escalate(engine, LATE + timedelta(days=31))
    assert handed.escalated_ids == [own_task]
    assert _rows(engine)[-1] == (OVERDUE, own_task, coordinator)
