"""« À traiter », the coordinator's work queue: every problem next to its fix.

Each action is a POST with the session's CSRF token; bad input re-displays the queue with a
French message and writes nothing; a done action redirects back (303) to the queue with a
French confirmation built from ids in the address (``?fait=…&id=…``), never from names.
The queries and the fixes are ``engine.store.queue``'s, one transaction each.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from engine import events
from engine.store import queue, worklist
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from engine.store.service import AdvanceReport
from engine.store.tables import Professional, TaskRow
from notifications import kinds
from notifications.channels import registry
from web.auth.guard import coordinator
from web.auth.sessions import check_csrf
from web.context import context_of
from web.csv_export import Cell, csv_response
from web.exceptions import NotVisible
from web.pages import days_late, render
from web.views import STATUS_FR

router = APIRouter()
PAGE = "/coordination/a-traiter"
#: the professional's column where each channel's address is kept
ADDRESS_OF = {registry.EMAIL: queue.EMAIL_COLUMN, registry.MSSANTE: queue.MSSANTE_COLUMN,
              registry.SMS: queue.PHONE_COLUMN}


def address_column(channel: str | None) -> str:
    return ADDRESS_OF.get(channel or registry.EMAIL, queue.EMAIL_COLUMN)
_CLASS_PREFIX = re.compile(r"^[A-Za-z_.]*(Error|Exception)\s*:\s*")
#: inbox kinds as the coordinator reads them
INBOX_KIND_FR = {events.OBSERVATION: "résultat d'observation",
                 events.ADMISSION: "entrée à l'hôpital",
                 events.DISCHARGE: "sortie d'hospitalisation",
                 events.ADMISSION_CANCELLED: "annulation d'admission",
                 events.DISCHARGE_CANCELLED: "annulation de sortie",
                 events.TASK_COMPLETED: "tâche terminée",
                 events.PATHWAY_EVENT: "événement de parcours",
                 events.MESSAGE: "message d'interface"}
DONE = {
    "role": "Tâche {id} : {who} rejoint l'équipe de soins ; ses tâches en attente de ce "
            "rôle lui sont confiées et il ou elle est prévenu(e).",
    "reattribuee": "Tâche {id} réattribuée à {who}, qui est prévenu(e).",
    "appliquee": "Événement entrant {id} corrigé et appliqué : le dossier a avancé.",
    "ecarte": "Événement entrant {id} écarté ; le motif est gardé.",
    "renvoye": "Message {id} remis en file : il part au prochain envoi.",
    "relance": "Dossier {id} : échéances relancées avec succès.",
}


def error_fr(error: str | None) -> str:
    """A stored error without the exception class name the drain prefixes it with."""
    return _CLASS_PREFIX.sub("", error or "")


def _page(request: Request, status: int = 200, error: str = "") -> Response:
    ctx = context_of(request)
    now, today = ctx.now(), ctx.today()
    with transaction(ctx.engine) as db:
        overdue = queue.overdue_tasks(db, now)
        per_professional = queue.overdue_counts(db, now)
        timers = queue.failed_timers(db)
        values = {
            "groups": queue.by_professional(overdue), "overdue_total": per_professional,
            "limit": queue.LIMIT,
            "late": {t.task_id: days_late(t.due_at, today, ctx.zone) for t in overdue},
            "vacant": queue.vacant_role_tasks(db), "declined": queue.declined_tasks(db),
            "refused": queue.refused_events(db), "undelivered": queue.undelivered(db),
            "timers": timers, "professionals": worklist.professionals(db),
            "titles": worklist.pathway_titles(db)}
        # the overdue total is the sum of every professional's; the failed timers are
        # counted again only when the list was cut at LIMIT
        values["totals"] = queue.counts(
            db, now, overdue=sum(n for _, _, n in per_professional),
            timers=len(timers) if len(timers) < queue.LIMIT else None)
        done = request.query_params.get("fait", "")
        ident = request.query_params.get("id", "")
        outcome = ""
        if done in DONE and ident.isdigit():
            who = _assignee(db, ident) if done in ("role", "reattribuee") else ""
            outcome = DONE[done].format(id=ident, who=who)
    return render(request, "coord_queue.html", status=status, error=error, outcome=outcome,
                  kind_fr=INBOX_KIND_FR, error_fr=error_fr, status_fr=STATUS_FR,
                  label=kinds.label, address_column=address_column,
                  phone_column=queue.PHONE_COLUMN, mssante_column=queue.MSSANTE_COLUMN,
                  **values)


@router.get(PAGE)
def queue_page(request: Request) -> Response:
    coordinator(request)
    return _page(request)


async def _form(request: Request) -> tuple[FormData, int]:
    form = await request.form()
    raw = form.get("csrf")
    check_csrf(request, raw if isinstance(raw, str) else None)
    return form, coordinator(request).id


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _professional(form: FormData) -> int:
    raw = _text(form, "professionnel")
    if not raw.isdigit():
        raise InputError("Professionnel : choisissez un professionnel dans la liste.")
    return int(raw)


def _act(request: Request, what: str, ident: int, action: Callable[[], Any],
         missing: str) -> Response:
    """Run a fix; its own thing unknown → 404; bad input → the queue with the message."""
    try:
        action()
    except NotFoundError as exc:
        if exc.what == missing:
            raise NotVisible() from exc
        return _page(request, status=400, error=_sentence(str(exc)))
    except InputError as exc:
        return _page(request, status=400, error=_sentence(str(exc)))
    return RedirectResponse(f"{PAGE}?fait={what}&id={ident}#resultat", status_code=303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


@router.post(PAGE + "/taches/{task_id}/role")
async def fill_role(request: Request, task_id: int) -> Response:
    form, by = await _form(request)
    ctx = context_of(request)

    def action() -> None:
        pro = _professional(form)
        with transaction(ctx.engine) as db:
            queue.fill_vacant_role(db, task_id, pro, by, ctx.today(), ctx.now())
    return _act(request, "role", task_id, action, "task")


@router.post(PAGE + "/taches/{task_id}/reattribuer")
async def reassign(request: Request, task_id: int) -> Response:
    form, by = await _form(request)
    ctx = context_of(request)

    def action() -> None:
        ctx.service.reassign_task(task_id, _professional(form), by, ctx.now())
    return _act(request, "reattribuee", task_id, action, "task")


@router.post(PAGE + "/evenements/{row_id}/corriger")
async def correct(request: Request, row_id: int) -> Response:
    form, by = await _form(request)
    ctx = context_of(request)
    value, unit = form.get("valeur"), form.get("unite")

    def action() -> None:
        queue.correct_and_apply(ctx.service, row_id, value if isinstance(value, str) else None,
                                unit if isinstance(unit, str) else None, by, ctx.now())
    return _act(request, "appliquee", row_id, action, "inbound event")


@router.post(PAGE + "/evenements/{row_id}/ecarter")
async def discard(request: Request, row_id: int) -> Response:
    form, by = await _form(request)
    ctx = context_of(request)

    def action() -> None:
        with transaction(ctx.engine) as db:
            queue.discard_inbound(db, row_id, _text(form, "motif"), by, ctx.now())
    return _act(request, "ecarte", row_id, action, "inbound event")


@router.post(PAGE + "/messages/{row_id}/renvoyer")
async def resend(request: Request, row_id: int) -> Response:
    form, by = await _form(request)
    ctx = context_of(request)

    def action() -> None:
        with transaction(ctx.engine) as db:
            row = worklist.outbox_row(db, row_id)
            if row is None:
                raise NotFoundError("message", row_id)
            queue.fix_address_and_resend(db, row_id, address_column(row.channel),
                                         _text(form, "adresse"), by, ctx.now())
    return _act(request, "renvoye", row_id, action, "message")


@router.post(PAGE + "/dossiers/{case_id}/relancer")
async def retry_timers(request: Request, case_id: int) -> Response:
    _, by = await _form(request)
    ctx = context_of(request)

    def action() -> None:
        with transaction(ctx.engine) as db:
            queue.retry_timers(db, case_id, by, ctx.now())
        report = AdvanceReport()
        ctx.service.advance_batch(ctx.now(), 1, report, case_ids=[case_id])
        if case_id in report.failures:
            raise InputError(f"Dossier {case_id} : les échéances échouent encore "
                             f"({report.failures[case_id]}) ; corrigez le parcours ou le "
                             "dossier, puis relancez")
    return _act(request, "relance", case_id, action, "case")


# -- CSV of each list ------------------------------------------------------------------------

TASK_HEADERS = ["Tâche", "N° tâche", "Rôle", "Échéance", "Statut", "Patient", "N° patient",
                "Parcours", "N° dossier", "Confiée à"]


def _task_rows(tasks: list[queue.QueueTask]) -> list[list[Cell]]:
    return [[t.title, t.task_id, t.role, t.due_at, STATUS_FR.get(t.status, t.status),
             t.patient_name, t.patient_id, t.pathway_key, t.case_id, t.assignee_name]
            for t in tasks]


@router.get(PAGE + "/{liste}.csv")
def queue_csv(request: Request, liste: str) -> Response:
    coordinator(request)
    ctx = context_of(request)
    headers: list[str]
    with transaction(ctx.engine) as db:
        if liste in ("retards", "roles-vacants", "refusees"):
            tasks = {"retards": lambda: queue.overdue_tasks(db, ctx.now(), queue.CSV_LIMIT),
                     "roles-vacants": lambda: queue.vacant_role_tasks(db, queue.CSV_LIMIT),
                     "refusees": lambda: queue.declined_tasks(db, queue.CSV_LIMIT)}[liste]()
            headers, rows = TASK_HEADERS, _task_rows(tasks)
            if liste == "refusees":
                headers = [*headers, "Refusée par", "Motif"]
                rows = [[*r, t.declined_by_name, t.decline_reason]
                        for r, t in zip(rows, tasks, strict=True)]
        elif liste == "evenements":
            headers = ["N° événement", "Type", "Reçu le", "Date de l'événement", "Source",
                       "Erreur"]
            rows = [[r.id, INBOX_KIND_FR.get(r.kind, r.kind), r.received_at, r.effective_at,
                     r.source, error_fr(r.error)]
                    for r in queue.refused_events(db, queue.CSV_LIMIT)]
        elif liste == "messages":
            headers = ["N° message", "Type", "Destinataire", "Canal", "Tentatives",
                       "Dernière erreur"]
            rows = [[m.id, kinds.label(m.kind), _pro_name(p), m.channel, m.attempts,
                     m.last_error] for m, p in queue.undelivered(db, queue.CSV_LIMIT)]
        elif liste == "minuteries":
            headers = ["N° dossier", "Parcours", "Patient", "N° patient", "Échec le", "Erreur"]
            rows = [[f.case_id, f.pathway_key, f.patient_name, f.patient_id, f.at, f.error]
                    for f in queue.failed_timers(db, queue.CSV_LIMIT)]
        else:
            raise NotVisible()
    return csv_response(f"a-traiter-{liste}", headers, rows, zone=ctx.zone, day=ctx.today())


def _assignee(db: Session, task_id: str) -> str:
    """The name of the task's assignee (the confirmation after giving or reassigning it)."""
    task = db.get(TaskRow, int(task_id)) if len(task_id) < 10 else None
    pro = db.get(Professional, task.assignee_id) if task and task.assignee_id else None
    return _pro_name(pro) or "le professionnel"


def _pro_name(pro: Professional | None) -> str:
    return f"{pro.given_names} {pro.family_name.upper()}" if pro is not None else ""
