"""escalate_overdue: reminders to assignees, escalation to the coordinator, each once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine.store.db import make_engine, transaction
from engine.store.escalation import escalate
from engine.store.tables import OutboxRow, Professional, TaskRow
from flows.escalation import escalate_overdue
from tests.db.world import T0, build
from tests.flows.helpers import artifacts, populate


@pytest.fixture
def world(app_db: str, tmp_path: Path) -> Engine:
    engine = make_engine(app_db)
    build(engine, tmp_path).enroll("195031234567890", "exemple-suivi", T0)
    yield engine
    engine.dispose()


def outbox(engine: Engine, *kinds: str) -> list[OutboxRow]:
    with transaction(engine) as s:
        return list(s.scalars(select(OutboxRow).where(OutboxRow.kind.in_(kinds))  # type: ignore[attr-defined]
                              .order_by(OutboxRow.id)))


def ids(engine: Engine) -> tuple[int, int, int]:
    with transaction(engine) as s:
        task = s.scalars(select(TaskRow)).one()
        gp = s.scalar(select(Professional.id).where(Professional.rpps == "10000000001"))
        coordinator = s.scalar(select(Professional.id).where(
            Professional.profession == "coordinateur"))
    return task.id, gp, coordinator


def test_reminder_at_its_time_then_escalation_to_the_coordinator(world: Engine) -> None:
    task, gp, coordinator = ids(world)  # bilan_initial: reminder P10D, due P15D, escalation P30D
    state = escalate_overdue(now=T0 + timedelta(days=9), return_state=True)
    assert state.is_completed() and not outbox(world, "task_reminder", "task_overdue")

    state = escalate_overdue(now=T0 + timedelta(days=11), return_state=True)
    [reminder] = outbox(world, "task_reminder")
    assert (reminder.idempotency_key, reminder.recipient_id, reminder.task_id) == (
        f"task:{task}:reminder:{gp}", gp, task)
    assert reminder.status == "pending" and reminder.payload["role"] == "medecin_traitant"
    table = json.loads(artifacts("escalation-queued", state)[0]["data"])
    assert table == [{"parcours": "exemple-suivi", "rôle": "medecin_traitant", "rappels": 1,
                      "escalades au coordinateur": 0}]

    later = T0 + timedelta(days=20)  # past due, not yet at the escalation delay
    state = escalate_overdue(now=later, return_state=True)
    assert len(outbox(world, "task_reminder")) == 1 and not outbox(world, "task_overdue")
    overdue = json.loads(artifacts("overdue-by-role", state)[0]["data"])
    assert overdue[0]["tâches en retard"] == 1 and overdue[0]["dont escaladées"] == 0

    escalate_overdue(now=T0 + timedelta(days=31), return_state=True)
    escalate_overdue(now=T0 + timedelta(days=32), return_state=True)
    [escalation] = outbox(world, "task_overdue")
    assert (escalation.idempotency_key, escalation.recipient_id) == (
        f"task:{task}:overdue:{coordinator}", coordinator)
    with transaction(world) as s:
        row = s.get(TaskRow, task)
        assert row.reminded_at == T0 + timedelta(days=11)
        assert row.escalated_at == T0 + timedelta(days=31)


def test_without_an_escalation_delay_a_task_escalates_at_its_due_time(app_db: str) -> None:
    from engine.store.service import CaseService

    cases = populate(app_db, 30)  # bench pathway: `controle`, due P15D, no reminder/escalation
    engine = make_engine(app_db)
    CaseService(engine).advance(T0 + timedelta(days=40))
    with transaction(engine) as s:
        [due] = set(s.scalars(select(TaskRow.due_at)))
    report = escalate(engine, due - timedelta(minutes=1), batch_size=7)
    assert report.tasks == 0
    report = escalate(engine, due, batch_size=7)
    assert (len(report.escalated_ids), len(report.reminded_ids), report.batches) == (30, 0, 5)
    assert escalate(engine, due + timedelta(days=1), batch_size=7).tasks == 0
    rows = outbox(engine, "task_overdue")
    assert len(rows) == 30 and len({r.idempotency_key for r in rows}) == 30
    assert {r.case_id for r in rows} == set(cases)
    engine.dispose()


def test_nobody_to_tell_is_a_dead_letter_not_a_loss(app_db: str) -> None:
    from engine.store.service import CaseService

    populate(app_db, 3, coordinator=False)
    engine = make_engine(app_db)
    due = T0 + timedelta(days=40)
    CaseService(engine).advance(due)
    escalate(engine, due + timedelta(days=16))
    rows = outbox(engine, "task_overdue")
    assert [r.status for r in rows] == ["dead"] * 3
    assert all(r.recipient_id is None and "coordinator" in (r.last_error or "") for r in rows)
    engine.dispose()
