"""Deployments: the flows on their schedules, served by ``parcours serve`` or by workers.

=================  ==========================  ===============================
deployment         flow                        schedule (``PARCOURS_FLOWS_…``)
=================  ==========================  ===============================
``advance``        ``advance-due-cases``       every 15 min (``ADVANCE_EVERY_MINUTES``)
``inbound``        ``process-inbound-events``  every minute (``INBOUND_EVERY_MINUTES``)
``notify``         ``dispatch-notifications``  every minute (``NOTIFY_EVERY_MINUTES``)
``escalation``     ``escalate-overdue``        08:00 Europe/Paris (``ESCALATION_CRON``)
``eligibility``    ``enroll-eligible``         02:30 Europe/Paris (``ELIGIBILITY_CRON``)
``cycle``          ``cpts-cycle``              none: run by hand (catch-up)
=================  ==========================  ===============================

Each deployment allows one run at a time and *cancels* a new one while the
previous is still running (a slow sweep is not followed by a pile of
queued ones). Flows are referenced by module path, so any machine where the
package is installed can run them. ``prefect.yaml`` declares the same
deployments for work pools.

``serve`` uses the Prefect server at ``PREFECT_API_URL`` or, when none is
set, starts one (with its UI) on ``PARCOURS_FLOWS_SERVER_HOST:PORT``
(127.0.0.1:4200) and says which.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flows.config import FlowSettings
from flows.exceptions import ServerUnavailable


@dataclass(frozen=True)
class Plan:
    name: str
    flow: str            # attribute of flows.<module>
    module: str
    every: Callable[[FlowSettings], timedelta | None]
    cron: Callable[[FlowSettings], str | None]
    description: str


PLANS = (
    Plan("advance", "advance_due_cases", "flows.advance",
         lambda s: timedelta(minutes=s.advance_every_minutes), lambda s: None,
         "Fait avancer les dossiers dont une minuterie est échue"),
    Plan("inbound", "process_inbound_events", "flows.inbound",
         lambda s: timedelta(minutes=s.inbound_every_minutes), lambda s: None,
         "Applique les événements entrants, dans l'ordre"),
    Plan("notify", "dispatch_notifications", "flows.dispatch",
         lambda s: timedelta(minutes=s.notify_every_minutes), lambda s: None,
         "Envoie les notifications en attente"),
    Plan("escalation", "escalate_overdue", "flows.escalation",
         lambda s: None, lambda s: s.escalation_cron,
         "Rappels, puis escalade au coordinateur des tâches en retard"),
    Plan("eligibility", "enroll_eligible", "flows.eligibility",
         lambda s: None, lambda s: s.eligibility_cron,
         "Inscrit les patients éligibles aux parcours automatiques"),
    Plan("cycle", "cpts_cycle", "flows.cycle", lambda s: None, lambda s: None,
         "Toutes les étapes dans l'ordre (rattrapage, lancement manuel)"),
)
NAMES = tuple(p.name for p in PLANS)


def deployments(settings: FlowSettings, only: list[str] | None = None,
                paused: bool = False) -> list[Any]:
    """``RunnerDeployment`` objects for ``prefect.serve``."""
    import importlib

    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron, Interval
    from prefect.types.entrypoint import EntrypointType

    out = []
    for plan in PLANS:
        if only is not None and plan.name not in only:
            continue
        flow = getattr(importlib.import_module(plan.module), plan.flow)
        every, cron = plan.every(settings), plan.cron(settings)
        schedules = ([Interval(every, timezone=settings.timezone)] if every else
                     [Cron(cron, timezone=settings.timezone)] if cron else [])
        out.append(flow.to_deployment(
            name=plan.name, schedules=schedules, paused=paused or None,
            description=plan.description, tags=["parcours"],
            concurrency_limit=ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
            entrypoint_type=EntrypointType.MODULE_PATH))
    return out


# -- the Prefect server ------------------------------------------------------------------------


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def wait_healthy(api_url: str, seconds: float, process: subprocess.Popen[Any] | None = None
                 ) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if healthy(api_url):
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.25)
    raise ServerUnavailable(api_url, seconds)


def start_server(host: str, port: int, *, env: dict[str, str] | None = None,
                 log: Path | None = None, ui: bool = True,
                 timeout: float = 90.0) -> tuple[subprocess.Popen[Any], str]:
    """``prefect server start`` in a child process; returns it and its API URL once healthy."""
    environment = {**os.environ, **(env or {})}
    environment.pop("PREFECT_API_URL", None)
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port",
         str(port), "--ui" if ui else "--no-ui", "--analytics-off"],
        env=environment, stdout=output, stderr=subprocess.STDOUT,
        start_new_session=True)  # Ctrl-C stops the runner first; the server is stopped after
    url = f"http://{host}:{port}/api"
    try:
        wait_healthy(url, timeout, process)
    except ServerUnavailable:
        stop_server(process)
        raise
    return process, url


def stop_server(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
