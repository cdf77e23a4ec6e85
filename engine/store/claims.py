"""Claiming due work so that two processes never advance the same case.

On PostgreSQL the due cases are selected ``FOR UPDATE SKIP LOCKED``: a case
locked by another worker's open transaction is skipped, not waited for, and
stays locked until that worker commits its new timers. On SQLite every write
transaction begins with ``BEGIN IMMEDIATE`` (see ``db.py``), so the claim and
the advance of one batch hold the database's single write lock: safe for one
process (and for several, which then simply take turns).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.tables import CaseRow


def claim_due(session: Session, now: datetime, limit: int,
              case_ids: list[int] | None = None) -> list[int]:
    query = select(CaseRow.id).where(
        CaseRow.closed_at.is_(None), CaseRow.next_due_at <= now)  # type: ignore[union-attr,operator]
    if case_ids is not None:
        query = query.where(CaseRow.id.in_(case_ids))  # type: ignore[union-attr]
    query = query.order_by(CaseRow.next_due_at, CaseRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))
