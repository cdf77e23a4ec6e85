"""The routes of ``/fhir``: token, metadata, posts and reads (see the package docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from engine.store.db import transaction
from web.context import context_of
from web.fhir import intake, read
from web.fhir.auth import authorize, log_read, token_response
from web.fhir.capability import capability_statement
from web.fhir.errors import FhirError, FhirResponse
from web.fhir.resources import searchset
from web.fhir.settings import FhirSettings

JSON_FORMATS = ("json", "application/json", "application/fhir+json")


def json_only(request: Request) -> None:
    """JSON only: ``_format`` or an ``Accept`` that wants something else is 406."""
    wanted = request.query_params.get("_format")
    accept = request.headers.get("accept", "")
    if (wanted is not None and wanted.split(";")[0].strip().lower() not in JSON_FORMATS) or \
            (accept and not any(kind.split(";")[0].strip() in ("*/*", "application/*",
                                                                *JSON_FORMATS)
                                for kind in accept.lower().split(","))):
        raise FhirError(406, "not-supported", "seul le JSON est servi "
                        "(application/fhir+json) : pas de XML ni de Turtle")


def fhir_router(settings: FhirSettings) -> APIRouter:
    router = APIRouter(prefix="/fhir", dependencies=[Depends(json_only)])

    @router.post("/auth/token")
    async def token(request: Request) -> Response:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await run_in_threadpool(token_response, context_of(request), settings,
                                       request, fields)

    @router.get("/metadata")
    def metadata(request: Request) -> Response:
        ctx = context_of(request)
        return FhirResponse(capability_statement(ctx.settings.base_url, ctx.now()))

    @router.post("")
    async def post_bundle(request: Request) -> Response:
        caller = authorize(request, "Bundle", "write")
        data = await intake.read_json(request, settings.max_body_bytes)
        return await run_in_threadpool(intake.post_bundle, context_of(request), caller, data)

    @router.post("/Patient")
    async def post_patient(request: Request) -> Response:
        caller = authorize(request, "Patient", "write")
        data = await intake.read_json(request, settings.max_body_bytes)
        return await run_in_threadpool(intake.post_patient, context_of(request), caller, data)

    for kind in ("Observation", "Encounter"):
        router.add_api_route(f"/{kind}", _poster(kind, settings), methods=["POST"])

    @router.get("/Patient/{ident}")
    def get_patient(request: Request, ident: str) -> Response:
        caller = authorize(request, "Patient", "read")
        ctx = context_of(request)
        with transaction(ctx.engine) as db:
            row = read.visible_patient(db, caller, read.number(ident, "Patient"), ctx.today())
            body = read.patient(db, row)
            log_read(request, caller, db, row.id or 0)
        return FhirResponse(body)

    @router.get("/CarePlan")
    def search_care_plans(request: Request, patient: str | None = None) -> Response:
        return _search(request, "CarePlan", patient,
                       lambda db, pid, day: read.care_plans(db, pid, settings.search_limit))

    @router.get("/CarePlan/{ident}")
    def get_care_plan(request: Request, ident: str) -> Response:
        return _read_one(request, "CarePlan", ident, read.care_plan)

    @router.get("/CareTeam")
    def search_care_teams(request: Request, patient: str | None = None) -> Response:
        return _search(request, "CareTeam", patient,
                       lambda db, pid, day: [read.care_team(db, pid, day)])

    @router.get("/Task")
    def search_tasks(request: Request, patient: str | None = None) -> Response:
        return _search(request, "Task", patient,
                       lambda db, pid, day: read.tasks(db, pid, settings.search_limit))

    @router.get("/Task/{ident}")
    def get_task(request: Request, ident: str) -> Response:
        return _read_one(request, "Task", ident, read.task)

    return router


Finder = Callable[[Session, int, date], list[dict[str, Any]]]
#: (session, caller, resource id, today) → (resource, its patient's id)
Reader = Callable[[Session, Any, int, date], tuple[dict[str, Any], int]]


def _read_one(request: Request, kind: str, ident: str, reader: Reader) -> Response:
    """One resource read by id, its patient's file access logged."""
    caller = authorize(request, kind, "read")
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        body, patient_id = reader(db, caller, read.number(ident, kind), ctx.today())
        log_read(request, caller, db, patient_id)
    return FhirResponse(body)


def _poster(kind: str, settings: FhirSettings) -> Callable[[Request], Awaitable[Response]]:
    async def post(request: Request) -> Response:
        caller = authorize(request, kind, "write")
        data = await intake.read_json(request, settings.max_body_bytes)
        return await run_in_threadpool(intake.post_resource, context_of(request), caller,
                                       data, kind)

    post.__name__ = f"post_{kind.lower()}"
    return post


def _search(request: Request, kind: str, patient: str | None, find: Finder) -> Response:
    caller = authorize(request, kind, "read")
    unknown = sorted(set(request.query_params) - {"patient", "_format"})
    if unknown:
        raise FhirError(400, "not-supported", f"paramètre(s) de recherche non pris en charge : "
                        f"{', '.join(unknown)} ; {kind} se cherche par patient")
    ctx = context_of(request)
    patient_id = read.patient_param(patient)
    with transaction(ctx.engine) as db:
        read.visible_patient(db, caller, patient_id, ctx.today())
        found = find(db, patient_id, ctx.today())
        log_read(request, caller, db, patient_id)
    base = ctx.settings.base_url.rstrip("/") + f"/fhir/{kind}"
    return FhirResponse(searchset(base, f"patient={patient_id}", found))
