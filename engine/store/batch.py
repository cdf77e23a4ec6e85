"""Load what the runtime needs for a set of cases, in a fixed number of queries.

A ``Batch`` holds, for the given case ids: the case rows, their timers and
open tasks, their patients, the latest observations of those patients, the
care teams and the coordinator. It turns rows into the runtime's plain
``Case`` and ``Subject``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import caseformat
from engine.case import Case, ObservationValue, OpenTask, Subject, TimerState, history_of_memory
from engine.pathway.compiler import CompiledPathway
from engine.store import registry
from engine.store.bulk import in_ids
from engine.store.tables import (
    CARE_TEAM_TABLE,
    CASE_TABLE,
    OBSERVATION_TABLE,
    OPEN_TASK_STATUSES,
    PATIENT_TABLE,
    PROFESSIONAL_TABLE,
    TASK_TABLE,
    TIMER_TABLE,
    CaseRow,
    ObservationRow,
    PathwayVersion,
    Patient,
    Professional,
    SettingsVersion,
    TaskRow,
    TimerRow,
)

COORDINATOR = "coordinateur"
_CASE = CASE_TABLE
_TIMER = TIMER_TABLE
_TASK = TASK_TABLE
_PATIENT = PATIENT_TABLE
_OBS = OBSERVATION_TABLE
_TEAM = CARE_TEAM_TABLE


@dataclass
class Batch:
    cases: dict[int, CaseRow]
    timers: dict[int, list[TimerRow]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[int, list[TaskRow]] = field(default_factory=lambda: defaultdict(list))
    patients: dict[int, Patient] = field(default_factory=dict)
    observations: dict[tuple[int, str], ObservationRow] = field(default_factory=dict)
    team: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    versions: dict[int, PathwayVersion] = field(default_factory=dict)
    #: the territory settings versions the cases run with, by id
    settings: dict[int, SettingsVersion] = field(default_factory=dict)
    coordinator_id: int | None = None

    def pathway(self, case_id: int) -> CompiledPathway:
        return registry.compiled(self.versions[self.cases[case_id].pathway_version_id])

    def settings_of(self, case_id: int) -> SettingsVersion | None:
        """The case's territory settings version (None: its pathway's defaults)."""
        settings_id = self.cases[case_id].settings_version_id
        return self.settings[settings_id] if settings_id is not None else None

    def case(self, case_id: int) -> Case:
        row = self.cases[case_id]
        if row.format != caseformat.CURRENT:
            return self._upgraded(case_id)
        return Case(
            active=tuple(row.active_states), facts=dict(row.facts),
            timers=tuple(TimerState(t.name, t.state, t.fire_at, t.every, t.anchor_at)
                         for t in self.timers[case_id]),
            tasks=tuple(OpenTask(t.ref, t.key, t.state, t.role, t.due_at)
                        for t in self.tasks[case_id]),
            seq=row.seq, closed_at=row.closed_at, history=history_of_memory(row.memory),
            stays=dict((row.memory or {}).get("stays", {})))

    def _upgraded(self, case_id: int) -> Case:
        """A row written in an older case format: through ``engine.caseformat``'s upgrades
        (written back in the current format by the next update of the case)."""
        row = self.cases[case_id]
        memory = row.memory or {}
        return Case.from_dict({
            "format": row.format, "active": list(row.active_states), "facts": dict(row.facts),
            "timers": [{"name": t.name, "state": t.state, "fire_at": t.fire_at,
                        "every": t.every, "anchor": t.anchor_at}
                       for t in self.timers[case_id]],
            "tasks": [{"ref": t.ref, "key": t.key, "state": t.state, "role": t.role,
                       "due_at": t.due_at} for t in self.tasks[case_id]],
            "seq": row.seq, "closed_at": row.closed_at, "history": memory.get("history", {}),
            "stays": memory.get("stays", {})})

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
    onsets = {code: date.fromisoformat(day) for code, day in
              (patient.condition_onsets or {}).items()}
    return Subject(patient.birth_date, patient.sex, tuple(patient.conditions), observations,
                   onsets, patient.ald)


def _rows(session: Session, table: Any, *where: Any, order: Any = None) -> Sequence[Any]:
    """Plain rows (attribute access by column name), without ORM bookkeeping."""
    query = select(table).where(*where)
    if order is not None:
        query = query.order_by(*order)
    return session.execute(query).all()


def load_batch(session: Session, case_ids: Iterable[int], today: date) -> Batch:
    ids = list(case_ids)
    batch = Batch({row.id: row for row in _rows(session, _CASE,
                                                 in_ids(_CASE.c.id, ids, session))})
    if not batch.cases:
        return batch
    for timer in _rows(session, _TIMER, in_ids(_TIMER.c.case_id, ids, session),
                       order=(_TIMER.c.fire_at,)):
        batch.timers[timer.case_id].append(timer)
    for task in _rows(session, _TASK, in_ids(_TASK.c.case_id, ids, session),
                      _TASK.c.status.in_(OPEN_TASK_STATUSES), order=(_TASK.c.id,)):
        batch.tasks[task.case_id].append(task)
    patient_ids = {row.patient_id for row in batch.cases.values()}
    load_patients(session, batch, patient_ids, today)
    version_ids = {row.pathway_version_id for row in batch.cases.values()}
    batch.versions = {v.id: v for v in session.scalars(  # type: ignore[misc]
        select(PathwayVersion).where(col(PathwayVersion.id).in_(version_ids)))}
    settings_ids = {row.settings_version_id for row in batch.cases.values()} - {None}
    if settings_ids:
        batch.settings = {s.id: s for s in session.scalars(  # type: ignore[misc]
            select(SettingsVersion).where(col(SettingsVersion.id).in_(settings_ids)))}
    return batch


def load_patients(session: Session, batch: Batch, patient_ids: set[int], today: date) -> None:
    ids = list(patient_ids)
    batch.patients = {p.id: p for p in _rows(session, _PATIENT,
                                              in_ids(_PATIENT.c.id, ids, session))}
    for obs in _rows(session, _OBS, in_ids(_OBS.c.patient_id, ids, session),
                     order=(_OBS.c.effective_at, _OBS.c.id)):
        batch.observations[(obs.patient_id, obs.code)] = obs
    team, pro = _TEAM, PROFESSIONAL_TABLE
    members = session.execute(
        select(team.c.patient_id, team.c.role, team.c.professional_id)
        .join(pro, pro.c.id == team.c.professional_id)
        .where(in_ids(team.c.patient_id, ids, session), pro.c.active,
               team.c.start_date <= today,
               or_(team.c.end_date.is_(None), team.c.end_date >= today))
        .order_by(team.c.start_date.desc(), team.c.id)).all()
    for patient_id, role, professional_id in members:
        batch.team[(patient_id, role)].append(professional_id)
    batch.coordinator_id = coordinator_id(session)


def coordinator_id(session: Session) -> int | None:
    return session.scalar(select(col(Professional.id)).where(
        and_(col(Professional.profession) == COORDINATOR, col(Professional.active)))
        .order_by(col(Professional.id)).limit(1))


def latest_observations(session: Session, patient_id: int) -> dict[tuple[int, str], ObservationRow]:
    out: dict[tuple[int, str], ObservationRow] = {}
    query = (select(ObservationRow).where(col(ObservationRow.patient_id) == patient_id)
             .order_by(col(ObservationRow.effective_at), col(ObservationRow.id)))
    for obs in session.scalars(query):
        out[(obs.patient_id, obs.code)] = obs
    return out


def as_of(moment: datetime) -> date:
    from engine.clock import PARIS

    return moment.astimezone(PARIS).date()
