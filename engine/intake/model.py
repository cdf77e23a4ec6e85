"""What an external message becomes: who it is about, and the inbound events it carries.

``Intake`` is the neutral result of every parser (HL7 v2 ADT, ORU, FHIR):
the store matches ``identity`` to one of our patients and puts ``events``
in the durable inbox, each with its own idempotent event id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

#: OIDs of the INS (identifiant national de santé): NIR, NIA and their test ranges.
INS_OIDS: dict[str, str] = {
    "1.2.250.1.213.1.4.8": "INS-NIR",
    "1.2.250.1.213.1.4.9": "INS-NIA",
    "1.2.250.1.213.1.4.10": "INS-NIR de test",
    "1.2.250.1.213.1.4.11": "INS-NIA de test",
}
#: Identity reliability statuses (PID-32 in PAM-FR; FHIR FR Core identityReliability).
IDENTITY_STATUSES: dict[str, str] = {
    "PROV": "identité provisoire",
    "RECUP": "identité récupérée",
    "VALI": "identité validée",
    "QUAL": "identité qualifiée",
}
QUALIFIED = "QUAL"


@dataclass(frozen=True)
class Identifier:
    """An identifier and its assigning authority (an OID when known, else a namespace)."""

    value: str
    system: str
    type_code: str = ""

    @property
    def is_ins(self) -> bool:
        return self.system in INS_OIDS


@dataclass
class Identity:
    """The patient as the sender knows them. Never matched on the name alone."""

    identifiers: list[Identifier] = field(default_factory=list)
    status: str | None = None
    family_name: str = ""
    given_names: str = ""
    birth_date: date | None = None
    sex: str | None = None
    conditions: list[str] = field(default_factory=list)

    @property
    def ins(self) -> Identifier | None:
        return next((i for i in self.identifiers if i.is_ins), None)

    @property
    def qualified_ins(self) -> Identifier | None:
        """The INS, when the sender says the identity is qualified (the only trusted case)."""
        return self.ins if self.status == QUALIFIED else None

    @property
    def local(self) -> list[Identifier]:
        """The sender's own identifiers (IPP, medical record number…), each once: PID-3 may
        repeat one value under two type codes (PI and MR), which is one identifier (linking
        it twice would break the unique key, and the message could never be stored)."""
        seen: set[tuple[str, str]] = set()
        local = []
        for identifier in self.identifiers:
            key = (identifier.system, identifier.value)
            if not identifier.is_ins and key not in seen:
                seen.add(key)
                local.append(identifier)
        return local


@dataclass(frozen=True)
class Inbound:
    """One inbox event: an inbound kind of ``engine.events``, its id, time and payload."""

    kind: str
    event_id: str
    effective_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Intake:
    """A message taken apart: ``message_id`` is its own idempotent id (sender + control id)."""

    message_id: str
    source: str
    identity: Identity | None
    events: list[Inbound] = field(default_factory=list)
    #: what the message does when it carries no event (A08, A05…), in French
    note: str = ""
    #: the message's own time (MSH-7), for a message that carries no event
    sent_at: datetime | None = None
