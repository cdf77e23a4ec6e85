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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from engine.store.bulk import in_ids
from engine.store.db import transaction, with_retries
from engine.store.tables import OutboxRow

PENDING, SENDING, SENT, SKIPPED, DEAD = "pending", "sending", "sent", "skipped", "dead"
HELD, DIGESTED = "digest", "digested"
STATUSES = (PENDING, SENDING, SENT, SKIPPED, HELD, DIGESTED, DEAD)
_OUTBOX = OutboxRow.__table__  # type: ignore[attr-defined]


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


def _claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    query = (select(OutboxRow)
             .where(OutboxRow.status.in_((PENDING, SENDING)),  # type: ignore[attr-defined]
                    OutboxRow.next_attempt_at <= now)
             .order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    if not rows:
        return []
    ids = [r.id for r in rows]
    session.execute(update(_OUTBOX).where(in_ids(_OUTBOX.c.id, ids, session)).values(
        status=SENDING, attempts=_OUTBOX.c.attempts + 1, next_attempt_at=now + lease))
    return [Claimed(r.id, r.idempotency_key, r.kind, r.case_id, r.task_id,  # type: ignore[arg-type]
                    r.recipient_id, dict(r.payload or {}), r.attempts + 1, r.created_at)
            for r in rows]


def record(engine: Engine, row_id: int, values: dict[str, Any],
           extra: list[dict[str, Any]] | None = None) -> None:
    """Set ``values`` on one row and insert ``extra`` rows, in one transaction."""
    def work() -> None:
        with transaction(engine) as session:
            session.execute(update(_OUTBOX).where(_OUTBOX.c.id == row_id).values(**values))
            for row in extra or []:
                _insert_once(session, row)
    with_retries(work)


def _insert_once(session: Session, row: dict[str, Any]) -> None:
    """Insert a new outbox row unless one with its idempotency key exists."""
    exists = session.scalar(select(OutboxRow.id).where(
        OutboxRow.idempotency_key == row["idempotency_key"]))
    if exists is None:
        session.execute(_OUTBOX.insert().values(**row))


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
        rows = session.execute(select(OutboxRow.status, func.count())
                               .group_by(OutboxRow.status)).all()
    return {status: count for status, count in rows}
