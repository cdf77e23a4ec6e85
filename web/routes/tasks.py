"""« Mes tâches » and the task page, with its actions.

Actions (POST, CSRF-checked, each one ``CaseService`` call = one transaction): take the
task (« Je m'en occupe »), complete it with its result, decline it with a reason, record
an observation for the patient. Bad input or a task closed in the meantime shows the
form again with a French message; nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from engine.store import access, worklist
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from engine.store.service import Applied
from engine.store.worklist import Viewer
from engine.store.writer import Actor
from web import forms
from web.auth.guard import signed_in
from web.auth.sessions import check_csrf
from web.context import client_ip, context_of
from web.exceptions import NotVisible
from web.observations import ObservationForm, record_observation
from web.outcome import describe
from web.pages import days_late, render
from web.views import STATUS_FR, task_page

router = APIRouter()
#: tasks listed on one page of « Mes tâches », most urgent first (read on a phone)
INBOX_PAGE = 50


@router.get("/tasks")
def my_tasks(request: Request, patient: str = "", parcours: str = "", page: int = 1
             ) -> Response:
    who = signed_in(request)
    ctx = context_of(request)
    today = ctx.today()
    with transaction(ctx.engine) as db:
        items = worklist.inbox(db, who, today)
        titles = worklist.pathway_titles(db)
    patients = sorted({(i.patient_id, i.patient_name) for i in items}, key=lambda p: p[1])
    pathways = sorted({i.pathway_key for i in items})
    shown = [i for i in items if (not patient or str(i.patient_id) == patient)
             and (not parcours or i.pathway_key == parcours)]
    pages = max(1, -(-len(shown) // INBOX_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * INBOX_PAGE
    listed = shown[start:start + INBOX_PAGE]
    late = {i.task_id: days_late(i.due_at, today, ctx.zone) for i in shown}
    return render(request, "inbox.html", items=shown, listed=listed, late=late,
                  patients=patients, pathways=pathways, titles=titles, patient=patient,
                  parcours=parcours, overdue=sum(1 for n in late.values() if n > 0),
                  mine=sum(1 for i in shown if i.mine), total=len(items),
                  status_fr=STATUS_FR, page=page, pages=pages,
                  first=start + 1, last=start + len(listed))


@router.get("/tasks/{task_id}")
def show(request: Request, task_id: int) -> Response:
    return show_task(request, signed_in(request), task_id)


def show_task(request: Request, who: Viewer, task_id: int, *, status: int = 200,
              outcome: list[str] | None = None, error: str = "",
              values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
              decline_error: str = "", observation: ObservationForm | None = None) -> Response:
    """The task page (written to the access log); 404 if the task is not the viewer's."""
    ctx = context_of(request)
    today = ctx.today()
    with transaction(ctx.engine) as db:
        if not worklist.can_see_task(db, who, task_id, today):
            raise NotVisible()
        page = task_page(db, who, task_id, today)
        access.log_access(db, who.id, access.READ_TASK, ctx.now(),
                          patient_id=page.case.patient_id, task_id=task_id,
                          client=client_ip(request))
    return render(request, "task.html", status=status, page=page, outcome=outcome or [],
                  error=error, fields=forms.result_fields(page.result_spec, values, errors),
                  key=forms.new_key(), decline_error=decline_error,
                  late=days_late(page.task.due_at, today, ctx.zone),
                  observation=observation or ObservationForm(),
                  action_base=f"/tasks/{task_id}")


async def _visible_task(request: Request, task_id: int) -> tuple[Viewer, FormData]:
    form = await request.form()
    check_csrf(request, _text(form.get("csrf")))
    who = signed_in(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        if not worklist.can_see_task(db, who, task_id, ctx.today()):
            raise NotVisible()
    return who, form


@router.post("/tasks/{task_id}/prendre")
async def take(request: Request, task_id: int) -> Response:
    who, _ = await _visible_task(request, task_id)
    ctx = context_of(request)
    try:
        ctx.service.take_task(task_id, who.id, ctx.now())
    except NotFoundError as exc:
        raise NotVisible() from exc
    except InputError as exc:
        return show_task(request, who, task_id, status=409, error=str(exc))
    return show_task(request, who, task_id, outcome=[
        "C'est noté : vous vous occupez de cette tâche. Elle reste dans « Mes tâches » "
        "jusqu'à ce que vous la terminiez."])


@router.post("/tasks/{task_id}/terminer")
async def complete(request: Request, task_id: int) -> Response:
    who, form = await _visible_task(request, task_id)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        spec = task_page(db, who, task_id, ctx.today()).result_spec
    raw = forms.submitted(form, spec)
    values, errors = forms.parse_result(spec, raw)
    key = _text(form.get("cle"))
    if errors or not forms.valid_key(key):
        return show_task(request, who, task_id, status=400, values=raw, errors=errors,
                         error="" if errors else "formulaire incomplet : rechargez la page",
                         )
    now = ctx.now()
    try:
        applied = ctx.service.complete_task(task_id, values, now, now,
                                            actor=Actor("professional", who.id),
                                            event_id=f"web:task:{task_id}:{key}")
    except NotFoundError as exc:
        raise NotVisible() from exc
    except InputError as exc:
        return show_task(request, who, task_id, status=409, values=raw, error=str(exc))
    return _done(request, who, task_id, applied, "Tâche terminée, résultat enregistré.")


@router.post("/tasks/{task_id}/refuser")
async def decline(request: Request, task_id: int) -> Response:
    who, form = await _visible_task(request, task_id)
    ctx = context_of(request)
    try:
        ctx.service.decline_task(task_id, who.id, _text(form.get("motif")), ctx.now())
    except NotFoundError as exc:
        raise NotVisible() from exc
    except InputError as exc:
        return show_task(request, who, task_id, status=400, decline_error=str(exc))
    return show_task(request, who, task_id, outcome=[
        "Tâche refusée : la coordination de la CPTS est prévenue et la confiera à un autre "
        "professionnel."])


@router.post("/tasks/{task_id}/observation")
async def observe(request: Request, task_id: int) -> Response:
    who, form = await _visible_task(request, task_id)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        patient_id = task_page(db, who, task_id, ctx.today()).case.patient_id
    applied, filled = record_observation(ctx, who, patient_id, form)
    if applied is None:
        return show_task(request, who, task_id, status=400, observation=filled)
    return _done(request, who, task_id, applied, "Observation enregistrée.")


def _done(request: Request, who: Viewer, task_id: int, applied: Applied,
          done: str) -> Response:
    with transaction(context_of(request).engine) as db:
        lines = describe(db, applied, done)
    return show_task(request, who, task_id, outcome=lines)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
