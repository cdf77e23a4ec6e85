"""The embedded sign-in: ask for a link by address, receive it, follow it, sign out.

- ``GET /connexion``: the form (one field, the professional's e-mail or MSSanté address).
- ``POST /connexion``: rate-limited per address and per client IP (in the database);
  the answer is the same whether the address is known or not (no account enumeration).
- ``GET /connexion/lien?p=…&t=…&suite=…``: a page with one button; opening a link does
  not use it (mail scanners that open links cannot burn it).
- ``POST /connexion/lien``: uses the token once; signs in; back to the page first asked
  for (local paths only).
- ``POST /deconnexion``: forgets the session.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from engine.store import signin
from engine.store.db import transaction
from web.auth.guard import safe_next
from web.auth.links import send_link, sign_in_url
from web.auth.sessions import check_csrf, end_session, start_session
from web.context import client_ip, context_of
from web.exceptions import RateLimited
from web.pages import render

router = APIRouter()
ADDRESS_MAX = 254


@router.get("/connexion")
def sign_in_form(request: Request, suite: str = "") -> Response:
    return render(request, "sign_in.html", suite=safe_next(suite), sent=False, error="",
                  bye="au-revoir" in request.query_params)


@router.post("/connexion")
async def ask_for_link(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, _text(form.get("csrf")))
    ctx = context_of(request)
    address = _text(form.get("adresse")).strip().lower()
    suite = safe_next(_text(form.get("suite")))
    if not address or "@" not in address or len(address) > ADDRESS_MAX:
        return render(request, "sign_in.html", status=400, suite=suite, sent=False,
                      error="Adresse : saisissez votre adresse e-mail ou MSSanté "
                            "(par exemple prenom.nom@exemple.fr).", bye=False)
    now = ctx.now()
    settings = ctx.settings
    with transaction(ctx.engine) as db:
        allowed = signin.allow_attempt(
            db, {f"address:{address}": settings.sign_in_per_address,
                 f"ip:{client_ip(request)}": settings.sign_in_per_ip},
            now, timedelta(minutes=settings.sign_in_window_minutes))
    if not allowed:
        raise RateLimited()
    with transaction(ctx.engine) as db:
        pro = signin.find_by_address(db, address)
        token = signin.issue(db, pro.id or 0, now, timedelta(minutes=settings.link_minutes)) \
            if pro is not None else None
    if pro is not None and token is not None:
        send_link(ctx, pro, sign_in_url(ctx, pro.id or 0, token, suite), now)
    return render(request, "sign_in.html", suite=suite, sent=True, error="", bye=False)


@router.get("/connexion/lien")
def confirm_link(request: Request, p: str = "", t: str = "", suite: str = "") -> Response:
    return render(request, "sign_in_link.html", p=p, t=t, suite=safe_next(suite))


@router.post("/connexion/lien")
async def use_link(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, _text(form.get("csrf")))
    ctx = context_of(request)
    pid, token = _text(form.get("p")), _text(form.get("t"))
    ok = False
    if pid.isdigit() and 20 <= len(token) <= 100:
        with transaction(ctx.engine) as db:
            ok = signin.consume(db, token, int(pid), ctx.now())
    if not ok:
        return render(request, "sign_in.html", status=400, suite=DEFAULT, sent=False,
                      error="Ce lien de connexion n'est plus valable (déjà utilisé, expiré "
                            "ou incomplet) : demandez-en un nouveau ci-dessous.", bye=False)
    response = RedirectResponse(safe_next(_text(form.get("suite"))), status_code=303)
    start_session(response, int(pid), ctx)
    return response


@router.post("/deconnexion")
async def sign_out(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, _text(form.get("csrf")))
    response = RedirectResponse("/connexion?au-revoir=1", status_code=303)
    end_session(response, context_of(request))
    return response


DEFAULT = "/tasks"


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
