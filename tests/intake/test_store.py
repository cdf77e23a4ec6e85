"""Messages into the inbox without the network: matching, conflicts, corrections, A08."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from engine.intake.model import Identifier
from engine.store.db import transaction
from engine.store.identity import link
from engine.store.intake import receive_hl7, respond_many
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


def test_a_pipelined_group_is_stored_in_one_transaction_each_message_as_alone(
        service: CaseService, engine: Engine) -> None:
    """Group commit: the refused and unreadable messages in the middle get their AE/AR,
    the others AA, each stored once; a later message sees what an earlier one wrote."""
    no_pid = "\r".join(s for s in adt("A01", "G3").split("\r") if not s.startswith("PID"))
    group = [adt("A08", "G1", patient=pid(ipp="IPP-G")),      # INS: links IPP-G
             "PID|||garbage\r",                                 # unreadable (AR)
             no_pid,                                            # refused (AE)
             adt("A01", "G4", patient=pid(ins=None, ipp="IPP-G"), stay="S-G"),  # IPP-G: found
             adt("A01", "G5", patient=pid(ins=None, ipp="IPP-NOBODY")),  # unknown: AE
             adt("A01", "G4", patient=pid(ins=None, ipp="IPP-G"), stay="S-G"),  # resent
             adt("A01", "G6", stay="S-G")]                      # same movement, other id
    acks = respond_many(engine, [m.encode("latin-1") for m in group], NOW, PARIS)
    assert [a.split(b"\rMSA|")[1][:2] for a in acks] == \
        [b"AA", b"AR", b"AE", b"AA", b"AE", b"AA", b"AA"]
    assert [a.split(b"\rMSA|")[1].split(b"|")[1].rstrip(b"\r") for a in acks] == \
        [b"G1", b"", b"G3", b"G4", b"G5", b"G4", b"G6"]
    rows = world.inbox_rows(engine)
    messages = Counter(r.event_id.rsplit(":", 1)[-1] for r in rows if r.kind == "message")
    assert len(messages) == 6 and set(messages.values()) == {1}   # G4 resent: kept once
    assert [r.status for r in rows if r.kind == "message"] == \
        ["applied", "failed", "failed", "applied", "failed", "applied"]
    assert [r.kind for r in rows if r.kind != "message"] == ["admission"]   # G6 = G4's
    # …and exactly as one by one: the same messages again are all duplicates
    again = [receive(engine, m) for m in group]
    assert [r.code for r in again] == ["AA", "AR", "AE", "AA", "AE", "AA", "AA"]
    assert len(world.inbox_rows(engine)) == len(rows)


def test_a_group_that_cannot_be_stored_stores_nothing(
        service: CaseService, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.store import intake

    calls = []

    def failing(session, intake_, *args):  # type: ignore[no-untyped-def]
        calls.append(intake_.message_id)
        if len(calls) == 3:   # the last one: the first two have linked identifiers
            raise RuntimeError("database gone")
        return store(session, intake_, *args)

    store = intake._prepare
    monkeypatch.setattr(intake, "_prepare", failing)
    with pytest.raises(RuntimeError):
        respond_many(engine, [adt("A01", f"F{n}", stay=f"S{n}").encode("latin-1")
                              for n in range(3)], NOW, PARIS)
    assert world.inbox_rows(engine) == []
