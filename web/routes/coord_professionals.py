"""The coordinator's professionals (issue 13): the list with a search (accents and case
ignored), each one's open and overdue tasks, notification preferences and delivery status;
adding one (French checks: RPPS of 11 digits, addresses, phone), deactivating one (their
open tasks go back to the coordinator's queue, they can no longer sign in), reactivating;
the CSV of the list. Coordinator only; actions CSRF-checked, one transaction each.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.store import people
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from engine.store.imports import PROFESSIONS
from notifications import kinds
from notifications.channels.registry import LABELS as CHANNEL_LABELS
from notifications.profile import DAYS_FR, MODES, NEW_TASKS, read_preferences
from web.auth.guard import coordinator
from web.context import WebContext, context_of
from web.csv_export import csv_response
from web.exceptions import NotVisible
from web.pages import render
from web.routes.coord_patients import _form
from web.routes.coordination import STATUS_FR

router = APIRouter()


def _professions() -> list[tuple[str, str]]:
    return sorted(((p, people.profession_fr(p)) for p in PROFESSIONS), key=lambda t: t[1])


@router.get("/coordination/professionals")
def listing(request: Request, q: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        lines = people.professionals(db, q[:200], ctx.now())
    return render(request, "coord_professionals.html", q=q, lines=lines,
                  profession_fr=people.profession_fr)


@router.get("/coordination/professionals.csv")
def export(request: Request, q: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        lines = people.professionals(db, q[:200], ctx.now())
    return csv_response(
        "professionnels", ["n°", "RPPS", "nom", "prénoms", "profession", "e-mail",
                               "MSSanté", "téléphone", "actif", "tâches ouvertes",
                               "tâches en retard"],
        [[p.professional.id, p.professional.rpps, p.professional.family_name,
          p.professional.given_names, people.profession_fr(p.professional.profession),
          p.professional.email or "", p.professional.mssante or "",
          p.professional.phone or "", "oui" if p.professional.active else "non",
          p.open_tasks, p.overdue_tasks] for p in lines])


@router.get("/coordination/professionals/nouveau")
def new_form(request: Request) -> Response:
    coordinator(request)
    return render(request, "coord_professional_new.html", new=people.NewProfessional(),
                  professions=_professions())


@router.post("/coordination/professionals")
async def add(request: Request) -> Response:
    form = await _form(request)
    coordinator(request)
    ctx = context_of(request)
    new = people.NewProfessional.from_form(form)
    try:
        with transaction(ctx.engine) as db:
            pro = people.add_professional(db, new)
            pro_id = pro.id or 0
    except InputError:
        return render(request, "coord_professional_new.html", status=400, new=new,
                      professions=_professions())
    return show_professional(request, pro_id, outcome=(
        f"{new.given_names} {new.family_name} est enregistré(e) ; il ou elle peut se "
        "connecter avec son adresse et recevra ses tâches."))


def preferences_fr(ctx: WebContext, professional_id: int) -> list[tuple[str, str]]:
    """The notification preferences in force, in French (defaults filled in)."""
    page = read_preferences(ctx.engine, professional_id, ctx.notify_settings)
    prefs = page.preferences
    reachable = {c.name: c.reachable for c in page.channels}
    channels = ", ".join(CHANNEL_LABELS.get(c, c) + ("" if reachable.get(c, True)
                                                     else " (adresse manquante)")
                         for c in prefs.channels)
    rows = [("Canaux, dans l'ordre", channels), ("Envoi", MODES[prefs.mode]),
            ("Nouvelles tâches", NEW_TASKS[prefs.new_tasks]),
            ("Récapitulatif quotidien", f"à {prefs.digest_time:%H:%M}")]
    for channel, quiet in prefs.quiet_hours.items():
        label = f"Silence : {CHANNEL_LABELS.get(channel, channel)}"
        if quiet is None:
            rows.append((label, "aucun (à toute heure)"))
            continue
        text = f"de {quiet.start:%H:%M} à {quiet.end:%H:%M}" if quiet.start != quiet.end \
            else "aucune heure"
        if quiet.days:
            text += ", et le " + ", ".join(DAYS_FR[d - 1] for d in quiet.days)
        rows.append((label, text))
    rows.append(("Réglages", "choisis par le professionnel" if page.stored
                 else "ceux du territoire, par défaut"))
    return rows


def show_professional(request: Request, professional_id: int, *, outcome: str = "",
                      error: str = "", status: int = 200) -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        try:
            detail = people.professional_detail(db, professional_id)
        except NotFoundError as exc:
            raise NotVisible() from exc
    now = ctx.now()
    return render(request, "coord_professional.html", status=status, d=detail,
                  preferences=preferences_fr(ctx, professional_id),
                  overdue=sum(1 for t, _, _ in detail.open_tasks if t.due_at < now),
                  profession_fr=people.profession_fr, outcome=outcome, error=error,
                  status_fr=STATUS_FR, label=kinds.label)


@router.get("/coordination/professionals/{professional_id}")
def show(request: Request, professional_id: int) -> Response:
    return show_professional(request, professional_id)


@router.post("/coordination/professionals/{professional_id}/desactiver")
async def deactivate(request: Request, professional_id: int) -> Response:
    await _form(request)
    who = coordinator(request)
    ctx = context_of(request)
    try:
        with transaction(ctx.engine) as db:
            released = people.deactivate(db, professional_id, who.id, ctx.now())
    except NotFoundError as exc:
        raise NotVisible() from exc
    except InputError as exc:
        return show_professional(request, professional_id, status=409,
                                 error=str(exc)[:1].upper() + str(exc)[1:] + ".")
    return show_professional(request, professional_id, outcome=(
        f"Professionnel désactivé : il ou elle ne peut plus se connecter. {released} tâche(s) "
        "ouverte(s) reviennent à la coordination, à réattribuer."))


@router.post("/coordination/professionals/{professional_id}/reactiver")
async def reactivate(request: Request, professional_id: int) -> Response:
    await _form(request)
    coordinator(request)
    ctx = context_of(request)
    try:
        with transaction(ctx.engine) as db:
            people.reactivate(db, professional_id)
    except NotFoundError as exc:
        raise NotVisible() from exc
    except InputError as exc:
        return show_professional(request, professional_id, status=409,
                                 error=str(exc)[:1].upper() + str(exc)[1:] + ".")
    return show_professional(request, professional_id, outcome=(
        "Professionnel réactivé : il ou elle peut de nouveau se connecter et recevoir des "
        "tâches."))
