"""Read models over the whole territory, for the flows, the demo and the dashboards.

Counts and ids only, never a patient's name or value: what Prefect artifacts and the
demo summary may show. "Due" is defined once, in ``claims.due``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.claims import due
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CaseRow,
    InboxRow,
    OutboxRow,
    PathwayVersion,
    Patient,
    TaskRow,
)


@dataclass
class TerritoryCounts:
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)      # (pathway, state)
    closed: Counter[tuple[str, str]] = field(default_factory=Counter)     # (pathway, reason)
    tasks: dict[str, Counter[str]] = field(default_factory=dict)          # role → status → n
    overdue: Counter[str] = field(default_factory=Counter)                # role → n
    escalated: int = 0
    outbox: Counter[tuple[str, str]] = field(default_factory=Counter)     # (kind, status)
    inbox: Counter[str] = field(default_factory=Counter)                  # status → n


def territory_counts(session: Session, now: datetime, open_label: str) -> TerritoryCounts:
    """Cases by pathway and state, tasks by role and status (open ones under ``open_label``),
    overdue tasks by role, outbox rows by kind and status, inbox rows by status."""
    out = TerritoryCounts()
    for key, states, closed, reason in session.execute(
            select(col(CaseRow.pathway_key), col(CaseRow.active_states),
                   col(CaseRow.closed_at), col(CaseRow.close_reason))):
        if closed is not None:
            out.closed[(key, reason or "clos")] += 1
            continue
        out.cases.update((key, state) for state in states or ["?"])
    for role, status, n in session.execute(
            select(col(TaskRow.role), col(TaskRow.status), func.count())
            .group_by(col(TaskRow.role), col(TaskRow.status))):
        bucket = open_label if status in OPEN_TASK_STATUSES else status
        out.tasks.setdefault(role, Counter())[bucket] += n
    for role, n, escalated in session.execute(
            select(col(TaskRow.role), func.count(), func.count(col(TaskRow.escalated_at)))
            .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES), col(TaskRow.due_at) < now)
            .group_by(col(TaskRow.role))):
        out.overdue[role] = n
        out.escalated += escalated
    out.outbox.update({(kind, status): n for kind, status, n in session.execute(
        select(col(OutboxRow.kind), col(OutboxRow.status), func.count())
        .group_by(col(OutboxRow.kind), col(OutboxRow.status)))})
    out.inbox.update({status: n for status, n in session.execute(
        select(col(InboxRow.status), func.count()).group_by(col(InboxRow.status)))})
    return out


def due_pathways(session: Session, now: datetime) -> list[str]:
    """Keys of the pathways that have at least one due case."""
    return sorted(session.scalars(select(col(CaseRow.pathway_key)).distinct().where(due(now))))


def due_case_ids(session: Session, pathway: str, now: datetime, after: int,
                 limit: int) -> list[int]:
    """Ids of the pathway's due cases above ``after``, in id order (a plain read, no lock)."""
    query = (select(col(CaseRow.id)).where(col(CaseRow.pathway_key) == pathway, due(now),
                                           col(CaseRow.id) > after)
             .order_by(col(CaseRow.id)).limit(limit))
    return [i for i in session.scalars(query) if i is not None]


def inbox_waiting(session: Session, now: datetime) -> bool:
    """Whether an inbound event received by ``now`` waits to be applied (one indexed probe)."""
    return session.scalar(select(col(InboxRow.id)).where(
        col(InboxRow.status) == "pending", col(InboxRow.received_at) <= now).limit(1)) is not None


def pathways_of(session: Session, case_ids: Iterable[int]) -> set[str]:
    ids = sorted(case_ids)
    if not ids:
        return set()
    return set(session.scalars(select(col(CaseRow.pathway_key)).distinct().where(
        col(CaseRow.id).in_(ids))))


def never_enrolled(session: Session, pathway: str) -> list[int]:
    """Patients who never had a case (open or closed) in this pathway."""
    had_case = exists().where(col(CaseRow.patient_id) == col(Patient.id),
                              col(CaseRow.pathway_key) == pathway)
    query = select(col(Patient.id)).where(~had_case).order_by(col(Patient.id))
    return [i for i in session.scalars(query) if i is not None]


def any_never_enrolled(session: Session, pathways: Iterable[str]) -> bool:
    """Whether some patient never had a case in one of ``pathways`` (one probe each)."""
    for pathway in pathways:
        had_case = exists().where(col(CaseRow.patient_id) == col(Patient.id),
                                  col(CaseRow.pathway_key) == pathway)
        if session.scalar(select(col(Patient.id)).where(~had_case).limit(1)) is not None:
            return True
    return False


def latest_versions(session: Session) -> list[PathwayVersion]:
    """The newest published version of every pathway, by key order."""
    latest: dict[str, PathwayVersion] = {}
    for version in session.scalars(select(PathwayVersion).order_by(
            col(PathwayVersion.key), col(PathwayVersion.version))):
        latest[version.key] = version
    return list(latest.values())


def open_tasks(session: Session) -> list[Any]:
    """Open tasks of open cases: (id, key, assignee_id, unassigned_role, pathway_key,
    patient_id) rows, in id order."""
    return list(session.execute(
        select(col(TaskRow.id), col(TaskRow.key), col(TaskRow.assignee_id),
               col(TaskRow.unassigned_role), col(CaseRow.pathway_key), col(CaseRow.patient_id))
        .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES), col(CaseRow.closed_at).is_(None))
        .order_by(col(TaskRow.id))).all())


def patients_with_open_cases(session: Session, pathways: list[str]) -> list[int]:
    return list(session.scalars(select(col(CaseRow.patient_id)).where(
        col(CaseRow.pathway_key).in_(pathways), col(CaseRow.closed_at).is_(None))
        .order_by(col(CaseRow.patient_id))).all())
