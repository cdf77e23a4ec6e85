"""The latest run of each Prefect flow, read from Prefect's REST API for the dashboard.

The web application never imports Prefect (``../shared/docs/architecture.md``): it asks
the Prefect server over HTTP (``POST /flow_runs/filter``, ``POST /flows/filter``), with a
short timeout. What comes back is what the flows put there: run names, state names and
state messages made of ids and counts (``flows/artifacts.py``), never patient data.
Prefect unreachable or not configured → a French sentence, and the page still renders.

A run "left work behind" when its final state is not a plain ``Completed`` (a failed or
crashed run, or a completed run with a state name of its own, such as refused events or
failed batches) — the flows name their final state that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

OK_STATE = "Completed"


@dataclass(frozen=True)
class FlowRun:
    flow: str
    name: str
    state_type: str
    state_name: str
    message: str
    start: datetime | None

    @property
    def clean(self) -> bool:
        return self.state_type == "COMPLETED" and self.state_name == OK_STATE


@dataclass(frozen=True)
class FlowRuns:
    runs: list[FlowRun]
    problem: str = ""   # French, shown instead of the table


def latest_runs(api_url: str, timeout: float, limit: int = 200,
                transport: httpx.BaseTransport | None = None) -> FlowRuns:
    if not api_url:
        return FlowRuns([], "Prefect n'est pas configuré pour ce poste "
                            "(PARCOURS_WEB_PREFECT_API_URL ou PREFECT_API_URL) : les "
                            "dernières exécutions des flux ne sont pas affichées.")
    base = api_url.rstrip("/")
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(f"{base}/flow_runs/filter", json={
                "sort": "START_TIME_DESC", "limit": limit,
                "flow_runs": {"start_time": {"is_null_": False}}})
            response.raise_for_status()
            runs = response.json()
            flow_ids = sorted({r["flow_id"] for r in runs})
            names: dict[str, str] = {}
            if flow_ids:
                response = client.post(f"{base}/flows/filter", json={
                    "flows": {"id": {"any_": flow_ids}}})
                response.raise_for_status()
                names = {f["id"]: f["name"] for f in response.json()}
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return FlowRuns([], "Prefect ne répond pas pour le moment : les dernières "
                            "exécutions des flux ne sont pas affichées. Le reste du "
                            "tableau de bord vient de la base de données et est à jour.")
    latest: dict[str, FlowRun] = {}
    for run in runs:
        flow = names.get(run.get("flow_id"), run.get("flow_id", ""))
        if flow in latest:
            continue
        state = run.get("state") or {}
        start = run.get("start_time")
        latest[flow] = FlowRun(flow, run.get("name", ""), run.get("state_type") or "",
                               run.get("state_name") or "", state.get("message") or "",
                               datetime.fromisoformat(start) if start else None)
    return FlowRuns(sorted(latest.values(), key=lambda r: r.flow))
