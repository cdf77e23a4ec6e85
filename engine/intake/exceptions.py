"""Errors of the intake layer (all under ``engine.exceptions.ParcoursError``).

::

    IntakeError                 an external message cannot be taken in as it is
    ├── UnreadableMessage       it cannot be parsed at all (HL7 ACK ``AR``)
    └── RefusedMessage          parsed, but refused (HL7 ACK ``AE``): unknown patient,
                                missing segment, unsupported event…

Every message is in French: it is stored with the inbox row for the
coordinator and sent back to the interface engine in the ACK (MSA-3, ERR-8).
"""

from __future__ import annotations

from engine.exceptions import ParcoursError


class IntakeError(ParcoursError):
    """An external message is not taken in; ``ack`` is the HL7 acknowledgement code."""

    ack = "AE"


class UnreadableMessage(IntakeError):
    """The message cannot be parsed (framing, encoding characters, MSH, character set)."""

    ack = "AR"


class RefusedMessage(IntakeError):
    """The message is readable but refused; ``segment``/``field`` locate the problem."""

    ack = "AE"

    def __init__(self, message: str, segment: str = "", field: int | None = None) -> None:
        self.segment = segment
        self.field = field
        super().__init__(message)


class UnknownPatient(RefusedMessage):
    """No patient of ours matches the message's identifiers (never matched on a name)."""
