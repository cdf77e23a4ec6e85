"""Prefect settings for runs started from this process (the demo, ``parcours flow``, tests).

Measured on this project (see README, Production):

- a *sync* flow run waits up to a second at its end for its heartbeat thread;
  with heartbeats off (``flows.heartbeat_frequency = None``, which only a
  settings context can express, not an environment variable) a flow run
  costs ~0.1 s. Heartbeats let a server mark crashed runs: ``parcours serve``
  and workers keep them; one-shot local runs turn them off.
- the temporary local server Prefect starts when no ``PREFECT_API_URL`` is
  set records task runs one event at a time by default, and its SQLite
  database then answers ``database is locked`` / 503 under load (2 s
  client back-off per hit). Batches of 100 remove that (~4× faster runs).
  Those server settings reach the temporary server because Prefect passes
  the current settings to the subprocess it starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: settings of the temporary local server (ignored by a real server)
LOCAL_SERVER: dict[str, Any] = {
    "server.services.task_run_recorder.batch_size": 100,
    "server.services.task_run_recorder.read_batch_size": 100,
    "server.analytics_enabled": False,
}


def api_url() -> str | None:
    """The Prefect API this process talks to, or None (a temporary local server)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


@contextmanager
def local_runs(*, heartbeats: bool = False) -> Iterator[None]:
    """Run flows from this process cheaply: no heartbeat wait, a fast temporary server."""
    from prefect.settings import temporary_settings

    updates: dict[str, Any] = {} if heartbeats else {"flows.heartbeat_frequency": None}
    if api_url() is None:
        updates.update(LOCAL_SERVER)
    with temporary_settings(updates=updates):
        yield


def ui_url() -> str:
    """Where a person opens the Prefect UI of the current API."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    url = settings.ui_url or (str(settings.api.url or "").removesuffix("/api") or None)
    return str(url or "http://127.0.0.1:4200")


def where_runs_go() -> str:
    """One French sentence saying which Prefect server records the runs."""
    url = api_url()
    if url:
        return f"serveur Prefect : {url} (PREFECT_API_URL)"
    return ("serveur Prefect temporaire local (PREFECT_API_URL n'est pas défini) ; "
            "ses exécutions restent dans la base de PREFECT_HOME")
