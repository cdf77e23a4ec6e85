"""Database engines and transactions, the same API on SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a
busy timeout, and every write transaction starts with ``BEGIN IMMEDIATE`` so
that two writers queue instead of failing half-way. PostgreSQL is reached
through psycopg 3.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from engine.store.exceptions import ConcurrentUpdateError, TransientStoreError

T = TypeVar("T")


#: Row ids are 32-bit integers on PostgreSQL; a larger number names no row.
MAX_ID = 2**31 - 1


def is_id(value: object) -> bool:
    """Whether ``value`` can be a row id: an int in the columns' range (else it is unknown)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def make_engine(url: str, *, echo: bool = False, create: bool = True,
                pre_ping: bool = True) -> Engine:
    """An engine on ``url`` (a URL or the path of a SQLite file). Statement parameters
    (names, birth dates, clinical values) are never written into error messages or logs
    (``hide_parameters``). A malformed URL raises ``DatabaseUrlError``; with
    ``create=False`` a SQLite file that does not exist raises ``MissingDatabaseError``
    instead of being created empty. ``pre_ping=False`` saves a round trip per checkout
    where a dead connection only fails one unit of work that its caller redoes (the MLLP
    listener: no ACK, the sender sends again); the pool drops a connection that failed
    that way."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from engine.store.urls import (
        EXPECTED,
        DatabaseUrlError,
        check_url,
        database_url,
        require_existing,
    )

    url = database_url(url)
    check_url(url)
    if not create:
        require_existing(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    import orjson

    from engine.store.bulk import dumps

    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, echo=echo, connect_args={"timeout": 30},
                                   json_serializer=dumps, json_deserializer=orjson.loads,
                                   hide_parameters=True)
            _sqlite_setup(engine)
            return engine
        return create_engine(url, echo=echo, pool_pre_ping=pre_ping, pool_size=5,
                             max_overflow=5, json_serializer=dumps,
                             json_deserializer=orjson.loads, hide_parameters=True)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise DatabaseUrlError(f"adresse de base de données invalide ; {EXPECTED}") from exc


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000",
                       "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: everything inside commits together or not at all."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "08006", "08003", "08001"}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ConcurrentUpdateError | TransientStoreError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower() if exc.orig else ""
        return "locked" in text or "busy" in text or getattr(exc.orig, "sqlstate", None) in \
            _TRANSIENT_SQLSTATES or "connection" in text
    if isinstance(exc, DBAPIError):
        return getattr(exc.orig, "sqlstate", None) in _TRANSIENT_SQLSTATES
    return False


def with_retries(work: Callable[[], T], attempts: int = 5, base_delay: float = 0.02) -> T:
    """Run ``work`` (which opens its own transaction), retrying transient failures."""
    for attempt in range(attempts + 1):
        try:
            return work()
        except Exception as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            time.sleep(base_delay * (2 ** attempt))
    raise AssertionError("unreachable")
