"""The store's side of the workspace: schema of migration 0006, a one-time token used once
even when two requests race, and the access log append-only on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from engine.store import access, signin
from engine.store.db import transaction
from tests.web.conftest import MARIE, NOW, NURSE, Web

OURS = {"web_sign_in_token", "web_sign_in_attempt", "access_log"}
TASK_COLUMNS = {"accepted_at", "declined_by", "declined_at", "decline_reason"}


def _ours(diff: object) -> bool:
    text_ = repr(diff)
    return any(f"'{name}'" in text_ for name in OURS) or \
        ("'task'" in text_ and any(c in text_ for c in TASK_COLUMNS))


def test_migration_0006_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert [d for d in diffs if _ours(d)] == []


def test_a_token_is_used_once_even_by_concurrent_requests(web: Web) -> None:
    with transaction(web.engine) as db:
        token = signin.issue(db, NURSE, NOW, timedelta(minutes=15))

    def use(_: int) -> bool:
        with transaction(web.engine) as db:
            return signin.consume(db, token, NURSE, NOW)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(use, range(8)))
    assert results.count(True) == 1


def test_access_log_is_append_only_on_postgresql(web: Web) -> None:
    if web.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; SQLite has no user-defined errors")
    with transaction(web.engine) as db:
        access.log_access(db, NURSE, access.READ_PATIENT, NOW, patient_id=MARIE)
    for statement in ("UPDATE access_log SET client = 'x'", "DELETE FROM access_log"):
        with pytest.raises(DBAPIError, match="append-only"), transaction(web.engine) as db:
            db.execute(text(statement))
    with transaction(web.engine) as db:
        assert len(access.read_log(db)) == 1
