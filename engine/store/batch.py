"""Load what the runtime needs for a set of cases, in a fixed number of queries.

A ``Batch`` holds, for the given case ids: the case rows, their timers and
open tasks, their patients, the latest observations of those patients, the
care teams and the coordinator. It turns rows into the runtime's plain
``Case`` and ``Subject``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.case import Case, ObservationValue, OpenTask, Subject, TimerState
from engine.pathway.compiler import CompiledPathway
from engine.store import registry
from engine.store.tables import (
    OPEN_TASK_STATUSES, CareTeamMember, CaseRow, ObservationRow, PathwayVersion, Patient,
    Professional, TaskRow, TimerRow,
)

COORDINATOR = "coordinateur"


@dataclass
class Batch:
    cases: dict[int, CaseRow]
    timers: dict[int, list[TimerRow]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[int, list[TaskRow]] = field(default_factory=lambda: defaultdict(list))
    patients: dict[int, Patient] = field(default_factory=dict)
    observations: dict[tuple[int, str], ObservationRow] = field(default_factory=dict)
    team: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    versions: dict[int, PathwayVersion] = field(default_factory=dict)
    coordinator_id: int | None = None

    def pathway(self, case_id: int) -> CompiledPathway:
        return registry.compiled(self.versions[self.cases[case_id].pathway_version_id])

    def case(self, case_id: int) -> Case:
        row = self.cases[case_id]
        return Case(
            active=tuple(row.active_states), facts=dict(row.facts),
            timers=tuple(TimerState(t.name, t.state, t.fire_at, t.every)
                         for t in self.timers[case_id]),
            tasks=tuple(OpenTask(t.ref, t.key, t.state, t.role, t.due_at)
                        for t in self.tasks[case_id]),
            seq=row.seq, closed_at=row.closed_at)

    def subject(self, case_id: int) -> Subject:
        row = self.cases[case_id]
        return subject_of(self.patients[row.patient_id], self.pathway(case_id),
                          self.observations)

    def holders(self, patient_id: int, role: str) -> list[int]:
        return self.team.get((patient_id, role), [])

    def open_task(self, case_id: int, ref: str) -> TaskRow | None:
        return next((t for t in self.tasks[case_id] if t.ref == ref), None)


def subject_of(patient: Patient, pathway: CompiledPathway,
               latest: dict[tuple[int, str], ObservationRow]) -> Subject:
    observations = {}
    for key, spec in pathway.definition.observations.items():
        obs = latest.get((patient.id or 0, spec.code))
        if obs is not None:
            value = obs.value if obs.value is not None else obs.value_text
            if spec.type == "integer" and value is not None:
                value = int(value)
            elif spec.type == "boolean" and value is not None:
                value = bool(value)
            observations[key] = ObservationValue(value, obs.effective_at, obs.unit)
    return Subject(patient.birth_date, patient.sex, tuple(patient.conditions), observations)


def load_batch(session: Session, case_ids: Iterable[int], today: date) -> Batch:
    ids = list(case_ids)
    batch = Batch({row.id: row for row in session.scalars(  # type: ignore[misc]
        select(CaseRow).where(CaseRow.id.in_(ids)))})  # type: ignore[union-attr]
    if not batch.cases:
        return batch
    for timer in session.scalars(select(TimerRow).where(TimerRow.case_id.in_(ids))  # type: ignore[attr-defined]
                                 .order_by(TimerRow.fire_at)):
        batch.timers[timer.case_id].append(timer)
    for task in session.scalars(select(TaskRow).where(
            TaskRow.case_id.in_(ids), TaskRow.status.in_(OPEN_TASK_STATUSES))  # type: ignore[attr-defined]
            .order_by(TaskRow.id)):
        batch.tasks[task.case_id].append(task)
    patient_ids = {row.patient_id for row in batch.cases.values()}
    load_patients(session, batch, patient_ids, today)
    version_ids = {row.pathway_version_id for row in batch.cases.values()}
    batch.versions = {v.id: v for v in session.scalars(  # type: ignore[misc]
        select(PathwayVersion).where(PathwayVersion.id.in_(version_ids)))}  # type: ignore[union-attr]
    return batch


def load_patients(session: Session, batch: Batch, patient_ids: set[int], today: date) -> None:
    batch.patients = {p.id: p for p in session.scalars(  # type: ignore[misc]
        select(Patient).where(Patient.id.in_(patient_ids)))}  # type: ignore[union-attr]
    for obs in session.scalars(select(ObservationRow)
                               .where(ObservationRow.patient_id.in_(patient_ids))  # type: ignore[attr-defined]
                               .order_by(ObservationRow.effective_at, ObservationRow.id)):
        batch.observations[(obs.patient_id, obs.code)] = obs
    members = session.scalars(select(CareTeamMember).join(
        Professional, Professional.id == CareTeamMember.professional_id).where(
        CareTeamMember.patient_id.in_(patient_ids), Professional.active,  # type: ignore[attr-defined]
        CareTeamMember.start_date <= today,
        or_(CareTeamMember.end_date.is_(None), CareTeamMember.end_date >= today))  # type: ignore[union-attr]
        .order_by(CareTeamMember.start_date.desc(), CareTeamMember.id))  # type: ignore[attr-defined]
    for member in members:
        batch.team[(member.patient_id, member.role)].append(member.professional_id)
    batch.coordinator_id = coordinator_id(session)


def coordinator_id(session: Session) -> int | None:
    return session.scalar(select(Professional.id).where(
        and_(Professional.profession == COORDINATOR, Professional.active))
        .order_by(Professional.id).limit(1))


def latest_observations(session: Session, patient_id: int) -> dict[tuple[int, str], ObservationRow]:
    out: dict[tuple[int, str], ObservationRow] = {}
    for obs in session.scalars(select(ObservationRow).where(ObservationRow.patient_id == patient_id)
                               .order_by(ObservationRow.effective_at, ObservationRow.id)):
        out[(obs.patient_id, obs.code)] = obs
    return out


def as_of(moment: datetime) -> date:
    from engine.clock import PARIS

    return moment.astimezone(PARIS).date()
