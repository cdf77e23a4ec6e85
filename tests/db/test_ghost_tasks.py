"""Regression: what one unit of work creates and closes is stored closed (issue 10).

A result arriving minutes after the timer that requested it, or a scheduler
catching up over several periods, makes the runtime create a task and close it
in the same step. The database writer used to apply closures before inserting
new tasks, so such a task stayed ``requested`` for good (a "ghost task"): on
worklists, escalated, completable. Here every effect of that shape is checked:
the task row, its history lines (with the task's id), its timers and its
outbox rows.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from engine.store.db import transaction
from engine.store.tables import CaseEvent, OutboxRow, TaskRow, TimerRow
from tests.db.world import T0, build

MARIE = "195031234567890"


def _tasks(engine, key: str) -> list[TaskRow]:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return list(s.scalars(select(TaskRow).where(TaskRow.key == key).order_by(TaskRow.id)))


def _start_follow_up(engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    first = _tasks(engine, "bilan_initial")[0]
    day = T0 + timedelta(days=1)
    svc.complete_task(first.id or 0, {}, day, day)
    return svc, day


def test_result_right_after_its_request_completes_the_task_in_the_database(
        engine, tmp_path: Path) -> None:
    svc, day = _start_follow_up(engine, tmp_path)
    # the HbA1c timer fires after 3 months; the result arrives 10 minutes later, before
    # any sweep ran: one unit creates the request and completes it
    at = day + timedelta(days=92, minutes=10)
    svc.observe(MARIE, "4548-4", 6.4, "%", at, at)
    (task,) = _tasks(engine, "prescrire_hba1c")
    assert task.status == "completed"
    assert task.closed_at is not None and task.close_reason == "observation:hba1c"
    with transaction(engine) as s:
        history = s.execute(select(CaseEvent.kind, CaseEvent.data).where(
            CaseEvent.kind.in_(["task_created", "task_completed"]))  # type: ignore[attr-defined]
            .order_by(CaseEvent.id)).all()
        completed = [data for kind, data in history if kind == "task_completed"
                     and data["ref"] == task.ref]
        assert completed and completed[0]["task_id"] == task.id
        # nobody is asked to do a task that is already done
        kinds = s.scalars(select(OutboxRow.kind).where(OutboxRow.task_id == task.id)).all()
        assert list(kinds) == []


def test_catching_up_several_periods_cancels_what_the_periods_created(
        engine, tmp_path: Path) -> None:
    svc, day = _start_follow_up(engine, tmp_path)
    foot = _tasks(engine, "examen_pieds")[0]
    svc.complete_task(foot.id or 0, {"grade": 2}, day, day)  # grade 2: podiatry every 3 months
    # no sweep for 13 months: the podiatry sessions of months 3, 6, 9 (and 12) are created,
    # then the yearly re-examination leaves the prevention state and cancels them all
    svc.advance(day + timedelta(days=400))
    sessions = _tasks(engine, "seance_podologie")
    assert len(sessions) >= 3
    assert {t.status for t in sessions} == {"cancelled"}
    assert all(t.close_reason == "left state 'suivi.pieds.prevention'" for t in sessions)
    with transaction(engine) as s:
        cancelled = s.scalars(select(CaseEvent.data).where(
            CaseEvent.kind == "task_cancelled")).all()
        assert sorted(d["task_id"] for d in cancelled) == sorted(t.id for t in sessions)
        # a task created and cancelled unseen: nobody is told of it, neither way
        assert s.scalars(select(OutboxRow).where(OutboxRow.task_id.in_(  # type: ignore[union-attr]
            [t.id for t in sessions]))).all() == []
        names = s.scalars(select(TimerRow.name)).all()
        assert "podologie" not in names and "reexamen" not in names
    # the re-examination asked for by the same step is open
    assert [t.status for t in _tasks(engine, "examen_pieds")] == ["completed", "requested"]


def test_every_result_right_after_its_request_closes_its_row(engine, tmp_path: Path) -> None:
    svc, day = _start_follow_up(engine, tmp_path)
    at = day
    for _ in range(3):
        at += timedelta(days=93)
        svc.observe(MARIE, "4548-4", 6.2, "%", at, at)
    rows = _tasks(engine, "prescrire_hba1c")
    assert len(rows) == 3
    assert {t.status for t in rows} == {"completed"}
    with transaction(engine) as s:
        assert "hba1c_due" in s.scalars(select(TimerRow.name)).all()
