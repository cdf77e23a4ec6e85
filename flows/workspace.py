"""What a flow run works on: settings, the application database, the case service.

A flow reads its settings once when it starts (the edge) and hands the
``Workspace`` to its tasks. The database engine and the case service (with
its compiled-pathway cache) are kept per database URL for the life of the
process, so a worker running a flow every minute does not reconnect or
recompile each time. Nothing here is ever a Prefect parameter: parameters
are stored by Prefect, and a database URL may carry a password.
"""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import Engine

from engine.clock import SystemClock
from engine.settings import Settings
from engine.store.db import make_engine
from engine.store.service import CaseService
from flows.config import FlowSettings


class Workspace:
    """Settings and open resources of one flow run (a plain class: Prefect does not walk it)."""

    def __init__(self, settings: Settings, flow_settings: FlowSettings, engine: Engine,
                 service: CaseService) -> None:
        self.settings = settings
        self.flow_settings = flow_settings
        self.engine = engine
        self.service = service

    def __repr__(self) -> str:  # never print the URL: it may hold a password
        return f"Workspace({self.engine.dialect.name})"


_LOCK = threading.Lock()
_OPEN: dict[str, tuple[Engine, CaseService]] = {}


def open_workspace(settings: Settings | None = None,
                   flow_settings: FlowSettings | None = None) -> Workspace:
    settings = settings or Settings()
    flow_settings = flow_settings or FlowSettings()
    with _LOCK:
        found = _OPEN.get(settings.database_url)
        if found is None:
            engine = make_engine(settings.database_url, echo=settings.echo_sql)
            found = _OPEN[settings.database_url] = (engine, CaseService(engine, settings))
    return Workspace(settings, flow_settings, *found)


def close_all() -> None:
    """Dispose of every engine opened by this process (tests, end of the demo)."""
    with _LOCK:
        for engine, _ in _OPEN.values():
            engine.dispose()
        _OPEN.clear()


def now_or_clock(now: datetime | None) -> datetime:
    """The injected time, or the wall clock for scheduled runs (the only place flows read it)."""
    from engine.clock import ensure_aware

    return ensure_aware(now) if now is not None else SystemClock().now()
