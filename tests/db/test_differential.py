"""Differential test: the database holds exactly what the in-memory runtime computed.

Hypothesis draws a patient, a pathway (every ``pathways/*.yaml`` and the
example) and a short sequence of steps: observations with values around the
pathway's thresholds, completions of open tasks, pathway events, admissions
and discharges, time jumps that skip several timer periods, and messages
arriving minutes after a timer fired (a result right after its request, before
any sweep ran). Each step is applied once through ``engine.runtime.Runtime`` on
a plain ``Case`` and once through ``CaseService`` on SQLite or PostgreSQL.
After every step the case row (states, facts, sequence, closure, next due
time), every task ever created (with its status), the timers and the history
lines equal the runtime's; an event the runtime refuses is refused by the
service too, with nothing written.

One database per backend serves every example (one new patient per example).
``PARCOURS_DIFFERENTIAL_EXAMPLES`` sets the number of sequences (default 2 000
per backend); ``-m nightly`` runs the long version.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from engine.case import Event, Subject
from engine.exceptions import ParcoursError
from engine.pathway import load_file
from engine.pathway.compiler import CompiledPathway
from engine.runtime import Runtime
from engine.store.db import make_engine, transaction
from engine.store.service import AdvanceReport, CaseService
from engine.store.tables import Patient, Professional, TaskRow
from tests.db.differential import Reference, stored
from tests.test_properties import _fields, _value

ROOT = Path(__file__).resolve().parents[2]
FILES = [*sorted((ROOT / "pathways").glob("*.yaml")),
         ROOT / "pathways" / "examples" / "exemple-suivi.yaml"]
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
EXAMPLES = int(os.environ.get("PARCOURS_DIFFERENTIAL_EXAMPLES", "2000"))
NIGHTLY_EXAMPLES = int(os.environ.get("PARCOURS_DIFFERENTIAL_NIGHTLY", "50000"))
MAX_STEPS = 4
CONDITIONS = ["44054006", "84114007"]
KINDS = ["observe", "complete", "wait", "event", "admission", "discharge", "soon"]


@dataclass
class World:
    service: CaseService
    engine: Engine
    pathways: dict[str, CompiledPathway]
    runtimes: dict[str, Runtime]
    ids: Iterator[int]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from engine.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('differential') / 'parcours.db'}"
        eng = make_engine(url)
        upgrade(eng)
    else:
        from tests.conftest import _truncate

        url = request.getfixturevalue("pg_database")
        _truncate(url)
        eng = make_engine(url)
    _no_fsync(eng)
    service = CaseService(eng)
    pathways = {}
    for path in FILES:
        service.publish(path.read_text(encoding="utf-8"), str(path), START)
        compiled = load_file(str(path))
        pathways[compiled.key] = compiled
    with transaction(eng) as s:
        s.add(Professional(rpps="19999999999", family_name="Coordination",
                           given_names="CPTS", profession="coordinateur"))
    yield World(service, eng, pathways, {k: Runtime(p) for k, p in pathways.items()},
                itertools.count(1))
    eng.dispose()


def _no_fsync(eng: Engine) -> None:
    """Commits without waiting for the disk: thousands of transactions, nothing to keep.

    Durability is not what this test checks (``test_crash`` does); transactions,
    isolation and every statement stay the same.
    """
    from sqlalchemy import event

    statement = ("PRAGMA synchronous=OFF" if eng.dialect.name == "sqlite"
                 else "SET synchronous_commit TO off")

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        if eng.dialect.name != "sqlite":
            dbapi_connection.commit()


# -- strategies ------------------------------------------------------------------------------


def _thresholds(pathway: CompiledPathway) -> list[float]:
    return [float(p.default) for p in pathway.definition.parameters.values()
            if p.type in ("number", "integer") and isinstance(p.default, int | float)]


def _observation(data: st.DataObject, pathway: CompiledPathway) -> tuple[str, Any]:
    key = data.draw(st.sampled_from(sorted(pathway.definition.observations)), label="obs")
    spec = pathway.definition.observations[key]
    near = [t + d for t in _thresholds(pathway) for d in (-1, -0.1, 0, 0.1, 1)
            if (spec.minimum is None or t + d >= spec.minimum)
            and (spec.maximum is None or t + d <= spec.maximum)]
    if spec.type == "number" and near and data.draw(st.booleans(), label="near"):
        return key, data.draw(st.sampled_from(near), label="value")
    return key, data.draw(_value(spec.type, spec.minimum, spec.maximum, spec.choices),
                          label="value")


def _later(data: st.DataObject, now: datetime) -> datetime:
    """Minutes, hours, days, or months later (months skip several timer periods)."""
    scale = data.draw(st.sampled_from(["minutes", "hours", "days", "days", "months"]))
    if scale == "months":
        return now + timedelta(days=30 * data.draw(st.integers(1, 18), label="months"))
    size = {"minutes": 59, "hours": 23, "days": 60}[scale]
    return now + timedelta(**{scale: data.draw(st.integers(1, size), label=scale)})


# -- one step on both sides ------------------------------------------------------------------


class Run:
    def __init__(self, world: World, data: st.DataObject) -> None:
        self.w, self.data = world, data
        self.key = data.draw(st.sampled_from(sorted(world.pathways)), label="pathway")
        self.pathway = world.pathways[self.key]
        born = data.draw(st.dates(date(1925, 1, 1), date(1965, 12, 31)), label="born")
        sex = data.draw(st.sampled_from(["F", "M"]), label="sex")
        conditions = data.draw(st.lists(st.sampled_from(CONDITIONS), unique=True))
        self.ref = Reference(world.runtimes[self.key], Subject(born, sex, tuple(conditions)))
        with transaction(world.engine) as s:
            patient = Patient(local_id=f"D-{next(world.ids)}", family_name="Différentiel",
                              given_names="Test", birth_date=born, sex=sex,
                              conditions=conditions, created_at=START)
            s.add(patient)
            s.flush()
            self.patient_id = patient.id or 0
        applied = world.service.enroll(self.patient_id, self.key, START,
                                       check_eligibility=False)
        self.case_id = applied.case_ids[0]
        self.ref.start(START)
        self.now = START

    def check(self) -> None:
        with transaction(self.w.engine) as s:
            db = stored(s, self.case_id)
        assert db == self.ref.snapshot()

    def both(self, on_runtime: Any, on_service: Any) -> bool:
        """Apply on both sides; a refusal must be a refusal on both, nothing written."""
        try:
            on_runtime()
        except ParcoursError as exc:
            try:
                on_service()
            except ParcoursError:
                return False
            raise AssertionError(f"the runtime refused ({exc}), the database accepted") from exc
        on_service()
        return True

    def wait(self, at: datetime) -> None:
        self.both(lambda: self.ref.advance(at), lambda: self.w.service.advance_batch(
            at, 10, AdvanceReport(), [self.case_id]))

    def step(self) -> None:
        kind = self.data.draw(st.sampled_from(KINDS), label="kind")
        at = _later(self.data, self.now)
        if kind == "soon":  # minutes after the next timer, before any sweep ran
            due = self.ref.case.next_due
            if due is None:
                return
            at = max(due, self.now) + timedelta(minutes=self.data.draw(st.integers(1, 30)))
            kind = self.data.draw(st.sampled_from(["observe", "event", "admission",
                                                   "discharge"]), label="then")
        self.now = at
        if kind == "observe" and self.pathway.definition.observations:
            self.observe(at)
        elif kind == "complete":
            self.wait(at)
            self.check()
            self.complete(at)
        elif kind == "event" and self.pathway.definition.events:
            self.event(at)
        elif kind in ("admission", "discharge"):
            self.both(lambda: self.ref.apply(Event(kind, at)),
                      lambda: self.w.service.hospital_event(self.patient_id, kind, at, at))
        else:
            self.wait(at)

    def observe(self, at: datetime) -> None:
        key, value = _observation(self.data, self.pathway)
        spec = self.pathway.definition.observations[key]
        stored_value = float(value) if spec.type == "number" else value
        if self.both(lambda: self.ref.apply(Event(f"observation:{key}", at, value=value,
                                                  unit=spec.unit)),
                     lambda: self.w.service.observe(self.patient_id, spec.code, value,
                                                    spec.unit, at, at)):
            self.ref.observed(key, stored_value, spec.unit, at)

    def complete(self, at: datetime) -> None:
        if self.ref.case.closed or not self.ref.case.tasks:
            return
        task = self.data.draw(st.sampled_from(self.ref.case.tasks), label="task")
        result = self.data.draw(_fields(self.pathway.tasks[task.key].result), label="result")
        with transaction(self.w.engine) as s:
            task_id = s.scalar(select(TaskRow.id).where(TaskRow.case_id == self.case_id,
                                                        TaskRow.ref == task.ref))
        assert task_id is not None, f"task {task.ref} open in the runtime, absent in the database"
        self.both(lambda: self.ref.apply(Event(f"task_completed:{task.key}", at, task=task.ref,
                                               result=result)),
                  lambda: self.w.service.complete_task(task_id, result, at, at))

    def event(self, at: datetime) -> None:
        events = self.pathway.definition.events
        name = self.data.draw(st.sampled_from(sorted(events)), label="event")
        values = self.data.draw(_fields(events[name].data), label="data")
        self.both(lambda: self.ref.apply(Event(name, at, data=values)),
                  lambda: self.w.service.pathway_event(self.case_id, name, at, at,
                                                       data=values))


def run_sequence(world: World, data: st.DataObject) -> None:
    run = Run(world, data)
    run.check()
    for _ in range(data.draw(st.integers(1, MAX_STEPS), label="steps")):
        if run.ref.case.closed:
            break
        run.step()
        run.check()


#: no example database: the examples depend on the pathways, which change between runs
_SETTINGS: dict[str, Any] = {"deadline": None, "database": None,
                             "phases": (Phase.explicit, Phase.generate),
                             "suppress_health_check": [HealthCheck.too_slow,
                                                       HealthCheck.data_too_large]}


@settings(max_examples=EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_database_equals_runtime(world: World, data: st.DataObject) -> None:
    run_sequence(world, data)


@pytest.mark.nightly
@settings(max_examples=NIGHTLY_EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_database_equals_runtime_nightly(world: World, data: st.DataObject) -> None:
    run_sequence(world, data)
