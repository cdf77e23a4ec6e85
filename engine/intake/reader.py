"""One entry for HL7 v2 bytes: decode (MSH-18), parse, and map by message type."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from engine.intake.adt import read_adt
from engine.intake.exceptions import RefusedMessage
from engine.intake.hl7v2 import Message, decode
from engine.intake.model import Intake
from engine.intake.oru import read_oru

READERS = {"ADT": read_adt, "ORU": read_oru}


def read_hl7(raw: bytes, zone: ZoneInfo) -> tuple[str, Intake]:
    """The decoded text and what the message carries; raises ``IntakeError`` subclasses."""
    text = decode(raw)
    return text, read_text(text, zone)


def read_text(text: str, zone: ZoneInfo) -> Intake:
    """A message already decoded (a retry of a stored one)."""
    message = Message(text)
    reader = READERS.get(message.type)
    if reader is None:
        raise RefusedMessage(f"type de message {message.type!r} non pris en charge ; "
                             f"possibles : {', '.join(READERS)}", "MSH", 9)
    return reader(message, zone)
