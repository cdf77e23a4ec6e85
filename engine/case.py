"""A case and what happens to it, as plain data.

The runtime takes a ``Case`` and an ``Event`` and returns an ``Outcome``: the
new case and the list of effects (transitions, tasks created, completed or
cancelled, timers set, facts changed, messages to send). Everything here is
immutable and serialisable with ``to_dict``, so the persistence layer can
write one outcome in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from engine import caseformat
from engine.clock import local_date
from engine.durations import Duration


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class TimerState:
    name: str
    state: str
    fire_at: datetime
    every: str | None = None  # the period's duration text, for recurring timers
    #: when a recurring timer's schedule started: firings are anchor + k × period, so a
    #: monthly timer armed on the 31st fires on the last day of shorter months, then the 31st
    anchor: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpenTask:
    ref: str
    key: str
    state: str
    role: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Case:
    """One patient's progress through one pathway version."""

    active: tuple[str, ...]
    facts: Mapping[str, Any] = field(default_factory=dict)
    timers: tuple[TimerState, ...] = ()
    tasks: tuple[OpenTask, ...] = ()
    seq: int = 0
    closed_at: datetime | None = None
    #: per observation kind the guards read through ``history.KEY``, the values they can
    #: still read, newest first (bounded: see ``engine.history``)
    history: Mapping[str, tuple[ObservationValue, ...]] = field(default_factory=dict)
    #: hospital stays seen, per stay id and event kind (plain JSON: see ``engine.hospital``)
    stays: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def next_due(self) -> datetime | None:
        return min((t.fire_at for t in self.timers), default=None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; ``zone`` names the time zone of the case's dates, if any."""
        data: dict[str, Any] = jsonable(asdict(self))
        data["format"] = caseformat.CURRENT
        zone = self._zone()
        if zone is not None:
            data["zone"] = zone.key
        return data

    def memory(self) -> dict[str, Any]:
        """What the case remembers beyond its facts, as JSON (the store's ``memory`` column)."""
        out: dict[str, Any] = {}
        if self.history:
            out["history"] = {key: [jsonable(asdict(e)) for e in entries]
                              for key, entries in self.history.items()}
        if self.stays:
            out["stays"] = jsonable(self.stays)
        return out

    def _zone(self) -> ZoneInfo | None:
        for moment in (self.closed_at, *(t.fire_at for t in self.timers),
                       *(t.due_at for t in self.tasks)):
            if moment is not None and isinstance(moment.tzinfo, ZoneInfo):
                return moment.tzinfo
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        """The inverse of ``to_dict``: dates come back in the case's zone, wall clock kept.

        A case written by an older release (``format`` below ``caseformat.CURRENT``, or no
        ``format`` at all: format 1) is upgraded first, one documented step per change."""
        data = caseformat.upgrade(data)
        zone = ZoneInfo(data["zone"]) if data.get("zone") else None
        return cls(
            active=tuple(data["active"]), facts=dict(data.get("facts", {})),
            timers=tuple(TimerState(t["name"], t["state"], _dt(t["fire_at"], zone),
                                    t.get("every"),
                                    _dt(t["anchor"], zone) if t.get("anchor") else None)
                         for t in data.get("timers", ())),
            tasks=tuple(OpenTask(t["ref"], t["key"], t["state"], t["role"],
                                 _dt(t["due_at"], zone))
                        for t in data.get("tasks", ())),
            seq=int(data.get("seq", 0)),
            closed_at=_dt(data["closed_at"], zone) if data.get("closed_at") else None,
            history=history_from_dict(data.get("history", {}), zone),
            stays=dict(data.get("stays", {})))


def history_of_memory(memory: Mapping[str, Any] | None) -> dict[str, tuple[ObservationValue,
                                                                         ...]]:
    """The observation history kept in a ``memory`` column (empty for older cases)."""
    return history_from_dict((memory or {}).get("history", {}))


def history_from_dict(data: Mapping[str, Any],
                      zone: ZoneInfo | None = None) -> dict[str, tuple[ObservationValue, ...]]:
    """The ``history`` of ``Case.to_dict`` back as values (cases stored before it: empty)."""
    return {key: tuple(ObservationValue(e["value"], _dt(e["at"], zone), e.get("unit"))
                       for e in entries) for key, entries in data.items()}


def _dt(value: Any, zone: ZoneInfo | None = None) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if zone is None or moment.tzinfo is None or moment.tzinfo is zone:
        return moment
    # same wall clock and offset in the zone: keeps times that fall in a daylight-saving
    # gap or fold exactly as they were (a plain astimezone would move or merge them)
    offset = moment.utcoffset()
    for fold in (0, 1):
        candidate = moment.replace(tzinfo=zone, fold=fold)
        if candidate.utcoffset() == offset:
            return candidate
    return moment.astimezone(zone)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to the patient, at a time."""

    name: str
    at: datetime
    value: Any = None
    unit: str | None = None
    task: str | None = None             # ref of the task completed
    result: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def view(self) -> dict[str, Any]:
        """What guards see as ``event``."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "date": self.at,
                "result": dict(self.result), "data": dict(self.data), "task": self.task}


@dataclass(frozen=True, slots=True)
class ObservationValue:
    """The latest value of one observation code for the patient."""

    value: Any
    at: datetime
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Subject:
    """What the runtime may know of the patient: no name, no identifier."""

    birth_date: date | None = None
    sex: str | None = None
    conditions: tuple[str, ...] = ()
    #: latest observation per *pathway observation key*
    observations: Mapping[str, ObservationValue] = field(default_factory=dict)
    #: onset date of some conditions, by code
    onsets: Mapping[str, date] = field(default_factory=dict)
    #: ALD (long-term condition fully covered); None when unknown
    ald: bool | None = None

    def age_at(self, moment: datetime) -> int | None:
        """Age in whole years on the territory's date of ``moment`` (Europe/Paris)."""
        if self.birth_date is None:
            return None
        day = local_date(moment)
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def condition_years(self, moment: datetime) -> dict[str, int]:
        """Whole years since the onset of each condition whose onset is known."""
        day = moment.date()
        return {code: day.year - onset.year - ((day.month, day.day) < (onset.month, onset.day))
                for code, onset in self.onsets.items()}


# -- effects -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Effect:
    kind: ClassVar[str] = "effect"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **jsonable(asdict(self))}


@dataclass(frozen=True, slots=True)
class Entered(Effect):
    kind: ClassVar[str] = "enrolled"
    at: datetime
    states: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Transitioned(Effect):
    kind: ClassVar[str] = "transition"
    at: datetime
    event: str
    transition: str
    source: str
    target: str | None
    exited: tuple[str, ...]
    entered: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TaskCreated(Effect):
    kind: ClassVar[str] = "task_created"
    at: datetime
    ref: str
    key: str
    state: str
    title: str
    description: str | None
    role: str
    due_at: datetime
    reminder_at: datetime | None
    escalation_at: datetime | None
    result: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class TaskCompleted(Effect):
    kind: ClassVar[str] = "task_completed"
    at: datetime
    ref: str
    key: str
    result: Mapping[str, Any]
    by_event: str | None = None


@dataclass(frozen=True, slots=True)
class TaskCancelled(Effect):
    kind: ClassVar[str] = "task_cancelled"
    at: datetime
    ref: str
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class TimerSet(Effect):
    kind: ClassVar[str] = "timer_set"
    name: str
    state: str
    fire_at: datetime


@dataclass(frozen=True, slots=True)
class TimerCancelled(Effect):
    kind: ClassVar[str] = "timer_cancelled"
    at: datetime
    name: str
    state: str


@dataclass(frozen=True, slots=True)
class TimerFired(Effect):
    kind: ClassVar[str] = "timer_fired"
    at: datetime
    name: str
    state: str


@dataclass(frozen=True, slots=True)
class FactSet(Effect):
    kind: ClassVar[str] = "fact_set"
    at: datetime
    name: str
    value: Any


@dataclass(frozen=True, slots=True)
class Notification(Effect):
    kind: ClassVar[str] = "notification"
    at: datetime
    roles: tuple[str, ...]
    message: str
    template: str


@dataclass(frozen=True, slots=True)
class GuardFailed(Effect):
    kind: ClassVar[str] = "guard_failed"
    at: datetime
    transition: str
    error: str


@dataclass(frozen=True, slots=True)
class HospitalEventUndone(Effect):
    """A cancelled admission or discharge (HL7 A11/A13) undone: the history line."""

    kind: ClassVar[str] = "hospital_event_undone"
    at: datetime
    event: str
    stay: str
    restored: tuple[str, ...]       # the states the case is back in
    cancelled: tuple[str, ...]      # refs of the tasks it had created, cancelled now
    not_reopened: tuple[str, ...]   # refs of the tasks it had closed (cannot be reopened)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Migrated(Effect):
    """The case moved to another version of its pathway (or back): the history line."""

    kind: ClassVar[str] = "migrated"
    at: datetime
    from_version: int
    to_version: int
    run: int | None
    note: str          # « passé de la version 1 à la version 2 »
    source: tuple[str, ...] = ()   # the states before
    target: tuple[str, ...] = ()   # the states after


@dataclass(frozen=True, slots=True)
class CaseClosed(Effect):
    kind: ClassVar[str] = "case_closed"
    at: datetime
    state: str


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    effects: tuple[Effect, ...]

    def of(self, kind: type[Effect]) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]


# -- construction --------------------------------------------------------------------------

_NO_VALUE = object()


def _direct_init(cls: type) -> Callable[..., None]:
    """The ``__init__`` of a frozen, slotted dataclass with the same signature, storing each
    field through its slot's descriptor instead of ``object.__setattr__`` (which looks the
    name up on the class every time): the runtime makes tens of these values per event.

    The text compiled is made of the class's field names only, as ``dataclasses`` does."""
    namespace: dict[str, Any] = {"_NO_VALUE": _NO_VALUE}
    params, body = [], []
    for f in fields(cls):
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        value = f.name
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_NO_VALUE")
            value = f"_factory_{f.name}() if {f.name} is _NO_VALUE else {f.name}"
        else:
            params.append(f.name)
        body.append(f"    _set_{f.name}(__dataclass_self__, {value})")
    text = (f"def __init__(__dataclass_self__, {', '.join(params)}):\n" + "\n".join(body)
            + "\n")
    exec(text, namespace)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


for _cls in (TimerState, OpenTask, Case, Event, ObservationValue, Entered, Transitioned,
             TaskCreated, TaskCompleted, TaskCancelled, TimerSet, TimerCancelled, TimerFired,
             FactSet, Notification, GuardFailed, CaseClosed, Outcome):
    _cls.__init__ = _direct_init(_cls)  # type: ignore[method-assign]
