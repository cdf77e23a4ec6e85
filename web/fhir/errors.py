"""Every error under ``/fhir`` as an ``OperationOutcome`` in ``application/fhir+json``.

``FhirError`` (a ``web.exceptions.WebError``) carries the HTTP status, the FHIR issue
type (``invalid``, ``not-found``, ``login``, ``forbidden``, ``too-costly``…), the French
diagnostics and, for invalid input, the FHIRPath-like ``expression`` of each error
(``Observation.valueQuantity.value``). ``outcome_response`` turns any exception raised
under ``/fhir`` (ours, Starlette's 404/405, a request validation error, a crash) into
that answer: never the HTML error page, never a traceback. A crash is logged with the
path and the exception's type only (no body, no patient data).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from web.exceptions import NotVisible, WebError

PREFIX = "/fhir"
MEDIA_TYPE = "application/fhir+json"
log = logging.getLogger("parcours.web.fhir")


class FhirResponse(JSONResponse):
    """FHIR JSON: no empty array, object or null anywhere (the JSON format forbids them)."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return super().render(compact(content))


def compact(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, [], {}, "")}
    if isinstance(value, list):
        return [v for v in (compact(v) for v in value) if v not in (None, [], {}, "")]
    return value


@dataclass(frozen=True)
class Issue:
    severity: str
    code: str
    diagnostics: str
    expression: tuple[str, ...] = field(default=())

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code,
                               "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.json() for i in issues]}


def information(message: str) -> dict[str, Any]:
    return outcome([Issue("information", "informational", message)])


class FhirError(WebError):
    """A request under ``/fhir`` refused: answered as an OperationOutcome."""

    def __init__(self, status: int, code: str, message: str, *,
                 issues: Sequence[Issue] = (), headers: Mapping[str, str] | None = None
                 ) -> None:
        self.status_code = status
        self.issues = list(issues) or [Issue("error", code, message)]
        self.headers = dict(headers or {})
        super().__init__(message)


def invalid(issues: Sequence[tuple[str, str]], status: int = 400) -> FhirError:
    """Invalid input: one issue per error, each with its location."""
    found = [Issue("error", "invalid" if status == 400 else "processing", problem,
                   (path,) if path else ()) for path, problem in issues]
    return FhirError(status, found[0].code, found[0].diagnostics, issues=found)


def not_found(what: str) -> FhirError:
    return FhirError(404, "not-found", f"{what} introuvable")


def is_fhir(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def outcome_response(request: Request, exc: Exception) -> Response:
    """The OperationOutcome answer to any exception raised under ``/fhir``."""
    if isinstance(exc, FhirError):
        error = exc
    elif isinstance(exc, NotVisible):
        error = not_found("ressource")
    elif isinstance(exc, HTTPException) and exc.status_code == 404:
        error = FhirError(404, "not-found", f"aucune ressource ni opération à l'adresse "
                          f"{request.url.path} (voir {PREFIX}/metadata)")
    elif isinstance(exc, HTTPException) and exc.status_code == 405:
        error = FhirError(405, "not-supported", f"méthode {request.method} non prise en "
                          f"charge à cette adresse (voir {PREFIX}/metadata)",
                          headers=dict(exc.headers or {}))
    elif isinstance(exc, HTTPException):
        error = FhirError(exc.status_code, "processing", "requête refusée")
    elif isinstance(exc, RequestValidationError):
        error = invalid([(".".join(str(p) for p in e.get("loc", ())), str(e.get("msg")))
                         for e in exc.errors()] or [("", "requête invalide")])
    elif isinstance(exc, WebError):
        error = FhirError(exc.status_code, "processing", str(exc))
    else:
        log.error("FHIR request failed: %s %s (%s)", request.method, request.url.path,
                  type(exc).__name__)
        error = FhirError(500, "exception", "erreur interne : l'équipe technique est "
                          "prévenue ; réessayez dans un moment")
    return FhirResponse(outcome(error.issues), status_code=error.status_code,
                        headers=error.headers)
