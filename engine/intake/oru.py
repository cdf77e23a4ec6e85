"""HL7 v2 ORU^R01 laboratory results → observations.

Each OBX with a LOINC code (OBX-3, coding system ``LN``) becomes one
observation, converted to the code and unit the pathways read (``codes``);
OBX-8 abnormal flags are kept; a code no pathway reads is stored as an
observation of the patient and drives nothing. OBX-11 result status:
``F`` final (and ``R``, ``S`` not yet verified are skipped), ``C`` a correction,
which replaces the earlier value of the same result and leaves a history
line; ``X``, ``D``, ``W``, ``P`` change nothing. The time is OBX-14, else
OBR-7, else MSH-7.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from engine import events
from engine.intake.adt import short_id
from engine.intake.codes import convert
from engine.intake.exceptions import RefusedMessage
from engine.intake.hl7v2 import Message, timestamp
from engine.intake.model import Inbound, Intake
from engine.intake.pid import identity

APPLIED_STATUSES = ("F", "C")
NUMERIC_TYPES = ("NM", "SN")


def _number(text: str, where: str) -> float:
    try:
        return float(text.replace(",", "."))
    except ValueError as exc:
        raise RefusedMessage(f"{where} : valeur numérique attendue, reçu {text!r}", "OBX",
                             5) from exc


def observation(message: Message, n: int, zone: ZoneInfo) -> Inbound | None:
    """The n-th OBX as an observation event, or None when its status changes nothing."""
    where = f"OBX {n}"
    status = message.get("OBX", 11, occurrence=n).upper() or "F"
    if status not in APPLIED_STATUSES:
        return None
    code = message.get("OBX", 3, 1, 1, occurrence=n)
    system = message.get("OBX", 3, 1, 3, occurrence=n).upper()
    if not code:
        raise RefusedMessage(f"{where} : OBX-3 (code du résultat) manquant", "OBX", 3)
    if system and system not in ("LN", "LOINC"):
        code = f"{system}:{code}"
    value_type = message.get("OBX", 2, occurrence=n).upper()
    raw = message.get("OBX", 5, occurrence=n)
    if value_type == "SN":
        raw = message.get("OBX", 5, 1, 2, occurrence=n) or raw
    if not raw:
        raise RefusedMessage(f"{where} : OBX-5 (valeur) manquante", "OBX", 5)
    unit = message.get("OBX", 6, occurrence=n)
    # a code no pathway reads is stored and drives nothing
    payload: dict[str, Any] = {"name": message.get("OBX", 3, 1, 2, occurrence=n),
                               "keep_unknown": True}
    value: Any = raw
    if value_type in NUMERIC_TYPES:
        number = _number(raw, where)
        target, value, target_unit = convert(code, number, unit)
        if (target, target_unit) != (code, unit):
            payload["original"] = {"code": code, "value": number, "unit": unit}
        code, unit = target, target_unit
    payload.update(code=code, value=value, unit=unit or None)
    flags = message.get("OBX", 8, occurrence=n)
    if flags:
        payload["interpretation"] = flags
    when = message.get("OBX", 14, occurrence=n) or message.get("OBR", 7) or message.sent_at
    at = timestamp(when, "OBX-14", zone)
    order = message.get("OBR", 3) or message.get("OBR", 2) or message.control_id
    event_id = short_id("hl7v2", message.sender, order, code)
    if status == "C":
        payload["correction"] = True
        event_id = short_id("hl7v2", message.sender, order, code, "C", message.control_id)
    return Inbound(events.OBSERVATION.value, event_id, at, payload)


def read_oru(message: Message, zone: ZoneInfo) -> Intake:
    if message.trigger != "R01":
        raise RefusedMessage(f"message ORU^{message.trigger} non pris en charge ; seul "
                             "ORU^R01 l'est", "MSH", 9)
    who = identity(message)
    message.require("OBX")
    intake = Intake(message_id=short_id("hl7v2", message.sender, message.control_id),
                    source=short_id("HL7v2", "ORU^R01", message.sender)[:120], identity=who,
                    sent_at=timestamp(message.sent_at, "MSH-7", zone)
                    if message.sent_at else None)
    for n in range(1, message.count("OBX") + 1):
        event = observation(message, n, zone)
        if event is not None:
            intake.events.append(event)
    if not intake.events:
        intake.note = "aucun résultat définitif ni correction (OBX-11) : rien à appliquer"
    return intake
