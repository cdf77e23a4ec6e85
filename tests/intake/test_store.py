"""Messages into the inbox without the network: matching, conflicts, corrections, A08."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine.intake.model import Identifier
from engine.store.db import transaction
from engine.store.identity import link
from engine.store.intake import receive_hl7
from engine.store.service import CaseService
from engine.store.tables import CaseEvent, ObservationRow, Patient, PatientIdentifier
from tests.intake import world
from tests.intake.messages import FACILITY_OID, INS, INS_NIR_OID, adt, oru, pid

NOW = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> CaseService:
    return world.build(engine, tmp_path)


def receive(engine: Engine, text: str):  # type: ignore[no-untyped-def]
    return receive_hl7(engine, text.encode("latin-1"), NOW, PARIS)


def test_a_qualified_ins_links_the_ipp_and_records_the_identity(
        service: CaseService, engine: Engine) -> None:
    assert receive(engine, adt("A08", "M1")).code == "AA"
    with transaction(engine) as s:
        patient = s.scalars(select(Patient).where(Patient.ins == INS)).one()
        assert (patient.ins_oid, patient.identity_status) == (INS_NIR_OID, "QUAL")
        assert s.scalars(select(PatientIdentifier.value)).all() == ["IPP0042"]
    # later, the IPP alone finds the patient
    assert receive(engine, adt("A01", "M2", patient=pid(ins=None))).code == "AA"


def test_an_ins_not_qualified_is_not_used_and_nothing_is_matched_on_names(
        service: CaseService, engine: Engine) -> None:
    receipt = receive(engine, adt("A01", "M1", patient=pid(status="VALI", ipp="IPP-NEW")))
    assert receipt.code == "AE" and "qualifiée" in receipt.error
    with transaction(engine) as s:
        assert s.scalars(select(PatientIdentifier)).all() == []


def test_ins_and_ipp_of_two_different_patients_is_a_conflict(
        service: CaseService, engine: Engine) -> None:
    with transaction(engine) as s:
        other = s.scalars(select(Patient).where(Patient.local_id == "P-777")).one()
        link(s, other.id or 0, [Identifier("IPP0042", FACILITY_OID, "PI")], NOW)
    receipt = receive(engine, adt("A01", "M1"))
    assert receipt.code == "AE" and "conflit" in receipt.error
    assert receipt.location == ("PID", 3)
    rows = world.inbox_rows(engine)
    assert [(r.status, r.kind) for r in rows] == [("failed", "message")]


def test_a_correction_replaces_a_known_result_with_a_history_line(
        service: CaseService, engine: Engine) -> None:
    diabetes = world.ROOT / "pathways" / "diabete-type2.yaml"
    service.publish(diabetes.read_text(encoding="utf-8"), str(diabetes), world.T0)
    receive(engine, oru("L1", [("59261-8", "HbA1c IFCC", "53", "mmol/mol", "H")]))
    world.drain(service)
    receive(engine, oru("L2", [("4548-4", "HbA1c", "7.4", "%", "H")], status="C"))
    world.drain(service)
    with transaction(engine) as s:
        values = s.scalars(select(ObservationRow.value)).all()
        lines = s.scalars(select(CaseEvent.data).where(
            CaseEvent.kind == "observation_corrected")).all()
    assert values == [7.4]
    assert lines == [{"code": "4548-4", "avant": 7.0, "apres": 7.4, "unit": "%"}]
