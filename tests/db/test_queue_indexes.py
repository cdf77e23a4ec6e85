"""Migrations 0015 and 0016: the queue and the sweep read their lists in order from partial
indexes.

The open statuses are written as literals in the queue's SQL (``task_is_open``) so that the
database can prove that a query on open tasks may use the partial index ``WHERE status IN
(…)``; with bound parameters PostgreSQL's generic plans could not. Each plan is asked with
sequential scans discouraged: if the index could not serve the query, the plan would name
another one. SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, event
from sqlmodel import SQLModel

from engine.store import queue
from engine.store.db import transaction

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
OURS = ("ix_task_open_due", "ix_task_vacant", "ix_care_team_professional")


def test_migration_0015_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in diffs if any(name in repr(d) for name in OURS)] == []


def _plans(engine: Engine, read: object) -> list[str]:
    """The query plans of the statements ``read`` runs."""
    seen: list[tuple[str, object]] = []

    def record(conn: object, cursor: object, statement: str, parameters: object,
               *args: object) -> None:
        seen.append((statement, parameters))
    event.listen(engine, "before_cursor_execute", record)
    try:
        with transaction(engine) as db:
            read(db)  # type: ignore[operator]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    plans = []
    with engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_bitmapscan = off")
        for statement, parameters in seen:
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).fetchall()  # type: ignore[arg-type]
                plans.append("\n".join(str(row[0]) for row in rows))
    return plans


@pytest.fixture
def pg(engine: Engine) -> Engine:
    """PostgreSQL only: the large territories are there, and SQLite's planner, without
    statistics, prefers ``ix_task_status_due`` for the same queries (a small territory)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("plans of PostgreSQL")
    return engine


@pytest.mark.parametrize(("read", "index"), [
    (lambda db: queue.overdue_tasks(db, NOW), ("ix_task_open_due",)),
    # an empty table's estimates may prefer the open tasks' index filtered on the role
    (lambda db: queue.vacant_role_tasks(db), ("ix_task_vacant", "ix_task_open_due")),
], ids=["overdue", "vacant"])
def test_the_queue_lists_read_their_partial_index(pg: Engine, read: object,
                                                  index: tuple[str, ...]) -> None:
    plans = _plans(pg, read)
    assert plans and any(f"Scan using {name} " in plans[0] for name in index), plans[0]


def test_the_overdue_count_reads_the_open_tasks_index(pg: Engine) -> None:
    plans = _plans(pg, lambda db: queue.counts(db, NOW))
    assert "ix_task_open_due" in plans[0], plans[0]


def test_migration_0016_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in diffs if "ix_case_due" in repr(d)] == []


def test_the_sweep_claims_in_index_order_without_sorting(pg: Engine) -> None:
    """Cases due at one instant are not sorted on each claim (migration 0016)."""
    from engine.store.claims import claim_due

    plans = _plans(pg, lambda db: claim_due(db, NOW, 100))
    assert "Scan using ix_case_due_open " in plans[0] and "Sort" not in plans[0], plans[0]
