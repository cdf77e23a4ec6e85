"""The coordinator's territory dashboard: cases by state, tasks, charts, latest flow runs.

Counts come from ``engine.store.dashboard`` (state counts from the ``case_state`` index,
never from every case's JSON); the charts are SVG images drawn on the server
(``web/charts.py``), each with its figures in a table next to it; the flow runs are read
from Prefect's REST API (``web/flow_runs.py``), and the page renders without them.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.store import dashboard, queue, worklist
from engine.store.db import transaction
from web.auth.guard import coordinator
from web.charts import SVG_CSP, grouped_bars
from web.context import context_of
from web.csv_export import csv_response
from web.flow_runs import latest_runs
from web.pages import render

router = APIRouter()
MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
             "oct.", "nov.", "déc.")


def month_fr(key: str) -> str:
    year, month = key.split("-")
    return f"{MONTHS_FR[int(month) - 1]} {year}"


def _board(request: Request, parcours: str) -> tuple[dashboard.Dashboard, datetime]:
    """The territory's counts (kept ``counts_ttl`` seconds: ``web.snapshots``)."""
    ctx = context_of(request)

    def compute() -> dashboard.Dashboard:
        with transaction(ctx.engine) as db:
            return dashboard.board(db, ctx.now(), ctx.today(), parcours or None)
    return ctx.counts.get(("board", parcours), compute)


@router.get("/coordination/tableau-de-bord")
def dashboard_page(request: Request, parcours: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    board, computed_at = _board(request, parcours)
    with transaction(ctx.engine) as db:  # the problems are counted live (indexed counts)
        problems = queue.counts(db, ctx.now())
        keys = sorted(worklist.pathway_titles(db).items())
    settings = ctx.settings
    runs, _ = ctx.counts.get(("runs",), lambda: latest_runs(settings.prefect_api_url,
                                                            settings.prefect_timeout))
    months = [(month_fr(m), *v) for m, v in board.months.items()]
    return render(request, "coord_dashboard.html", board=board, problems=problems,
                  runs=runs, months=months, parcours=parcours, keys=keys,
                  computed_at=computed_at.astimezone(ctx.zone), ttl=round(settings.counts_ttl))


@router.get("/coordination/tableau-de-bord/etats.csv")
def states_csv(request: Request, parcours: str = "") -> Response:
    coordinator(request)
    board, _ = _board(request, parcours)
    rows = [(b.title, s.region or "", s.title, s.cases) for b in board.pathways
            for s in b.states]
    return csv_response("dossiers-par-etat", ["Parcours", "Région", "État", "Dossiers"], rows,
                        day=context_of(request).today())


@router.get("/coordination/graphiques/roles.svg")
def roles_chart(request: Request, parcours: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    svg, _ = ctx.counts.get(("roles.svg", parcours), lambda: _roles_svg(request, parcours))
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": SVG_CSP})


@router.get("/coordination/graphiques/mois.svg")
def months_chart(request: Request, parcours: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    svg, _ = ctx.counts.get(("mois.svg", parcours), lambda: _months_svg(request, parcours))
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": SVG_CSP})


def _roles_svg(request: Request, parcours: str) -> str:
    """The chart of open tasks by role, from the dashboard's counts (drawn once per
    ``counts_ttl``, like them)."""
    roles = _board(request, parcours)[0].roles
    labels = list(roles)
    return grouped_bars("Tâches ouvertes par rôle", labels, {
        "ouvertes": [roles[r][0] for r in labels], "en retard": [roles[r][1] for r in labels]})


def _months_svg(request: Request, parcours: str) -> str:
    months = _board(request, parcours)[0].months
    labels = [month_fr(m) for m in months]
    values = list(months.values())
    return grouped_bars("Tâches par mois", labels, {
        "créées": [v[0] for v in values], "terminées": [v[1] for v in values],
        "en retard": [v[2] for v in values]})
