"""Accent- and case-insensitive search keys, the same on SQLite and PostgreSQL.

A name is *folded* in Python (Unicode NFKD, combining marks dropped, lower case, every run
of non-alphanumeric characters made one space): « Hélène » and « HELENE » both give
``helene``, « Le Bihan-Saint Jean » gives ``le bihan saint jean``. The patient table keeps
the folded family and given names in two indexed columns (``search_family``,
``search_given``), filled by the columns' defaults on every insert (ORM or Core, one row or
many) and kept in step by an ORM hook on update; a search word is then a *prefix range*
(``key >= 'hel' AND key < 'hel\\uffff'``) that a plain B-tree index answers on both
databases, without ``unaccent`` or a locale of the server (the columns are in the ``C``
collation on PostgreSQL).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import String

#: Above every character a folded key can hold: the end of a prefix range.
PREFIX_END = "\uffff"


def fold(text: str | None) -> str:
    """``'  Hélène  DURAND-Œil '`` → ``'helene durand oeil'``."""
    if not text:
        return ""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def folded(length: int) -> Any:
    """The type of a folded column: on PostgreSQL in the byte-order ``C`` collation, so that
    a prefix range is exact whatever the database's locale (``fr_FR`` orders and compares
    ignoring spaces and hyphens, and ``\uffff`` may sort anywhere); SQLite compares bytes."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def prefix_range(column: Any, word: str) -> Any:
    """SQL: ``column`` starts with ``word`` (already folded), as an index range."""
    return (column >= word) & (column < word + PREFIX_END)


def _from_parameters(name: str) -> Any:
    def default(context: Any) -> str:
        return fold(context.get_current_parameters().get(name))
    return default


def _from_row(name: str) -> Any:
    def derive(row: dict[str, Any]) -> str:
        return fold(row.get(name))
    return derive


#: Column defaults of ``Patient.search_family`` / ``search_given``.
FAMILY_DEFAULT = _from_parameters("family_name")
GIVEN_DEFAULT = _from_parameters("given_names")
#: The same, for the bulk paths that bypass column defaults (``COPY`` on PostgreSQL): a
#: column whose ``info`` has ``derive`` is computed from the row by ``bulk.insert_rows``.
FAMILY_DERIVED = {"derive": _from_row("family_name")}
GIVEN_DERIVED = {"derive": _from_row("given_names")}
