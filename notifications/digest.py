"""Daily digests: one message a day for professionals who chose ``"mode": "digest"``.

The dispatcher *holds* their messages (status ``digest``) instead of sending
them. ``queue_daily_digests`` (scheduled once a day by the flows, or
``parcours notify digest``) gathers each professional's held messages into one
``daily_digest`` outbox row, in one transaction with marking them
``digested``; the next dispatch sends it like any other message. At that
point items about tasks closed in the meantime are left out (and a digest
with nothing left is skipped).

The digest's idempotency key names the recipient, the day (Europe/Paris) and
the exact items, so queueing twice changes nothing and a late item makes a
second digest rather than vanishing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from sqlalchemy import Engine, select, update

from engine.clock import PARIS
from engine.store.bulk import in_ids
from engine.store.db import transaction, with_retries
from engine.store.tables import OutboxRow
from notifications import kinds
from notifications.outbox import DIGESTED, HELD, new_row

_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]


@dataclass
class DigestReport:
    digests: int = 0
    items: int = 0
    recipients: list[int] = field(default_factory=list)


def queue_daily_digests(engine: Engine, now: datetime) -> DigestReport:
    """Turn every held message created up to ``now`` into one digest per professional."""
    return with_retries(lambda: _queue(engine, now))


def _queue(engine: Engine, now: datetime) -> DigestReport:
    report = DigestReport()
    day = now.astimezone(PARIS).date().isoformat()
    with transaction(engine) as session:
        query = (select(OutboxRow.id, OutboxRow.recipient_id)
                 .where(OutboxRow.status == HELD, OutboxRow.created_at <= now)
                 .order_by(OutboxRow.recipient_id, OutboxRow.id))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        held = session.execute(query).all()
        for recipient, group in groupby(held, key=lambda r: r.recipient_id):
            ids = [r.id for r in group]
            fingerprint = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:12]
            session.execute(_OUTBOX.insert().values(**new_row(
                kinds.DAILY_DIGEST, f"digest:{recipient}:{day}:{fingerprint}", recipient, now,
                {"items": ids, "day": day})))
            session.execute(update(_OUTBOX).where(in_ids(_OUTBOX.c.id, ids, session))
                            .values(status=DIGESTED))
            report.digests += 1
            report.items += len(ids)
            report.recipients.append(recipient)
    return report
