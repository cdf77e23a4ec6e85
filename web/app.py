"""The FastAPI application of the professionals' workspace.

``create_app`` builds it from settings objects (tests pass their own clock and channels);
``app_from_environment`` is the factory each uvicorn worker calls (``parcours web``).
Every response carries security headers: a Content-Security-Policy without inline script
or style (``default-src 'self'``), no framing, no referrer (a sign-in link must not leak
through it), no MIME sniffing, and ``Cache-Control: no-store`` (pages hold patient data).
Errors never show details: 404 is the same page whether a thing does not exist or is not
the professional's to see. Under ``/fhir`` (the FHIR R4 interface, ``web/fhir/``) every
error is an ``OperationOutcome`` in ``application/fhir+json`` instead of a page.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from engine.clock import Clock, SystemClock
from engine.settings import Settings
from engine.store.db import make_engine
from engine.store.service import CaseService
from notifications.channels import Channel
from notifications.settings import NotificationSettings
from web.context import WebContext, context_of
from web.exceptions import NotVisible, SignInRequired, WebError
from web.fhir.errors import is_fhir, outcome_response
from web.fhir.settings import FhirSettings
from web.oidc.settings import OidcSettings
from web.pages import render
from web.settings import WebSettings, resolve_secret

STATIC = Path(__file__).with_name("static")
log = logging.getLogger("parcours.web")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def create_app(web: WebSettings | None = None, settings: Settings | None = None, *,
               notify: NotificationSettings | None = None, clock: Clock | None = None,
               channels: Mapping[str, Channel] | None = None,
               oidc: OidcSettings | None = None, fhir: FhirSettings | None = None) -> FastAPI:
    web = web or WebSettings()
    oidc = oidc or OidcSettings()
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    ctx = WebContext(settings=web, secret=resolve_secret(web, settings.database_url),
                     clock=clock or SystemClock(), engine=engine,
                     service=CaseService(engine, settings),
                     notify_settings=notify or NotificationSettings(base_url=web.base_url),
                     channels=channels,
                     oidc_provider=oidc.provider_name if oidc.enabled else None)
    app = FastAPI(title="Parcours", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = ctx
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _errors(app)
    app.middleware("http")(_security_headers)
    from web.auth.signin import router as sign_in
    from web.fhir.router import fhir_router
    from web.routes.coord_dashboard import router as coord_dashboard
    from web.routes.coord_exports import router as coord_exports
    from web.routes.coord_patients import router as coord_patients
    from web.routes.coord_professionals import router as coord_professionals
    from web.routes.coord_queue import router as coord_queue
    from web.routes.coordination import router as coordination
    from web.routes.patients import router as patients
    from web.routes.preferences import router as preferences
    from web.routes.tasks import router as tasks

    for router in (sign_in, tasks, patients, coordination, preferences, coord_dashboard,
                   coord_queue, coord_exports, coord_patients, coord_professionals,
                   fhir_router(fhir or FhirSettings())):
        app.include_router(router)
    if oidc.enabled:
        from web.auth.oidc import oidc_routes

        app.include_router(oidc_routes(ctx, oidc))
    app.add_api_route("/", lambda: RedirectResponse("/tasks", status_code=303),
                      include_in_schema=False)
    return app


def app_from_environment() -> FastAPI:
    """The uvicorn factory: settings from the environment (``PARCOURS_*``)."""
    from engine.clock import FixedClock, ensure_aware

    web = WebSettings()
    return create_app(web, clock=FixedClock(ensure_aware(web.now)) if web.now else None)


async def _security_headers(request: Request,
                            call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.method == "POST" and request.url.path.startswith("/coordination/"):
        # a coordinator's change: this process's dashboard counts are computed again
        # (after the change is committed; ``web.snapshots``)
        context_of(request).counts.clear()
    return response


def _errors(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/connexion?suite={quote(exc.next_path, safe='/')}",
                                status_code=303)

    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> Response:
        if is_fhir(request):
            return outcome_response(request, exc)
        return render(request, "error.html", status=exc.status_code, message=str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if is_fhir(request):
            return outcome_response(request, exc)
        status = 404 if exc.status_code in (404, 405) else exc.status_code
        return render(request, "error.html", status=status,
                      message=str(NotVisible()) if status == 404 else "requête refusée")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_fhir(request):
            return outcome_response(request, exc)
        return render(request, "error.html", status=404, message=str(NotVisible()))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        if is_fhir(request):
            return outcome_response(request, exc)
        log.error("web request failed: %s %s (%s)", request.method, request.url.path,
                  type(exc).__name__)
        return render(request, "error.html", status=500,
                      message="erreur interne : l'équipe technique est prévenue ; "
                              "réessayez dans un moment")
