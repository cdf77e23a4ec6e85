"""The patient's page (care-team members and the coordinator only; written to the access
log), the observation form, and ``/cases/{id}`` (the links of messages about a case)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from engine.store import access, worklist
from engine.store.db import transaction
from engine.store.tables import CaseRow
from engine.store.worklist import Viewer
from web import forms
from web.auth.guard import signed_in
from web.auth.sessions import check_csrf
from web.context import client_ip, context_of
from web.exceptions import NotVisible
from web.observations import ObservationForm, record_observation
from web.outcome import describe
from web.pages import render
from web.views import patient_page

router = APIRouter()


@router.get("/patients/{patient_id}")
def show(request: Request, patient_id: int) -> Response:
    return show_patient(request, signed_in(request), patient_id)


def show_patient(request: Request, who: Viewer, patient_id: int, *, status: int = 200,
                 outcome: list[str] | None = None,
                 observation: ObservationForm | None = None) -> Response:
    ctx = context_of(request)
    today = ctx.today()
    with transaction(ctx.engine) as db:
        if not worklist.can_see_patient(db, who, patient_id, today):
            raise NotVisible()
        page = patient_page(db, patient_id, today)
        access.log_access(db, who.id, access.READ_PATIENT, ctx.now(), patient_id=patient_id,
                          client=client_ip(request))
    return render(request, "patient.html", status=status, page=page, outcome=outcome or [],
                  observation=observation or ObservationForm(), key=forms.new_key(),
                  action_base=f"/patients/{patient_id}")


@router.post("/patients/{patient_id}/observation")
async def observe(request: Request, patient_id: int) -> Response:
    form = await request.form()
    token = form.get("csrf")
    check_csrf(request, token if isinstance(token, str) else None)
    who = signed_in(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        if not worklist.can_see_patient(db, who, patient_id, ctx.today()):
            raise NotVisible()
    applied, filled = record_observation(ctx, who, patient_id, form)
    if applied is None:
        return show_patient(request, who, patient_id, status=400, observation=filled)
    with transaction(ctx.engine) as db:
        lines = describe(db, applied, "Observation enregistrée.")
    return show_patient(request, who, patient_id, outcome=lines)


@router.get("/cases/{case_id}")
def case_link(request: Request, case_id: int) -> Response:
    who = signed_in(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        case = db.get(CaseRow, case_id)
        if case is None or not worklist.can_see_patient(db, who, case.patient_id,
                                                        ctx.today()):
            raise NotVisible()
        patient_id = case.patient_id
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)
