"""The names a template sees, built from ``views`` for one channel's level of security.

Privacy is decided here, not in the templates: a context for a channel that
is not secure (SMS, ordinary e-mail, a webhook) simply has no ``clinical``
entry, so no template can leak a patient's name, a task title or a
pathway's message through it (with ``StrictUndefined`` it would fail, and
the template tests render every template both ways). Names always present:

``kind``, ``kind_label``, ``secure``, ``now``, ``sender``, ``recipient.name``,
``link``; ``minutes`` (a sign-in link's lifetime) for ``sign_in_link``; ``task``
(``id``, ``due_at``, ``overdue``, ``days_overdue``, ``assignee_name``,
``unassigned_role``) for task messages; ``items`` and
``count`` for the digest; ``failed`` for a delivery failure report.

Only when ``secure``: ``clinical`` with ``patient`` (``name``,
``birth_date``, ``born``, ``display`` = « Mme Marie DURAND, née le
12/03/1950 »), ``task_title``, ``task_description``, ``role_title``,
``pathway_title``, ``message``, ``reason``, ``error``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.clock import days_overdue
from notifications import kinds
from notifications.formatting import short_date_fr
from notifications.views import FailedView, MessageData, PatientView, TaskView


@dataclass(frozen=True)
class Links:
    """Where messages point: the task, the case, the outbox row (base URL from settings)."""

    base_url: str

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def task(self, task_id: int) -> str:
        return self._url(f"/tasks/{task_id}")

    def case(self, case_id: int) -> str:
        return self._url(f"/cases/{case_id}")

    def outbox(self, row_id: int) -> str:
        return self._url(f"/outbox/{row_id}")

    def my_tasks(self) -> str:
        return self._url("/tasks")

    def of(self, data: MessageData) -> str:
        if data.kind == kinds.SIGN_IN_LINK:
            return str(data.payload.get("link", self._url("/connexion")))
        if data.kind == kinds.DAILY_DIGEST:
            return self.my_tasks()
        if data.kind == kinds.DELIVERY_FAILURE and data.failed is not None:
            return self.outbox(data.failed.row_id)
        if data.task is not None:
            return self.task(data.task.id)
        if data.case_id is not None:
            return self.case(data.case_id)
        return self.my_tasks()


def build_context(data: MessageData, *, secure: bool, links: Links, now: datetime,
                  sender: str) -> dict[str, Any]:
    context: dict[str, Any] = {
        "kind": data.kind, "kind_label": kinds.label(data.kind), "secure": secure,
        "now": now, "sender": sender, "recipient": {"name": data.recipient.name},
        "link": links.of(data),
    }
    if data.task is not None:
        context["task"] = _task(data.task, now)
    if data.kind == kinds.DAILY_DIGEST:
        context["items"] = [_item(item, secure, links, now) for item in data.items]
        context["count"] = len(data.items)
    if data.failed is not None:
        context["failed"] = _failed(data.failed, links)
    if data.kind == kinds.SIGN_IN_LINK:
        context["minutes"] = int(data.payload.get("minutes", 15))
    if secure:
        context["clinical"] = _clinical(data)
    return context


def _task(task: TaskView, now: datetime) -> dict[str, Any]:
    # calendar days on the territory's dates: a task due today is not "0 days late" tonight
    return {"id": task.id, "due_at": task.due_at, "overdue": now > task.due_at,
            "days_overdue": days_overdue(task.due_at, now),
            "assignee_name": task.assignee_name or "",
            "unassigned_role": task.unassigned_role}


def _item(item: MessageData, secure: bool, links: Links, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": item.kind, "kind_label": kinds.label(item.kind),
                             "link": links.of(item),
                             "due_at": item.task.due_at if item.task else None}
    if secure:
        entry["clinical"] = _clinical(item)
    return entry


def _failed(failed: FailedView, links: Links) -> dict[str, Any]:
    return {"row_id": failed.row_id, "kind_label": kinds.label(failed.kind),
            "attempts": failed.attempts, "recipient_name": failed.recipient_name,
            "channel": failed.channel or "aucun", "link": links.outbox(failed.row_id),
            "task_link": links.task(failed.task_id) if failed.task_id else ""}


def _clinical(data: MessageData) -> dict[str, Any]:
    task = data.task
    return {
        "patient": _patient(data.patient),
        "task_title": task.title if task else "",
        "task_description": (task.description or "") if task else "",
        "role_title": (task.role_title if task else data.role_title) or "",
        "pathway_title": (task.pathway_title if task else data.pathway_title) or "",
        "message": str(data.payload.get("message", "")),
        "reason": reason_fr(str(data.payload.get("reason", ""))),
        "error": data.failed.error if data.failed else "",
    }


def _patient(patient: PatientView | None) -> dict[str, Any]:
    if patient is None:
        return {"name": "", "birth_date": None, "born": "", "display": "", "known": False}
    civility = {"F": "Mme ", "M": "M. "}.get(patient.sex, "")
    name = f"{civility}{patient.given_names} {patient.family_name.upper()}"
    born = "née" if patient.sex == "F" else "né"
    return {"name": name, "birth_date": patient.birth_date, "born": born, "known": True,
            "display": f"{name}, {born} le {short_date_fr(patient.birth_date)}"}


def reason_fr(reason: str) -> str:
    """The engine's cancellation reasons, in French."""
    if reason == "case closed":
        return "le dossier a été clos"
    left = re.fullmatch(r"left state '(.+)'", reason)
    if left:
        return f"le parcours a quitté l'étape « {left.group(1)} »"
    return reason
