"""Messages from interfaces into the durable inbox: one transaction per message (or per
group of pipelined messages).

``receive_hl7`` takes the bytes of one HL7 v2 message, and in one
transaction stores it as received (an inbox row of kind ``message``, its
event id the sender and MSH-10) together with the events it carries (one
pending inbox row each, idempotent by the stay/movement or result ids); the
caller acknowledges only after the commit. A sender that waits for each ACK pays that
transaction for every message, so it is kept short: a Core connection, no ORM session,
the patient read in one statement (``identity.match_one``), the rows written in one.
``receive_many`` stores the messages a sender has already pipelined on one connection in
one transaction (group commit), each exactly as it would be alone (``receive_hl7``
stores exactly what a group of one would: tests/intake/test_one_message.py), and they
are acknowledged, in order, after that commit.
A refused message is stored too, ``failed`` with its French error, for the
coordinator's queue; ``retry`` of that row reads it again (``reread``), once the
coordinator has, say, linked the facility's identifier to the patient.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, update
from sqlalchemy.orm import Session

from engine import events
from engine.intake import ack
from engine.intake.exceptions import IntakeError, RefusedMessage
from engine.intake.model import Intake
from engine.intake.reader import read_hl7, read_text
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.identity import Lookups, match, match_one
from engine.store.inbox import enqueue, enqueue_many, row_of
from engine.store.service import Applied, CaseService
from engine.store.tables import INBOX_TABLE, InboxRow

HL7V2 = "hl7v2"


@dataclass
class Receipt:
    """What happened to one message: the ACK code, the French error, the rows written."""

    code: str
    error: str = ""
    location: tuple[str, int | None] = ("", None)
    text: str = ""
    duplicate: bool = False
    inbox_ids: list[int] = field(default_factory=list)


def _raw_payload(raw: bytes, text: str | None) -> dict[str, Any]:
    if text is not None:
        return {"format": HL7V2, "text": text}
    return {"format": HL7V2, "base64": base64.b64encode(raw).decode("ascii")}


def _prepare(session: Session, intake: Intake, payload: dict[str, Any], now: datetime,
             lookups: Lookups | None = None) -> tuple[Receipt, list[dict[str, Any]]]:
    """The patient matched (``match`` may link identifiers) and the inbox rows to write:
    the events, then the message (refused: the message alone, ``failed``)."""
    try:  # match writes nothing when it refuses
        patient = match(session, intake.identity, now, lookups) if intake.identity else None
    except RefusedMessage as exc:
        return _refused(intake, payload, now, exc)
    return _accepted(intake, payload, now, None if patient is None else patient.id)


def _accepted(intake: Intake, payload: dict[str, Any], now: datetime, ref: int | None,
              ) -> tuple[Receipt, list[dict[str, Any]]]:
    """The inbox rows of a message accepted for patient ``ref``: its events, then itself."""
    rows = [row_of(event.kind, effective_at=event.effective_at, received_at=now,
                   event_id=event.event_id, source=intake.source, patient_ref=ref,
                   payload=event.payload) for event in intake.events]
    ids = [row["event_id"] for row in rows]
    rows.append(row_of(events.MESSAGE, effective_at=intake.sent_at or now, received_at=now,
                       event_id=intake.message_id, source=intake.source, patient_ref=ref,
                       payload={**payload, "events": ids, "note": intake.note},
                       status="applied", processed_at=now))
    return Receipt(ack.ACCEPTED), rows


def _refused(intake: Intake, payload: dict[str, Any], now: datetime, exc: IntakeError,
             ) -> tuple[Receipt, list[dict[str, Any]]]:
    row = row_of(events.MESSAGE, effective_at=intake.sent_at or now, received_at=now,
                 event_id=intake.message_id, source=intake.source, payload=payload,
                 status="failed", error=str(exc), processed_at=now)
    location = (exc.segment, exc.field) if isinstance(exc, RefusedMessage) else ("", None)
    return Receipt(exc.ack, str(exc), location), [row]


def _insert(session: Session | Connection,
            prepared: list[tuple[Receipt, list[dict[str, Any]]]]) -> None:
    """The rows of messages in one statement, in order (a message's events before it, and
    before the next message's); each receipt learns its rows' ids and whether its message
    had already been received (before, or earlier in ``prepared``)."""
    created = enqueue_many(session, [row for _, rows in prepared for row in rows])
    claimed: set[str] = set()
    for receipt, rows in prepared:
        receipt.inbox_ids.extend(created[r["event_id"]] for r in rows[:-1]
                                 if r["event_id"] in created)
        message = rows[-1]["event_id"]
        receipt.duplicate = message not in created or message in claimed
        claimed.add(message)


def receive_hl7(engine: Engine, raw: bytes, now: datetime, zone: ZoneInfo) -> Receipt:
    """Store one HL7 v2 message (committed when this returns) and say how to acknowledge
    it: exactly as ``receive_many`` stores a group of one, in fewer round trips (a sender
    that waits for each ACK pays them for every message). One Core transaction, no ORM
    session: the patient's INS and identifiers read in one statement and matched as
    ``match`` does (``identity.match_one``), then the inbox rows in one statement."""
    _, intake, text = _read(raw, zone)
    with engine.begin() as connection:
        if not isinstance(intake, Intake):
            prepared = _unreadable(raw, now, intake)
        else:
            payload = _raw_payload(raw, text)
            try:  # match_one writes nothing when it refuses
                ref = None if intake.identity is None else \
                    match_one(connection, intake.identity, now)
            except RefusedMessage as exc:
                prepared = _refused(intake, payload, now, exc)
            else:
                prepared = _accepted(intake, payload, now, ref)
        _insert(connection, [prepared])
    receipt = prepared[0]
    receipt.text = raw.decode("latin-1") if text is None else text
    return receipt


def receive_many(engine: Engine, raws: list[bytes], now: datetime, zone: ZoneInfo,
                 ) -> list[Receipt]:
    """Store messages in one transaction (group commit: committed, all of them, when this
    returns; if it raises, none is stored) and say how to acknowledge each, in order.
    Each is stored as it would be alone: a later message sees the identifiers an earlier
    one linked, and a message or event already received earlier in the group is kept
    once, as if received before. The patients of the group are looked up at once
    (``Lookups``), and the inbox rows of all its messages written, in order, in one
    statement."""
    read = [_read(raw, zone) for raw in raws]
    with transaction(engine) as session:
        lookups = Lookups(session, [intake.identity for _, intake, _ in read
                                    if isinstance(intake, Intake) and intake.identity])
        prepared = [_prepare(session, intake, _raw_payload(raw, text), now, lookups)
                    if isinstance(intake, Intake) else _unreadable(raw, now, intake)
                    for raw, intake, text in read]
        _insert(session, prepared)
    for (receipt, _), (raw, _, text) in zip(prepared, read, strict=True):
        receipt.text = raw.decode("latin-1") if text is None else text
    return [receipt for receipt, _ in prepared]


def _read(raw: bytes, zone: ZoneInfo) -> tuple[bytes, Intake | IntakeError, str | None]:
    """The message read, or why it could not be (and its decoded text, when it could)."""
    try:
        text, intake = read_hl7(raw, zone)
    except IntakeError as exc:
        return raw, exc, None
    return raw, intake, text


def _unreadable(raw: bytes, now: datetime, exc: IntakeError,
                ) -> tuple[Receipt, list[dict[str, Any]]]:
    """A message that could not be read at all is kept too, as bytes, with its error."""
    digest = hashlib.sha256(raw).hexdigest()[:40]
    intake = Intake(message_id=f"{HL7V2}:illisible:{digest}", source="HL7v2", identity=None)
    return _refused(intake, _raw_payload(raw, None), now, exc)


def reread(service: CaseService, row: InboxRow, now: datetime) -> Applied:
    """Retry of a refused message: read and match it again; its events join the inbox."""
    payload = row.payload
    if payload.get("format") != HL7V2 or "text" not in payload:
        raise InputError(f"ligne {row.id} : message illisible, à corriger à la source et à "
                         "renvoyer")
    zone = ZoneInfo(service.settings.timezone)
    try:
        intake = read_text(payload["text"], zone)
    except IntakeError as exc:
        raise InputError(str(exc)) from exc
    with transaction(service.engine) as session:
        patient = match(session, intake.identity, now) if intake.identity else None
        for event in intake.events:
            enqueue(session, event.kind, effective_at=event.effective_at, received_at=now,
                    event_id=event.event_id, source=intake.source,
                    patient_ref=None if patient is None else patient.id, payload=event.payload)
        session.execute(update(INBOX_TABLE).where(INBOX_TABLE.c.id == row.id).values(
            patient_ref=None if patient is None else str(patient.id)))
    return Applied(message=f"message relu : {len(intake.events)} événement(s) dans l'inbox")


def respond(engine: Engine, raw: bytes, now: datetime, zone: ZoneInfo) -> bytes:
    """Store one message, then its ACK (raises, and so sends no ACK, if it was not stored)."""
    return _ack(receive_hl7(engine, raw, now, zone), now)


def respond_many(engine: Engine, raws: list[bytes], now: datetime, zone: ZoneInfo,
                 ) -> list[bytes]:
    """Store messages in one transaction, then their ACKs in the same order (raises, and
    so sends no ACK at all, if they were not stored)."""
    return [_ack(receipt, now) for receipt in receive_many(engine, raws, now, zone)]


def _ack(receipt: Receipt, now: datetime) -> bytes:
    error_code = "" if receipt.code == ack.ACCEPTED else ack.ERROR_CODES[
        "unreadable" if receipt.code == ack.UNREADABLE else "refused"]
    text = ack.build(receipt.code, receipt.text, now, uuid.uuid4().hex[:20], receipt.error,
                     receipt.location, error_code)
    return ack.encode(text, receipt.text)
