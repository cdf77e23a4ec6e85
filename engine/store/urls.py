"""Database addresses as users give them: a SQLAlchemy URL or the path of a SQLite file.

``PARCOURS_DATABASE_URL=parcours-out/demo.db`` (relative or absolute) means the SQLite file
at that place; anything with a scheme (``sqlite:///…``, ``postgresql+psycopg://…``) is a URL.
Errors are French and never repeat the address (it may hold a password).
"""

from __future__ import annotations

import re
from pathlib import Path

from engine.store.exceptions import StoreError

#: ``scheme:`` at the start: the text means to be a URL, not a file path
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
EXPECTED = ("attendu : le chemin d'un fichier SQLite (parcours-out/demo.db), "
            "sqlite:///chemin/parcours.db ou postgresql+psycopg://utilisateur@hôte/base")


class DatabaseUrlError(StoreError):
    """The database address is not a URL SQLAlchemy can use, nor a file path."""


class MissingDatabaseError(StoreError):
    """A command that only reads or changes data found no database at the given place."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"aucune base de données à {path} : créez-la avec `parcours db upgrade` (avec "
            "PARCOURS_DATABASE_URL pointant vers elle) ou lancez la démonstration "
            "(`parcours demo`, base parcours-out/demo.db)")


def database_url(value: str) -> str:
    """``value`` as a SQLAlchemy URL: a plain path becomes ``sqlite:///<absolute path>``."""
    text = value.strip()
    if not text or "://" in text or _SCHEME.match(text):
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def check_url(url: str) -> None:
    """Raise ``DatabaseUrlError`` (French, one line) when ``url`` cannot name a database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in url:
        raise DatabaseUrlError(f"adresse de base de données invalide ; {EXPECTED}")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseUrlError(f"adresse de base de données invalide ; {EXPECTED}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(f"type de base de données non pris en charge "
                               f"({parsed.get_backend_name()!r}) ; {EXPECTED}")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.query.get("mode") == "memory":
        return None
    return Path(parsed.database)


def require_existing(url: str) -> None:
    """Refuse to go on when a SQLite database file does not exist (connecting would create
    an empty one silently)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise MissingDatabaseError(path.resolve())
