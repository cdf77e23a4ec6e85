"""HL7 v2.5 ADT following IHE PAM and PAM-FR → hospital events.

Read: MSH (MSH-21 profile kept in the source), EVN, PID (``pid``), PV1
(PV1-2 class, PV1-4 admission type → planned, PV1-19 stay number, PV1-36
discharge disposition), ZBE (ZBE-1 movement id, ZBE-2 movement time, ZBE-4
action INSERT/UPDATE/CANCEL, ZBE-6 original trigger of a cancellation), and
ZFM-2 (PMSI discharge mode) for the destination.

The event id is built from the stay and movement identifiers (PV1-19,
ZBE-1): the same movement received twice is kept once, whatever its MSH-10,
and a cancellation (A11, A13: same ZBE-1, action CANCEL) names the movement
it cancels.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine import events
from engine.intake.codes import ADT_TRIGGERS, DISCHARGE_DESTINATIONS, PLANNED_ADMISSION
from engine.intake.exceptions import RefusedMessage
from engine.intake.hl7v2 import Message, timestamp
from engine.intake.model import Inbound, Intake
from engine.intake.pid import identity

NOTES = {
    "A04": "passage en consultation externe ou aux urgences (pas de séjour)",
    "A05": "pré-admission enregistrée",
    "A08": "mise à jour de l'identité du patient",
    "A12": "annulation de mutation",
    "A38": "annulation de pré-admission",
}


def short_id(*parts: str) -> str:
    """An event id of at most 120 characters (long ids are hashed, keeping a readable head)."""
    text = ":".join(parts)
    if len(text) <= 120:
        return text
    return text[:80] + ":" + hashlib.sha256(text.encode()).hexdigest()[:32]


def movement_time(message: Message, zone: ZoneInfo, trigger: str) -> datetime:
    """ZBE-2, else EVN-6, else PV1-44/45, else EVN-2, else MSH-7."""
    for where, value in (("ZBE-2", message.get("ZBE", 2)), ("EVN-6", message.get("EVN", 6)),
                         ("PV1-45" if trigger == "A03" else "PV1-44",
                          message.get("PV1", 45 if trigger == "A03" else 44)),
                         ("EVN-2", message.get("EVN", 2)), ("MSH-7", message.sent_at)):
        if value:
            return timestamp(value, where, zone)
    raise RefusedMessage("aucune date de mouvement (ZBE-2, EVN-6 ou MSH-7)", "ZBE", 2)


def stay_data(message: Message, trigger: str) -> dict[str, Any]:
    """The typed data of the hospital event (``engine.hospital``): stay, planned, reason,
    destination; a cancellation carries the stay only."""
    data: dict[str, Any] = {}
    stay = message.get("PV1", 19) or message.get("ZBE", 1)
    if stay:
        data[events.STAY] = stay[:64]
    if trigger in ("A11", "A13"):
        return data
    reason = message.get("PV2", 3, 1, 2)
    if reason:
        data[events.REASON] = reason[:200]
    kind = message.get("PV1", 4)
    if trigger in ("A01", "A02") and kind in PLANNED_ADMISSION:
        data[events.PLANNED] = PLANNED_ADMISSION[kind]
    if trigger == "A03":
        mode = message.get("ZFM", 2) or message.get("PV1", 36)
        if mode in DISCHARGE_DESTINATIONS:
            data[events.DESTINATION] = DISCHARGE_DESTINATIONS[mode]
    return data


def read_adt(message: Message, zone: ZoneInfo) -> Intake:
    trigger = message.trigger
    if trigger not in ADT_TRIGGERS:
        raise RefusedMessage(f"événement ADT^{trigger} non pris en charge ; possibles : "
                             f"{', '.join(sorted(ADT_TRIGGERS))}", "MSH", 9)
    who = identity(message)
    source = short_id("HL7v2", f"ADT^{trigger}", message.sender, message.get("MSH", 21))
    intake = Intake(message_id=short_id("hl7v2", message.sender, message.control_id),
                    source=source[:120], identity=who,
                    sent_at=timestamp(message.sent_at, "MSH-7", zone)
                    if message.sent_at else None)
    kind = ADT_TRIGGERS[trigger]
    action = message.get("ZBE", 4).upper() or "INSERT"
    if kind is None or action == "UPDATE":
        intake.note = NOTES.get(trigger, f"mise à jour du mouvement {trigger}")
        return intake
    message.require("PV1")
    at = movement_time(message, zone, trigger)
    stay = message.get("PV1", 19)
    movement = message.get("ZBE", 1)
    if not stay and not movement:
        raise RefusedMessage("ni numéro de séjour (PV1-19) ni identifiant de mouvement "
                             "(ZBE-1) : le message ne peut être ni dédoublonné ni annulé",
                             "PV1", 19)
    data = stay_data(message, trigger)
    event_id = short_id("hl7v2", message.sender, stay, movement, trigger)
    intake.events.append(Inbound(kind, event_id, at, {"data": data}))
    return intake
