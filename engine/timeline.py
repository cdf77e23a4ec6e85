"""Timelines: a dated list of events for one made-up patient, replayed in memory.

Used by ``parcours run``. A timeline file::

    patient: {birth_date: 1950-03-02, sex: F, conditions: ["44054006"]}
    parameters: {hba1c_target: 6.5}     # optional CPTS overrides
    start: 2026-01-05T09:00             # enrolment
    steps:
      - {at: 2026-01-10, complete: bilan_initial}
      - {at: 2026-04-15, observe: hba1c, value: 8.2}
      - {at: 2026-05-01, event: admission}
      - {at: 2027-12-31}                # only lets time pass: due timers fire
    end: 2028-01-05                     # optional last date to advance to

Dates without a time mean 09:00; times without a zone are Europe/Paris.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.case import Case, Effect, Event, ObservationValue, Outcome, Subject
from engine.clock import PARIS
from engine.exceptions import Diagnostic, ParcoursError, TimelineError
from engine.pathway.compiler import CompiledPathway
from engine.pathway.reader import Document, YamlReadError, read_file
from engine.runtime import Runtime

Moment = datetime | date


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientSpec(_Model):
    birth_date: date
    sex: str | None = None
    conditions: list[str] = Field(default_factory=list)


class Step(_Model):
    at: Moment
    observe: str | None = None
    value: Any = None
    unit: str | None = None
    complete: str | None = Field(None, description="Key of an open task to complete")
    result: dict[str, Any] = Field(default_factory=dict)
    event: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Timeline(_Model):
    patient: PatientSpec
    parameters: dict[str, Any] = Field(default_factory=dict)
    start: Moment
    steps: list[Step] = Field(default_factory=list)
    end: Moment | None = None


def as_datetime(moment: Moment) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(9, 0))
    return moment if moment.tzinfo else moment.replace(tzinfo=PARIS)


def read_timeline(path: str) -> tuple[Timeline, Document]:
    try:
        doc, problems = read_file(path)
    except YamlReadError as exc:
        raise TimelineError("\n".join(map(str, exc.diagnostics))) from exc
    except OSError as exc:
        raise TimelineError(f"{path}: cannot read file: {exc.strerror}") from exc
    if problems:
        raise TimelineError("\n".join(map(str, problems)))
    try:
        return Timeline.model_validate(doc.data), doc
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            line, col = doc.position(loc)
            where = ".".join(map(str, loc))
            lines.append(str(Diagnostic(path, line, col, f"{where}: {err['msg']}", "timeline")))
        raise TimelineError("\n".join(lines)) from exc


@dataclass
class StepResult:
    index: int
    at: datetime
    label: str
    outcome: Outcome

    @property
    def case(self) -> Case:
        return self.outcome.case

    @property
    def effects(self) -> tuple[Effect, ...]:
        return self.outcome.effects


def replay(pathway: CompiledPathway, timeline: Timeline, doc: Document | None = None,
           ) -> Iterator[StepResult]:
    """Enrol the patient, then apply each step in order; yields one result per step."""
    try:
        runtime = Runtime(pathway, timeline.parameters)
    except ValueError as exc:
        raise TimelineError(f"parameters: {exc}") from exc
    spec = timeline.patient
    subject = Subject(spec.birth_date, spec.sex, tuple(spec.conditions))
    start = as_datetime(timeline.start)
    outcome = runtime.start(subject, start)
    yield StepResult(0, start, "inscription", outcome)
    case = outcome.case
    steps = list(timeline.steps)
    for i, step in enumerate(steps, start=1):
        at = as_datetime(step.at)
        try:
            outcome, label = _apply(runtime, case, subject, step, at)
        except ParcoursError as exc:
            where = ""
            if doc is not None:
                line, col = doc.position(("steps", i - 1))
                where = f"{doc.file}:{line}:{col}: "
            raise TimelineError(f"{where}step {i} ({at:%Y-%m-%d %H:%M}): {exc}") from exc
        if step.observe:
            observations = dict(subject.observations)
            observations[step.observe] = ObservationValue(step.value, at, step.unit)
            subject = Subject(subject.birth_date, subject.sex, subject.conditions, observations)
        case = outcome.case
        yield StepResult(i, at, label, outcome)
    if timeline.end is not None:
        end = as_datetime(timeline.end)
        yield StepResult(len(steps) + 1, end, "fin", runtime.advance(case, subject, end))


def _apply(runtime: Runtime, case: Case, subject: Subject, step: Step, at: datetime,
           ) -> tuple[Outcome, str]:
    chosen = [k for k in ("observe", "complete", "event") if getattr(step, k)]
    if len(chosen) > 1:
        raise TimelineError(f"a step does one thing; this one has {', '.join(chosen)}")
    if step.observe:
        event = Event(f"observation:{step.observe}", at, value=step.value, unit=step.unit)
        return runtime.apply(case, event, subject), f"observation {step.observe} = {step.value}"
    if step.complete:
        # fire timers first, so that the task looked up is the one open at that time
        advanced = runtime.advance(case, subject, at)
        case = advanced.case
        open_refs = [t.ref for t in case.tasks if t.key == step.complete]
        if not open_refs:
            raise TimelineError(f"no open task {step.complete!r} to complete; open tasks: "
                                f"{', '.join(t.key for t in case.tasks) or 'none'}")
        event = Event(f"task_completed:{step.complete}", at, task=open_refs[0],
                      result=step.result)
        done = runtime.apply(case, event, subject)
        return Outcome(done.case, advanced.effects + done.effects), \
            f"tâche {step.complete} terminée"
    if step.event:
        return runtime.apply(case, Event(step.event, at, data=step.data), subject), \
            f"événement {step.event}"
    return runtime.advance(case, subject, at), "le temps passe"
