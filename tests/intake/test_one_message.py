"""A message alone (``receive_hl7``, what the listener runs for a sender that waits for each
ACK) is stored exactly as the group path stores a group of one (``receive_many``): the
same receipts (ACK code, French error, its location, duplicate, inbox ids) and the same
rows (inbox, the facility identifiers linked, the patient's recorded identity), for
accepted, refused, duplicate, unknown-patient and unreadable messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text, update
from sqlmodel import SQLModel, col

from engine.intake.model import Identifier
from engine.store import intake
from engine.store.db import transaction
from engine.store.identity import link
from engine.store.tables import (
    ALL_TABLES,
    INBOX_TABLE,
    PATIENT_TABLE,
    Patient,
    PatientIdentifier,
)
from tests.intake import world
from tests.intake.messages import FACILITY_OID, INS, adt, oru, pid, segment

NOW = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
IDENTIFIERS = PatientIdentifier.__table__  # type: ignore[attr-defined]
INS_NIA_OID = "1.2.250.1.213.1.4.9"
INS_NIR_OID = "1.2.250.1.213.1.4.8"


def _ipp(value: str, system: str = FACILITY_OID, kind: str = "PI") -> str:
    return f"{value}^^^CHU-BESANCON&{system}&ISO^{kind}"


def _pid(*identifiers: str, status: str = "QUAL") -> str:
    return segment("PID", {1: "1", 3: "~".join(identifiers), 5: "DURAND^MARIE^^^^^L",
                           7: "19400312", 8: "F", 32: status})


INS_NIR = f"{INS}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"
INS_NIA = f"{INS}^^^ASIP-SANTE-INS-NIA&{INS_NIA_OID}&ISO^INS"


def _stale_names(engine: Engine) -> None:
    """Folded names out of date: ``match`` refolds them (``tables._refold_names``)."""
    with engine.begin() as connection:
        connection.execute(update(PATIENT_TABLE).where(PATIENT_TABLE.c.ins == INS)
                           .values(search_family="perime", search_given=None))


NO_PID = "\r".join(s for s in adt("A01", "N1").split("\r") if not s.startswith("PID"))
#: messages one after the other (and, between them, changes made by others)
STEPS: list[str | Callable[[Engine], None]] = [
    adt("A08", "M1", patient=pid(ipp="IPP-A")),         # INS: links IPP-A, records QUAL
    adt("A01", "M2", patient=pid(ins=None, ipp="IPP-A"), stay="S2", movement="V2"),  # IPP
    adt("A01", "M2", patient=pid(ins=None, ipp="IPP-A"), stay="S2", movement="V2"),  # again
    adt("A01", "M3", patient=pid(ins=None, ipp="IPP-A"), stay="S2", movement="V2"),  # same
    "PID|||garbage\r",                                   # unreadable: AR
    "PID|||garbage\r",                                   # …twice
    NO_PID,                                              # refused: AE
    adt("A01", "M5", patient=pid(ins=None, ipp="IPP-NOBODY")),     # unknown patient
    adt("A01", "M6", patient=pid(status="VALI", ipp="IPP-NEW")),   # INS not qualified
    adt("A01", "M7", patient=pid(ipp="IPP-777")),        # INS and IPP: two patients
    adt("A01", "M8", patient=_pid(_ipp("IPP-A"), _ipp("IPP-777"), status="")),  # two
    _stale_names,
    adt("A08", "M9"),                                    # links IPP0042, refolds the names
    adt("A08", "M10", patient=pid(ipp="IPP-A")),         # nothing to link nor to record
    oru("L1", [("4548-4", "HbA1c", "7.1", "%", "H")]),   # a result
    adt("A08", "M11", patient=_pid(_ipp("IPP-A"), _ipp("IPP-B", "1.2.3.4"), INS_NIR)),
    adt("A08", "M12", patient=_pid(_ipp("IPP-A"), INS_NIA)),      # another INS OID
    adt("A03", "M13", patient=_pid(_ipp("IPP-B", "1.2.3.4"), status=""), stay="S2",
        movement="V3"),                                  # the IPP just linked finds them
    # the same IPP twice (as PI and as MR): one identifier, linked once
    adt("A01", "M14", patient=_pid(_ipp("IPP-C"), _ipp("IPP-C", kind="MR"), INS_NIR)),
]


def _empty(engine: Engine) -> None:
    """Every table emptied, ids starting again from 1."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.__tablename__ for t in ALL_TABLES)  # type: ignore[attr-defined]
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())


def _state(engine: Engine) -> tuple[list[Any], ...]:
    with engine.connect() as connection:
        return tuple(list(connection.execute(select(table).order_by(table.c.id)))
                     for table in (INBOX_TABLE, IDENTIFIERS, PATIENT_TABLE))


def _run(engine: Engine, tmp: Path, store: Callable[[bytes], intake.Receipt],
         ) -> tuple[list[object], list[tuple[list[Any], ...]]]:
    """What each message got, and the rows after each step."""
    _empty(engine)
    world.build(engine, tmp)
    with transaction(engine) as session:
        other = session.scalars(select(Patient).where(col(Patient.local_id) == "P-777")).one()
        link(session, other.id or 0, [Identifier("IPP-777", FACILITY_OID, "PI")], NOW)
    outcomes: list[object] = []
    states = []
    for step in STEPS:
        if callable(step):
            step(engine)
        else:
            try:
                outcomes.append(store(step.encode("latin-1")))
            except Exception as exc:  # not stored: no ACK (the same on both paths)
                outcomes.append(type(exc).__name__)
        states.append(_state(engine))
    return outcomes, states


def test_a_message_alone_is_stored_as_a_group_of_one(engine: Engine, tmp_path: Path) -> None:
    alone, alone_states = _run(engine, tmp_path,
                               lambda raw: intake.receive_hl7(engine, raw, NOW, PARIS))
    group, group_states = _run(engine, tmp_path,
                               lambda raw: intake.receive_many(engine, [raw], NOW, PARIS)[0])
    assert alone == group
    for step, (one, other) in enumerate(zip(alone_states, group_states, strict=True)):
        assert one == other, f"after step {step}"
    # what the steps were meant to show
    codes = [o.code if isinstance(o, intake.Receipt) else o for o in alone]
    assert codes == ["AA", "AA", "AA", "AA", "AR", "AR", "AE", "AE", "AE", "AE", "AE", "AA",
                     "AA", "AA", "AA", "AA", "AA", "AA"]
    duplicates = [o.duplicate for o in alone if isinstance(o, intake.Receipt)]
    assert duplicates == [False, False, True, False, False, True] + [False] * 12
    inbox, identifiers, patients = alone_states[-1]
    assert [(i.value, i.patient_id) for i in identifiers] == [
        ("IPP-777", 2), ("IPP-A", 1), ("IPP0042", 1), ("IPP-B", 1), ("IPP-C", 1)]
    durand = patients[0]
    m12 = next(i for i, step in enumerate(STEPS) if isinstance(step, str) and "|M12|" in step)
    assert (alone_states[m12][2][0].ins_oid, durand.identity_status) == (INS_NIA_OID, "QUAL")
    assert durand.ins_oid == INS_NIR_OID  # M14 names them by their NIR again
    assert (durand.search_family, durand.search_given) == ("durand", "marie")
    assert [r.kind for r in inbox if r.kind != "message"] == [
        "admission", "observation", "discharge", "admission"]


def test_a_message_alone_that_cannot_be_stored_stores_nothing(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The identifiers it linked are rolled back with it: no ACK, nothing half stored."""
    world.build(engine, tmp_path)

    def failing(*args: object) -> dict[str, int]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(intake, "enqueue_many", failing)
    with pytest.raises(RuntimeError):
        intake.respond(engine, adt("A01", "F1", patient=pid(ipp="IPP-F")).encode("latin-1"),
                       NOW, PARIS)
    inbox, identifiers, patients = _state(engine)
    assert inbox == [] and identifiers == []
    assert patients[0].identity_status is None   # as imported: nothing recorded
