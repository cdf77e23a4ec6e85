"""The coordinator's patients (issue 13): search by name (accents and case ignored), birth
date (JJ/MM/AAAA), INS or local id; the patient's file with every case, the care team (to
edit), the observations and the French timeline; enrolment after the eligibility result;
closing a case with a reason; the CSV of the list.

Coordinator only (``web.auth.guard.coordinator``: anyone else gets the 404 page). Every
action is CSRF-checked, one transaction, leaves a history line and answers in French;
opening a patient's file is written to the access log. Addresses carry ids only; the
search words travel in the query string of a GET form (never logged by the app).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from engine import narrative
from engine.store import access, overview, people, registry, worklist
from engine.store.careteam import ROLES
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from engine.store.service import Eligibility
from engine.store.tables import CaseRow, PathwayVersion, Patient, Professional
from engine.store.writer import Actor
from web.auth.guard import coordinator
from web.auth.sessions import check_csrf
from web.context import client_ip, context_of
from web.csv_export import csv_response
from web.exceptions import NotVisible
from web.pages import render
from web.views import patient_block

router = APIRouter()
REASON_MAX = 200


# -- CSV ------------------------------------------------------------------------------------
async def _form(request: Request) -> FormData:
    form = await request.form()
    token = form.get("csrf")
    check_csrf(request, token if isinstance(token, str) else None)
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""


# -- the list -------------------------------------------------------------------------------

@router.get("/coordination/patients")
def search(request: Request, q: str = "", page: int = 1) -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        found = people.search_patients(db, q[:200], page) if q.strip() else None
    return render(request, "coord_patients.html", q=q, found=found)


@router.get("/coordination/patients.csv")
def export(request: Request, q: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        hits = people.all_patients(db, q[:200])
    return csv_response("patients", ["n°", "nom", "prénoms", "date de naissance", "INS",
                                         "identifiant local"],
                        [[h.id, h.family_name, h.given_names, f"{h.birth_date:%d/%m/%Y}",
                          h.ins or "", h.local_id or ""] for h in hits])


# -- the file -------------------------------------------------------------------------------

@dataclass
class CaseLine:
    case: CaseRow
    title: str
    steps: list[str]


@dataclass
class TeamForm:
    role: str = ""
    professional: str = ""
    error: str = ""


@dataclass
class FileState:
    outcome: list[str] = field(default_factory=list)
    error: str = ""
    team: TeamForm = field(default_factory=TeamForm)
    close_errors: dict[int, str] = field(default_factory=dict)


def show_file(request: Request, patient_id: int, state: FileState | None = None,
              status: int = 200) -> Response:
    who = coordinator(request)
    ctx = context_of(request)
    state = state or FileState()
    today = ctx.today()
    with transaction(ctx.engine) as db:
        if db.get(Patient, patient_id) is None:
            raise NotVisible()
        cases = worklist_cases(db, patient_id)
        pathways = [registry.compiled(v) for _, v in cases]
        block = patient_block(db, patient_id, today, pathways)
        lines = []
        for (case, _), pathway in zip(cases, pathways, strict=True):
            steps = [pathway.states[s].title for s in case.active_states
                     if s in pathway.states]
            lines.append(CaseLine(case, pathway.definition.title, steps))
        timeline = narrative.patient_timeline(db, patient_id)
        roles = _role_titles(pathways)
        pros = worklist.professionals(db)
        versions = overview.latest_versions(db)
        access.log_access(db, who.id, access.READ_PATIENT, ctx.now(), patient_id=patient_id,
                          client=client_ip(request))
    return render(request, "coord_patient.html", status=status, block=block, cases=lines,
                  timeline=list(reversed(timeline)), roles=roles, professionals=pros,
                  pathways=versions, state=state, reason_max=REASON_MAX,
                  profession_fr=people.profession_fr)


def worklist_cases(db: Any, patient_id: int) -> list[tuple[CaseRow, PathwayVersion]]:
    from sqlalchemy import select
    from sqlmodel import col

    rows = db.execute(select(CaseRow, PathwayVersion)
                      .join(PathwayVersion, col(PathwayVersion.id) ==
                            col(CaseRow.pathway_version_id))
                      .where(col(CaseRow.patient_id) == patient_id)
                      .order_by(col(CaseRow.closed_at).is_not(None), col(CaseRow.id))).all()
    return [(c, v) for c, v in rows]


def _role_titles(pathways: list[Any]) -> list[tuple[str, str]]:
    titles = {k: r.title for p in pathways for k, r in p.definition.roles.items()}
    return sorted(((r, titles.get(r, people.profession_fr(r).capitalize())) for r in ROLES),
                  key=lambda t: t[1].lower())


@router.get("/coordination/patients/{patient_id}")
def show(request: Request, patient_id: int) -> Response:
    return show_file(request, patient_id)


@router.post("/coordination/patients/{patient_id}/equipe")
async def care_team(request: Request, patient_id: int) -> Response:
    form = await _form(request)
    who = coordinator(request)
    ctx = context_of(request)
    role, choice = _text(form, "role"), _text(form, "professionnel")
    team = TeamForm(role, choice)
    if choice != "retirer" and not choice.isdigit():
        team.error = "Professionnel : choisissez un professionnel, ou « retirer du rôle »."
        return show_file(request, patient_id, FileState(team=team), 400)
    try:
        with transaction(ctx.engine) as db:
            if db.get(Patient, patient_id) is None:
                raise NotVisible()
            done = people.change_member(db, patient_id, role,
                                        None if choice == "retirer" else int(choice),
                                        ctx.today(), who.id, ctx.now())
            pro = db.get(Professional, int(choice)) if choice.isdigit() else None
            name = f"{pro.given_names} {pro.family_name}" if pro else "Le titulaire"
            titles = dict(_role_titles([registry.compiled(v)
                                        for _, v in worklist_cases(db, patient_id)]))
    except InputError as exc:
        team.error = str(exc)[:1].upper() + str(exc)[1:] + "."
        return show_file(request, patient_id, FileState(team=team), 400)
    return show_file(request, patient_id, FileState(
        outcome=[f"Équipe de soins modifiée : {name} — {titles.get(role, role)}, {done}."]))


# -- enrolment ------------------------------------------------------------------------------

@router.get("/coordination/patients/{patient_id}/inscription")
def eligibility(request: Request, patient_id: int, parcours: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        patient = db.get(Patient, patient_id)
        if patient is None:
            raise NotVisible()
        keys = {v.key: v.title for v in overview.latest_versions(db)}
    if parcours not in keys:
        return show_file(request, patient_id, FileState(
            error="Parcours : choisissez un parcours publié dans la liste."), 400)
    result: Eligibility = ctx.service.eligibility(patient_id, parcours, ctx.now())
    return render(request, "coord_enrol.html", patient=patient, key=parcours, result=result)


@router.post("/coordination/patients/{patient_id}/inscription")
async def enrol(request: Request, patient_id: int) -> Response:
    form = await _form(request)
    who = coordinator(request)
    ctx = context_of(request)
    key = _text(form, "parcours")
    force = _text(form, "malgre_criteres") == "oui"
    with transaction(ctx.engine) as db:
        if db.get(Patient, patient_id) is None:
            raise NotVisible()
    try:
        applied = ctx.service.enroll(patient_id, key, ctx.now(),
                                     actor=Actor("coordinator", who.id),
                                     check_eligibility=not force)
    except (InputError, NotFoundError) as exc:
        message = str(exc).replace(" (--force pour inscrire quand même)", "")
        return show_file(request, patient_id, FileState(error=message[:1].upper() +
                                                        message[1:] + "."), 409)
    return show_file(request, patient_id, FileState(outcome=[
        f"Patient inscrit : dossier {applied.case_ids[0]} ouvert dans le parcours {key}."]))


@router.post("/coordination/cases/{case_id}/cloture")
async def close_case(request: Request, case_id: int) -> Response:
    form = await _form(request)
    who = coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        case = db.get(CaseRow, case_id)
        if case is None:
            raise NotVisible()
        patient_id = case.patient_id
    reason = _text(form, "motif")
    error = ""
    if not reason:
        error = "Motif : obligatoire (par exemple « déménagement hors du territoire »)."
    elif len(reason) > REASON_MAX:
        error = f"Motif : {len(reason)} caractères ; au plus {REASON_MAX}."
    if not error:
        try:
            ctx.service.close_case(case_id, reason, ctx.now(),
                                   actor=Actor("coordinator", who.id))
        except InputError as exc:
            return show_file(request, patient_id, FileState(
                error=str(exc)[:1].upper() + str(exc)[1:] + "."), 409)
    if error:
        return show_file(request, patient_id, FileState(close_errors={case_id: error}), 400)
    return show_file(request, patient_id, FileState(outcome=[
        f"Dossier {case_id} clos (motif : {reason}) ; ses tâches ouvertes sont annulées."]))

