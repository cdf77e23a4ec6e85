"""The coordinator's work queue (« À traiter »): what is stuck, and the fixes for it.

Reads (one query each, bounded): overdue tasks with their assignee's name, tasks whose role
nobody holds in the patient's care team, declined tasks, refused inbound events, messages
that could not be delivered, open cases whose timers failed (their newest history line is
``advance_failed``, found through a partial index: migration 0009).

Fixes, each inside the caller's transaction with one history line (``case_event``) on the
case concerned (or, for an inbound event without a case, the reason kept on the inbox row):

- ``fill_vacant_role``: the professional joins the care team in that role (``careteam``) and
  every open task of the patient waiting for that role becomes theirs; each is told.
- ``correct_and_apply``: the refused event is applied again at once, its value corrected
  (the received value is kept in the payload); refused again, nothing is written.
- ``discard_inbound``: the row is set aside (``discarded``) with who, when and why.
- ``fix_address_and_resend``: the recipient's address for the message's channel is
  corrected and the message goes back to ``pending`` for the next dispatch.
- ``retry_timers``: the case is due again now (the caller advances it at once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from engine import outbox
from engine.store.batch import COORDINATOR
from engine.store.bulk import insert_rows
from engine.store.careteam import ROLES, set_member
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import (
    EVENT_TABLE,
    INBOX_TABLE,
    OPEN_TASK_STATUSES,
    OUTBOX_TABLE,
    PROFESSIONAL_TABLE,
    CaseEvent,
    CaseRow,
    InboxRow,
    OutboxRow,
    Patient,
    Professional,
    TaskRow,
    task_is_open,
)
from engine.store.task_actions import _tell, required_reason

if TYPE_CHECKING:
    from engine.store.service import CaseService

#: History (``case_event.kind``) written by the queue's fixes.
ROLE_FILLED, INBOUND_CORRECTED, INBOUND_DISCARDED = ("care_team_role_filled",
                                                     "inbound_corrected", "inbound_discarded")
MESSAGE_RESENT, TIMERS_RETRIED = "message_resent", "timers_retried"
ADVANCE_FAILED = "advance_failed"
#: Inbox and outbox statuses read and written here.
FAILED, PENDING, DISCARDED, DEAD = "failed", "pending", "discarded", "dead"
#: rows of each list on the page (the most urgent first; the CSV has them all)
LIMIT = 100
#: rows of a CSV download of a list (the page shows ``LIMIT``)
CSV_LIMIT = 100_000


@dataclass(frozen=True)
class QueueTask:
    task_id: int
    title: str
    role: str
    due_at: datetime
    status: str
    case_id: int
    pathway_key: str
    patient_id: int
    patient_name: str
    assignee_id: int | None
    assignee_name: str
    declined_by_name: str = ""
    decline_reason: str = ""


@dataclass(frozen=True)
class FailedTimers:
    case_id: int
    pathway_key: str
    patient_id: int
    patient_name: str
    at: datetime
    error: str


def _name(given: str | None, family: str | None) -> str:
    return f"{given} {family.upper()}" if family else ""


def _tasks(session: Session, *where: Any, limit: int = LIMIT) -> list[QueueTask]:
    """Open tasks matching ``where`` (conditions on the task only), oldest due date first.

    The ``limit`` ids are chosen on the task table alone, then joined to their case, patient
    and professionals: joining first makes PostgreSQL join every matching task (10 000
    overdue ones: 190 ms) to keep a hundred.
    """
    order = (col(TaskRow.due_at), col(TaskRow.id))
    chosen = (select(col(TaskRow.id).label("task_id"))
              .where(task_is_open(), *where)
              .order_by(*order).limit(limit).subquery())
    # aliased SQLModel classes are typed as the class itself: Any keeps mypy out of it
    assignee: Any = aliased(Professional)
    decliner: Any = aliased(Professional)
    query = (select(TaskRow, col(CaseRow.pathway_key), col(CaseRow.patient_id),
                    col(Patient.given_names), col(Patient.family_name),
                    assignee.given_names, assignee.family_name,
                    decliner.given_names, decliner.family_name)
             .join(chosen, chosen.c.task_id == col(TaskRow.id))
             .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
             .join(Patient, col(Patient.id) == col(CaseRow.patient_id))
             .outerjoin(assignee, assignee.id == col(TaskRow.assignee_id))
             .outerjoin(decliner, decliner.id == col(TaskRow.declined_by))
             .order_by(*order))
    return [QueueTask(t.id or 0, t.title, t.role, t.due_at, t.status, t.case_id, key, pid,
                      _name(pg, pf), t.assignee_id, _name(ag, af), _name(dg, df),
                      t.decline_reason or "")
            for t, key, pid, pg, pf, ag, af, dg, df in session.execute(query)]


def overdue_tasks(session: Session, now: datetime, limit: int = LIMIT) -> list[QueueTask]:
    """The most overdue open tasks (``LIMIT`` of them), oldest due date first: read through
    the ``(status, due_at)`` index, so a territory with 100 000 late tasks still answers
    fast; ``overdue_counts`` gives every professional's total."""
    return _tasks(session, col(TaskRow.due_at) < now, limit=limit)


def overdue_counts(session: Session, now: datetime) -> list[tuple[int | None, str, int]]:
    """(professional id, name, overdue open tasks) for every assignee, by name."""
    counts = (select(col(TaskRow.assignee_id).label("who"), func.count().label("n"))
              .where(task_is_open(), col(TaskRow.due_at) < now)
              .group_by(col(TaskRow.assignee_id)).subquery())
    rows = session.execute(
        select(counts.c.who, col(Professional.given_names), col(Professional.family_name),
               counts.c.n)
        .outerjoin(Professional, col(Professional.id) == counts.c.who)
        .order_by(col(Professional.family_name), col(Professional.given_names)))
    return [(who, _name(g, f) or "Personne", n) for who, g, f, n in rows]


def by_professional(tasks: list[QueueTask]) -> list[tuple[str, list[QueueTask]]]:
    """Tasks grouped by their assignee's name, names in alphabetical order of family name."""
    groups: dict[tuple[str, str], list[QueueTask]] = {}
    for task in tasks:
        name = task.assignee_name or "Personne"
        family = name.split(" ")[-1] if task.assignee_name else "~"
        groups.setdefault((family, name), []).append(task)
    return [(name, items) for (_, name), items in sorted(groups.items())]


def vacant_role_tasks(session: Session, limit: int = LIMIT) -> list[QueueTask]:
    return _tasks(session, col(TaskRow.unassigned_role), limit=limit)


def declined_tasks(session: Session, limit: int = LIMIT) -> list[QueueTask]:
    return _tasks(session, col(TaskRow.status) == "declined", limit=limit)


def refused_events(session: Session, limit: int = LIMIT) -> list[InboxRow]:
    return list(session.scalars(select(InboxRow).where(col(InboxRow.status) == FAILED)
                                .order_by(col(InboxRow.id)).limit(limit)))


def undelivered(session: Session, limit: int = LIMIT
                ) -> list[tuple[OutboxRow, Professional | None]]:
    rows = session.execute(
        select(OutboxRow, Professional)
        .outerjoin(Professional, col(Professional.id) == col(OutboxRow.recipient_id))
        .where(col(OutboxRow.status) == DEAD).order_by(col(OutboxRow.id)).limit(limit)).all()
    return [(row, pro) for row, pro in rows]


def failed_timers(session: Session, limit: int = LIMIT) -> list[FailedTimers]:
    """Open cases whose newest history line is a failed advance (partial index)."""
    newer: Any = aliased(CaseEvent)
    failed = CaseEvent
    query = (select(col(failed.case_id), col(failed.at), col(failed.data),
                    col(CaseRow.pathway_key), col(CaseRow.patient_id),
                    col(Patient.given_names), col(Patient.family_name))
             .join(CaseRow, col(CaseRow.id) == col(failed.case_id))
             .join(Patient, col(Patient.id) == col(CaseRow.patient_id))
             # a literal, not a bound value: the partial index's predicate must match it
             .where(col(failed.kind) == literal_column(f"'{ADVANCE_FAILED}'"),
                    col(CaseRow.closed_at).is_(None),
                    ~select(newer.id).where(newer.case_id == col(failed.case_id),
                                            newer.id > col(failed.id)).exists())
             .order_by(col(failed.at)).limit(limit))
    return [FailedTimers(cid, key, pid, _name(g, f), at, str((data or {}).get("error", "")))
            for cid, at, data, key, pid, g, f in session.execute(query)]


def counts(session: Session, now: datetime, overdue: int | None = None,
           timers: int | None = None) -> dict[str, int]:
    """How many of each kind of problem (the dashboard's and the menu's badge).

    ``overdue`` and ``timers``, when the caller has already counted them (the queue page
    sums ``overdue_counts`` and has the failed timers' list when it is shorter than
    ``LIMIT``), are not counted again."""
    open_ = task_is_open()
    # one count per index (``ix_task_open_due``, ``ix_task_vacant``, ``ix_task_status_due``)
    # rather than one pass over every open task
    if overdue is None:
        overdue = session.scalar(select(func.count()).where(open_, col(TaskRow.due_at) < now))
    vacant = session.scalar(select(func.count()).where(open_, col(TaskRow.unassigned_role)))
    declined = session.scalar(select(func.count()).where(col(TaskRow.status) == "declined"))
    refused = session.scalar(select(func.count()).where(col(InboxRow.status) == FAILED))
    dead = session.scalar(select(func.count()).where(col(OutboxRow.status) == DEAD))
    return {"overdue": overdue or 0, "vacant": vacant or 0, "declined": declined or 0,
            "refused": refused or 0, "undelivered": dead or 0,
            "timers": len(failed_timers(session, CSV_LIMIT)) if timers is None else timers}


# -- fixes ------------------------------------------------------------------------------------


def _history(session: Session, case_id: int, kind: str, by: int, now: datetime,
             data: dict[str, Any]) -> None:
    insert_rows(session, EVENT_TABLE, [{
        "case_id": case_id, "at": now, "recorded_at": now, "actor_kind": "coordinator",
        "actor_id": by, "kind": kind, "from_state": None, "to_state": None, "data": data}])


def _active(session: Session, professional_id: int) -> Professional:
    pro = session.get(Professional, professional_id)
    if pro is None:
        raise NotFoundError("professional", professional_id)
    if not pro.active:
        raise InputError(f"{pro.given_names} {pro.family_name} est inactif(ve) ; choisissez un "
                         "professionnel actif")
    return pro


def fill_vacant_role(session: Session, task_id: int, professional_id: int, by: int,
                     today: date, now: datetime) -> list[int]:
    """The professional takes the task's role in the patient's care team; the patient's open
    tasks waiting for that role become theirs. Returns the ids of those tasks."""
    task = session.get(TaskRow, task_id)
    if task is None:
        raise NotFoundError("task", task_id)
    if task.status not in OPEN_TASK_STATUSES or not task.unassigned_role:
        raise InputError(f"la tâche {task_id} n'attend plus de professionnel pour son rôle : "
                         "rien à faire")
    if task.role not in ROLES or task.role == COORDINATOR:
        raise InputError(f"le rôle {task.role!r} ne peut pas être confié dans l'équipe de soins")
    pro = _active(session, professional_id)
    case = session.get(CaseRow, task.case_id)
    assert case is not None  # foreign key
    set_member(session, str(case.patient_id), task.role, pro.rpps, today)
    waiting = list(session.scalars(
        select(TaskRow).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(CaseRow.patient_id) == case.patient_id, col(TaskRow.role) == task.role,
               col(TaskRow.unassigned_role), task_is_open())
        .order_by(col(TaskRow.id)).with_for_update()))
    for waiting_task in waiting:
        waiting_task.assignee_id, waiting_task.unassigned_role = pro.id, False
        waiting_task.status, waiting_task.accepted_at = "requested", None
        _history(session, waiting_task.case_id, ROLE_FILLED, by, now, {
            "task_id": waiting_task.id, "ref": waiting_task.ref, "key": waiting_task.key,
            "role": task.role, "assignee_id": pro.id})
        _tell(session, outbox.TASK_ASSIGNED, f"task:{waiting_task.id}:assigned:{pro.id}:"
                                             f"{now.isoformat()}", waiting_task, pro.id or 0, now,
              {"unassigned_role": False, "reassigned_by": by})
    session.flush()
    return [t.id or 0 for t in waiting]


def failed_row(session: Session, row_id: int) -> InboxRow:
    row = session.scalars(select(InboxRow).where(col(InboxRow.id) == row_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFoundError("inbound event", row_id)
    if row.status != FAILED:
        raise InputError(f"l'événement entrant {row_id} n'est plus refusé : rien à faire")
    return row


def discard_inbound(session: Session, row_id: int, reason: str, by: int,
                    now: datetime) -> None:
    reason = required_reason(reason, "motif", "obligatoire pour écarter un événement (par "
                             "exemple « doublon saisi à la main »)")
    row = failed_row(session, row_id)
    session.execute(update(INBOX_TABLE).where(INBOX_TABLE.c.id == row_id).values(
        status=DISCARDED, processed_at=now,
        error=f"écarté par la coordination (professionnel {by}) : {reason} "
              f"— refus d'origine : {row.error or ''}"[:2000]))
    if row.case_id is not None:
        _history(session, row.case_id, INBOUND_DISCARDED, by, now,
                 {"inbox_id": row_id, "reason": reason})


#: the professional's columns holding an address (the web maps each channel to one)
EMAIL_COLUMN: str = PROFESSIONAL_TABLE.c.email.key
MSSANTE_COLUMN: str = PROFESSIONAL_TABLE.c.mssante.key
PHONE_COLUMN: str = PROFESSIONAL_TABLE.c.phone.key
ADDRESS_COLUMNS = (EMAIL_COLUMN, MSSANTE_COLUMN, PHONE_COLUMN)


def fix_address_and_resend(session: Session, row_id: int, column: str, address: str,
                           by: int, now: datetime) -> OutboxRow:
    """Correct the recipient's address in ``column`` (unchanged when ``address`` is empty)
    and put the undelivered message back in the queue for the next dispatch."""
    if column not in ADDRESS_COLUMNS:
        raise ValueError(f"not an address column: {column!r}")
    row = session.scalars(select(OutboxRow).where(col(OutboxRow.id) == row_id)
                          .with_for_update()).first()
    if row is None:
        raise NotFoundError("message", row_id)
    if row.status != DEAD:
        raise InputError(f"le message {row_id} n'est pas en échec : rien à renvoyer")
    if row.recipient_id is None:
        raise InputError("ce message n'a pas de destinataire : attribuez d'abord la tâche")
    pro = _active(session, row.recipient_id)
    address = address.strip()
    if address:
        _check_address(column, address)
        setattr(pro, column, address)
    session.execute(update(OUTBOX_TABLE).where(OUTBOX_TABLE.c.id == row_id).values(
        status=PENDING, attempts=0, next_attempt_at=now, last_error=None))
    if row.case_id is not None:
        _history(session, row.case_id, MESSAGE_RESENT, by, now,
                 {"outbox_id": row_id, "address_changed": bool(address)})
    session.flush()
    session.refresh(row)
    return row


def _check_address(column: str, address: str) -> None:
    if column == PHONE_COLUMN:
        digits = address.replace(" ", "").replace(".", "")
        if not (digits.startswith(("0", "+33")) and digits.lstrip("+").isdigit()
                and 10 <= len(digits) <= 12):
            raise InputError("numéro de téléphone : 10 chiffres (06 12 34 56 78) ou +33…")
        return
    local, _, domain = address.partition("@")
    if not local or "." not in domain or " " in address or len(address) > 254:
        raise InputError("adresse : une adresse de messagerie complète, par exemple "
                         "prenom.nom@exemple.fr")
    if column == MSSANTE_COLUMN and not domain.endswith("mssante.fr"):
        raise InputError("adresse MSSanté : elle se termine par mssante.fr")


def retry_timers(session: Session, case_id: int, by: int, now: datetime) -> None:
    case = session.get(CaseRow, case_id)
    if case is None:
        raise NotFoundError("case", case_id)
    if case.closed_at is not None:
        raise InputError(f"le dossier {case_id} est clos : rien à relancer")
    case.next_due_at = now
    _history(session, case_id, TIMERS_RETRIED, by, now, {})
    session.flush()




def correct_and_apply(service: CaseService, row_id: int, value: str | None,
                      unit: str | None, by: int, now: datetime) -> str:
    """Apply a refused inbound event again, its observation value (and unit) corrected if
    given; the French outcome. Refused again → InputError and nothing written (the case
    service rolls its transaction back; the row stays refused with its first error).

    Applied → the row is recorded ``applied`` (or ``duplicate``), the corrected payload
    kept with the value as received, and a history line on each case it moved.
    """
    from engine.store.db import transaction
    from engine.store.inbox import apply_row

    with transaction(service.engine) as session:
        row = failed_row(session, row_id)
        session.expunge(row)
    payload = dict(row.payload)
    if value is not None:
        if "value" not in payload:
            raise InputError("seule la valeur d'une observation peut être corrigée ; pour un "
                             "autre événement, réessayez-le tel quel ou écartez-le")
        value = value.strip()
        if not value:
            raise InputError("valeur corrigée : obligatoire (par exemple 7,8)")
        payload.setdefault("received", {"value": payload.get("value"),
                                        "unit": payload.get("unit")})
        payload["value"] = value.replace(",", ".") if _number(value) else value
        if unit is not None:
            payload["unit"] = unit.strip() or None
        payload["corrected_by"] = by
    row.payload = payload
    try:
        applied = apply_row(service, row, now)
    except (InputError, NotFoundError) as exc:
        raise InputError(f"événement entrant {row_id} refusé à nouveau : {exc}") from exc
    with transaction(service.engine) as session:
        session.execute(update(INBOX_TABLE).where(INBOX_TABLE.c.id == row_id).values(
            payload=payload, status="duplicate" if applied.duplicate else "applied",
            error=None, processed_at=now, attempts=INBOX_TABLE.c.attempts + 1))
        for case_id in applied.case_ids:
            _history(session, case_id, INBOUND_CORRECTED, by, now,
                     {"inbox_id": row_id, "corrected": value is not None})
    return applied.message


def _number(text: str) -> bool:
    return re.fullmatch(r"-?\d+(,\d+)?", text.strip()) is not None
