"""Who sees what, and the read views of the professionals' workspace.

Rules (issue 12): a professional sees the tasks assigned to them, the open tasks of a role
they hold in the care team of the task's patient, and the patients whose care team they
belong to (or who have an open task assigned to them); the CPTS coordinator (an active
professional of profession ``coordinateur``) sees the whole territory. Care-team
membership counts on the given day (``start_date <= day <= end_date``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.batch import COORDINATOR
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CareTeamMember,
    CaseRow,
    ObservationRow,
    OutboxRow,
    PathwayVersion,
    Patient,
    Professional,
    TaskRow,
)


@dataclass(frozen=True)
class Viewer:
    """The signed-in professional, as the access rules need them."""

    id: int
    name: str
    profession: str
    coordinator: bool


@dataclass(frozen=True)
class InboxItem:
    task_id: int
    title: str
    due_at: datetime
    status: str
    role: str
    patient_id: int
    patient_name: str
    pathway_key: str
    mine: bool


def viewer(session: Session, professional_id: int) -> Viewer | None:
    pro = session.get(Professional, professional_id)
    if pro is None or not pro.active:
        return None
    return Viewer(pro.id or 0, f"{pro.given_names} {pro.family_name}", pro.profession,
                  pro.profession == COORDINATOR)


def _member(professional_id: int, patient: Any, day: date, role: Any = None) -> Any:
    """SQL: the professional is in the patient's care team on ``day`` (in ``role``)."""
    team = CareTeamMember
    where = [col(team.patient_id) == patient, col(team.professional_id) == professional_id,
             col(team.start_date) <= day,
             or_(col(team.end_date).is_(None), col(team.end_date) >= day)]
    if role is not None:
        where.append(col(team.role) == role)
    return exists().where(*where)


def _task_visible(who: Viewer, day: date) -> Any:
    return or_(col(TaskRow.assignee_id) == who.id,
               and_(col(TaskRow.status).in_(OPEN_TASK_STATUSES),
                    _member(who.id, col(CaseRow.patient_id), day, col(TaskRow.role))))


def can_see_task(session: Session, who: Viewer, task_id: int, day: date) -> bool:
    query = select(col(TaskRow.id)).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id)) \
        .where(col(TaskRow.id) == task_id)
    if not who.coordinator:
        query = query.where(_task_visible(who, day))
    return session.scalar(query) is not None


def can_see_patient(session: Session, who: Viewer, patient_id: int, day: date) -> bool:
    if session.get(Patient, patient_id) is None:
        return False
    if who.coordinator:
        return True
    member = session.scalar(select(_member(who.id, patient_id, day)))
    if member:
        return True
    return session.scalar(
        select(col(TaskRow.id)).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(CaseRow.patient_id) == patient_id, col(TaskRow.assignee_id) == who.id,
               col(TaskRow.status).in_(OPEN_TASK_STATUSES)).limit(1)) is not None


def can_act(task: TaskRow, who: Viewer, roles: set[str]) -> bool:
    """May take or complete the task: its assignee, a holder of its role, the coordinator."""
    return who.coordinator or task.assignee_id == who.id or task.role in roles


def roles_for(session: Session, who: Viewer, patient_id: int, day: date) -> set[str]:
    team = CareTeamMember
    return set(session.scalars(select(col(team.role)).where(
        col(team.patient_id) == patient_id, col(team.professional_id) == who.id,
        col(team.start_date) <= day,
        or_(col(team.end_date).is_(None), col(team.end_date) >= day))))


def inbox(session: Session, who: Viewer, day: date, limit: int = 1000) -> list[InboxItem]:
    """Open tasks the viewer should do (assigned, or of their role), by due date."""
    query = (select(col(TaskRow.id), col(TaskRow.title), col(TaskRow.due_at),
                    col(TaskRow.status), col(TaskRow.role), col(TaskRow.assignee_id),
                    col(CaseRow.patient_id), col(CaseRow.pathway_key),
                    col(Patient.given_names), col(Patient.family_name))
             .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
             .join(Patient, col(Patient.id) == col(CaseRow.patient_id))
             .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES), _task_visible(who, day))
             .order_by(col(TaskRow.due_at), col(TaskRow.id)).limit(limit))
    return [InboxItem(r.id, r.title, r.due_at, r.status, r.role, r.patient_id,
                      f"{r.given_names} {r.family_name.upper()}", r.pathway_key,
                      r.assignee_id == who.id)
            for r in session.execute(query)]


def declined_tasks(session: Session, limit: int = 200) -> list[TaskRow]:
    return list(session.scalars(select(TaskRow).where(col(TaskRow.status) == "declined")
                                .order_by(col(TaskRow.declined_at)).limit(limit)))


def professionals(session: Session) -> list[Professional]:
    return list(session.scalars(select(Professional).where(col(Professional.active))
                                .order_by(col(Professional.family_name),
                                          col(Professional.id))))


@dataclass(frozen=True)
class TeamMember:
    role: str
    professional: Professional


def care_team(session: Session, patient_id: int, day: date) -> list[TeamMember]:
    team = CareTeamMember
    rows = session.execute(
        select(col(team.role), Professional).join(Professional, col(Professional.id) ==
                                             col(team.professional_id))
        .where(col(team.patient_id) == patient_id, col(team.start_date) <= day,
               or_(col(team.end_date).is_(None), col(team.end_date) >= day))
        .order_by(col(team.role))).all()
    return [TeamMember(role, pro) for role, pro in rows]


def latest_observations(session: Session, patient_id: int,
                        codes: set[str] | None = None) -> list[ObservationRow]:
    """The most recent observation of each code (of ``codes`` if given), newest first."""
    latest: dict[str, ObservationRow] = {}
    query = select(ObservationRow).where(col(ObservationRow.patient_id) == patient_id) \
        .order_by(col(ObservationRow.effective_at), col(ObservationRow.id))
    for obs in session.scalars(query):
        if codes is None or obs.code in codes:
            latest[obs.code] = obs
    return sorted(latest.values(), key=lambda o: o.effective_at, reverse=True)


def open_cases(session: Session, patient_id: int) -> list[tuple[CaseRow, PathwayVersion]]:
    rows = session.execute(
        select(CaseRow, PathwayVersion)
        .join(PathwayVersion, col(PathwayVersion.id) == col(CaseRow.pathway_version_id))
        .where(col(CaseRow.patient_id) == patient_id, col(CaseRow.closed_at).is_(None))
        .order_by(col(CaseRow.id))).all()
    return [(case, version) for case, version in rows]


def patient_tasks(session: Session, patient_id: int, limit: int = 50) -> list[TaskRow]:
    return list(session.scalars(
        select(TaskRow).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(CaseRow.patient_id) == patient_id)
        .order_by(col(TaskRow.status).in_(OPEN_TASK_STATUSES).desc(), col(TaskRow.due_at))
        .limit(limit)))


def version_of(session: Session, case: CaseRow) -> PathwayVersion:
    version = session.get(PathwayVersion, case.pathway_version_id)
    assert version is not None  # foreign key
    return version


__all__ = ["InboxItem", "TeamMember", "Viewer", "can_act", "can_see_patient", "can_see_task",
           "care_team", "declined_tasks", "inbox", "latest_observations", "open_cases",
           "patient_tasks", "professionals", "roles_for", "version_of",
           "viewer"]


def pathway_titles(session: Session) -> dict[str, str]:
    """Each published pathway's title (its newest version's), by key."""
    rows = session.execute(select(col(PathwayVersion.key), col(PathwayVersion.title))
                           .order_by(col(PathwayVersion.version)))
    return {key: title for key, title in rows}


def busiest(session: Session, profession: str) -> Professional | None:
    """The active professional of ``profession`` with the most open tasks assigned (demo)."""
    count = func.count(col(TaskRow.id))
    row = session.execute(
        select(Professional, count)
        .outerjoin(TaskRow, and_(col(TaskRow.assignee_id) == col(Professional.id),
                                 col(TaskRow.status).in_(OPEN_TASK_STATUSES)))
        .where(col(Professional.profession) == profession, col(Professional.active))
        .group_by(col(Professional.id)).order_by(count.desc(), col(Professional.id))
        .limit(1)).first()
    return row[0] if row is not None else None


def outbox_row(session: Session, row_id: int) -> OutboxRow | None:
    """One outbox row (the coordinator's page about a message that could not be sent)."""
    return session.get(OutboxRow, row_id)
