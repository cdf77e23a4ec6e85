"""Persistence: cases, tasks, timers, history and messages in a relational database.

The facade below is what the rest of the code base (``flows/``, ``web/``,
``notifications/``) needs; the modules behind it are internal to the store:

- ``service``: ``CaseService``, every operation on cases, one transaction each;
- ``db`` (engines, transactions, retries) and ``migrate`` (Alembic upgrades);
- ``tables`` (SQLModel tables), ``batch`` / ``writer`` / ``bulk`` (loading and
  writing many cases at once), ``claims`` (due cases, ``SKIP LOCKED``);
- ``registry`` (published pathway versions), ``settings`` (published territory
  settings: parameter overrides per pathway, versioned), ``careteam``, ``imports``,
  ``inbox``, ``escalation``, ``queries`` (read models for the CLI and the web);
- for the web workspace: ``worklist`` (who sees what, the inbox and page reads),
  ``task_actions`` (take, decline, reassign a task; through ``CaseService``),
  ``signin`` (one-time sign-in tokens, rate limit) and ``access`` (the access log);
- ``exceptions``: the store's error tree.

Names are resolved on first use, so importing one store module stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.store.db import make_engine, transaction
    from engine.store.exceptions import (
        ConcurrentUpdateError,
        ImportFileError,
        InputError,
        NotFoundError,
        StoreError,
        TransientStoreError,
    )
    from engine.store.migrate import current_revision, upgrade
    from engine.store.service import AdvanceReport, Applied, CaseService, EnrolReport
    from engine.store.writer import SYSTEM, Actor

_WHERE = {
    "make_engine": "db", "transaction": "db",
    "upgrade": "migrate", "current_revision": "migrate",
    "CaseService": "service", "Applied": "service", "EnrolReport": "service",
    "AdvanceReport": "service",
    "Actor": "writer", "SYSTEM": "writer",
    "StoreError": "exceptions", "InputError": "exceptions", "NotFoundError": "exceptions",
    "ImportFileError": "exceptions", "ConcurrentUpdateError": "exceptions",
    "TransientStoreError": "exceptions",
}

__all__ = [
    "SYSTEM", "Actor", "AdvanceReport", "Applied", "CaseService", "ConcurrentUpdateError",
    "EnrolReport", "ImportFileError", "InputError", "NotFoundError", "StoreError",
    "TransientStoreError", "current_revision", "make_engine", "transaction", "upgrade",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"engine.store.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
