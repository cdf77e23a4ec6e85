"""Sessions in a signed cookie, and the CSRF token of every form.

The cookie ``parcours_session`` holds ``{"c": csrf, "p": professional id or null,
"e": expiry (Unix time)}``, signed with the settings' secret key (itsdangerous, HMAC);
nothing is stored on the server, so several workers share sessions. It is HttpOnly,
SameSite=Lax, Secure when the public base URL is https. A visitor who is not signed in
gets one too (``p`` null), so that the sign-in form has a CSRF token.

CSRF: every form carries the session's token in a hidden ``csrf`` field and every POST
is refused unless the field equals the token in the (signed, HttpOnly) cookie. Signing in
replaces the token; signing out forgets the session.

``start_session(response, professional_id, ctx)`` is the one way to sign someone in
(the one-time link here; OpenID Connect in ``web.oidc``).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

from web.context import WebContext, context_of
from web.exceptions import CsrfRefused

COOKIE = "parcours_session"
ANONYMOUS_HOURS = 24.0


@dataclass(frozen=True)
class Session:
    csrf: str
    professional_id: int | None
    expires: float


def _serializer(ctx: WebContext) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.secret, salt="parcours-session")


def read_session(request: Request) -> Session | None:
    """The request's valid session (signature and expiry checked), else None."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    ctx = context_of(request)
    try:
        data = _serializer(ctx).loads(raw)
        session = Session(str(data["c"]), data["p"] if data["p"] is None else int(data["p"]),
                          float(data["e"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if session.expires <= ctx.now().timestamp() or len(session.csrf) < 16:
        return None
    return session


def _write(response: Response, session: Session, ctx: WebContext) -> None:
    value = _serializer(ctx).dumps({"c": session.csrf, "p": session.professional_id,
                                    "e": session.expires})
    max_age = max(int(session.expires - ctx.now().timestamp()), 0)
    response.set_cookie(COOKIE, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=ctx.settings.secure_cookies)


def anonymous_session(ctx: WebContext) -> Session:
    return Session(secrets.token_urlsafe(24), None,
                   ctx.now().timestamp() + ANONYMOUS_HOURS * 3600)


def ensure_session(request: Request, response: Response) -> Session:
    """The request's session, or a new anonymous one set on ``response``."""
    session = getattr(request.state, "session", None) or read_session(request)
    if session is None:
        session = anonymous_session(context_of(request))
        _write(response, session, context_of(request))
    request.state.session = session
    return session


def start_session(response: Response, professional_id: int, ctx: WebContext) -> None:
    """Sign the professional in: a new session (and a new CSRF token) on ``response``."""
    session = Session(secrets.token_urlsafe(24), professional_id,
                      ctx.now().timestamp() + ctx.settings.session_hours * 3600)
    _write(response, session, ctx)


def end_session(response: Response, ctx: WebContext) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=ctx.settings.secure_cookies)


def check_csrf(request: Request, submitted: str | None) -> Session:
    """The session, if the form's token is the session's; CsrfRefused otherwise."""
    session = read_session(request)
    if session is None or not submitted or \
            not hmac.compare_digest(session.csrf.encode(), submitted.encode()):
        raise CsrfRefused()
    return session
