"""Multi-row writes: PostgreSQL ``COPY`` where it pays, the driver's executemany on SQLite.

``COPY … FROM STDIN`` streams thousands of rows in one round trip without
building a giant parameterised statement; ids that callers need back are
reserved first (PostgreSQL: ``nextval`` of the table's sequence, N in one call;
SQLite: the ids after the largest one, under the write lock every write
transaction holds from ``BEGIN IMMEDIATE``). On SQLite the rows go to
``sqlite3``'s ``executemany`` directly: each column's values are converted once
by its type's bind processor (UTC times, JSON), instead of SQLAlchemy's
per-parameter processing. JSON is written by ``orjson``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Enum, Integer, String, Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlmodel.sql.sqltypes import AutoString

from engine.store.types import UTCDateTime

_PG = postgresql.dialect()


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def json_default(value: Any) -> Any:
    """What ``json.dumps`` cannot write by itself: times, dates, durations, sets."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> str:
    """JSON text (UTF-8, not ASCII-escaped); times as ISO 8601, like ``isoformat``."""
    return orjson.dumps(value, default=json_default, option=_ORJSON).decode()


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside a batch loop (which only allocates live
    objects: walking them is wasted time), back on afterwards whatever happens."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys: from the table's sequence (PostgreSQL), or after the
    largest id (SQLite, whose write transaction holds the database's only write lock)."""
    if not _is_pg(session):
        top = session.execute(text(f'SELECT COALESCE(MAX(id), 0) FROM "{table.name}"')).scalar()
        return list(range(int(top or 0) + 1, int(top or 0) + 1 + count))
    rows = session.execute(text(
        f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
        "FROM generate_series(1, :n)"), {"n": count}).scalars().all()
    return list(rows)


def _derived(table: Table, rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Rows with the columns derived from them (``info["derive"]``, e.g. the folded names
    of a patient) when they do not carry them: ``COPY`` runs no column default."""
    derived = [(c.name, c.info["derive"]) for c in table.columns
               if "derive" in c.info and c.name not in rows[0]]
    if not derived:
        return rows
    return [{**row, **{name: derive(row) for name, derive in derived}} for row in rows]


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                *, with_ids: bool = False) -> list[int]:
    """Insert ``rows`` (dicts with the same keys); returns their ids when asked."""
    if not rows:
        return []
    rows = _derived(table, rows)
    ids: list[int] = reserve_ids(session, table, len(rows)) if with_ids else []
    if not _is_pg(session):
        columns = list(rows[0])
        data = columns_of(session, table, columns, rows)
        if with_ids:
            columns, data = ["id", *columns], [ids, *data]
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" for _ in columns)
        executemany(session, f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
                    list(zip(*data, strict=True)))
        return ids
    types = _record_types(table, list(rows[0]))
    if types is not None:
        _insert_json(session, table, rows, types, ids)
        return ids
    columns = list(rows[0])
    if with_ids:
        columns = ["id", *columns]
    json_columns = [c for c in columns if c != "id" and _is_json(table, c)]
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    plain = [c for c in columns[with_ids:] if c not in json_columns]
    order = plain + [c for c in columns[with_ids:] if c in json_columns]
    names = ", ".join(f'"{c}"' for c in (["id"] if with_ids else []) + order)
    with raw.cursor() as cursor, cursor.copy(  # type: ignore[attr-defined]
            f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for i, row in enumerate(rows):
            values = [row[c] for c in plain]
            values += [None if row[c] is None else dumps(row[c]) for c in json_columns]
            copy.write_row([ids[i], *values] if with_ids else values)
    return ids


def _record_type(column: Any) -> str | None:
    """The type a column's values are read as from a JSON record (PostgreSQL), or None
    when the JSON form of its values is not known to give the same value as ``COPY``.
    Strings are read as ``text``: the insert checks a ``varchar(n)``'s length as ``COPY``
    does."""
    kind = column.type
    if isinstance(kind, JSON):
        return "jsonb" if isinstance(kind.dialect_impl(_PG), JSONB) else None
    if isinstance(kind, UTCDateTime):
        return "timestamptz"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "bigint"
    if isinstance(kind, AutoString) or (isinstance(kind, String)
                                        and not isinstance(kind, Enum)):
        return "text"
    return None


def _record_types(table: Table, columns: Sequence[str]) -> dict[str, str] | None:
    """Each column's record type, or None if one has none (then ``COPY`` writes them)."""
    types = {}
    for name in columns:
        record = _record_type(table.c[name])
        if record is None:
            return None
        types[name] = record
    return types


def _insert_json(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                 types: dict[str, str], ids: list[int]) -> None:
    """PostgreSQL: ``INSERT … SELECT`` from one JSON array of the rows, written by
    ``orjson`` in one call (times as ISO 8601 with their offset, JSON columns nested):
    a few microseconds of this process per row, where ``COPY`` formats every value here.
    The rows keep their order (``WITH ORDINALITY``), so serial ids follow it as before."""
    if ids:
        types = {"id": "bigint", **types}
        rows = [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
    names = ", ".join(f'"{c}"' for c in types)
    spec = ", ".join(f'"{c}" {kind}' for c, kind in types.items())
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM '
                       f"ROWS FROM (json_to_recordset(%s::json) AS ({spec})) "
                       f"WITH ORDINALITY AS v({names}, _n) ORDER BY _n", (dumps(rows),))
    finally:
        cursor.close()


def columns_of(session: Session, table: Table, params: Sequence[str],
               rows: Sequence[dict[str, Any]],
               columns: Sequence[str] | None = None) -> list[list[Any]]:
    """Each parameter's values as the driver takes them, each converted once (SQLite) by
    the bind processor of its column (``columns``, default the parameter names)."""
    dialect = session.get_bind().dialect
    out = []
    for param, name in zip(params, columns or params, strict=True):
        values = [row[param] for row in rows]
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
            out.append(_sqlite_times(values))
            continue
        process: Callable[[Any], Any] | None = (
            column_type.dialect_impl(dialect).bind_processor(dialect))
        out.append([process(v) for v in values] if process is not None else values)
    return out


def _sqlite_times(values: list[datetime | None]) -> list[str | None]:
    """``_sqlite_time`` of each value, each distinct time converted once (the times of a
    batch repeat: when it was recorded, when its timers fired)."""
    seen: dict[datetime, str] = {}
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        written = seen.get(value)
        if written is None:
            written = seen[value] = _sqlite_time(value)  # type: ignore[assignment]
        out.append(written)
    return out


def _sqlite_time(value: datetime | None) -> str | None:
    """What ``UTCDateTime`` then SQLAlchemy's SQLite ``DATETIME`` write, in one call."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every time must carry its zone")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def update_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                keys: dict[str, str], extra_set: str = "") -> int:
    """SQLite: one ``UPDATE … WHERE keys`` run by the driver over every row; returns the
    rows changed. ``keys`` maps parameter names to the column they must match; the other
    parameters are the columns to set."""
    order = list(rows[0])
    sets = [c for c in order if c not in keys]
    params = sets + list(keys)
    data = columns_of(session, table, params, rows, [keys.get(p, p) for p in params])
    assignments = [f'"{c}" = ?' for c in sets] + ([extra_set] if extra_set else [])
    where = " AND ".join(f'"{column}" = ?' for column in keys.values())
    return executemany(session, f'UPDATE "{table.name}" SET {", ".join(assignments)} '
                                f"WHERE {where}", list(zip(*data, strict=True)))


def executemany(session: Session, sql: str, params: list[tuple[Any, ...]]) -> int:
    """The driver's executemany in the session's transaction; returns the rows changed."""
    session.flush()   # ORM changes first, as ``session.execute`` would
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, params)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, JSON)


def update_from_values(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                       keys: dict[str, str], types: dict[str, str],
                       extra_set: str = "", extra_where: str = "") -> int:
    """PostgreSQL: one ``UPDATE … FROM json_to_recordset(…)`` for many rows; returns rows
    updated.

    ``keys`` maps parameter names to the column they must match (``b_id`` → ``id``);
    the other keys of each row are the columns to set. ``types`` gives the SQL type
    of every parameter. The rows go as one JSON array parameter, written by ``orjson``
    in one call, whatever the number of rows.
    """
    order = list(rows[0])
    params = [k for k in order if k not in keys]
    sets = [f'"{c}" = v."{c}"' for c in params]
    if extra_set:
        sets.append(extra_set)
    where = " AND ".join([f't."{col}" = v."{k}"' for k, col in keys.items()]
                         + ([extra_where] if extra_where else []))
    spec = ", ".join(f'"{c}" {types[c]}' for c in order)
    sql = (f'UPDATE "{table.name}" AS t SET {", ".join(sets)} FROM '
           f"json_to_recordset(%s::json) AS v({spec}) WHERE {where}")
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(sql, (dumps(rows),))
        return cursor.rowcount
    finally:
        cursor.close()


def in_ids(column: Any, ids: Sequence[int], session: Session) -> Any:
    """``column IN ids``; on PostgreSQL ``= ANY(array)``: one parameter, a cached plan."""
    if _is_pg(session):
        from sqlalchemy import Integer, any_, cast
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(cast(list(ids), ARRAY(Integer)))
    return column.in_(list(ids))
