"""HL7 v2 parsing and mapping, without a database: PAM-FR ADT, ORU^R01, ACKs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engine import events
from engine.intake import ack
from engine.intake.exceptions import RefusedMessage, UnreadableMessage
from engine.intake.hl7v2 import decode
from engine.intake.mllp import split_messages
from engine.intake.reader import read_hl7
from tests.intake.messages import INS, INS_NIR_OID, IPP, adt, oru, pid

PARIS = ZoneInfo("Europe/Paris")


def read(text: str, charset: str = "latin-1"):  # type: ignore[no-untyped-def]
    return read_hl7(text.encode(charset), PARIS)[1]


def test_pam_fr_admission_becomes_an_admission_with_its_stay_and_identity() -> None:
    intake = read(adt("A01", "M1", admission_type="R"))
    [event] = intake.events
    assert event.kind == events.ADMISSION
    assert event.effective_at == datetime(2026, 1, 5, 7, 30, tzinfo=UTC)  # 08:30 in Paris
    data = event.payload["data"]
    assert data == {events.STAY: "SEJ001", events.PLANNED: True}
    assert "SEJ001" in event.event_id and "MVT001" in event.event_id
    who = intake.identity
    assert who is not None and who.status == "QUAL"
    assert who.qualified_ins is not None and who.qualified_ins.value == INS
    assert who.qualified_ins.system == INS_NIR_OID
    assert [i.value for i in who.local] == [IPP]
    assert "IHE_FR" in intake.source


def test_the_same_movement_resent_with_another_control_id_has_the_same_event_id() -> None:
    assert read(adt("A03", "M1")).events[0].event_id == read(adt("A03", "M2")).events[0].event_id
    assert read(adt("A03", "M1")).message_id != read(adt("A03", "M2")).message_id


def test_a13_names_the_stay_it_cancels_and_a03_carries_the_destination() -> None:
    discharge = read(adt("A03", "M1", movement="MVT9", discharge_mode="8")).events[0]
    assert discharge.kind == events.DISCHARGE
    assert discharge.payload["data"][events.DESTINATION] == "domicile"
    assert read(adt("A03", "M1", discharge_mode="9")).events[0].payload["data"][
        events.DESTINATION] == "deces"
    cancel = read(adt("A13", "M2", movement="MVT9", action="CANCEL", original="A03")).events[0]
    assert cancel.kind == events.DISCHARGE_CANCELLED
    # the engine undoes the discharge of this stay (engine.hospital): the stay only
    assert cancel.payload["data"] == {events.STAY: discharge.payload["data"][events.STAY]}
    unplanned = read(adt("A01", "M3", admission_type="U")).events[0]
    assert unplanned.payload["data"][events.PLANNED] is False


def test_a08_and_a05_change_no_case_but_are_accepted() -> None:
    intake = read(adt("A08", "M1"))
    assert intake.events == [] and "identité" in intake.note
    assert read(adt("A05", "M2")).events == []


def test_msh18_iso_8859_1_is_honoured_and_a_lie_about_it_is_unreadable() -> None:
    text = adt("A01", "M1", patient=pid(family="LEFÈVRE", given="HÉLÈNE"))
    assert read(text, "latin-1").identity.family_name == "LEFÈVRE"  # type: ignore[union-attr]
    assert read(adt("A01", "M1", charset="8859/15", patient=pid(family="ŒUVRE")),
                "iso-8859-15").identity.family_name == "ŒUVRE"  # type: ignore[union-attr]
    liar = adt("A01", "M1", charset="UNICODE UTF-8", patient=pid(family="LEFÈVRE"))
    with pytest.raises(UnreadableMessage, match="MSH-18"):
        read(liar, "latin-1")
    assert decode(liar.encode("utf-8")).count("LEFÈVRE") == 1


@pytest.mark.parametrize(("text", "error"), [
    ("PID|||1\r", UnreadableMessage),                                   # no MSH
    (adt("A01", "M1").replace("MSH|^~\\&|", "MSH|^~&#|", 1), UnreadableMessage),  # encoding
    (adt("A01", "M1").replace("\rEVN|", "\revn broken|"), UnreadableMessage),     # segment
    (adt("A01", "M1", charset="KOI8"), UnreadableMessage),              # unknown charset
    ("\r".join(s for s in adt("A01", "M1").split("\r") if not s.startswith("PID")),
     RefusedMessage),                                                   # missing PID
    (adt("A01", "M1", patient=pid(ins=None, ipp=None)), RefusedMessage),  # no identifier
    (adt("A01", "M1", at="20261345"), RefusedMessage),                  # impossible date
    (adt("A99", "M1"), RefusedMessage),                                 # unsupported event
])
def test_bad_messages_are_refused_with_a_french_reason(text: str, error: type) -> None:
    with pytest.raises(error) as caught:
        read(text)
    assert str(caught.value) and caught.value.ack == ("AR" if error is UnreadableMessage
                                                      else "AE")


def test_oru_maps_codes_keeps_flags_and_unknown_codes() -> None:
    intake = read(oru("L1", [("59261-8", "HbA1c IFCC", "53", "mmol/mol", "H"),
                             ("33762-6", "NT-proBNP", "1250", "ng/L", "H"),
                             ("2345-7", "Glucose", "1,02", "g/L", "")]))
    hba1c, ntprobnp, glucose = (e.payload for e in intake.events)
    # the code is mapped here; the unit is converted by the engine when recorded
    assert (hba1c["code"], hba1c["unit"], hba1c["value"]) == ("4548-4", "mmol/mol", 53)
    assert hba1c["original"] == {"code": "59261-8", "value": 53.0, "unit": "mmol/mol"}
    assert hba1c["interpretation"] == "H"
    assert (ntprobnp["code"], ntprobnp["unit"], ntprobnp["value"]) == ("33762-6", "ng/L", 1250)
    assert (glucose["code"], glucose["value"], glucose["keep_unknown"]) == ("2345-7", 1.02, True)
    correction = read(oru("L2", [("4548-4", "HbA1c", "7.4", "%", "H")], status="C"))
    assert correction.events[0].payload["correction"] is True
    # a unit the engine cannot convert is refused when recorded (engine.units), not here
    odd = read(oru("L3", [("4548-4", "HbA1c", "7.4", "g/L", "")])).events[0].payload
    assert (odd["code"], odd["unit"]) == ("4548-4", "g/L")


def test_ack_codes_and_error_segment() -> None:
    text = adt("A01", "CTRL-7")
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    accepted = ack.build("AA", text, now, "A1")
    assert "\rMSA|AA|CTRL-7" in accepted and "ERR" not in accepted
    assert accepted.startswith("MSH|^~\\&|PARCOURS|CPTS-DOUBS|SIH-DPI|CHU-BESANCON|")
    refused = ack.build("AE", text, now, "A2", "patient inconnu | x", ("PID", 3), "204")
    assert "MSA|AE|CTRL-7|patient inconnu \\F\\ x" in refused
    assert "\rERR||PID^1^3|204^^HL70357|E||||patient inconnu \\F\\ x\r" in refused
    assert ack.build("AR", "garbage", now, "A3", "illisible").split("\r")[1] == \
        "MSA|AR||illisible"
    encoded = ack.encode(ack.build("AE", text, now, "A4", "identité"), text)
    assert b"identit\xe9" in encoded  # answered in the message's own MSH-18: ISO-8859-1


def test_a_file_of_messages_is_split_on_msh() -> None:
    data = (adt("A01", "M1") + "\n" + adt("A03", "M2")).replace("\r", "\n").encode()
    assert [m.split(b"|")[9] for m in split_messages(data)] == [b"M1", b"M2"]
