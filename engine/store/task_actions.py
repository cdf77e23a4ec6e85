"""What a professional does to a task besides completing it: take it, decline it; and the
coordinator's answer to a refusal: reassign it.

Each function runs inside the caller's transaction (``CaseService`` gives each its own)
and writes the task, one history row on its case and, where someone must be told, one
outbox row. None of them moves the case: the pathway still waits for the task's result.

- **take** (« Je m'en occupe »): FHIR ``accepted``; the task becomes the professional's.
- **decline**: only by the professional it is assigned to, with a reason. The task stays
  open (status ``declined``) and goes to the CPTS coordinator, who is told.
- **reassign**: by a coordinator, to an active professional; status back to ``requested``
  and the new assignee is told like for any new task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import outbox
from engine.store.batch import COORDINATOR, coordinator_id
from engine.store.bulk import insert_rows
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import (
    EVENT_TABLE,
    OPEN_TASK_STATUSES,
    OUTBOX_TABLE,
    Professional,
    TaskRow,
)

#: Task statuses written here (see ``tables.TASK_STATUSES``).
ACCEPTED, DECLINED, REQUESTED = "accepted", "declined", "requested"
#: History (``case_event.kind``) written here; a refusal is recorded under the same word as
#: its message to the coordinator.
TASK_ACCEPTED, TASK_DECLINED, TASK_REASSIGNED = "task_accepted", outbox.TASK_DECLINED, \
    "task_reassigned"
REASON_MAX = 500


def open_task(session: Session, task_id: int) -> TaskRow:
    """The task, locked for this transaction; InputError if it is closed."""
    task = session.scalars(select(TaskRow).where(col(TaskRow.id) == task_id)
                           .with_for_update()).first()
    if task is None:
        raise NotFoundError("task", task_id)
    if task.status not in OPEN_TASK_STATUSES:
        raise InputError(f"la tâche {task_id} est close ({_status_fr(task.status)}) : "
                         "plus aucune action n'est possible")
    return task


def required_reason(reason: str, label: str, missing: str) -> str:
    """A reason typed by a person: spaces folded, required (``label : missing``), at most
    ``REASON_MAX`` characters."""
    reason = " ".join(reason.split())
    if not reason:
        raise InputError(f"{label} : {missing}")
    if len(reason) > REASON_MAX:
        raise InputError(f"{label} : {len(reason)} caractères ; au plus {REASON_MAX}")
    return reason


def take(session: Session, task_id: int, professional_id: int, now: datetime) -> TaskRow:
    task = open_task(session, task_id)
    if task.status == ACCEPTED and task.assignee_id == professional_id:
        return task
    task.status, task.assignee_id, task.accepted_at = ACCEPTED, professional_id, now
    task.unassigned_role = False
    _history(session, task, TASK_ACCEPTED, professional_id, now, {})
    session.flush()
    return task


def decline(session: Session, task_id: int, professional_id: int, reason: str,
            now: datetime) -> TaskRow:
    reason = required_reason(reason, "motif du refus", "obligatoire (par exemple « patient "
                             "suivi par un autre cabinet »)")
    task = open_task(session, task_id)
    if task.assignee_id != professional_id:
        raise InputError("seul le professionnel à qui la tâche est confiée peut la refuser")
    coordinator = coordinator_id(session)
    if coordinator is None or coordinator == professional_id:
        raise InputError("aucune autre coordination ne peut reprendre cette tâche : "
                         "réattribuez-la directement")
    task.status, task.declined_by, task.declined_at = DECLINED, professional_id, now
    task.decline_reason, task.assignee_id = reason, coordinator
    _history(session, task, TASK_DECLINED, professional_id, now, {"reason": reason})
    _tell(session, outbox.TASK_DECLINED, f"task:{task.id}:declined:{professional_id}:"
                                    f"{now.isoformat()}", task, coordinator, now,
          {"declined_by": professional_id, "reason": reason})
    session.flush()
    return task


def reassign(session: Session, task_id: int, professional_id: int, by: int,
             now: datetime) -> TaskRow:
    coordinator = session.get(Professional, by)
    if coordinator is None or coordinator.profession != COORDINATOR or not coordinator.active:
        raise InputError("seule la coordination peut réattribuer une tâche")
    target = session.get(Professional, professional_id)
    if target is None:
        raise NotFoundError("professional", professional_id)
    if not target.active:
        raise InputError(f"le professionnel {professional_id} est inactif ; choisissez un "
                         "professionnel actif")
    task = open_task(session, task_id)
    task.status, task.assignee_id, task.unassigned_role = REQUESTED, professional_id, False
    task.accepted_at = None
    _history(session, task, TASK_REASSIGNED, by, now, {"assignee_id": professional_id})
    _tell(session, outbox.TASK_ASSIGNED, f"task:{task.id}:assigned:{professional_id}:"
                                    f"{now.isoformat()}", task, professional_id, now,
          {"unassigned_role": False, "reassigned_by": by})
    session.flush()
    return task


def _history(session: Session, task: TaskRow, kind: str, actor: int, now: datetime,
             data: dict[str, Any]) -> None:
    actor_kind = "professional"
    insert_rows(session, EVENT_TABLE, [{
        "case_id": task.case_id, "at": now, "recorded_at": now, "actor_kind": actor_kind,
        "actor_id": actor, "kind": kind, "from_state": task.state, "to_state": None,
        "data": {"ref": task.ref, "key": task.key, "task_id": task.id, **data}}])


def _tell(session: Session, kind: str, key: str, task: TaskRow, recipient: int,
          now: datetime, payload: dict[str, Any]) -> None:
    insert_rows(session, OUTBOX_TABLE, [{
        "idempotency_key": key, "kind": kind, "case_id": task.case_id, "task_id": task.id,
        "recipient_id": recipient, "payload": payload, "status": "pending", "attempts": 0,
        "created_at": now, "next_attempt_at": now, "sent_at": None, "last_error": None}])


_STATUS_FR = {"completed": "terminée", "cancelled": "annulée par le parcours",
              "failed": "en échec"}


def _status_fr(status: str) -> str:
    return _STATUS_FR.get(status, status)
