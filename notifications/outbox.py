"""The outbox table as the dispatcher uses it: claim due rows, record what happened.

Row life cycle (``status``)::

    pending ──claim──▶ sending ──▶ sent
       ▲                  │ ├────▶ skipped    (task closed before the message left)
       │  retry/deferred  │ ├────▶ digest ──queue_daily_digests──▶ digested
       └──────────────────┘ └────▶ dead       (permanent error or N attempts; coordinator told)

A claim is short: one transaction marks a batch ``sending`` with a *lease*
(``next_attempt_at`` = now + lease) and counts the attempt; the messages are
sent outside any transaction; each result is recorded in its own short
transaction. If the process dies in between, the lease runs out and the row
is claimed again and re-sent with the same idempotency key: delivery is
at-least-once, and a duplicate only arises from a death between sending and
recording. On PostgreSQL the claim reads ``FOR UPDATE SKIP LOCKED`` so that
concurrent dispatchers take different rows; on SQLite the claim holds the
database's write lock (``BEGIN IMMEDIATE``).

A failure that may pass is retried with exponential backoff: the *n*-th
failed attempt (1-based) waits ``base × factor^(n-1)`` seconds, at most
``max``, plus up to ``jitter`` of that wait. The jitter is derived from the
message's key and the attempt number, not drawn at random: when an SMTP
server comes back after an outage the queued messages do not all return at
the same second, yet a test with an injected clock computes the exact schedule.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from engine.store.bulk import in_ids
from engine.store.db import transaction, with_retries
from engine.store.tables import OUTBOX_TABLE, PROFESSIONAL_TABLE
from notifications import kinds
from notifications.settings import NotificationSettings

PENDING, SENDING, SENT, SKIPPED, DEAD = "pending", "sending", "sent", "skipped", "dead"
HELD, DIGESTED = "digest", "digested"
STATUSES = (PENDING, SENDING, SENT, SKIPPED, HELD, DIGESTED, DEAD)
#: The Core table: typed columns for queries, no per-row ORM bookkeeping.
OUTBOX = OUTBOX_TABLE


@dataclass(frozen=True)
class Claimed:
    """One claimed row: what the dispatcher needs, detached from any session."""

    id: int
    idempotency_key: str
    kind: str
    case_id: int | None
    task_id: int | None
    recipient_id: int | None
    payload: dict[str, Any]
    attempts: int
    created_at: datetime

    @property
    def subject_task_id(self) -> int | None:
        """The task a message is about (the flows may put it in the payload only)."""
        value = self.task_id if self.task_id is not None else self.payload.get("task_id")
        return int(value) if value is not None else None


def claim(engine: Engine, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Up to ``limit`` due rows (pending, or sending with a lapsed lease), now ``sending``."""
    def work() -> list[Claimed]:
        with transaction(engine) as session:
            return _claim(session, now, limit, lease)
    return with_retries(work)


def has_work(engine: Engine, now: datetime) -> bool:
    """Whether a dispatch at ``now`` has anything to do: a due row (the claim's condition) or
    a message held for a digest. One probe each, no lock."""
    t = OUTBOX.c
    with transaction(engine) as session:
        due = session.scalar(select(t.id).where(t.status.in_((PENDING, SENDING)),
                                                t.next_attempt_at <= now).limit(1))
        return due is not None or session.scalar(
            select(t.id).where(t.status == HELD).limit(1)) is not None


def _claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    t = OUTBOX.c
    query = (select(OUTBOX).where(t.status.in_((PENDING, SENDING)), t.next_attempt_at <= now)
             .order_by(t.next_attempt_at, t.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return []
    session.execute(update(OUTBOX).where(in_ids(t.id, [r.id for r in rows], session)).values(
        status=SENDING, attempts=t.attempts + 1, next_attempt_at=now + lease))
    return [Claimed(r.id, r.idempotency_key, r.kind, r.case_id, r.task_id, r.recipient_id,
                    dict(r.payload or {}), r.attempts + 1, r.created_at) for r in rows]


def record(engine: Engine, row_id: int, values: dict[str, Any],
           extra: list[dict[str, Any]] | None = None) -> None:
    """Set ``values`` on one row and insert ``extra`` rows, in one transaction."""
    def work() -> None:
        with transaction(engine) as session:
            session.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(**values))
            for row in extra or []:
                _insert_once(session, row)
    with_retries(work)


def _insert_once(session: Session, row: dict[str, Any]) -> None:
    """Insert a new outbox row unless one with its idempotency key exists."""
    exists = session.scalar(select(OUTBOX.c.id).where(
        OUTBOX.c.idempotency_key == row["idempotency_key"]))
    if exists is None:
        session.execute(OUTBOX.insert().values(**row))


def new_row(kind: str, key: str, recipient_id: int | None, now: datetime,
            payload: dict[str, Any], *, case_id: int | None = None,
            task_id: int | None = None) -> dict[str, Any]:
    """An outbox row written by this package (digest, delivery failure report)."""
    return {"idempotency_key": key, "kind": kind, "case_id": case_id, "task_id": task_id,
            "recipient_id": recipient_id, "payload": payload,
            "status": PENDING if recipient_id is not None else DEAD, "attempts": 0,
            "created_at": now, "next_attempt_at": now, "sent_at": None, "channel": None,
            "last_error": None if recipient_id is not None
            else "aucun coordinateur actif à prévenir"}


def counts_by_status(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func

    with transaction(engine) as session:
        rows = session.execute(select(OUTBOX.c.status, func.count())
                               .group_by(OUTBOX.c.status)).all()
    return {status: count for status, count in rows}


def list_rows(engine: Engine, *, statuses: list[str] | None = None, kind: str | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    """Outbox rows for coordinators, newest first (``parcours outbox``)."""

    pro = PROFESSIONAL_TABLE
    t = OUTBOX.c
    query = (select(t.id, t.kind, t.status, t.channel, t.attempts, t.recipient_id,
                    pro.c.given_names, pro.c.family_name, t.case_id, t.task_id, t.created_at,
                    t.next_attempt_at, t.sent_at, t.last_error, t.idempotency_key)
             .outerjoin(pro, pro.c.id == t.recipient_id).order_by(t.id.desc()).limit(limit))
    if statuses:
        query = query.where(t.status.in_(statuses))
    if kind:
        query = query.where(t.kind == kind)
    with transaction(engine) as session:
        found = session.execute(query).mappings().all()
    return [{**{k: v for k, v in row.items() if k not in ("given_names", "family_name")},
             "recipient": f"{row['given_names']} {row['family_name']}"
             if row["family_name"] else None} for row in found]


# -- retry schedule ------------------------------------------------------------------------


def retry_delay(attempt: int, key: str, settings: NotificationSettings) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1 = the first send)."""
    exponent = max(attempt - 1, 0)
    seconds = min(settings.backoff_base * settings.backoff_factor ** exponent,
                  settings.backoff_max)
    digest = hashlib.sha256(f"{key}#{attempt}".encode()).digest()
    spread = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
    return timedelta(seconds=seconds * (1 + settings.backoff_jitter * spread))


def next_attempt(now: datetime, attempt: int, key: str,
                 settings: NotificationSettings) -> datetime:
    return now + retry_delay(attempt, key, settings)


def schedule(key: str, settings: NotificationSettings) -> list[timedelta]:
    """Every wait a message can go through before it is dead-lettered."""
    return [retry_delay(n, key, settings) for n in range(1, settings.max_attempts)]


def assignment_told(session: Session, task_id: int, recipient_id: int,
                    closed_at: datetime | None) -> bool:
    """Whether the professional heard of the task: its ``task_assigned`` row was sent, or
    gathered into a digest that was sent while the task was still open (a digest leaves
    out the tasks closed by then). No such row at all: assume they heard of it."""
    t = OUTBOX.c
    rows = session.execute(select(t.status, t.created_at).where(
        t.task_id == task_id, t.kind == kinds.TASK_ASSIGNED,
        t.recipient_id == recipient_id)).all()
    if not rows or any(r.status == SENT for r in rows):
        return True
    digested = [r.created_at for r in rows if r.status == DIGESTED]
    if not digested:
        return False
    query = select(t.id).where(t.kind == kinds.DAILY_DIGEST, t.recipient_id == recipient_id,
                               t.status == SENT, t.created_at >= min(digested))
    if closed_at is not None:
        query = query.where(t.sent_at <= closed_at)
    return session.execute(query.limit(1)).first() is not None
