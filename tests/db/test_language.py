"""Language features through ``CaseService``, on SQLite and PostgreSQL: outliving tasks,
the observation history kept on the case (``memory`` column)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import CaseRow, TaskRow
from tests.db.world import T0, build

RUNTIME = Path(__file__).resolve().parents[1] / "data" / "runtime"
MARIE = "195031234567890"


def publish(svc: CaseService, name: str) -> None:
    path = RUNTIME / f"{name}.yaml"
    svc.publish(path.read_text(encoding="utf-8"), str(path), T0)


def tasks(engine) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return [(t.key, t.status) for t in s.scalars(select(TaskRow).order_by(TaskRow.id))]


def test_outliving_task_survives_in_the_database(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    publish(svc, "outliving")
    svc.enroll(MARIE, "test-survie", T0)
    day = T0 + timedelta(days=1)
    svc.observe(MARIE, "4548-4", 9.1, "%", day, day)
    day += timedelta(days=1)
    svc.observe(MARIE, "4548-4", 9.3, "%", day, day)
    assert tasks(engine) == [("bilan", "completed"), ("avis", "requested"),
                             ("bilan", "completed"), ("avis", "requested"),
                             ("bilan", "requested")]
    with transaction(engine) as s:
        case_id = s.scalars(select(CaseRow.id)).one()
    day += timedelta(days=1)
    svc.pathway_event(case_id, "renoncement", day, day)
    assert [k for k, status in tasks(engine) if status == "requested"] == ["bilan"]
    assert [k for k, status in tasks(engine) if status == "cancelled"] == ["avis", "avis"]


def test_history_is_kept_on_the_case_row(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    publish(svc, "history")
    svc.enroll(MARIE, "test-historique", T0)
    for day, weight in [(0, 70.0), (3, 71.0), (6, 72.5), (8, 72.5)]:
        moment = T0 + timedelta(days=day, hours=1)
        svc.observe(MARIE, "29463-7", weight, "kg", moment, moment)
    with transaction(engine) as s:
        row = s.scalars(select(CaseRow)).one()
        facts, memory = row.facts, row.memory
    # day 0 left the 7-day window: the database keeps what the runtime keeps
    assert [e["value"] for e in memory["history"]["poids"]] == [72.5, 72.5, 71.0]
    assert facts["poids_min"] == 71.0 and facts["alerte_poids"] is False


def test_hospital_stays_are_idempotent_and_cancellations_undo(engine, tmp_path: Path) -> None:
    from engine import events
    from engine.case import HospitalEventUndone
    from engine.store.exceptions import InputError
    from engine.store.tables import CaseEvent, TimerRow

    svc = build(engine, tmp_path)
    publish(svc, "hospital")
    svc.enroll(MARIE, "test-hopital", T0)
    stay = {events.STAY: "S-42", events.PLANNED: False, events.REASON: "décompensation"}
    day = T0 + timedelta(days=1)
    svc.hospital_event(MARIE, events.ADMISSION, day, day, data=stay)
    svc.hospital_event(MARIE, events.ADMISSION, day, day, data=stay)  # delivered twice
    day += timedelta(days=4)
    with pytest.raises(InputError, match="destination de sortie inconnue 'plage'"):
        svc.hospital_event(MARIE, events.DISCHARGE, day, day,
                           data={events.STAY: "S-42", events.DESTINATION: "plage"})
    svc.hospital_event(MARIE, events.DISCHARGE, day, day,
                       data={events.STAY: "S-42", events.DESTINATION: "domicile"})
    assert [k for k, status in tasks(engine) if status == "requested"] == ["lettre",
                                                                          "consultation"]
    day += timedelta(hours=2)
    svc.hospital_event(MARIE, events.DISCHARGE_CANCELLED, day, day, data={events.STAY: "S-42"})
    assert [status for _, status in tasks(engine)] == ["cancelled", "cancelled"]
    with transaction(engine) as s:
        row = s.scalars(select(CaseRow)).one()
        assert row.active_states == ["hospitalise"] and row.facts["sejours"] == 1
        assert [t.name for t in s.scalars(select(TimerRow))] == ["sejour_long"]
        undone = s.scalars(select(CaseEvent).where(
            CaseEvent.kind == HospitalEventUndone.kind)).one()
        assert undone.data["stay"] == "S-42" and undone.to_state == "hospitalise"


WARNINGS = Path(__file__).resolve().parents[1] / "data" / "warnings"


def test_always_handler_reads_a_result_in_any_state(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    publish(svc, "always")
    svc.enroll(MARIE, "test-toujours", T0)
    day = T0 + timedelta(days=1)
    svc.observe(MARIE, "33762-6", 900, "pg/mL", day, day)
    with transaction(engine) as s:
        assert s.scalars(select(CaseRow.active_states)).one() == ["echographie"]
    assert tasks(engine) == [("echo", "requested")]


def test_expired_request_reaches_the_coordinator(engine, tmp_path: Path) -> None:
    from engine.store.tables import OutboxRow

    svc = build(engine, tmp_path)
    path = WARNINGS / "silent-expiry.yaml"
    svc.publish(path.read_text(encoding="utf-8"), str(path), T0)
    svc.enroll(MARIE, "mini", T0)
    svc.advance(T0 + timedelta(days=62))
    with transaction(engine) as s:
        messages = [o.payload["message"] for o in s.scalars(select(OutboxRow))
                    if o.payload.get("role") == "coordinateur"]
    assert "Avis non obtenu dans le délai" in messages
    assert "Demande de rappel non traitée" in messages
    assert ("avis", "cancelled") in tasks(engine)
