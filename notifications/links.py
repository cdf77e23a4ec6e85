"""Every address a message points to, built here and nowhere else.

This is the contract with the web workspace (``web/``), which serves exactly
these paths and, for a signed-out professional, redirects to sign-in and
then back to the page asked for:

=====================================  ==============================================
``{base_url}/``                        the inbox, « Mes tâches »
``{base_url}/tasks/{id}``              one task
``{base_url}/patients/{id}``           one patient's page (their cases, tasks, team)
``{base_url}/connexion/lien?p&t&suite`` a one-time sign-in link (``suite`` = local path)
=====================================  ==============================================

Links carry identifiers only, never a name or a clinical value, so that an
SMS or an ordinary e-mail (not secure) can hold them. ``ROUTE_PATTERNS`` is
what the template tests check every rendered link against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from notifications import kinds
from notifications.views import MessageData

#: The paths a message may point to (after the base URL), as regular expressions.
ROUTE_PATTERNS = (r"/", r"/tasks/[0-9]+", r"/patients/[0-9]+")
SIGN_IN_PATTERN = r"/connexion/lien\?[^\s\"'<>]*"


def _join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def inbox_url(base_url: str) -> str:
    """The professional's inbox (« Mes tâches »)."""
    return _join(base_url, "/")


def task_url(base_url: str, task_id: int) -> str:
    return _join(base_url, f"/tasks/{int(task_id)}")


def patient_url(base_url: str, patient_id: int) -> str:
    return _join(base_url, f"/patients/{int(patient_id)}")


def sign_in_url(base_url: str, professional_id: int, token: str, next_path: str = "/") -> str:
    """A one-time sign-in link; ``next_path`` (a local path such as ``/tasks/12``) is
    where the workspace goes once signed in."""
    if not next_path.startswith("/") or next_path.startswith("//"):
        raise ValueError(f"next_path must be a local path, got {next_path!r}")
    query = urlencode({"p": int(professional_id), "t": token, "suite": next_path})
    return _join(base_url, f"/connexion/lien?{query}")


def is_route(base_url: str, url: str) -> bool:
    """Whether ``url`` is one of the workspace pages a message may point to."""
    base = base_url.rstrip("/")
    if not url.startswith(base):
        return False
    path = url[len(base):]
    return any(re.fullmatch(p, path) for p in (*ROUTE_PATTERNS, SIGN_IN_PATTERN))


@dataclass(frozen=True)
class Links:
    """The links of one message (base URL from settings): what each kind points to."""

    base_url: str

    def task(self, task_id: int) -> str:
        return task_url(self.base_url, task_id)

    def patient(self, patient_id: int) -> str:
        return patient_url(self.base_url, patient_id)

    def inbox(self) -> str:
        return inbox_url(self.base_url)

    def of(self, data: MessageData) -> str:
        """The digest → the inbox; a delivery failure → its task, else the inbox; a task
        message → the task; a pathway message → the patient's page."""
        if data.kind == kinds.SIGN_IN_LINK:
            return str(data.payload.get("link", self.inbox()))
        if data.kind == kinds.DAILY_DIGEST:
            return self.inbox()
        if data.kind == kinds.DELIVERY_FAILURE:
            failed = data.failed
            return self.task(failed.task_id) if failed and failed.task_id else self.inbox()
        if data.task is not None:
            return self.task(data.task.id)
        if data.patient is not None and data.patient.id is not None:
            return self.patient(data.patient.id)
        return self.inbox()
