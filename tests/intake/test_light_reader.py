"""The light HL7 v2 reader (``engine.intake.hl7v2.Message``) reads exactly what python-hl7
reads: every field, repetition, component and sub-component of every message of the test
corpus (PAM-FR ADT, ORU^R01, ISO-8859-1/15, escape sequences, odd segments) and of
generated messages, compared with python-hl7's ``parse`` and ``extract_field`` (what
``Message`` used before), and the same ``Intake`` (or the same refusal) in the end."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.intake import day_messages
from engine.intake.exceptions import IntakeError
from engine.intake.hl7v2 import Message, decode
from engine.intake.reader import READERS
from tests.intake.messages import adt, msh, oru, pid, segment

PARIS = ZoneInfo("Europe/Paris")


class LibraryMessage(Message):
    """``Message`` as it was: python-hl7's parse and ``extract_field`` (the reference)."""

    library: dict[str, list[Any]] | None = None

    def __init__(self, text: str) -> None:
        super().__init__(text)   # the checks (with the light reading of MSH, replaced below)
        self.parsed = hl7.parse(self.text)
        self.library = {}
        for seg in self.parsed:
            self.library.setdefault(str(seg[0][0]), []).append(seg)
        self.type = self.get("MSH", 9, 1, 1)
        self.trigger = self.get("MSH", 9, 1, 2)
        self.control_id = self.get("MSH", 10)

    def has(self, segment: str) -> bool:
        return any(str(s[0]) == segment for s in self.parsed)

    def count(self, segment: str) -> int:
        return sum(1 for s in self.parsed if str(s[0]) == segment)

    def get(self, segment: str, field: int, repeat: int = 1, component: int = 1,
            sub: int = 1, occurrence: int = 1) -> str:
        if self.library is None:   # during Message.__init__
            return super().get(segment, field, repeat, component, sub, occurrence)
        found = self.library.get(segment, ())
        if not 0 < occurrence <= len(found):
            return ""
        try:
            value = found[occurrence - 1].extract_field(occurrence, field, repeat, component,
                                                        sub)
        except (KeyError, IndexError):
            return ""
        return str(value).strip()

    def repeats(self, segment: str, field: int, occurrence: int = 1) -> int:
        found = (self.library or {}).get(segment, ())
        if not 0 < occurrence <= len(found):
            return 0
        count = 0
        while True:
            try:
                found[occurrence - 1].extract_field(occurrence, field, count + 1, 1, 1)
            except (KeyError, IndexError):
                return count
            count += 1


def corpus() -> Iterator[tuple[str, bytes]]:
    """The messages of the intake tests and of the benchmark, and odd ones, as bytes."""
    latin = pid(family="LEFÈVRE", given="HÉLÈNE^MARIE-ÉLODIE")
    texts = [
        adt("A01", "M1"), adt("A01", "M2", admission_type="R"), adt("A02", "M3"),
        adt("A03", "M4", discharge_mode="8"), adt("A03", "M5", discharge_mode="9"),
        adt("A08", "M6"), adt("A05", "M7"), adt("A99", "M8"),
        adt("A11", "M9", action="CANCEL", original="A01"),
        adt("A13", "M10", movement="MVT2", action="CANCEL", original="A03"),
        adt("A01", "M11", patient=latin), adt("A01", "M12", patient=pid(ins=None)),
        adt("A01", "M13", patient=pid(ins=None, ipp=None)), adt("A01", "M14", at="20261345"),
        adt("A01", "M15", patient=pid(status="PROV")), adt("A01", "M16", patient=pid(status="X")),
        "\r".join(s for s in adt("A01", "M17").split("\r") if not s.startswith("PID")),
        oru("L1", [("59261-8", "HbA1c IFCC", "53", "mmol/mol", "H"),
                   ("33762-6", "NT-proBNP", "1250", "ng/L", "H"),
                   ("2345-7", "Glucose", "1,02", "g/L", "")]),
        oru("L2", [("4548-4", "HbA1c", "7.4", "%", "H")], status="C"),
        oru("L3", [("4548-4", "HbA1c", "7.4", "g/L", "")], status="X"),
        oru("L4", [("4548-4", "HbA1c", "abc", "%", "")]),
        # escape sequences: delimiters, hex, formatting, an unknown and an unclosed one
        adt("A01", "E1", patient=pid(family="D\\S\\ARC \\T\\ FILS", given="A\\F\\B\\R\\C\\E\\")),
        adt("A01", "E2\\X41\\", patient=pid(family="\\X4C45\\F\\H\\VRE\\N\\",
                                            given="L\\.br\\A\\.sp2\\\\.in\\")),
        oru("E3", [("4548-4", "HbA1c \\S\\ \\Zapp\\", "7\\E\\4", "%", "H\\T\\")]),
        # odd segments: no field at all, trailing whitespace, a repeated OBX, a Z segment
        adt("A01", "O1", extra=["ZFM", "ZFM|1|8"]) + "PV2",
        adt("A03", "O2", extra=[segment("ZFM", {2: "8"})]) + "ZZZ|x  \t ",
        "\r".join([msh("ORU^R01^ORU_R01", "O3"), pid(), "OBX", segment("OBX", {
            2: "SN", 3: "4548-4^HbA1c^LN", 5: ">^7.5", 6: "%", 11: "F", 14: "20260106"})]),
        "\r".join([msh("ADT^A01", "O4"), "BHS|a|b^c", "FHS|abc", pid(), "PV1|||||||||||||||"
                   "||||S1~S2^^^X&Y&Z"]),
        msh("ADT", "O5"), msh("", "O6"), msh("ADT^A01", ""),
    ]
    for text in texts:
        yield "8859/1", text.encode("latin-1")
    yield "8859/15", adt("A01", "I15", charset="8859/15",
                         patient=pid(family="ŒUVRE", given="ÉLÉONORE")).encode("iso-8859-15")
    yield "UTF-8", adt("A01", "U8", charset="UNICODE UTF-8",
                       patient=pid(family="LEFÈVRE")).encode("utf-8")
    for text in day_messages(12, 7, "B", 3):
        yield "bench", text.encode("latin-1")


def same_reading(text: str) -> None:
    """Every address of ``text`` reads the same both ways, and so does the mapping."""
    try:
        light = Message(text)
    except IntakeError as exc:
        with pytest.raises(type(exc), match=None):
            LibraryMessage(text)
        return
    library = LibraryMessage(text)
    assert (light.type, light.trigger, light.control_id) == \
        (library.type, library.trigger, library.control_id)
    names = {line[:3] for line in light.text.split("\r")} | {"PID", "OBX", "ZZZ", "P", "O"}
    for name in names:
        assert light.has(name) == library.has(name) and light.count(name) == library.count(name)
        found = (library.library or {}).get(name, [])
        widest = max((len(s) for s in found), default=0)
        for occurrence in range(1, len(found) + 2):
            for field in range(0, widest + 2):
                assert light.repeats(name, field, occurrence) == \
                    library.repeats(name, field, occurrence), (name, field)
                for repeat in range(1, 4):
                    for component in range(1, 6):
                        for sub in range(1, 4):
                            address = (name, field, repeat, component, sub, occurrence)
                            assert light.get(*address) == library.get(*address), address
    reader = READERS.get(light.type)
    if reader is None:
        return
    outcomes = []
    for message in (light, library):
        try:
            outcomes.append(reader(message, PARIS))
        except IntakeError as exc:
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(("charset", "raw"), list(corpus()))
def test_the_light_reader_reads_the_corpus_as_python_hl7(charset: str, raw: bytes,
                                                          caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    caplog.set_level(logging.CRITICAL, logger="hl7")   # unknown escapes are logged, both ways
    same_reading(decode(raw))


FIELD = st.text(alphabet="AB1 é^~&\\.XFSRTE", max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["PID", "PV1", "OBX", "ZBE", "BHS", "MSH"]),
                          st.lists(FIELD, max_size=8)), max_size=4),
       st.lists(FIELD, max_size=6), st.sampled_from(["", " ", "\t\r"]))
@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # python-hl7's logger.warn
def test_generated_messages_read_the_same_both_ways(
        segments: list[tuple[str, list[str]]], header: list[str], tail: str) -> None:
    logging.getLogger("hl7").setLevel(logging.CRITICAL)
    head = "|".join(["MSH", "^~\\&", *header[:6], "ADT^A01", "C1", *header[6:]])
    lines = [head] + ["|".join([name, *fields]) if fields else name
                      for name, fields in segments]
    same_reading("\r".join(lines) + tail)
