"""What the task and patient pages show, read in one transaction (no SQL here: the
queries are ``engine.store.worklist``'s)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from engine.pathway.compiler import CompiledPathway
from engine.pathway.model import FieldSpec
from engine.store import registry, worklist
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CaseRow,
    ObservationRow,
    Patient,
    Professional,
    TaskRow,
)
from engine.store.worklist import Viewer
from web.exceptions import NotVisible
from web.pages import age

STATUS_FR = {"requested": "à faire", "accepted": "prise en charge", "in-progress": "en cours",
             "on-hold": "en attente", "declined": "refusée, à réattribuer",
             "completed": "terminée", "cancelled": "annulée", "failed": "en échec"}


@dataclass(frozen=True)
class ObservationLine:
    code: str
    title: str
    value: str
    unit: str
    at: datetime


@dataclass(frozen=True)
class ObservationChoice:
    code: str
    title: str
    unit: str
    type: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...] = ()


@dataclass
class PatientBlock:
    patient: Patient
    age: int
    team: list[tuple[str, Professional]]
    observations: list[ObservationLine]
    recordable: list[ObservationChoice]


@dataclass
class TaskPage:
    task: TaskRow
    case: CaseRow
    pathway: CompiledPathway
    state_title: str
    role_title: str
    assignee: Professional | None
    decliner: Professional | None
    block: PatientBlock
    result_spec: dict[str, FieldSpec]
    is_open: bool
    is_assignee: bool
    status_fr: str


@dataclass
class PatientPage:
    block: PatientBlock
    cases: list[tuple[CaseRow, str, list[str]]]
    tasks: list[TaskRow]
    status_fr: dict[str, str] = field(default_factory=lambda: dict(STATUS_FR))


def _value(obs: ObservationRow) -> str:
    if obs.value is None:
        return obs.value_text or ""
    number = obs.value
    return (f"{number:g}" if float(number).is_integer() else f"{number:.2f}".rstrip("0")) \
        .replace(".", ",")


def _catalogue(pathways: list[CompiledPathway]) -> dict[str, ObservationChoice]:
    out: dict[str, ObservationChoice] = {}
    for pathway in pathways:
        for spec in pathway.definition.observations.values():
            out.setdefault(spec.code, ObservationChoice(
                spec.code, spec.title, spec.unit or "", spec.type, spec.minimum,
                spec.maximum, tuple(str(c) for c in spec.choices or ())))
    return out


def patient_block(db: Session, patient_id: int, today: date,
                  pathways: list[CompiledPathway]) -> PatientBlock:
    patient = db.get(Patient, patient_id)
    if patient is None:
        raise NotVisible()
    titles = {k: r.title for p in pathways for k, r in p.definition.roles.items()}
    team = [(titles.get(m.role, m.role.replace("_", " ")), m.professional)
            for m in worklist.care_team(db, patient_id, today)]
    catalogue = _catalogue(pathways)
    observations = [ObservationLine(o.code, catalogue[o.code].title if o.code in catalogue
                                    else o.code, _value(o), o.unit or "", o.effective_at)
                    for o in worklist.latest_observations(db, patient_id, set(catalogue))]
    return PatientBlock(patient, age(patient.birth_date, today), team, observations,
                        sorted(catalogue.values(), key=lambda c: c.title))


def task_page(db: Session, who: Viewer, task_id: int, today: date) -> TaskPage:
    task = db.get(TaskRow, task_id)
    case = db.get(CaseRow, task.case_id) if task is not None else None
    if task is None or case is None:
        raise NotVisible()
    pathway = registry.compiled(worklist.version_of(db, case))
    state = pathway.states.get(task.state)
    role = pathway.definition.roles.get(task.role)
    spec = pathway.tasks[task.key].result if task.key in pathway.tasks else {}
    assignee = db.get(Professional, task.assignee_id) if task.assignee_id else None
    decliner = db.get(Professional, task.declined_by) if task.declined_by else None
    return TaskPage(task, case, pathway, state.title if state else task.state,
                    role.title if role else task.role, assignee, decliner,
                    patient_block(db, case.patient_id, today, [pathway]), dict(spec),
                    task.status in OPEN_TASK_STATUSES, task.assignee_id == who.id,
                    STATUS_FR.get(task.status, task.status))


def patient_page(db: Session, patient_id: int, today: date) -> PatientPage:
    cases = []
    pathways = []
    for case, version in worklist.open_cases(db, patient_id):
        pathway = registry.compiled(version)
        pathways.append(pathway)
        steps = [pathway.states[s].title for s in case.active_states if s in pathway.states]
        cases.append((case, pathway.definition.title, steps))
    return PatientPage(patient_block(db, patient_id, today, pathways), cases,
                       worklist.patient_tasks(db, patient_id))


def state_title(db: Session, case_id: int, state: str) -> str:
    case = db.get(CaseRow, case_id)
    if case is None:
        return state
    compiled = registry.compiled(worklist.version_of(db, case))
    return compiled.states[state].title if state in compiled.states else state


def role_title(db: Session, case_id: int, role: str) -> str:
    case = db.get(CaseRow, case_id)
    if case is None:
        return role
    roles = registry.compiled(worklist.version_of(db, case)).definition.roles
    return roles[role].title if role in roles else role


def professional_name(db: Session, professional_id: int | None) -> str:
    pro = db.get(Professional, professional_id) if professional_id else None
    return f"{pro.given_names} {pro.family_name}" if pro is not None else ""


__all__ = ["ObservationChoice", "PatientPage", "TaskPage", "patient_page", "task_page"]
