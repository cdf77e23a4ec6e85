"""Daily digests: one message a day for professionals who chose ``"mode": "digest"``.

The dispatcher *holds* their messages (status ``digest``) instead of sending
them. ``queue_daily_digests`` gathers each professional's held messages into
one ``daily_digest`` outbox row, in one transaction with marking them
``digested``; the next dispatch sends it like any other message. At that
point items about tasks closed in the meantime are left out (and a digest
with nothing left is skipped).

Digests are made once a day per professional, at ``digest_time`` (07:30,
Europe/Paris, by default): a call takes the latest such moment at or before
``now`` (the *slot*), gathers what was held before it, and names the digest
``digest:{professional}:{slot's date}``. So the function may be called as
often as one likes (the notification flow calls it on every run): the first
call after 07:30 makes the day's digests, later calls that day find them made,
and a message held after the slot waits for the next day's digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from engine.store.bulk import in_ids
from engine.store.db import transaction, with_retries
from notifications import kinds
from notifications.outbox import DIGESTED, HELD, OUTBOX, new_row
from notifications.settings import NotificationSettings


@dataclass
class DigestReport:
    """How many digests were queued and how many held messages they gather."""

    digests: int = 0
    items: int = 0


def digest_slot(now: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The latest ``at`` (local time) at or before ``now``."""
    local = now.astimezone(zone)
    slot = datetime.combine(local.date(), at, tzinfo=zone)
    if slot > local:
        slot = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)
    return slot


def queue_daily_digests(engine: Engine, now: datetime, *,
                        settings: NotificationSettings | None = None) -> DigestReport:
    """Gather messages held up to today's digest time into one digest per professional."""
    config = settings or NotificationSettings()
    slot = digest_slot(now, config.digest_time, ZoneInfo(config.timezone))
    return with_retries(lambda: _queue(engine, now, slot))


def _queue(engine: Engine, now: datetime, slot: datetime) -> DigestReport:
    report = DigestReport()
    day = slot.date().isoformat()
    with transaction(engine) as session:
        t = OUTBOX.c
        query = (select(t.id, t.recipient_id).where(t.status == HELD, t.created_at <= slot)
                 .order_by(t.recipient_id, t.id))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        held = session.execute(query).all()
        keys = {r.recipient_id: f"digest:{r.recipient_id}:{day}" for r in held}
        made = set(session.scalars(select(t.idempotency_key).where(
            t.idempotency_key.in_(list(keys.values())))))
        for recipient, group in groupby(held, key=lambda r: r.recipient_id):
            if keys[recipient] not in made:
                ids = [r.id for r in group]
                _digest(session, keys[recipient], recipient, ids, now, day)
                report.digests += 1
                report.items += len(ids)
    return report


def _digest(session: Session, key: str, recipient: int, ids: list[int], now: datetime,
            day: str) -> None:
    session.execute(OUTBOX.insert().values(**new_row(
        kinds.DAILY_DIGEST, key, recipient, now, {"items": ids, "day": day})))
    session.execute(update(OUTBOX).where(in_ids(OUTBOX.c.id, ids, session))
                    .values(status=DIGESTED))
