"""The pathway definition model: typed, immutable, and the source of the JSON Schema.

Field descriptions here are what editors show on hover, so they are written
for pathway authors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine import outbox

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
DurationRef = Annotated[str, Field(
    description="ISO-8601 duration (P3M = three calendar months, P1Y, P2W, P14D, PT12H) "
                "or the name of a parameter of type duration")]
Expression = Annotated[str, Field(
    description="Guard expression (Jinja2 syntax, sandboxed): names params, facts, obs, "
                "patient, event, now, days_since(…), days_between(a, b), "
                "within(date, delay), history.KEY.min(within=…)…")]
ValueType = Literal["number", "integer", "boolean", "duration", "text", "choice", "date"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    """A citation backing thresholds and delays (HAS, ESC, Assurance Maladie…)."""

    citation: str = Field(description="Full reference, e.g. 'HAS–ANSM, janvier 2013'")
    url: str | None = None


class Parameter(_Model):
    """A named, typed value (threshold, delay) a CPTS may override without editing the file."""

    type: ValueType
    default: Any = Field(description="Default value, of the declared type")
    description: str = Field(description="What the parameter means, in French")
    unit: str | None = Field(
        None, description="Unit of a number (%, pg/mL, ans…); a territory settings file may "
                          "write a value with this unit and no other")
    minimum: float | str | None = Field(
        None, description="Lowest value a territory may set: a number, or an ISO-8601 "
                          "duration (P1M) for a duration parameter")
    maximum: float | str | None = Field(
        None, description="Highest value a territory may set: a number, or an ISO-8601 "
                          "duration (P2Y) for a duration parameter")
    choices: list[str | int] | None = None
    source: str | None = Field(None, description="Id of an entry of `sources`")
    cpts_choice: bool = Field(False, description="True when no guidance fixes the value")


class Role(_Model):
    """A role in the patient's care team, resolved to a professional when a task is created."""

    title: str = Field(description="French name shown to users, e.g. 'Médecin traitant'")
    description: str | None = None


class FieldSpec(_Model):
    """One typed value: a task result field, an event data field."""

    type: Literal["number", "integer", "boolean", "choice", "text", "date"]
    title: str | None = None
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str | int] | None = None
    required: bool = True


class Fact(_Model):
    """A value kept on the case (counter, flag, date) that guards can read."""

    type: ValueType
    default: Any = None
    description: str | None = None


class Observation(_Model):
    """A clinical observation the pathway reads, with its code and plausible range."""

    code: str = Field(description="LOINC code where one exists, e.g. 4548-4 for HbA1c")
    system: Literal["loinc", "snomed", "local"] = "loinc"
    title: str
    type: Literal["number", "integer", "boolean", "choice"] = "number"
    unit: str | None = None
    minimum: float | None = Field(None, description="Lowest physiologically possible value")
    maximum: float | None = Field(None, description="Highest physiologically possible value")
    choices: list[str | int] | None = None


class EventDef(_Model):
    """A pathway-specific event (e.g. insulin started), raised by a professional."""

    title: str
    description: str | None = None
    data: dict[Identifier, FieldSpec] = Field(default_factory=dict)


class Notify(_Model):
    """A message to the holders of some roles (beyond the automatic task notices)."""

    to: list[str] = Field(description="Role keys")
    message: str = Field(description="French text of the message")
    template: str = outbox.PATHWAY_MESSAGE


class Task(_Model):
    """A piece of work for one role, created when a state is entered or a transition fires."""

    title: str = Field(description="French, imperative: what to do")
    description: str | None = Field(None, description="French: for whom, why, by when")
    role: str = Field(description="Key of an entry of `roles`")
    due: DurationRef = Field(description="Delay from creation to the due date")
    reminder: DurationRef | None = Field(None, description="Delay from creation to a reminder")
    escalation: DurationRef | None = Field(
        None, description="Delay from creation to escalation to the coordinator (after `due`)")
    result: dict[Identifier, FieldSpec] = Field(
        default_factory=dict, description="What the professional sends back on completion")
    completed_by: str | list[str] | None = Field(
        None, description="An event, or a list of events, that completes the task, e.g. "
                          "observation:hba1c or [observation:ntprobnp, observation:bnp]")
    on_expiry: Notify | None = Field(
        None, description="Message sent when a timer moves the case on while this task is "
                          "still open (the request expires): nobody's request is dropped "
                          "silently")
    outlives_state: bool = Field(
        False, description="True: the task survives the pathway leaving the state that "
                           "created it; it ends when completed, cancelled by a `cancel:` "
                           "action, or when the case closes")
    urgent: bool = Field(
        False, description="True: the professional is told at once, whatever the due date "
                           "(otherwise a new task goes into the daily digest unless it is "
                           "due within the urgency window)")

    def completing_events(self) -> list[str]:
        """The events named in ``completed_by``, as a list."""
        if self.completed_by is None:
            return []
        return [self.completed_by] if isinstance(self.completed_by, str) else \
            list(self.completed_by)


class Actions(_Model):
    """What happens on entering a state: tasks created, facts set, people told."""

    tasks: list[str] = Field(default_factory=list, description="Keys of entries of `tasks`")
    cancel: list[str] = Field(
        default_factory=list, description="Keys of tasks whose open instances are cancelled "
                                          "(before `tasks` are created)")
    set: dict[str, Any] = Field(
        default_factory=dict,
        description="fact → expression (strings are expressions: quote text as \"'text'\")")
    notify: list[Notify] = Field(default_factory=list)


class Timer(_Model):
    """A stored timer: armed on entering its state, disarmed on leaving it."""

    after: DurationRef | None = Field(None, description="Fires once, this long after entry")
    every: DurationRef | None = Field(None, description="Fires repeatedly, every period")


class Transition(_Model):
    """A move triggered by an event, taken when its guard holds (first match wins)."""

    on: str = Field(description="admission | discharge | observation:KEY | task_completed:KEY "
                                "| timer:NAME | a key of `events`")
    to: str | None = Field(None, description="Target state (omit for an internal transition)")
    guard: Expression | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    cancel: list[str] = Field(
        default_factory=list, description="Keys of tasks whose open instances are cancelled")
    tasks: list[str] = Field(default_factory=list)
    notify: list[Notify] = Field(default_factory=list)
    description: str | None = None


class State(_Model):
    """A state: atomic, compound (``states`` + ``initial``), parallel or final."""

    title: str | None = None
    description: str | None = None
    initial: str | None = Field(None, description="Child entered by default (compound states)")
    parallel: bool = Field(False, description="Children are regions active at the same time")
    final: bool = False
    ongoing: bool = Field(False, description="Declared never to end (skips the end check)")
    states: dict[Identifier, State] = Field(default_factory=dict)
    on_enter: Actions | None = None
    timers: dict[Identifier, Timer] = Field(default_factory=dict)
    transitions: list[Transition] = Field(default_factory=list)


class Pathway(_Model):
    """A care pathway: a declarative state machine over a patient's case."""

    model_config = ConfigDict(extra="forbid", frozen=True,
                              json_schema_extra={"$id": "https://parcours.cpts/pathway.schema.json"})

    key: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    version: Annotated[int, Field(ge=1)]
    title: str = Field(description="French title")
    description: str = Field("", description="French description")
    sources: dict[str, Source] = Field(default_factory=dict)
    eligibility: Expression | None = Field(
        None, description="Who may be enrolled, e.g. patient.age >= params.age_min")
    parameters: dict[Identifier, Parameter] = Field(default_factory=dict)
    roles: dict[Identifier, Role] = Field(default_factory=dict)
    facts: dict[Identifier, Fact] = Field(default_factory=dict)
    observations: dict[Identifier, Observation] = Field(default_factory=dict)
    events: dict[Identifier, EventDef] = Field(default_factory=dict)
    tasks: dict[Identifier, Task] = Field(default_factory=dict)
    always: list[Transition] = Field(
        default_factory=list,
        description="Pathway-level transitions, tried in every state after the state's own "
                    "(and its ancestors') transitions for the event: e.g. a raised NT-proBNP "
                    "received in any state")
    initial: str
    states: dict[Identifier, State]


State.model_rebuild()
