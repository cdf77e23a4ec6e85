"""The daily cycle: one flow run, steps without work skipped without any run, and final
states that say what happened (issue 13: refused events are not a clean success)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.store.db import make_engine, transaction
from engine.store.inbox import enqueue
from flows.artifacts import WITH_REFUSALS
from flows.cycle import cpts_cycle
from flows.inbound import process_inbound_events
from tests.db.world import T0, build
from tests.flows.helpers import artifacts, flow_run

SOON = T0 + timedelta(hours=1)  # nothing due yet: no timer, reminder or escalation


@pytest.fixture
def world(app_db: str, tmp_path: Path) -> Engine:
    engine = make_engine(app_db)
    service = build(engine, tmp_path)
    service.enroll("195031234567890", "exemple-suivi", T0)
    yield engine
    engine.dispose()


def observe(engine: Engine, value: float) -> None:
    with transaction(engine) as s:
        enqueue(s, "observation", patient_ref="195031234567890", effective_at=T0,
                received_at=T0, payload={"code": "4548-4", "value": value, "unit": "%"})


def task_runs(state: Any, expected: int = 0) -> list[str]:
    """Names of the flow run's task runs (recorded from events: waits for ``expected``)."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=10)
    body = {"flow_runs": {"id": {"any_": [str(state.state_details.flow_run_id)]}},
            "sort": "NAME_ASC", "limit": 200, "offset": 0}
    deadline = time.monotonic() + 30
    while True:
        with get_client(sync_client=True) as client:
            names = [t["name"] for t in client.request("POST", "/task_runs/filter",
                                                       json=body).json()]
        if len(names) >= expected or time.monotonic() > deadline:
            return names
        time.sleep(0.3)


def flow_run_count() -> int:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return int(client.request("POST", "/flow_runs/count", json={}).json())


def test_inbound_with_a_refused_event_is_not_a_clean_success(world: Engine) -> None:
    observe(world, 45)  # an impossible HbA1c: refused, kept in the inbox
    observe(world, 7.1)
    state = process_inbound_events(now=SOON, return_state=True)
    assert state.is_completed() and state.name == WITH_REFUSALS == "Terminé avec refus"
    assert state.message == "1 événement(s) appliqué(s), 0 doublon(s), 1 refusé(s)"
    stored = flow_run(state).state  # what the Prefect UI shows
    assert stored.type.value == "COMPLETED" and stored.name == WITH_REFUSALS
    assert "1 refusé(s)" in (stored.message or "") and "45" not in (stored.message or "")


def test_a_clean_inbound_run_is_completed(world: Engine) -> None:
    observe(world, 7.1)
    state = process_inbound_events(now=SOON, return_state=True)
    assert state.is_completed() and state.name == "Completed"
    assert flow_run(state).state.name == "Completed"


def test_the_cycle_says_it_refused_events_and_runs_no_subflow(world: Engine) -> None:
    observe(world, 45)
    before = flow_run_count()
    state = cpts_cycle(now=SOON, return_state=True)
    assert flow_run_count() == before + 1  # the cycle alone: its steps are not subflows
    assert state.is_completed() and state.name == WITH_REFUSALS
    assert "inbound : 0 événement(s) appliqué(s), 0 doublon(s), 1 refusé(s)" in state.message
    assert flow_run(state).state.name == WITH_REFUSALS
    steps = {row["étape"]: row for row in json.loads(artifacts("cycle-steps", state)[0]["data"])}
    assert steps["inbound"]["état"] == "terminée avec refus"
    # the inbound batch ran as a task of the cycle's own flow run, with its artifacts
    assert "événements 1" in task_runs(state, expected=1)
    assert artifacts("inbound-failures", state)


def test_steps_without_work_are_skipped_without_any_run(
        world: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.advance
    import flows.escalation
    import flows.inbound

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a step without work ran")
    for module, body in ((flows.inbound, "_process_inbound_events"),
                         (flows.advance, "_advance_due_cases"),
                         (flows.escalation, "_escalate_overdue")):
        monkeypatch.setattr(module, body, never)
    state = cpts_cycle(now=SOON, steps=["inbound", "advance", "escalation"],
                       return_state=True)
    assert state.is_completed() and state.name == "Completed", state.message
    assert "sans travail : inbound, advance, escalation" in state.message
    assert task_runs(state) == []
    steps = json.loads(artifacts("cycle-steps", state)[0]["data"])
    assert [(r["étape"], r["état"]) for r in steps] == [
        ("inbound", "sautée"), ("advance", "sautée"), ("escalation", "sautée")]
    assert not artifacts("inbound-summary", state)  # a skipped step publishes nothing


def test_a_step_with_work_runs_and_a_failed_step_fails_the_cycle(
        world: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.escalation

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("quoting a patient: Durand Marie")
    monkeypatch.setattr(flows.escalation, "escalate_one", broken)
    later = T0 + timedelta(days=60)  # the first task's reminder and escalation are due
    state = cpts_cycle(now=later, steps=["escalation"], return_state=True)
    assert state.is_failed() and "étape(s) en échec : escalation" in state.message
    assert "Durand" not in state.message
    stored = flow_run(state).state
    assert stored.is_failed() and "Durand" not in (stored.message or "")
    assert task_runs(state, expected=1) == ["relances 1"]  # the step's batch: a task run
