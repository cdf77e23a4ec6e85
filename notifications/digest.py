"""Daily digests: one message a day gathering what need not be told at once.

The dispatcher *holds* the messages that wait for a digest (status
``digest``; by default news of tasks that are not urgent, everything in
``"mode": "digest"``: see ``notifications.preferences``) instead of sending
them. ``queue_daily_digests`` gathers each professional's held messages into
one ``daily_digest`` outbox row, in one transaction with marking them
``digested``; the next dispatch sends it like any other message. At that
point items about tasks closed in the meantime are left out (and a digest
with nothing left is skipped).

Digests are made once a day per professional, at their ``digest_time``
(their preference, else the settings', 07:30 Europe/Paris by default): a
call takes, for each professional, the latest such moment at or before
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
from engine.store.tables import PROFESSIONAL_TABLE
from notifications import kinds
from notifications.exceptions import PreferencesError
from notifications.outbox import DIGESTED, HELD, OUTBOX, new_row
from notifications.preferences import parse_preferences
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
    """Gather each professional's messages held up to their digest time into one digest."""
    config = settings or NotificationSettings()
    return with_retries(lambda: _queue(engine, now, config))


def _queue(engine: Engine, now: datetime, config: NotificationSettings) -> DigestReport:
    report = DigestReport()
    zone = ZoneInfo(config.timezone)
    with transaction(engine) as session:
        t = OUTBOX.c
        query = (select(t.id, t.recipient_id, t.created_at).where(t.status == HELD)
                 .order_by(t.recipient_id, t.id))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        held = session.execute(query).all()
        times = _digest_times(session, {r.recipient_id for r in held}, config)
        slots = {pro: digest_slot(now, at, zone) for pro, at in times.items()}
        keys = {pro: f"digest:{pro}:{slot.date().isoformat()}" for pro, slot in slots.items()}
        made = set(session.scalars(select(t.idempotency_key).where(
            t.idempotency_key.in_(list(keys.values())))))
        for recipient, group in groupby(held, key=lambda r: r.recipient_id):
            ids = [r.id for r in group if r.created_at <= slots[recipient]]
            if ids and keys[recipient] not in made:
                day = slots[recipient].date().isoformat()
                _digest(session, keys[recipient], recipient, ids, now, day)
                report.digests += 1
                report.items += len(ids)
    return report


def _digest_times(session: Session, recipients: set[int],
                  config: NotificationSettings) -> dict[int, time]:
    """Each professional's digest time: their own, else the settings' (invalid: ditto)."""
    pro = PROFESSIONAL_TABLE.c
    rows = session.execute(select(pro.id, pro.preferences).where(
        in_ids(pro.id, sorted(recipients), session))).all() if recipients else []
    times = {r: config.digest_time for r in recipients}
    for pro_id, raw in rows:
        try:
            times[pro_id] = parse_preferences(raw, config).digest_time
        except PreferencesError:
            continue
    return times


def _digest(session: Session, key: str, recipient: int, ids: list[int], now: datetime,
            day: str) -> None:
    session.execute(OUTBOX.insert().values(**new_row(
        kinds.DAILY_DIGEST, key, recipient, now, {"items": ids, "day": day})))
    session.execute(update(OUTBOX).where(in_ids(OUTBOX.c.id, ids, session))
                    .values(status=DIGESTED))
