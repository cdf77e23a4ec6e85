"""The reads of the FHIR interface: a patient, their care plans, care team and tasks.

Every read checks who asks (``Caller.may_see``): a system with the scope reads any
patient; a person, the patients the workspace shows them. Anything else is the same 404
as an unknown id. Ids in addresses are ours (``Patient/12``, ``Task/928``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store import registry, worklist
from engine.store.tables import (
    CareTeamMember,
    CaseRow,
    PathwayVersion,
    Patient,
    PatientIdentifier,
    Professional,
    TaskRow,
)
from web.fhir import resources
from web.fhir.auth import Caller
from web.fhir.errors import FhirError, not_found


def number(text: str, what: str) -> int:
    """Our id from ``12`` or ``Patient/12``; 404 for anything else (never a 500)."""
    value = text.rsplit("/", 1)[-1]
    if not value.isdigit() or len(value) > 18:
        raise not_found(what)
    return int(value)


def patient_param(value: str | None) -> int:
    if not value:
        raise FhirError(400, "required", "paramètre de recherche obligatoire : patient "
                        "(par exemple ?patient=12 ou ?patient=Patient/12)")
    return number(value, "Patient")


def visible_patient(db: Session, caller: Caller, patient_id: int, day: date) -> Patient:
    row = db.get(Patient, patient_id)
    if row is None or not caller.may_see(db, patient_id, day):
        raise not_found(f"Patient/{patient_id}")
    return row


def patient(db: Session, row: Patient) -> dict[str, Any]:
    identifiers = list(db.scalars(select(PatientIdentifier).where(
        col(PatientIdentifier.patient_id) == row.id).order_by(col(PatientIdentifier.id))))
    return resources.patient(row, identifiers)


def _cases(db: Session, patient_id: int) -> list[tuple[CaseRow, PathwayVersion]]:
    rows = db.execute(select(CaseRow, PathwayVersion)
                      .join(PathwayVersion, col(PathwayVersion.id) ==
                            col(CaseRow.pathway_version_id))
                      .where(col(CaseRow.patient_id) == patient_id)
                      .order_by(col(CaseRow.id))).all()
    return [(case, version) for case, version in rows]


def _titles(case: CaseRow, version: PathwayVersion) -> list[str]:
    states = registry.compiled(version).states
    return [states[s].title or s if s in states else s for s in case.active_states]


def _task_ids(db: Session, case_id: int) -> list[int]:
    return [t for t in db.scalars(select(col(TaskRow.id)).where(col(TaskRow.case_id) == case_id)
                                  .order_by(col(TaskRow.id))) if t is not None]


def care_plans(db: Session, patient_id: int, limit: int) -> list[dict[str, Any]]:
    out = []
    for case, version in _cases(db, patient_id)[:limit]:
        tasks = _task_ids(db, case.id or 0)
        out.append(resources.care_plan(case, version, _titles(case, version), tasks))
    return out


def care_plan(db: Session, caller: Caller, case_id: int, day: date
              ) -> tuple[dict[str, Any], int]:
    """The case as a ``CarePlan``, and its patient's id."""
    case = db.get(CaseRow, case_id)
    if case is None or not caller.may_see(db, case.patient_id, day):
        raise not_found(f"CarePlan/{case_id}")
    version = worklist.version_of(db, case)
    tasks = _task_ids(db, case.id or 0)
    return resources.care_plan(case, version, _titles(case, version), tasks), case.patient_id


def care_team(db: Session, patient_id: int, day: date) -> dict[str, Any]:
    """The care team on ``day``, each role with its title from the patient's pathways."""
    titles: dict[str, str] = {}
    for _, version in _cases(db, patient_id):
        for key, role in registry.compiled(version).definition.roles.items():
            titles.setdefault(key, role.title)
    team = CareTeamMember
    rows = db.execute(select(team, Professional)
                      .join(Professional, col(Professional.id) == col(team.professional_id))
                      .where(col(team.patient_id) == patient_id)
                      .order_by(col(team.role), col(team.id))).all()
    members = [(m.role, titles.get(m.role, m.role), pro, m.start_date, m.end_date)
               for m, pro in rows if m.start_date <= day and (m.end_date is None or
                                                             m.end_date >= day)]
    return resources.care_team(patient_id, members)


def _task(db: Session, row: TaskRow, case: CaseRow) -> dict[str, Any]:
    version = worklist.version_of(db, case)
    states = registry.compiled(version).states
    title = (states[row.state].title or row.state) if row.state in states else row.state
    # declined: FHIR ``rejected`` by its performer, who is the owner that rejected it (in
    # Parcours the coordinator now holds it, to reassign)
    owner_id = row.declined_by if row.status == "declined" else row.assignee_id
    owner = db.get(Professional, owner_id) if owner_id else None
    return resources.task(row, case, version, title, owner)


def tasks(db: Session, patient_id: int, limit: int) -> list[dict[str, Any]]:
    rows = db.execute(select(TaskRow, CaseRow)
                      .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
                      .where(col(CaseRow.patient_id) == patient_id)
                      .order_by(col(TaskRow.id)).limit(limit)).all()
    return [_task(db, row, case) for row, case in rows]


def task(db: Session, caller: Caller, task_id: int, day: date) -> tuple[dict[str, Any], int]:
    found = db.execute(select(TaskRow, CaseRow)
                       .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
                       .where(col(TaskRow.id) == task_id)).first()
    if found is None or not caller.may_see(db, found[1].patient_id, day):
        raise not_found(f"Task/{task_id}")
    return _task(db, found[0], found[1]), found[1].patient_id
