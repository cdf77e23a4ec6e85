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

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.tables import CaseRow


def due(now: datetime) -> ColumnElement[bool]:
    """The one definition of a due case: open, with its next timer at or before ``now``."""
    return and_(col(CaseRow.closed_at).is_(None), col(CaseRow.next_due_at) <= now)


def claim_due(session: Session, now: datetime, limit: int,
              case_ids: list[int] | None = None) -> list[int]:
    query = select(col(CaseRow.id)).where(due(now))
    if case_ids is not None:
        query = query.where(col(CaseRow.id).in_(case_ids))
    query = query.order_by(col(CaseRow.next_due_at), col(CaseRow.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [i for i in session.scalars(query) if i is not None]
