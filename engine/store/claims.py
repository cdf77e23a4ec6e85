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
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.tables import CASE_TABLE, CaseRow


def due(now: datetime, columns: Any = None) -> ColumnElement[bool]:
    """The one definition of a due case: open, with its next timer at or before ``now``
    (on ``pathway_case``'s columns, or on the same columns of a subquery: ``columns``)."""
    c = CASE_TABLE.c if columns is None else columns
    return and_(c.closed_at.is_(None), c.next_due_at <= now)


def claim_due(session: Session, now: datetime, limit: int,
              case_ids: list[int] | None = None) -> list[int]:
    """Lock up to ``limit`` due cases (of ``case_ids`` when given), in due order.

    Given ids are locked by primary key first and checked for being due after: a condition
    on the due time next to them let PostgreSQL, whose statistics may date from when the
    timers were in the future, read every due case of the territory to find the batch's.
    (A ``MATERIALIZED`` CTE takes no condition from its query: its plan stays on the key.)
    """
    pg = session.get_bind().dialect.name == "postgresql"
    if case_ids is None:
        query = select(col(CaseRow.id)).where(due(now)) \
            .order_by(col(CaseRow.next_due_at), col(CaseRow.id)).limit(limit)
        if pg:
            query = query.with_for_update(skip_locked=True)
    else:
        by_key = select(CASE_TABLE.c.id, CASE_TABLE.c.closed_at, CASE_TABLE.c.next_due_at) \
            .where(CASE_TABLE.c.id.in_(case_ids))
        batch = by_key.with_for_update(skip_locked=True).cte("batch") \
            .prefix_with("MATERIALIZED") if pg else by_key.cte("batch")
        query = select(batch.c.id).where(due(now, batch.c)) \
            .order_by(batch.c.next_due_at, batch.c.id).limit(limit)
    return [i for i in session.scalars(query) if i is not None]
