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
Time never goes back: steps come in date order after ``start``, ``end``
after the last step. A step does one thing (``observe``, ``complete`` or
``event``, or nothing to let time pass). The patient must be eligible at
``start``. Every mistake is reported as ``file:line:col: message``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from engine import events
from engine.case import Case, Effect, Event, ObservationValue, Outcome, Subject
from engine.clock import PARIS
from engine.exceptions import Diagnostic, InvalidEventDataError, ParcoursError, TimelineError
from engine.pathway.compiler import CompiledPathway
from engine.pathway.reader import Document, YamlReadError, read_file
from engine.runtime import Runtime
from engine.suggest import did_you_mean


def _not_a_number(value: Any) -> Any:
    # pydantic would read 2026 as a Unix timestamp (1970-01-01T00:33:46)
    if isinstance(value, int | float):
        raise ValueError("a number is not a date")
    return value


Moment = Annotated[datetime | date, BeforeValidator(_not_a_number)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatientSpec(_Model):
    birth_date: date
    sex: str | None = None
    conditions: list[str] = Field(default_factory=list)
    onsets: dict[str, date] = Field(default_factory=dict,
                                    description="Onset date of conditions, by code")
    ald: bool | None = Field(None, description="ALD fully covered; absent: unknown")

    def subject(self) -> Subject:
        return Subject(self.birth_date, self.sex, tuple(self.conditions), onsets=self.onsets,
                       ald=self.ald)


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
    """Read and validate a timeline file; every problem is a ``file:line:col`` line."""
    try:
        doc, problems = read_file(path)
    except YamlReadError as exc:
        raise TimelineError("\n".join(map(str, exc.diagnostics))) from exc
    except OSError as exc:
        raise TimelineError(f"{path}: cannot read file: {exc.strerror}") from exc
    if problems:
        raise TimelineError("\n".join(map(str, problems)))
    if not isinstance(doc.data, dict):
        raise TimelineError(str(doc.diagnostic((), "a timeline must be a mapping with keys "
                                                   + ", ".join(Timeline.model_fields),
                                               "timeline")))
    try:
        return Timeline.model_validate(doc.data), doc
    except ValidationError as exc:
        lines = [str(_diagnostic(doc, err)) for err in exc.errors(include_url=False)]
        raise TimelineError("\n".join(dict.fromkeys(lines))) from exc


_MODELS: dict[str, type[BaseModel]] = {"patient": PatientSpec, "steps": Step}
_EXPECTED = {"model_type": "a mapping (key: value)", "dict_type": "a mapping (key: value)",
             "list_type": "a list", "string_type": "a text"}


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)
_MOMENT = "a date (2026-01-12) or a date and time (2026-01-12T14:30)"


def _diagnostic(doc: Document, err: Any) -> Diagnostic:
    """One pydantic error as a diagnostic that says what is allowed."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p)
                and p not in ("datetime", "date"))
    kind, where = err["type"], ".".join(map(str, loc))
    model: type[BaseModel] = _MODELS.get(str(loc[0]), Timeline) if len(loc) > 1 else Timeline
    if kind == "extra_forbidden":
        allowed = list(model.model_fields)
        message = (f"unknown key {loc[-1]!r}{did_you_mean(str(loc[-1]), allowed)}; allowed "
                   f"keys are {', '.join(allowed)}")
        line, col = doc.position(loc, key=True)
    elif kind == "missing":
        required = [k for k, f in model.model_fields.items() if f.is_required()]
        message = (f"{where.rpartition('.')[0] or 'the timeline'}: missing key {loc[-1]!r}; "
                   f"required keys are {', '.join(required)}")
        line, col = doc.position(loc[:-1], key=True)
    elif loc and loc[-1] in ("at", "start", "end"):
        message = f"{where}: expected {_MOMENT}, got {err['input']!r}"
        line, col = doc.position(loc)
    elif loc and loc[-1] == "birth_date":
        message = f"{where}: expected a date such as 1950-03-02, got {err['input']!r}"
        line, col = doc.position(loc)
    else:
        expected = _EXPECTED.get(kind)
        message = (f"{where}: expected {expected}, got {_show(err['input'])}" if expected
                   else f"{where}: {err['msg']}, got {err['input']!r}")
        line, col = doc.position(loc)
    return Diagnostic(doc.file, line, col, message, "timeline")


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
    """Enrol the patient, then apply each step in order; yields one result per step.

    Steps must come in date order (time never goes back), after ``start`` and
    before ``end``; the patient must meet the pathway's eligibility at ``start``.
    """
    runtime = _runtime(pathway, timeline, doc)
    spec = timeline.patient
    subject = spec.subject()
    start = as_datetime(timeline.start)
    if not runtime.is_eligible(subject, start):
        age = subject.age_at(start)
        raise TimelineError(_where(doc, ("patient",)) + f"the patient (age {age} on "
                            f"{start:%Y-%m-%d}) is not eligible for this pathway: "
                            f"{pathway.definition.eligibility}")
    outcome = runtime.start(subject, start)
    yield StepResult(0, start, "inscription", outcome)
    case, previous = outcome.case, start
    steps = list(timeline.steps)
    for i, step in enumerate(steps, start=1):
        at = as_datetime(step.at)
        if at < previous:
            raise TimelineError(_where(doc, ("steps", i - 1, "at")) + f"step {i} "
                                f"({at:%Y-%m-%d %H:%M}) comes before {previous:%Y-%m-%d %H:%M}"
                                "; steps must be in date order, after 'start'")
        shape = _shape_problem(step)
        if shape is not None:
            stray, message = shape
            raise TimelineError(_where(doc, ("steps", i - 1, stray), key=True) + f"step {i}: "
                                + message)
        try:
            outcome, label = _apply(runtime, case, subject, step, at)
        except ParcoursError as exc:
            key = _culprit(step, exc)
            raise TimelineError(_where(doc, ("steps", i - 1, *key)) +
                                f"step {i} ({at:%Y-%m-%d %H:%M}): {exc}") from exc
        if step.observe:
            observations = dict(subject.observations)
            seen = runtime.in_declared_unit(Event(events.observation(step.observe), at,
                                                  value=step.value, unit=step.unit))
            observations[step.observe] = ObservationValue(seen.value, at, seen.unit)
            subject = replace(subject, observations=observations)
        case, previous = outcome.case, at
        yield StepResult(i, at, label, outcome)
    if timeline.end is not None:
        end = as_datetime(timeline.end)
        if end < previous:
            raise TimelineError(_where(doc, ("end",)) + f"end ({end:%Y-%m-%d %H:%M}) comes "
                                f"before the last step ({previous:%Y-%m-%d %H:%M})")
        yield StepResult(len(steps) + 1, end, "fin", runtime.advance(case, subject, end))


def _where(doc: Document | None, path: tuple[str | int, ...], key: bool = False) -> str:
    if doc is None:
        return ""
    line, col = doc.position(path, key=key)
    return f"{doc.file}:{line}:{col}: "


def _runtime(pathway: CompiledPathway, timeline: Timeline, doc: Document | None) -> Runtime:
    """The runtime with the timeline's parameters; each bad one reported at its line."""
    try:
        return Runtime(pathway, timeline.parameters)
    except ValueError as exc:
        problems = []
        for name, value in timeline.parameters.items():
            try:
                pathway.resolve_parameters({name: value})
            except ValueError as one:
                problems.append(_where(doc, ("parameters", name), key=True) + str(one))
        raise TimelineError("\n".join(problems) or f"parameters: {exc}") from exc


_ACTIONS = ("observe", "complete", "event")
_DATA_KEY = {"observe": "value", "complete": "result", "event": "data"}
_GOES_WITH = {"value": "observe", "unit": "observe", "result": "complete", "data": "event"}


def _shape_problem(step: Step) -> tuple[str, str] | None:
    """(key, message) when a step does more than one thing or carries stray data."""
    chosen = [k for k in _ACTIONS if getattr(step, k)]
    if len(chosen) > 1:
        return chosen[1], (f"a step does one thing ({', '.join(_ACTIONS)}); this one has "
                           f"{' and '.join(chosen)}")
    for key, action in _GOES_WITH.items():
        if key in step.model_fields_set and action not in chosen:
            return key, f"{key!r} only goes with {action!r}, which this step does not have"
    return None


def _culprit(step: Step, exc: ParcoursError) -> tuple[str, ...]:
    """The key of a step an error is about: the data it carries, or what it names."""
    action = next((k for k in _ACTIONS if getattr(step, k)), None)
    if action is None:
        return ()
    if isinstance(exc, InvalidEventDataError) and _DATA_KEY[action] in step.model_fields_set:
        return (_DATA_KEY[action],)
    return (action,)


def _apply(runtime: Runtime, case: Case, subject: Subject, step: Step, at: datetime,
           ) -> tuple[Outcome, str]:
    definition = runtime.pathway.definition
    if step.observe:
        if step.observe not in definition.observations:
            known = list(definition.observations)
            raise TimelineError(f"unknown observation {step.observe!r}"
                                f"{did_you_mean(step.observe, known)}; this pathway observes "
                                f"{', '.join(known) or 'nothing'}")
        event = Event(events.observation(step.observe), at, value=step.value, unit=step.unit)
        return runtime.apply(case, event, subject), f"observation {step.observe} = {step.value}"
    if step.complete:
        if step.complete not in definition.tasks:
            known = list(definition.tasks)
            raise TimelineError(f"unknown task {step.complete!r}"
                                f"{did_you_mean(step.complete, known)}; this pathway's tasks "
                                f"are {', '.join(known) or 'none'}")
        # fire timers first, so that the task looked up is the one open at that time
        advanced = runtime.advance(case, subject, at)
        case = advanced.case
        open_refs = [t.ref for t in case.tasks if t.key == step.complete]
        if not open_refs:
            raise TimelineError(f"no open task {step.complete!r} to complete; open tasks: "
                                f"{', '.join(t.key for t in case.tasks) or 'none'}")
        event = Event(events.task_completed(step.complete), at, task=open_refs[0],
                      result=step.result)
        done = runtime.apply(case, event, subject)
        return Outcome(done.case, advanced.effects + done.effects), \
            f"tâche {step.complete} terminée"
    if step.event:
        return runtime.apply(case, Event(step.event, at, data=step.data), subject), \
            f"événement {step.event}"
    return runtime.advance(case, subject, at), "le temps passe"

