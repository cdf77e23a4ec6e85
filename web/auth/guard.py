"""The signed-in professional of a request, and safe redirections after sign-in."""

from __future__ import annotations

from starlette.requests import Request

from engine.store.db import transaction
from engine.store.worklist import Viewer, viewer
from web.auth.sessions import read_session
from web.context import context_of
from web.exceptions import NotVisible, SignInRequired

DEFAULT_NEXT = "/tasks"


def safe_next(path: str | None) -> str:
    """A local path to go back to after sign-in; anything else becomes the inbox."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path \
            or any(ord(c) < 32 for c in path) or path.startswith("/connexion"):
        return DEFAULT_NEXT
    return path


def signed_in(request: Request) -> Viewer:
    """The professional of the request's session; SignInRequired (redirect) otherwise."""
    session = read_session(request)
    found = None
    if session is not None and session.professional_id is not None:
        with transaction(context_of(request).engine) as db:
            found = viewer(db, session.professional_id)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(safe_next(target))
    request.state.viewer = found
    return found


def coordinator(request: Request) -> Viewer:
    who = signed_in(request)
    if not who.coordinator:
        raise NotVisible()
    return who
