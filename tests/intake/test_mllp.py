"""HL7 v2 over a real TCP MLLP connection to ``parcours mllp`` (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine import events
from engine.store.service import CaseService
from flows.cli import main
from tests.intake import world
from tests.intake.listener import Listener
from tests.intake.messages import FACILITY_OID, adt, oru, pid


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> CaseService:
    return world.build(engine, tmp_path)


@pytest.fixture
def listener(db_url: str, service: CaseService) -> Iterator[Listener]:
    running = Listener(db_url)
    yield running
    assert "Traceback" not in running.stop()


def test_admission_discharge_duplicate_and_cancelled_discharge(
        listener: Listener, service: CaseService, engine: Engine) -> None:
    [sent] = listener.send(adt("A01", "M1", at="20260105083000"))
    assert sent.ack_code == "AA" and sent.control_id == "M1"
    assert world.drain(service).applied == {events.ADMISSION: 1}
    assert "parcours.hospitalise" in world.case_of(engine).active_states
    assert {"transmettre_lettre_liaison", "preparer_sortie"} <= world.open_tasks(engine)

    [sent] = listener.send(adt("A03", "M2", at="20260110100000", movement="MVT2",
                               discharge_mode="8"))
    assert sent.ack_code == "AA"
    world.drain(service)
    after_discharge = world.case_of(engine)
    follow_up = world.open_tasks(engine)
    assert {"verifier_lettre_liaison", "visite_medecin_sortie", "visite_infirmiere_sortie",
            "conciliation_medicamenteuse"} <= follow_up

    # the same discharge again (a resend with a new MSH-10): acknowledged, nothing changes
    [sent] = listener.send(adt("A03", "M2-BIS", at="20260110100000", movement="MVT2",
                               discharge_mode="8"))
    assert sent.ack_code == "AA"
    report = world.drain(service)
    assert report.seen == 0 and not report.applied
    assert world.case_of(engine).row_version == after_discharge.row_version
    events_rows = [r for r in world.inbox_rows(engine) if r.kind != events.MESSAGE]
    assert [r.kind for r in events_rows] == [events.ADMISSION, events.DISCHARGE]

    # A13: the discharge is cancelled, its follow-up tasks and the watch are undone
    [sent] = listener.send(adt("A13", "M3", at="20260110120000", movement="MVT2",
                               action="CANCEL", original="A03"))
    assert sent.ack_code == "AA"
    assert world.drain(service).applied == {events.DISCHARGE_CANCELLED: 1}
    case = world.case_of(engine)
    assert case.active_states == ["parcours.hospitalise"]  # back in hospital
    assert not case.facts["en_veille"]
    assert not follow_up & world.open_tasks(engine)
    messages = [r for r in world.inbox_rows(engine) if r.kind == events.MESSAGE]
    assert [r.status for r in messages] == ["applied"] * 4


def test_bad_messages_get_the_right_ack_and_are_all_kept(
        listener: Listener, service: CaseService, engine: Engine, db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    good = adt("A01", "OK1", patient=pid(family="LEFÈVRE", given="HÉLÈNE"))
    no_pid = "\r".join(s for s in adt("A01", "E2").split("\r") if not s.startswith("PID"))
    stranger = adt("A01", "E4", stay="SEJ-X", patient=pid(ins=None, ipp="IPP-UNKNOWN"))
    cases = [
        (adt("A01", "E1").replace("\rPV1|", "\rPV1 broken|"), "AR"),   # malformed segment
        (adt("A01", "E1b").replace("MSH|^~\\&|", "MSH|#~\\&|", 1), "AR"),  # encoding chars
        (no_pid, "AE"),
        (stranger, "AE"),                                               # unknown patient
        (good, "AA"),                                                   # ISO-8859-1 honoured
    ]
    acks = listener.send(*[text for text, _ in cases])
    assert [a.ack_code for a in acks] == [code for _, code in cases]
    assert b"segment PID manquant" in acks[2].ack.replace(b"\\F\\", b"|")
    assert b"patient inconnu" in acks[3].ack and b"ERR|" in acks[3].ack
    # a message in ISO-8859-1 whose MSH-18 claims UTF-8: unreadable, kept as bytes
    liar = adt("A01", "E5", charset="UNICODE UTF-8", patient=pid(family="LEFÈVRE"))
    assert listener.send(liar)[0].ack_code == "AR"
    assert listener.send(adt("A08", "OK2"))[0].ack_code == "AA"   # the listener goes on

    rows = [r for r in world.inbox_rows(engine) if r.kind == events.MESSAGE]
    assert len(rows) == 7
    failed = [r for r in rows if r.status == "failed"]
    assert len(failed) == 5 and all(r.error for r in failed)
    assert any("LEFÈVRE" in r.payload.get("text", "") for r in rows if r.status == "applied")

    # the coordinator links the facility's identifier, then retries the refused rows
    monkeypatch.setenv("PARCOURS_DATABASE_URL", db_url)
    assert main(["patients", "link", "--patient", "P-777", "--system", FACILITY_OID,
                 "--value", "IPP-UNKNOWN"]) == 0
    assert main(["inbox", "retry", "--all-failed"]) == 0
    world.drain(service)   # the message is read again: its admission joins the inbox
    world.drain(service)   # … and is applied (the patient has no open case: no effect)
    admissions = [r for r in world.inbox_rows(engine) if r.kind == events.ADMISSION]
    assert {r.status for r in admissions} == {"applied"} and len(admissions) == 2


def test_results_drive_nothing_unknown_and_corrections_replace(
        listener: Listener, service: CaseService, engine: Engine) -> None:
    from sqlalchemy import select

    from engine.store.db import transaction
    from engine.store.tables import ObservationRow

    acks = listener.send(
        oru("L1", [("29463-7", "Poids", "61.5", "kg", ""),
                   ("2345-7", "Glucose", "1.02", "g/L", "H")]),
        oru("L2", [("29463-7", "Poids", "62.5", "kg", "")], status="C"))
    assert [a.ack_code for a in acks] == ["AA", "AA"]
    report = world.drain(service)
    assert not report.failed
    with transaction(engine) as session:
        stored = list(session.scalars(select(ObservationRow)))
    rows = {r.code: r for r in stored}
    assert rows["2345-7"].value == 1.02 and rows["2345-7"].interpretation == "H"
    # no published pathway reads the weight here: stored as it is, then corrected in place
    assert rows["29463-7"].value == 62.5 and len(stored) == 2


def test_mllp_over_tls_with_the_send_command(
        db_url: str, service: CaseService, engine: Engine, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    secure = Listener(db_url, PARCOURS_MLLP_TLS_CERT=str(cert), PARCOURS_MLLP_TLS_KEY=str(key))
    try:
        day = tmp_path / "jour.hl7"
        day.write_bytes((adt("A01", "T1") + "\n" + adt("A08", "T2")).encode("latin-1"))
        assert main(["mllp", "send", str(day), "--host", "127.0.0.1", "--port",
                     str(secure.port), "--tls-ca", str(cert)]) == 0
        assert "2 message(s) envoyé(s) : AA 2" in capsys.readouterr().out
        # a client that does not speak TLS gets no ACK and nothing is stored
        assert main(["mllp", "send", str(day), "--host", "127.0.0.1", "--port",
                     str(secure.port), "--timeout", "5"]) == 1
    finally:
        assert "Traceback" not in secure.stop()
    assert len([r for r in world.inbox_rows(engine) if r.kind == events.MESSAGE]) == 2


def test_a_pipelined_window_gets_its_acks_in_order_each_message_stored_once(
        listener: Listener, service: CaseService, engine: Engine) -> None:
    from collections import Counter

    cases = [(adt("A01", f"W{n}", stay=f"SW{n}", movement=f"MW{n}"), "AA") for n in range(6)]
    cases[2] = (adt("A01", "W2").replace("\rPV1|", "\rPV1 broken|"), "AR")       # unreadable
    cases[4] = (adt("A01", "W4", stay="SX", patient=pid(ins=None, ipp="IPP-X")), "AE")
    acks = listener.send(*[text for text, _ in cases] * 2, window=16)   # and all resent
    assert [a.ack_code for a in acks] == [code for _, code in cases] * 2
    assert [a.control_id for a in acks] == [f"W{n}" for n in range(6)] * 2
    rows = world.inbox_rows(engine)
    messages = Counter(r.event_id for r in rows if r.kind == events.MESSAGE)
    assert len(messages) == 6 and set(messages.values()) == {1}
    assert len([r for r in rows if r.kind == events.ADMISSION]) == 4
