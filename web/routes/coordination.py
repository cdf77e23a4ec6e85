"""The coordinator's pages: declined tasks to reassign, a message of the outbox (the access
log is in ``coord_exports``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.store import worklist
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from notifications import kinds
from web.auth.guard import coordinator
from web.auth.sessions import check_csrf
from web.context import context_of
from web.exceptions import NotVisible
from web.pages import render
from web.views import professional_name

#: Outbox row statuses, as the coordinator reads them.
STATUS_FR = {"pending": "en attente d'envoi", "sending": "en cours d'envoi", "sent": "envoyé",
             "skipped": "sans objet (tâche close)", "digest": "gardé pour le récapitulatif",
             "digested": "envoyé dans un récapitulatif", "dead": "en échec définitif"}

router = APIRouter()


@router.get("/coordination")
def declined_page(request: Request) -> Response:
    coordinator(request)
    return declined(request)


def declined(request: Request, status: int = 200, outcome: str = "",
             error: str = "") -> Response:
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        tasks = worklist.declined_tasks(db)
        names = {t.declined_by: professional_name(db, t.declined_by) for t in tasks}
        pros = worklist.professionals(db)
    return render(request, "coordination.html", status=status, tasks=tasks, names=names,
                  professionals=pros, outcome=outcome, error=error)


@router.post("/tasks/{task_id}/reattribuer")
async def reassign(request: Request, task_id: int) -> Response:
    form = await request.form()
    raw = form.get("csrf")
    check_csrf(request, raw if isinstance(raw, str) else None)
    who = coordinator(request)
    ctx = context_of(request)
    target = form.get("professionnel")
    if not isinstance(target, str) or not target.isdigit():
        return declined(request, status=400,
                        error="Professionnel : choisissez à qui confier la tâche.")
    try:
        ctx.service.reassign_task(task_id, int(target), who.id, ctx.now())
    except NotFoundError as exc:
        if exc.what == "task":
            raise NotVisible() from exc
        return declined(request, status=400, error=str(exc))
    except InputError as exc:
        return declined(request, status=409, error=str(exc))
    with transaction(ctx.engine) as db:
        name = professional_name(db, int(target))
    return declined(request, outcome=f"Tâche {task_id} confiée à {name}, qui est prévenu(e).")


@router.get("/outbox/{row_id}")
def message(request: Request, row_id: int) -> Response:
    """A message of the outbox (the link of a delivery-failure report): coordinator only."""
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        row = worklist.outbox_row(db, row_id)
        if row is None:
            raise NotVisible()
        recipient = professional_name(db, row.recipient_id)
    return render(request, "outbox.html", row=row, recipient=recipient,
                  label=kinds.label(row.kind), state=STATUS_FR.get(row.status, row.status))
