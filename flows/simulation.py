"""What happens in the territory between two cycles of the demo, as inbound events.

Each simulated day, professionals complete some of their open tasks (with a
plausible result, by the assignee), laboratories send the results that
tasks wait for (``completed_by: observation:…``), a few elderly patients
are admitted to hospital and discharged some days later, and now and then
someone types an impossible value (an HbA1c of 45 %), which the inbox keeps
as *failed* with its error. Everything goes through ``engine.store.inbox``,
like events from the CLI or an interface would, and is applied by the
``process_inbound_events`` flow of the next cycle.

Deterministic for a given seed. Generic over the pathways: it reads task
result specifications and observation definitions from the published
versions, so it works on whatever ``pathways/*.yaml`` holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from engine import events
from engine.authoring import synthetic
from engine.clock import local_date
from engine.pathway.model import FieldSpec, Observation
from engine.store import overview, registry
from engine.store.db import transaction
from engine.store.inbox import enqueue
from engine.store.writer import Actor

ADMISSION_RATE = 0.004     # per patient enrolled in a hospital-watch pathway, per day
COMPLETION_RATE = 0.16     # per open task, per day
TYPO_EVERY_DAYS = 9        # an impossible value now and then


@dataclass
class DayEvents:
    completions: int = 0
    observations: int = 0
    admissions: int = 0
    discharges: int = 0
    typos: int = 0

    @property
    def total(self) -> int:
        return self.completions + self.observations + self.admissions + self.discharges \
            + self.typos


@dataclass
class Simulator:
    engine: Engine
    seed: int = 2026
    rng: random.Random = field(init=False)
    admitted: dict[str, date] = field(default_factory=dict)   # patient ref → discharge day
    day_number: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def day(self, since: datetime, now: datetime) -> DayEvents:
        """Enqueue what happened between ``since`` and ``now``."""
        self.day_number += 1
        out = DayEvents()
        with transaction(self.engine) as session:
            specs = _task_specs(session)
            hospital = _hospital_pathways(session)
            tasks = overview.open_tasks(session)
            for task in tasks:
                if self.rng.random() >= COMPLETION_RATE:
                    continue
                spec = specs.get((task.pathway_key, task.key))
                at = self._moment(since, now)
                if spec and spec["observation"]:
                    self._observe(session, task.patient_id, spec["observation"], at, now)
                    out.observations += 1
                else:
                    actor = Actor("professional", task.assignee_id) \
                        if task.assignee_id and not task.unassigned_role else Actor("coordinator")
                    enqueue(session, events.TASK_COMPLETED, task_id=task.id, effective_at=at,
                            received_at=at,
                            payload={"result": self._result(spec, local_date(now))},
                            source="simulation", actor=actor)
                    out.completions += 1
            self._hospital(session, hospital, since, now, out)
            if self.day_number % TYPO_EVERY_DAYS == 0 and tasks:
                victim = self.rng.choice(tasks)
                enqueue(session, events.OBSERVATION, patient_ref=victim.patient_id,
                        payload={"code": "4548-4", "value": 45, "unit": "%"},
                        effective_at=self._moment(since, now), received_at=now,
                        source="saisie manuelle")
                out.typos += 1
        return out

    # -- pieces -----------------------------------------------------------------------------

    def _moment(self, since: datetime, now: datetime) -> datetime:
        span = max(1, int((now - since).total_seconds()))
        return since + timedelta(seconds=self.rng.randrange(span))

    def _result(self, spec: dict[str, Any] | None, today: date) -> dict[str, Any]:
        fields = {k: FieldSpec.model_validate(v)
                  for k, v in (spec or {}).get("result", {}).items()}
        return synthetic.Patient(self.rng, {}).result(fields, today)

    def _observe(self, session: Any, patient_id: int, obs: dict[str, Any], at: datetime,
                 now: datetime) -> None:
        enqueue(session, events.OBSERVATION, patient_ref=patient_id, effective_at=at,
                received_at=at, source="laboratoire",
                payload={"code": obs["code"],
                         "value": synthetic.Patient(self.rng, {}).observation(
                             Observation.model_validate(obs)),
                         "unit": obs["unit"]})

    def _hospital(self, session: Any, pathways: list[str], since: datetime, now: datetime,
                  out: DayEvents) -> None:
        for ref, leave in sorted(self.admitted.items()):
            if leave <= local_date(now):
                at = self._moment(since, now)
                enqueue(session, events.DISCHARGE, patient_ref=ref, effective_at=at, received_at=at,
                        source="CH Nord Franche-Comté")
                del self.admitted[ref]
                out.discharges += 1
        if not pathways:
            return
        patients = overview.patients_with_open_cases(session, pathways)
        for patient_id in patients:
            if str(patient_id) in self.admitted or self.rng.random() >= ADMISSION_RATE:
                continue
            at = self._moment(since, now)
            enqueue(session, events.ADMISSION, patient_ref=patient_id, effective_at=at,
                    received_at=at, source="CH Nord Franche-Comté")
            stay = timedelta(days=self.rng.randint(3, 12))
            self.admitted[str(patient_id)] = local_date(now) + stay
            out.admissions += 1


def _task_specs(session: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(pathway, task key) → its result fields and the observation that completes it."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for version in overview.latest_versions(session):
        definition = registry.compiled(version).definition
        for key, task in definition.tasks.items():
            observation = None
            keys = (events.key_of(e, events.OBSERVATION) for e in task.completing_events())
            by = next((k for k in keys if k is not None), None)
            if by is not None:
                observation = definition.observations[by].model_dump()
            out[(version.key, key)] = {
                "result": {k: v.model_dump() for k, v in (task.result or {}).items()},
                "observation": observation}
    return out


def _hospital_pathways(session: Any) -> list[str]:
    """Pathways that react to admissions (they declare a transition on ``admission``)."""
    return [v.key for v in overview.latest_versions(session)
            if events.ADMISSION in registry.compiled(v).event_names]
