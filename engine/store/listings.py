"""Read models of the coordinators' listing commands: cases, patients, professionals, care
teams, one task. Read-only; every list is a ``Page`` (the rows asked for, and how many
matched in all), so that a listing says how many more there are.

Names are compared accent- and case-insensitively (``fold``): « lefebvre » finds
« Lefèbvre ». States and roles carry their French titles from the pathway version a
case runs on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import String, case, cast, func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.pathway.compiler import CompiledPathway
from engine.store import registry
from engine.store.db import is_id
from engine.store.exceptions import InputError, NotFoundError
from engine.store.queries import task_view
from engine.store.service import find_patient
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CareTeamMember,
    CaseEvent,
    CaseRow,
    PathwayVersion,
    Patient,
    Professional,
    TaskRow,
)
from engine.text import fold

#: rows shown when the caller does not say (a terminal page)
DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000


@dataclass
class Page:
    """``rows`` of a listing, from ``offset``; ``total`` rows matched in all."""

    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def more(self) -> int:
        """How many matching rows come after this page."""
        return max(0, self.total - self.offset - len(self.rows))

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "offset": self.offset, "limit": self.limit,
                "more": self.more, **self.extra, "items": self.rows}


def check_paging(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"--limit {limit} : attendu un nombre entre 1 et {MAX_LIMIT}")
    if offset < 0:
        raise InputError(f"--offset {offset} : attendu un nombre positif ou nul")


def full_name(pro: Professional | Patient | None) -> str:
    if pro is None:
        return ""
    return f"{pro.given_names} {pro.family_name}"


def professional_names(session: Session, ids: set[int]) -> dict[int, str]:
    """id → « Prénom Nom » for the given professionals."""
    wanted = sorted(i for i in ids if is_id(i))
    if not wanted:
        return {}
    rows = session.execute(select(col(Professional.id), col(Professional.given_names),
                                  col(Professional.family_name))
                           .where(col(Professional.id).in_(wanted))).all()
    return {int(pid or 0): f"{given} {family}" for pid, given, family in rows}


# -- cases -------------------------------------------------------------------------------------


def _versions(session: Session) -> dict[int, tuple[PathwayVersion, CompiledPathway]]:
    return {v.id or 0: (v, registry.compiled(v))
            for v in session.scalars(select(PathwayVersion))}


def _state_matches(states: list[str], wanted: str) -> bool:
    return any(s == wanted or s.startswith(wanted + ".") for s in states)


def _known_states(versions: dict[int, tuple[PathwayVersion, CompiledPathway]],
                  pathway: str | None) -> set[str]:
    return {sid for v, compiled in versions.values() if pathway in (None, v.key)
            for sid in compiled.states}


def list_cases(session: Session, now: datetime, *, pathway: str | None = None,
               state: str | None = None, overdue: bool = False, closed: bool = False,
               limit: int = DEFAULT_LIMIT, offset: int = 0) -> Page:
    """Open cases (``closed``: closed ones too), oldest first, with the French titles of
    their active states, their patient and their open and overdue tasks.

    ``state`` is a state id of the pathway (``suivi.glycemie`` matches the states inside
    it); an unknown one is refused with the known ids. ``overdue``: cases with at least one
    open task past its due date."""
    check_paging(limit, offset)
    versions = _versions(session)
    if pathway is not None and not any(v.key == pathway for v, _ in versions.values()):
        registry.latest(session, pathway)  # raises NotFoundError listing the published keys
    if state is not None:
        known = _known_states(versions, pathway)
        if state not in known:
            raise InputError(f"état {state!r} inconnu ; états possibles : "
                             f"{', '.join(sorted(known)) or 'aucun (aucun parcours publié)'}")
    late = (select(col(TaskRow.case_id)).where(col(TaskRow.status).in_(OPEN_TASK_STATUSES),
                                               col(TaskRow.due_at) < now))
    query = select(col(CaseRow.id), col(CaseRow.active_states))
    if not closed:
        query = query.where(col(CaseRow.closed_at).is_(None))
    if pathway is not None:
        query = query.where(col(CaseRow.pathway_key) == pathway)
    if overdue:
        query = query.where(col(CaseRow.id).in_(late))
    if state is not None:  # a coarse filter in SQL, the exact one below
        query = query.where(cast(CaseRow.active_states, String).like(f'%"{state}%'))
    ids = [case_id for case_id, states in session.execute(query.order_by(col(CaseRow.id)))
           if state is None or _state_matches(list(states or []), state)]
    wanted = ids[offset:offset + limit]
    rows = session.scalars(select(CaseRow).where(col(CaseRow.id).in_(wanted))
                           .order_by(col(CaseRow.id))).all() if wanted else []
    patients = {p.id: p for p in session.scalars(select(Patient).where(
        col(Patient.id).in_({r.patient_id for r in rows})))} if rows else {}
    counts: dict[int, tuple[int, int]] = {}
    if rows:
        open_tasks = select(col(TaskRow.case_id), func.count(),
                            func.sum(case((col(TaskRow.due_at) < now, 1), else_=0))) \
            .where(col(TaskRow.case_id).in_(wanted),
                   col(TaskRow.status).in_(OPEN_TASK_STATUSES)).group_by(col(TaskRow.case_id))
        counts = {case_id: (int(n), int(late_n or 0))
                  for case_id, n, late_n in session.execute(open_tasks)}
    out = []
    for row in rows:
        version, compiled = versions[row.pathway_version_id]
        patient = patients.get(row.patient_id)
        n_open, n_late = counts.get(row.id or 0, (0, 0))
        out.append({
            "id": row.id, "pathway": row.pathway_key, "pathway_title": version.title,
            "version": version.version, "patient_id": row.patient_id,
            "patient": full_name(patient), "ins": patient.ins if patient else None,
            "local_id": patient.local_id if patient else None,
            "states": list(row.active_states),
            "state_titles": [compiled.states[s].title if s in compiled.states else s
                             for s in row.active_states],
            "opened_at": row.opened_at, "closed_at": row.closed_at,
            "close_reason": row.close_reason, "next_due_at": row.next_due_at,
            "open_tasks": n_open, "overdue_tasks": n_late})
    return Page(out, len(ids), limit, offset)


# -- patients ----------------------------------------------------------------------------------


def _as_date(text: str) -> date | None:
    for parse in (date.fromisoformat, lambda t: datetime.strptime(t, "%d/%m/%Y").date()):
        try:
            return parse(text)
        except ValueError:
            continue
    return None


def search_patients(session: Session, text: str, *, limit: int = DEFAULT_LIMIT,
                    offset: int = 0) -> Page:
    """Patients whose id, INS, local id or birth date (AAAA-MM-JJ or JJ/MM/AAAA) is ``text``, or
    whose names contain every word of ``text`` (accents and case ignored)."""
    check_paging(limit, offset)
    wanted = text.strip()
    if not wanted:
        raise InputError("recherche vide : donnez un nom, une date de naissance "
                         "(JJ/MM/AAAA), une INS ou un identifiant local")
    if len(wanted) > 200:
        raise InputError("recherche trop longue (200 caractères au plus)")
    from engine.store.people import patient_search_query

    # the same indexed search as the coordinator's web page (folded names, INS, local id,
    # birth date): no patient table scan on a large territory
    query = patient_search_query(wanted)
    ids: list[int] = []
    if wanted.isdigit() and len(wanted) < 10 and is_id(int(wanted)) \
            and session.get(Patient, int(wanted)) is not None:  # the internal id
        ids.append(int(wanted))
    born = _as_date(wanted)  # AAAA-MM-JJ too; a local id whatever its case
    exact = func.lower(col(Patient.local_id)) == wanted.lower()
    if born is not None:
        exact = or_(exact, col(Patient.birth_date) == born)
    ids += [pid for pid in session.scalars(select(col(Patient.id)).where(exact)
                                           .order_by(col(Patient.id)))
            if pid is not None and pid not in ids]
    if query is not None:
        found = query.subquery()
        ids += [pid for pid in session.scalars(
            select(col(Patient.id)).join(found, found.c.pid == col(Patient.id))
            .order_by(col(Patient.family_name), col(Patient.given_names), col(Patient.id)))
            if pid is not None and pid not in ids]
    page_ids = ids[offset:offset + limit]
    patients = {p.id: p for p in session.scalars(
        select(Patient).where(col(Patient.id).in_(page_ids)))} if page_ids else {}
    cases: dict[int, list[str]] = {}
    if page_ids:
        for pid, key in session.execute(
                select(col(CaseRow.patient_id), col(CaseRow.pathway_key))
                .where(col(CaseRow.patient_id).in_(page_ids), col(CaseRow.closed_at).is_(None))
                .order_by(col(CaseRow.id))):
            cases.setdefault(pid, []).append(key)
    rows = [{"id": p.id, "family_name": p.family_name, "given_names": p.given_names,
             "birth_date": p.birth_date, "sex": p.sex, "ins": p.ins, "local_id": p.local_id,
             "commune": p.commune, "open_pathways": cases.get(p.id or 0, [])}
            for p in (patients[i] for i in page_ids)]
    return Page(rows, len(ids), limit, offset)


# -- professionals -----------------------------------------------------------------------------


def list_professionals(session: Session, now: datetime, *, role: str | None = None,
                       active: bool | None = None, text: str | None = None,
                       limit: int = DEFAULT_LIMIT, offset: int = 0) -> Page:
    """Professionals by name, with their open and overdue tasks. ``role``: their profession
    (``infirmier``) or a care-team role they hold today (``medecin_traitant``); ``text``:
    words of the name (accents and case ignored) or the RPPS."""
    check_paging(limit, offset)
    query = select(Professional)
    if role:
        today = now.date()
        holders = select(col(CareTeamMember.professional_id)).where(
            col(CareTeamMember.role) == role, col(CareTeamMember.start_date) <= today,
            or_(col(CareTeamMember.end_date).is_(None), col(CareTeamMember.end_date) >= today))
        query = query.where(or_(col(Professional.profession) == role,
                                col(Professional.id).in_(holders)))
    if active is not None:
        query = query.where(col(Professional.active) == active)
    found = list(session.scalars(query.order_by(col(Professional.family_name),
                                                col(Professional.given_names),
                                                col(Professional.id))))
    if text:
        words = fold(text).split()
        found = [p for p in found if p.rpps == text.strip()
                 or all(w in fold(full_name(p)) for w in words)]
    page = found[offset:offset + limit]
    ids = [p.id for p in page]
    tasks: dict[int, tuple[int, int]] = {}
    if ids:
        query_tasks = select(col(TaskRow.assignee_id), func.count(),
                             func.sum(case((col(TaskRow.due_at) < now, 1), else_=0))) \
            .where(col(TaskRow.assignee_id).in_(ids),
                   col(TaskRow.status).in_(OPEN_TASK_STATUSES)) \
            .group_by(col(TaskRow.assignee_id))
        tasks = {pid: (int(n), int(late or 0)) for pid, n, late in session.execute(query_tasks)}
    rows = [{"id": p.id, "rpps": p.rpps, "family_name": p.family_name,
             "given_names": p.given_names, "profession": p.profession, "active": p.active,
             "email": p.email, "mssante": p.mssante, "phone": p.phone,
             "open_tasks": tasks.get(p.id or 0, (0, 0))[0],
             "overdue_tasks": tasks.get(p.id or 0, (0, 0))[1]} for p in page]
    return Page(rows, len(found), limit, offset)


# -- care team ---------------------------------------------------------------------------------


def _role_titles(session: Session) -> dict[str, str]:
    titles: dict[str, str] = {}
    for version in session.scalars(select(PathwayVersion).order_by(col(PathwayVersion.id))):
        for key, spec in registry.compiled(version).definition.roles.items():
            titles[key] = spec.title
    return titles


def care_team(session: Session, patient_ref: str, today: date) -> dict[str, Any]:
    """A patient's care team: current members first (by role), then past ones."""
    patient = find_patient(session, patient_ref)
    titles = _role_titles(session)
    rows = session.execute(
        select(CareTeamMember, Professional)
        .join(Professional, col(Professional.id) == CareTeamMember.professional_id)
        .where(col(CareTeamMember.patient_id) == patient.id)
        .order_by(col(CareTeamMember.role), col(CareTeamMember.start_date).desc())).all()
    members = []
    for member, pro in rows:
        current = member.start_date <= today and (member.end_date is None
                                                  or member.end_date >= today)
        members.append({
            "role": member.role, "role_title": titles.get(member.role, member.role),
            "professional_id": pro.id, "name": full_name(pro), "rpps": pro.rpps,
            "profession": pro.profession, "active": pro.active, "email": pro.email,
            "mssante": pro.mssante, "phone": pro.phone, "start_date": member.start_date,
            "end_date": member.end_date, "current": current,
            "upcoming": member.start_date > today})
    members.sort(key=lambda m: (not m["current"], m["role"]))
    return {"patient": {"id": patient.id, "name": full_name(patient), "ins": patient.ins,
                        "local_id": patient.local_id, "birth_date": patient.birth_date},
            "members": members}


# -- one task ----------------------------------------------------------------------------------


def task_detail(session: Session, task_id: int, now: datetime) -> dict[str, Any]:
    """One task in full: its case, patient, state and role titles, assignee by name, and
    its history (created, completed, cancelled)."""
    task = session.get(TaskRow, task_id) if is_id(task_id) else None
    if task is None:
        raise NotFoundError("task", task_id)
    case = session.get(CaseRow, task.case_id)
    if case is None:  # pragma: no cover - a foreign key holds it
        raise NotFoundError("case", task.case_id)
    version = session.get(PathwayVersion, case.pathway_version_id)
    compiled = registry.compiled(version) if version is not None else None
    patient = session.get(Patient, case.patient_id)
    names = professional_names(session, {i for i in (task.assignee_id, task.closed_by,
                                                      task.declined_by) if i is not None})
    history: list[dict[str, Any]] = []
    actors: set[int] = set()
    for event in session.scalars(select(CaseEvent).where(col(CaseEvent.case_id) == case.id)
                                 .order_by(col(CaseEvent.id))):
        data = event.data or {}
        if data.get("task_id") == task.id or (data.get("task_id") is None
                                              and data.get("ref") == task.ref):
            history.append({"at": event.at, "kind": event.kind, "actor": event.actor_kind,
                            "actor_id": event.actor_id})
            if event.actor_id is not None:
                actors.add(event.actor_id)
    names.update(professional_names(session, actors))
    for item in history:
        item["actor_name"] = names.get(item["actor_id"], "") if item["actor_id"] else ""
    roles = compiled.definition.roles if compiled else {}
    states = compiled.states if compiled else {}
    return {**task_view(task, now), "description": task.description,
            "state": task.state,
            "state_title": states[task.state].title if task.state in states else task.state,
            "role_title": roles[task.role].title if task.role in roles else task.role,
            "assignee": names.get(task.assignee_id or 0, ""),
            "closed_by": task.closed_by, "closed_by_name": names.get(task.closed_by or 0, ""),
            "declined_by": task.declined_by,
            "declined_by_name": names.get(task.declined_by or 0, ""),
            "declined_at": task.declined_at, "decline_reason": task.decline_reason,
            "accepted_at": task.accepted_at,
            "pathway": case.pathway_key, "pathway_title": version.title if version else "",
            "patient_id": case.patient_id, "patient": full_name(patient),
            "ins": patient.ins if patient else None,
            "local_id": patient.local_id if patient else None,
            "history": history}


def state_titles(session: Session, case_id: int) -> dict[str, str]:
    """State id → French title, for the pathway version a case runs on."""
    row = session.get(CaseRow, case_id) if is_id(case_id) else None
    version = session.get(PathwayVersion, row.pathway_version_id) if row else None
    if version is None:
        return {}
    return {sid: state.title for sid, state in registry.compiled(version).states.items()}
