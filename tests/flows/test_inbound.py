"""process_inbound_events: the inbox applied in order; refused events stay with their error."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from engine.store.db import make_engine, transaction
from engine.store.exceptions import InputError
from engine.store.inbox import drain_lock, enqueue
from engine.store.tables import CaseEvent, InboxRow, TaskRow
from flows.cli import main
from flows.inbound import process_inbound_events
from tests.db.world import T0, build
from tests.flows.helpers import artifacts

NOW = T0 + timedelta(days=5)


@pytest.fixture
def world(app_db: str, tmp_path: Path) -> Engine:
    engine = make_engine(app_db)
    service = build(engine, tmp_path)
    service.enroll("195031234567890", "exemple-suivi", T0)
    service.enroll("P-002", "exemple-suivi", T0)
    yield engine
    engine.dispose()


def task_of(engine: Engine, patient_case: int) -> int:
    with transaction(engine) as s:
        return s.scalar(select(TaskRow.id).where(TaskRow.case_id == patient_case))


def put(engine: Engine, kind: str, day: float, **fields: Any) -> Any:
    at = T0 + timedelta(days=day)
    with transaction(engine) as s:
        return enqueue(s, kind, effective_at=at, received_at=at, **fields)


def rows(engine: Engine) -> dict[int, InboxRow]:
    with transaction(engine) as s:
        return {r.id: r for r in s.scalars(select(InboxRow).order_by(InboxRow.id))}


def test_applies_in_order_keeps_refusals_and_never_drops(world: Engine) -> None:
    first = put(world, "task_completed", 1, task_id=task_of(world, 1), event_id="bilan-1",
                payload={"result": {}})
    assert not put(world, "task_completed", 1, task_id=task_of(world, 1),
                   event_id="bilan-1").created  # the same event received twice: kept once
    put(world, "observation", 2, patient_ref="195031234567890",
        payload={"code": "4548-4", "value": 8.2, "unit": "%"})
    put(world, "observation", 2.5, patient_ref="195031234567890",
        payload={"code": "4548-4", "value": 45, "unit": "%"})          # impossible value
    put(world, "admission", 3, patient_ref="nobody")                     # unknown patient
    # order matters: case 2 is still in inclusion when told to leave (ignored), then its
    # first task is done; case 1 leaves after its first task; a task done twice is refused
    leave = {"name": "sortie_parcours", "data": {"motif": "demenagement"}}
    put(world, "event", 3, case_id=2, payload=leave)
    put(world, "event", 3, case_id=1, payload=leave)
    put(world, "task_completed", 3.5, task_id=task_of(world, 2), payload={"result": {}})
    put(world, "task_completed", 3.5, task_id=task_of(world, 1), payload={"result": {}})
    later = T0 + timedelta(days=9)
    with transaction(world) as s:  # received after `now`: waits for its time
        enqueue(s, "admission", patient_ref="P-002", effective_at=later, received_at=later)

    state = process_inbound_events(now=NOW, return_state=True)
    assert state.is_completed(), state.message
    report = state.result()
    assert report.applied == {"task_completed": 2, "observation": 1, "event": 2}
    assert [f.error_type for f in report.failed] == ["InputError", "NotFoundError",
                                                     "InputError"]
    inbox = rows(world)
    assert inbox[first.id].status == "applied"
    statuses = [r.status for r in inbox.values()]
    assert statuses == ["applied", "applied", "failed", "failed", "applied", "applied",
                        "applied", "failed", "pending"]
    errors = [r.error for r in inbox.values() if r.status == "failed"]
    assert "HbA1c" in errors[0] and "nobody" in errors[1] and "est terminée" in errors[2]
    with transaction(world) as s:
        from engine.store.tables import CaseRow

        cases = {c.id: c for c in s.scalars(select(CaseRow))}
    assert cases[1].closed_at is not None and cases[2].closed_at is None
    assert any(state.startswith("suivi") for state in cases[2].active_states)
    with transaction(world) as s:
        history = list(s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == 1)
                                 .order_by(CaseEvent.id)))
    assert history.index("task_completed") < history.index("observation")
    table = json.loads(artifacts("inbound-failures", state)[0]["data"])
    assert [row["erreur"] for row in table] == ["InputError", "NotFoundError", "InputError"]
    assert all("HbA1c" not in json.dumps(row) for row in table)

    again = process_inbound_events(now=NOW, return_state=True).result()
    assert again.seen == 0  # nothing left that is due; the failed ones wait for a human


def test_cli_receives_lists_applies_and_retries(world: Engine, capsys: Any) -> None:
    now = ["--now", NOW.isoformat()]
    assert main(["inbox", "observe", "--patient", "195031234567890", "--code", "4548-4",
                 "--value", "7,9", "--unit", "%", "--at", (T0 + timedelta(days=1)).isoformat(),
                 "--event-id", "lab-77", *now]) == 0
    assert main(["inbox", "observe", "--patient", "195031234567890", "--code", "4548-4",
                 "--value", "7,9", "--event-id", "lab-77", *now]) == 0
    assert main(["inbox", "event", "discharge", "--patient", "nobody", *now]) == 0
    assert main(["inbox", "complete", str(task_of(world, 1)), "--by", "10000000001",
                 *now]) == 0
    capsys.readouterr()
    assert main(["inbox", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["counts"] == {"pending": 3}
    assert main(["flow", "inbound", *now]) == 0
    out = capsys.readouterr().out
    assert "2 événement(s) appliqué(s)" in out and "inbound : terminé avec refus" in out
    assert main(["inbox", "list", "--status", "failed"]) == 0
    out = capsys.readouterr().out
    assert "sortie d'hospitalisation" in out and "nobody" in out
    assert main(["inbox", "retry", "--all-failed"]) == 0
    assert main(["flow", "inbound", *now]) == 0
    [failed] = [r for r in rows(world).values() if r.status == "failed"]
    assert failed.attempts == 2
    with pytest.raises(InputError, match="manquant"), transaction(world) as s:
        enqueue(s, "observation", patient_ref="P-002", effective_at=NOW, received_at=NOW)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_one_drainer_at_a_time_on_postgresql(world: Engine) -> None:
    put(world, "task_completed", 1, task_id=task_of(world, 1), payload={"result": {}})
    with drain_lock(world) as mine:
        assert mine
        state = process_inbound_events(now=NOW, return_state=True)
        assert "un autre processus" in (state.message or "")
    assert [r.status for r in rows(world).values()] == ["pending"]
    assert process_inbound_events(now=NOW, return_state=True).result().applied == {
        "task_completed": 1}
