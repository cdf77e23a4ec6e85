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

import threading
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


class ServerWarmUp:
    """The temporary local server started in the background while the caller prepares its
    work (the demo builds its territory meanwhile): its start (a few seconds: a process that
    imports Prefect's server and migrates its database) overlaps that work instead of
    delaying the first flow run. ``ready()`` waits for it; the flows then find it running
    (Prefect keeps one such server per process) and never start a second one."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> ServerWarmUp:
        """Call inside ``local_runs()``: the server gets the settings of that context."""
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        if api_url() is not None or not settings.server.ephemeral.enabled:
            return self
        import contextvars

        context = contextvars.copy_context()  # the temporary settings, in the thread too
        self._thread = threading.Thread(target=context.run, args=(self._run,),
                                        name="prefect-server-warm-up", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()
        except BaseException as exc:  # reported by ready(); the flows would retry the start
            self._error = exc

    def ready(self) -> None:
        """Wait until the server answers (or its start failed: the first flow run then
        starts it itself and reports the error)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                from prefect.server.api.server import SubprocessASGIServer

                SubprocessASGIServer().running = False  # let the first client try again
                self._error = None


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
