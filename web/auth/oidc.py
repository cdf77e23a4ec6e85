"""OpenID Connect sign-in inside the workspace (Pro Santé Connect or the territory's own
provider), on when ``PARCOURS_WEB_OIDC_ISSUER`` is set.

``web.oidc``'s router is given the workspace's pieces: the professional is the active row
of the ``professional`` table with the RPPS number the provider vouched for; signing in is
``start_session`` (the same signed session cookie as the one-time link), then back to the
page first asked for; a refusal is the sign-in page again, with the French reason, status
403 and no session. States and nonces are used once across every worker (database).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from web.auth.guard import DEFAULT_NEXT, safe_next
from web.auth.sessions import start_session
from web.context import WebContext
from web.oidc import OidcSettings, SqlReplayGuard, oidc_router
from web.oidc.professionals import active_professional_id
from web.pages import render


def oidc_routes(ctx: WebContext, settings: OidcSettings) -> APIRouter:
    def find(rpps: str) -> int | None:
        return active_professional_id(ctx.engine, rpps)

    def sign_in(request: Request, professional_id: int, next_path: str) -> Response:
        response = RedirectResponse(safe_next(next_path), status_code=303)
        start_session(response, professional_id, ctx)
        return response

    def refuse(request: Request, message: str) -> Response:
        return render(request, "sign_in.html", status=403, suite=DEFAULT_NEXT, sent=False,
                      error=message, bye=False)

    return oidc_router(settings, base_url=ctx.settings.base_url, secret=ctx.secret,
                       guard=SqlReplayGuard(ctx.engine), find_professional_by_rpps=find,
                       sign_in=sign_in, refuse=refuse, clock=ctx.clock)
