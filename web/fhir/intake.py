"""What systems post: a Bundle (transaction or collection), or one Patient, Observation or
Encounter, through the same door as the file import and HL7 v2.

A bundle goes through ``engine.intake.fhir.read_bundle`` (the resources we read are
validated against ``fhir.resources.R4B``) and ``engine.store.fhir_import.import_bundle``
in one transaction: the patient matched or created, their observations and stays stored
as received in the durable inbox, idempotent by resource id; the ``process-inbound-events``
flow applies them in order per patient. All or nothing: an invalid resource refuses the
whole bundle, with the location of each error (``Bundle.entry[3].resource.valueQuantity
.value``) in the OperationOutcome. Posting the same content again changes nothing and
answers ``200 OK`` where the first answer said ``201 Created``. Two requests creating the
same new patient at once: the one whose insert hits the other's unique identifier is run
again, and matches that patient (``stored``).

Answers: a ``transaction-response`` Bundle (one entry per entry posted, in order) for a
bundle; ``201 Created`` (``200 OK`` if already received) with an informational
OperationOutcome for a single resource; 400 for what cannot be read or does not validate,
422 for what validates but cannot be taken (no single patient, unknown subject…), 413 for a
body over ``PARCOURS_FHIR_MAX_BODY_MB``, 415 for anything but JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from engine.intake.exceptions import RefusedMessage
from engine.intake.fhir import (
    BundleContent,
    InvalidResource,
    business_id,
    read_bundle,
    read_resource,
    validated,
)
from engine.store.db import transaction
from engine.store.fhir_import import BundleReport, ResourceReport, import_bundle, import_resource
from web.context import WebContext
from web.fhir.auth import Caller
from web.fhir.errors import MEDIA_TYPE, FhirError, FhirResponse, information, invalid

T = TypeVar("T")
BUNDLE_TYPES = ("transaction", "collection")
WRITE_METHODS = ("POST", "PUT")
JSON_TYPES = (MEDIA_TYPE, "application/json", "application/json+fhir")


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON body, refused early (413) when larger than ``limit`` bytes."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in JSON_TYPES:
        raise FhirError(415, "not-supported", f"type de contenu {kind or 'absent'!r} : seul "
                        f"le JSON est accepté ({MEDIA_TYPE})")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    try:
        return json.loads(bytes(body))
    except ValueError as exc:
        where = f" (ligne {exc.lineno}, colonne {exc.colno})" \
            if isinstance(exc, json.JSONDecodeError) else ""
        raise FhirError(400, "structure", f"corps JSON illisible{where}") from exc


def _too_large(limit: int) -> FhirError:
    return FhirError(413, "too-costly", f"corps de requête trop volumineux : au plus "
                     f"{limit // (1024 * 1024)} Mo (PARCOURS_FHIR_MAX_BODY_MB) ; envoyez un "
                     "Bundle par patient")


def stored(unit: Callable[[], T]) -> T:
    """Run one storing transaction; again once if a concurrent request created the same
    patient or identifier first (a unique constraint): then it matches what that one made."""
    try:
        return unit()
    except IntegrityError:
        return unit()


def _refused(exc: RefusedMessage) -> FhirError:
    if isinstance(exc, InvalidResource):
        # a model that does not validate: 400; a rule of ours (one patient…): 422
        status = 400 if exc.__cause__ is not None else 422
        return invalid(exc.issues, status)
    return invalid([("", str(exc))], 422)


def _check_envelope(data: Any) -> None:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise invalid([("resourceType", "un Bundle est attendu à l'adresse de base "
                                        "(POST /fhir)")])
    if data.get("type") not in BUNDLE_TYPES:
        raise invalid([("Bundle.type", f"type {data.get('type')!r} non pris en charge : "
                                       f"{' ou '.join(BUNDLE_TYPES)}")], 422)
    entries = data.get("entry")
    if entries is not None and not isinstance(entries, list):
        raise invalid([("Bundle.entry", "une liste d'entrées est attendue")])
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            raise invalid([(f"Bundle.entry[{i}].resource", "chaque entrée porte une "
                                                           "ressource (objet JSON)")])
        request = entry.get("request")
        method = request.get("method") if isinstance(request, dict) else None
        if request is not None and method not in WRITE_METHODS:
            raise invalid([(f"Bundle.entry[{i}].request.method",
                            f"méthode {method!r} non prise en charge dans un Bundle : "
                            f"{' ou '.join(WRITE_METHODS)} (création ou mise à jour)")], 422)


def post_bundle(ctx: WebContext, caller: Caller, data: Any) -> Response:
    _check_envelope(data)
    source = f"FHIR REST:{caller.client}"
    try:
        content = read_bundle(data, source)
        report = stored(lambda: _import(ctx, content, caller))
    except RefusedMessage as exc:
        raise _refused(exc) from exc
    return FhirResponse(_transaction_response(data, report))


def _import(ctx: WebContext, content: BundleContent, caller: Caller) -> BundleReport:
    with transaction(ctx.engine) as session:
        return import_bundle(session, content, f"REST {caller.client}", ctx.now())


def _transaction_response(data: dict[str, Any], report: BundleReport) -> dict[str, Any]:
    entries = []
    for entry in data.get("entry") or []:
        kind = entry["resource"].get("resourceType")
        if kind == "Patient":
            response: dict[str, Any] = {
                "status": "201 Created" if report.created else "200 OK",
                "location": f"Patient/{report.patient_id}",
                "outcome": information(_french(report))}
        else:
            response = {"status": "200 OK"}
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def _french(report: BundleReport) -> str:
    ignored = sum(report.ignored.values())
    return (f"patient {report.patient_id} {'créé' if report.created else 'déjà connu'} ; "
            f"{report.events} événement(s) reçu(s) dans l'inbox, {report.already} déjà "
            f"reçu(s), {ignored} ressource(s) non lue(s) par Parcours"
            + (" ; patient décédé : n'est inscrit dans aucun parcours"
               if report.deceased else ""))


def post_patient(ctx: WebContext, caller: Caller, data: Any) -> Response:
    if not isinstance(data, dict) or data.get("resourceType") != "Patient":
        raise invalid([("resourceType", "une ressource Patient est attendue à cette adresse")])
    try:
        validated(data, "Patient")
    except InvalidResource as exc:
        raise _refused(exc) from exc
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": data}]}
    try:
        content = read_bundle(bundle, f"FHIR REST:{caller.client}")
        report = stored(lambda: _import(ctx, content, caller))
    except InvalidResource as exc:  # located in the bundle it was wrapped in: in the Patient
        exc.issues = [(path.replace("Bundle.entry[0].resource", "Patient")
                       .replace("Bundle.entry.resource", "Patient"), problem)
                      for path, problem in exc.issues]
        raise _refused(exc) from exc
    except RefusedMessage as exc:
        raise _refused(exc) from exc
    return FhirResponse(information(_french(report)), status_code=201 if report.created
                        else 200, headers={"Location": f"Patient/{report.patient_id}"})


def post_resource(ctx: WebContext, caller: Caller, data: Any, kind: str) -> Response:
    if not isinstance(data, dict):
        raise invalid([("resourceType", f"une ressource {kind} est attendue")])
    try:
        model, subject = read_resource(data, kind)

        def unit() -> ResourceReport:
            with transaction(ctx.engine) as session:
                return import_resource(session, model, subject, business_id(data),
                                       f"FHIR REST:{caller.client}", ctx.now())

        report = stored(unit)
    except RefusedMessage as exc:
        raise _refused(exc) from exc
    if not report.events and not report.already:
        return FhirResponse(information(
            f"{kind} valide mais non lue par Parcours (code, statut ou classe que les "
            "parcours n'utilisent pas) : rien n'a été enregistré"), status_code=200)
    return FhirResponse(information(
        f"patient {report.patient_id} : {report.events} événement(s) reçu(s) dans l'inbox, "
        f"{report.already} déjà reçu(s) ; appliqué(s) dans l'ordre par le flux "
        "process-inbound-events"), status_code=201 if report.events else 200)
