"""Texts checked against the columns, before anything is written.

A value longer than its column, or holding a NUL character, is refused with a
French message naming the field and the limit (never the value): PostgreSQL
would otherwise fail the whole statement, and SQLite would store it silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table

from engine.store.exceptions import InputError


def limit(table: Table, column: str) -> int | None:
    """The declared length of ``table.column``, if it is a bounded string."""
    col = table.c.get(column)
    if col is None:
        return None
    length = getattr(col.type, "length", None)  # String, or SQLModel's AutoString around it
    return length if isinstance(length, int) else None


def problems(table: Table, values: Mapping[str, Any]) -> list[str]:
    """One French message per text value longer than its column."""
    out = []
    for name, value in values.items():
        if not isinstance(value, str):
            continue
        longest = limit(table, name)
        if longest is not None and len(value) > longest:
            out.append(f"{name} : {len(value)} caractères, au plus {longest}")
        if "\x00" in value:
            out.append(f"{name} : caractère nul (octet 0) interdit")
    return out


def check(table: Table, values: Mapping[str, Any]) -> None:
    found = problems(table, values)
    if found:
        raise InputError(" ; ".join(found))
