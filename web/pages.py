"""Server-rendered pages: one Jinja2 environment (autoescaped), French date filters.

``render`` adds what every page needs: the signed-in professional (``viewer``), the
session's CSRF token (``csrf``; the anonymous session is created if needed) and today's
date in the territory's zone.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from notifications.formatting import date_fr, datetime_fr, short_date_fr
from web.auth.sessions import ensure_session
from web.context import context_of

TEMPLATES = Path(__file__).with_name("templates")


def _number(value: float | None) -> str:
    if value is None:
        return ""
    text = f"{value:g}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")
    return text.replace(".", ",")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(date_fr=date_fr, datetime_fr=datetime_fr, short_date=short_date_fr,
                       number_fr=_number)
    return env


ENV = _environment()


def age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def days_late(due: datetime, today: date, zone: Any) -> int:
    """Calendar days past the due date, in the territory's zone (0 if not late)."""
    return max((today - due.astimezone(zone).date()).days, 0)


def render(request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    ctx = context_of(request)
    response = HTMLResponse("", status_code=status)
    session = ensure_session(request, response)
    page = ENV.get_template(name).render(
        viewer=getattr(request.state, "viewer", None), csrf=session.csrf, today=ctx.today(),
        now=ctx.now(), zone=ctx.zone, **values)
    response.body = response.render(page)
    response.headers["content-length"] = str(len(response.body))
    return response
