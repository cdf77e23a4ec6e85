"""Multi-row writes: PostgreSQL ``COPY`` where it pays, executemany elsewhere.

``COPY … FROM STDIN`` streams thousands of rows in one round trip without
building a giant parameterised statement; ids that callers need back are
taken from the table's sequence first. On SQLite the same calls fall back
to SQLAlchemy's executemany.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.orm import Session


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def json_default(value: Any) -> Any:
    """What ``json.dumps`` cannot write by itself: times, dates, durations, sets."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=json_default)


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` fresh primary keys from the table's sequence (PostgreSQL)."""
    rows = session.execute(text(
        f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
        "FROM generate_series(1, :n)"), {"n": count}).scalars().all()
    return list(rows)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                *, with_ids: bool = False) -> list[int]:
    """Insert ``rows`` (dicts with the same keys); returns their ids when asked."""
    if not rows:
        return []
    if not _is_pg(session):
        if with_ids:
            result = session.execute(insert(table).returning(
                table.c.id, sort_by_parameter_order=True), list(rows))
            return list(result.scalars().all())
        session.execute(insert(table), list(rows))
        return []
    ids: list[int] = []
    columns = list(rows[0])
    if with_ids:
        ids = reserve_ids(session, table, len(rows))
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


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, JSON)


def update_from_values(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                       keys: dict[str, str], types: dict[str, str],
                       extra_set: str = "", extra_where: str = "") -> int:
    """PostgreSQL: one ``UPDATE … FROM unnest(arrays…)`` for many rows; returns rows updated.

    ``keys`` maps parameter names to the column they must match (``b_id`` → ``id``);
    the other keys of each row are the columns to set. ``types`` gives the SQL type
    of every parameter. One array parameter per column keeps the statement tiny,
    whatever the number of rows.
    """
    order = list(rows[0])
    params = [k for k in order if k not in keys]
    arrays = ", ".join(f"%s::{'text' if types[c] == 'jsonb' else types[c]}[]" for c in order)
    sets = [f'"{c}" = v."{c}"' + ("::jsonb" if types[c] == "jsonb" else "") for c in params]
    if extra_set:
        sets.append(extra_set)
    where = " AND ".join([f't."{col}" = v."{k}"' for k, col in keys.items()]
                         + ([extra_where] if extra_where else []))
    names = ", ".join(f'"{c}"' for c in order)
    sql = (f'UPDATE "{table.name}" AS t SET {", ".join(sets)} FROM unnest({arrays}) '
           f"AS v({names}) WHERE {where}")
    columns = []
    for c in order:
        if types[c] == "jsonb":
            columns.append([None if r[c] is None else dumps(r[c]) for r in rows])
        else:
            columns.append([r[c] for r in rows])
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(sql, columns)
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
