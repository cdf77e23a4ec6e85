"""Shared fixtures. Database tests run on SQLite and PostgreSQL through ``db_url``.

Each test run gets its own PostgreSQL database (``parcours_test_<random>``),
created at the start of the session and dropped at the end, so concurrent runs
never see each other's rows; each test starts from empty tables. Where no
PostgreSQL answers, its tests are skipped, except in CI (``CI=true``), where a
missing PostgreSQL fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("PARCOURS_TEST_PG_ADMIN",
                              "postgresql+psycopg://root@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of this test session, migrated to the newest schema."""
    import psycopg

    problem = _pg_available()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    name = f"parcours_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from engine.store.db import make_engine
    from engine.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    from sqlalchemy import text

    from engine.store.db import make_engine
    from engine.store.tables import ALL_TABLES

    engine = make_engine(url)
    names = ", ".join(t.__tablename__ for t in ALL_TABLES)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database: a fresh SQLite file, or this session's PostgreSQL one."""
    if request.param == "sqlite":
        from engine.store.db import make_engine
        from engine.store.migrate import upgrade

        url = f"sqlite:///{tmp_path / 'parcours.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    else:
        url = request.getfixturevalue("pg_database")
        _truncate(url)
        yield url


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    from engine.store.db import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI (same process) at the test database."""
    monkeypatch.setenv("PARCOURS_DATABASE_URL", db_url)
    return db_url
