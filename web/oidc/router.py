"""The two OpenID Connect pages: ``/connexion/oidc`` (off to the provider) and
``/connexion/oidc/retour`` (back from it).

The router knows nothing of the web app's sessions or pages: it is given three
callables — find an active professional by RPPS number, open a session (``sign_in``,
which answers the redirect to the page asked for) and show a refusal page in French
(``refuse``). Any failure ends in ``refuse`` with the error's French message and no
session; the transaction cookie is always cleared on the way back, so it is used once
even before the database check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from engine.clock import Clock, SystemClock
from web.exceptions import SignInError, UnknownProfessionalError
from web.oidc.flow import OidcFlow
from web.oidc.replay import ReplayGuard
from web.oidc.settings import OidcSettings
from web.oidc.transaction import COOKIE_NAME, COOKIE_PATH

log = logging.getLogger("parcours.web.oidc")

FindProfessional = Callable[[str], int | None]
SignIn = Callable[[Request, int, str], Response]
Refuse = Callable[[Request, str], Response]

START_PATH = "/connexion/oidc"
RETURN_PATH = "/connexion/oidc/retour"


def oidc_router(settings: OidcSettings, *, base_url: str, secret: str, guard: ReplayGuard,
                find_professional_by_rpps: FindProfessional, sign_in: SignIn,
                refuse: Refuse, clock: Clock | None = None,
                transport: httpx.AsyncBaseTransport | None = None) -> APIRouter:
    """The sign-in routes for the provider of ``settings`` (which must be enabled).
    ``GET /connexion/oidc?suite=/tasks/12`` starts; the page asked for comes back to
    ``sign_in`` (local paths only)."""
    flow = OidcFlow(settings, redirect_uri=settings.callback_url(base_url), secret=secret,
                    guard=guard, clock=clock or SystemClock(), transport=transport)
    secure = flow.redirect_uri.startswith("https://")
    router = APIRouter()

    @router.get(START_PATH, name="oidc_start")
    async def start(request: Request, suite: str | None = None) -> Response:
        try:
            url, cookie = await flow.begin(suite)
        except SignInError as exc:
            log.warning("OIDC sign-in could not start: %s", exc.reason)
            return refuse(request, exc.public_message)
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(COOKIE_NAME, cookie, max_age=settings.login_minutes * 60,
                            path=COOKIE_PATH, httponly=True, secure=secure, samesite="lax")
        return response

    @router.get(RETURN_PATH, name="oidc_return")
    async def back(request: Request) -> Response:
        response = await _finish(request)
        response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, secure=secure,
                               samesite="lax")
        return response

    async def _finish(request: Request) -> Response:
        try:
            verified = await flow.complete(request.query_params,
                                           request.cookies.get(COOKIE_NAME))
            professional_id = await run_in_threadpool(find_professional_by_rpps,
                                                      verified.rpps)
            if professional_id is None:
                raise UnknownProfessionalError(verified.rpps)
        except SignInError as exc:
            log.warning("OIDC sign-in refused (%s): %s", type(exc).__name__, exc.reason)
            return refuse(request, exc.public_message)
        log.info("OIDC sign-in of professional %s", professional_id)
        return sign_in(request, professional_id, verified.next_path)

    return router
