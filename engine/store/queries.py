"""Read-only views for coordinators: tasks, one case in full, pathway versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.clock import days_overdue
from engine.store.db import is_id
from engine.store.exceptions import NotFoundError
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CaseEvent,
    CaseRow,
    PathwayVersion,
    Patient,
    Professional,
    TaskRow,
    TimerRow,
)


def task_view(task: TaskRow, now: datetime | None = None) -> dict[str, Any]:
    return {"id": task.id, "case_id": task.case_id, "ref": task.ref, "key": task.key,
            "title": task.title, "role": task.role, "assignee_id": task.assignee_id,
            "unassigned_role": task.unassigned_role, "status": task.status,
            "created_at": task.created_at, "due_at": task.due_at,
            "overdue": bool(now and task.status in OPEN_TASK_STATUSES and task.due_at < now),
            "days_overdue": days_overdue(task.due_at, now)
            if now and task.status in OPEN_TASK_STATUSES else 0,
            "expected_result": task.expected_result, "result": task.result,
            "closed_at": task.closed_at, "close_reason": task.close_reason}


def _task_query(now: datetime, assignee: int | None, role: str | None, case_id: int | None,
                status: str | None, overdue: bool) -> Any:
    query = select(TaskRow)
    if assignee is not None:
        query = query.where(col(TaskRow.assignee_id) == assignee)
    if role:
        query = query.where(col(TaskRow.role) == role)
    if case_id is not None:
        if not is_id(case_id):  # beyond the id column: an unknown case has no task
            return query.where(false())
        query = query.where(col(TaskRow.case_id) == case_id)
    if status == "open" or (status is None and overdue):
        query = query.where(col(TaskRow.status).in_(OPEN_TASK_STATUSES))
    elif status:
        query = query.where(col(TaskRow.status) == status)
    if overdue:
        query = query.where(col(TaskRow.due_at) < now)
    return query


def list_tasks(session: Session, now: datetime, *, assignee: int | None = None,
               role: str | None = None, case_id: int | None = None,
               status: str | None = None, overdue: bool = False,
               limit: int = 500, offset: int = 0) -> list[dict[str, Any]]:
    query = _task_query(now, assignee, role, case_id, status, overdue)
    query = query.order_by(col(TaskRow.due_at), col(TaskRow.id)).offset(offset).limit(limit)
    return [task_view(t, now) for t in session.scalars(query)]


def count_tasks(session: Session, now: datetime, *, assignee: int | None = None,
                role: str | None = None, case_id: int | None = None,
                status: str | None = None, overdue: bool = False) -> int:
    """How many tasks ``list_tasks`` would list without a limit."""
    query = _task_query(now, assignee, role, case_id, status, overdue)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def professional_id(session: Session, ref: str) -> int:
    found = session.scalar(select(col(Professional.id)).where(col(Professional.rpps) == ref))
    if found is None and ref.isdigit() and len(ref) < 11:
        found = session.scalar(select(col(Professional.id)).where(col(Professional.id) == int(ref)))
    if found is None:
        raise NotFoundError("professional", ref, " ; donnez le RPPS ou l'identifiant interne")
    return found


def show_case(session: Session, case_id: int, now: datetime) -> dict[str, Any]:
    row = session.get(CaseRow, case_id) if is_id(case_id) else None
    if row is None:
        raise NotFoundError("case", case_id)
    version = session.get(PathwayVersion, row.pathway_version_id)
    patient = session.get(Patient, row.patient_id)
    tasks = session.scalars(select(TaskRow).where(col(TaskRow.case_id) == case_id)
                            .order_by(col(TaskRow.id))).all()
    timers = session.scalars(select(TimerRow).where(col(TimerRow.case_id) == case_id)
                             .order_by(col(TimerRow.fire_at))).all()
    history = session.scalars(select(CaseEvent).where(col(CaseEvent.case_id) == case_id)
                              .order_by(col(CaseEvent.id))).all()
    return {
        "id": row.id, "patient_id": row.patient_id,
        "patient": {"ins": patient.ins, "local_id": patient.local_id} if patient else None,
        "pathway": row.pathway_key, "version": version.version if version else None,
        "states": row.active_states, "facts": row.facts, "opened_at": row.opened_at,
        "closed_at": row.closed_at, "close_reason": row.close_reason,
        "next_due_at": row.next_due_at, "row_version": row.row_version,
        "open_tasks": [task_view(t, now) for t in tasks if t.status in OPEN_TASK_STATUSES],
        "closed_tasks": [task_view(t, now) for t in tasks if t.status not in OPEN_TASK_STATUSES],
        "timers": [{"name": t.name, "state": t.state, "fire_at": t.fire_at, "every": t.every}
                   for t in timers],
        "history": [{"id": e.id, "at": e.at, "recorded_at": e.recorded_at, "kind": e.kind,
                     "actor": e.actor_kind, "actor_id": e.actor_id, "from": e.from_state,
                     "to": e.to_state, "data": e.data} for e in history],
    }


def list_pathways(session: Session) -> list[dict[str, Any]]:
    query = select(col(CaseRow.pathway_version_id), func.count()).where(
        col(CaseRow.closed_at).is_(None)).group_by(col(CaseRow.pathway_version_id))
    counts: dict[int, int] = {k: v for k, v in session.execute(query).all()}
    return [{"key": v.key, "version": v.version, "declared_version": v.declared_version,
             "title": v.title, "published_at": v.published_at,
             "content_hash": v.content_hash[:12], "open_cases": counts.get(v.id or 0, 0)}
            for v in session.scalars(select(PathwayVersion).order_by(
                col(PathwayVersion.key), col(PathwayVersion.version)))]
