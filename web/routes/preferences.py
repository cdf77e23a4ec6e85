"""« Mes préférences »: the signed-in professional reads and changes their own
notification preferences (``notifications.profile``).

Channels are chosen in order of preference (« 1er choix », « 2e choix »…) among those the
professional can be reached on; then the mode (immediate or daily digest), new tasks,
the hour of the digest and, for each channel, its quiet hours. The POST is CSRF-checked;
every wrong field gets its French message next to it and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from notifications.exceptions import InvalidPreferencesError
from notifications.profile import (
    DAYS_FR,
    MODES,
    NEW_TASKS,
    PreferencesPage,
    read_preferences,
    update_preferences,
)
from web.auth.guard import signed_in
from web.auth.sessions import check_csrf
from web.context import context_of
from web.pages import render

router = APIRouter()
SAVED = "Préférences enregistrées"
#: Form field names → the keys of ``update_preferences``.
FIELDS = {"channels": "canal", "mode": "mode", "new_tasks": "nouvelles_taches",
          "digest_time": "heure_recapitulatif"}


@dataclass
class Quiet:
    start: str = ""
    end: str = ""
    days: list[str] = field(default_factory=list)


@dataclass
class PreferencesForm:
    """What the form shows: the values (stored or as submitted) and the errors by field."""

    channels: list[str]
    mode: str
    new_tasks: str
    digest_time: str
    quiet: dict[str, Quiet]
    errors: dict[str, str] = field(default_factory=dict)


def _from_page(page: PreferencesPage) -> PreferencesForm:
    prefs = page.preferences
    quiet: dict[str, Quiet] = {}
    for choice in page.channels:
        window = prefs.quiet_hours.get(choice.name)
        quiet[choice.name] = Quiet() if window is None else Quiet(
            window.start.strftime("%H:%M"), window.end.strftime("%H:%M"),
            [DAYS_FR[d - 1] for d in window.days])
    return PreferencesForm([c for c in prefs.channels
                            if c in {ch.name for ch in page.channels}],
                           prefs.mode, prefs.new_tasks, prefs.digest_time.strftime("%H:%M"),
                           quiet)


def _from_form(form: FormData, page: PreferencesPage) -> tuple[PreferencesForm, dict[str, Any]]:
    """The form as submitted and the changes it asks for."""
    channels = [_text(form.get(f"canal_{rank}")).strip()
                for rank in range(1, len(page.channels) + 1)]
    chosen = [c for c in channels if c]
    quiet: dict[str, Quiet] = {}
    windows: dict[str, Any] = {}
    for choice in page.channels:
        if not choice.reachable:
            continue
        name = choice.name
        window = Quiet(_text(form.get(f"silence_{name}_debut")).strip(),
                       _text(form.get(f"silence_{name}_fin")).strip(),
                       [d for d in form.getlist(f"silence_{name}_jours") if isinstance(d, str)])
        quiet[name] = window
        if not window.start and not window.end and not window.days:
            windows[name] = None
        else:
            windows[name] = {"start": window.start or "00:00", "end": window.end or "00:00",
                             "days": window.days}
    filled = PreferencesForm(chosen, _text(form.get("mode")),
                             _text(form.get("nouvelles_taches")),
                             _text(form.get("heure_recapitulatif")).strip(), quiet)
    changes: dict[str, Any] = {"channels": chosen, "mode": filled.mode,
                               "new_tasks": filled.new_tasks,
                               "digest_time": filled.digest_time, "quiet_hours": windows}
    return filled, changes


def _show(request: Request, page: PreferencesPage, filled: PreferencesForm, *,
          status: int = 200, outcome: list[str] | None = None, error: str = "") -> Response:
    return render(request, "preferences.html", status=status, page=page, form=filled,
                  ranks=range(1, len(page.channels) + 1), modes=MODES, new_tasks=NEW_TASKS,
                  days=DAYS_FR, outcome=outcome or [], error=error)


@router.get("/preferences")
def show(request: Request) -> Response:
    who = signed_in(request)
    ctx = context_of(request)
    page = read_preferences(ctx.engine, who.id, ctx.notify_settings)
    return _show(request, page, _from_page(page))


@router.post("/preferences")
async def change(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, _text(form.get("csrf")))
    who = signed_in(request)
    ctx = context_of(request)
    page = read_preferences(ctx.engine, who.id, ctx.notify_settings)
    filled, changes = _from_form(form, page)
    try:
        page = update_preferences(ctx.engine, who.id, changes, ctx.notify_settings)
    except InvalidPreferencesError as exc:
        filled.errors = dict(exc.problems)
        known = set(FIELDS) | {f"quiet_hours.{c.name}" for c in page.channels}
        others = [m for k, m in filled.errors.items() if k not in known]
        return _show(request, page, filled, status=400,
                     error=" ; ".join(others) or "corrigez les champs signalés ci-dessous")
    return _show(request, page, _from_page(page), outcome=[SAVED])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
