"""HL7 v2 acknowledgements (original mode): AA accepted, AE refused, AR unreadable.

``MSA-3`` and ``ERR-8`` carry the French reason of a refusal; ``ERR-2``
locates it (segment and field) when known. An ACK is built even for a message
whose MSH could not be read (then with what could be read, and MSA-2 empty).
"""

from __future__ import annotations

from datetime import datetime

from engine.intake.hl7v2 import CHARSETS, ENCODING_CHARACTERS

ACCEPTED, REFUSED, UNREADABLE = "AA", "AE", "AR"
#: HL7 table 0357: 100 segment sequence error, 101 required field missing,
#: 102 data type error, 200 unsupported message type, 204 unknown key identifier,
#: 207 application internal error
ERROR_CODES = {"unreadable": "102", "refused": "207", "unknown_patient": "204",
               "unsupported": "200"}


def _escape(text: str) -> str:
    """HL7 escape sequences for the delimiters in free text."""
    out = text.replace("\\", "\\E\\")
    for char, seq in (("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\")):
        out = out.replace(char, seq)
    return out.replace("\r", " ").replace("\n", " ")


def header_fields(text: str) -> list[str]:
    """MSH fields of a (possibly broken) message, best effort: [] when unreadable."""
    line = text.split("\r", 1)[0]
    return line.split("|") if line.startswith("MSH|") else []


def build(code: str, received: str, now: datetime, ack_id: str, error: str = "",
          location: tuple[str, int | None] = ("", None), error_code: str = "") -> str:
    """The ACK for ``received`` (the message text as decoded, or as much of it as possible)."""
    msh = header_fields(received)

    def field(n: int) -> str:  # MSH-n is msh[n - 1] once split on '|'
        return msh[n - 1] if len(msh) >= n else ""

    trigger = field(9).split("^")[1] if "^" in field(9) else ""
    stamp = now.strftime("%Y%m%d%H%M%S%z")
    header = "|".join(["MSH", ENCODING_CHARACTERS, field(5) or "PARCOURS", field(6),
                       field(3), field(4), stamp, "", f"ACK^{trigger}^ACK", ack_id,
                       field(11) or "P", field(12) or "2.5", "", "", "", "", "",
                       field(18), ""])
    segments = [header.rstrip("|"), "|".join(["MSA", code, field(10), _escape(error)[:80]])
                .rstrip("|")]
    if code != ACCEPTED:
        segment, number = location
        where = f"{segment}^1^{number}" if segment and number else segment
        severity = "E"
        segments.append("|".join(["ERR", "", where, f"{error_code}^^HL70357", severity, "", "",
                                  "", _escape(error)]))
    return "\r".join(segments) + "\r"


def encode(ack_text: str, received: str) -> bytes:
    """The ACK in the character set of the message it answers (MSH-18)."""
    msh = header_fields(received)
    codec = CHARSETS.get(msh[17].strip().upper() if len(msh) > 17 else "", "utf-8")
    return ack_text.encode(codec, "replace")
