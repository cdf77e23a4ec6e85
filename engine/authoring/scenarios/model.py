"""The shape of a scenario file, as pydantic models (format in ``pathways/README.md``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.authoring.timeline import Moment, PatientSpec

ACTIONS = ("observe", "complete", "event")
#: what a scenario may say a message is (mapped to outbox kinds in ``checks``)
MessageKind = Literal["message", "rappel", "escalade", "annulation", "attribution"]
#: FHIR Task statuses a scenario may expect as a task's final status
TaskStatus = Literal["requested", "accepted", "in-progress", "on-hold", "completed",
                     "cancelled", "failed", "rejected", "entered-in-error"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Model):
    """A count that may vary within limits: ``{at_least: 1, at_most: 2}``."""

    at_least: int | None = Field(None, ge=0)
    at_most: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some(self) -> Bounds:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        return self

    def holds(self, n: int) -> bool:
        return (self.at_least is None or n >= self.at_least) \
            and (self.at_most is None or n <= self.at_most)

    def text(self) -> str:
        parts = [f"at least {self.at_least}" if self.at_least is not None else "",
                 f"at most {self.at_most}" if self.at_most is not None else ""]
        return " and ".join(p for p in parts if p)


class TaskExpect(_Model):
    key: str
    role: str | None = None
    assignee: str | None = Field(None, description="Care-team name, or 'coordinateur'")
    unassigned: bool | None = None
    due: Moment | None = None
    count: int | None = Field(None, description="Exactly this many open tasks of the key")
    at_most: int | None = Field(None, ge=0, description="At most this many open tasks")


class MessageExpect(_Model):
    kind: MessageKind | None = Field(None, description="message (from the pathway, the "
                                     "default), rappel (reminder), escalade (overdue, to the "
                                     "coordinator), annulation (task cancelled), attribution "
                                     "(task given to its assignee)")
    role: str | None = None
    to: str | None = Field(None, description="Care-team name, or 'coordinateur'")
    unassigned: bool | None = None
    contains: str | None = None
    task: str | None = Field(None, description="Key of the task the message is about")
    count: int | None = Field(None, ge=0, description="Exactly this many such messages")
    at_most: int | None = Field(None, ge=0, description="At most this many such messages")


class Expect(_Model):
    pathway: str | None = Field(None, description="Key of the case checked (several pathways)")
    states: list[str] = Field(default_factory=list)
    not_states: list[str] = Field(default_factory=list)
    closed: bool | None = None
    tasks: list[TaskExpect] = Field(default_factory=list)
    no_tasks: list[str] = Field(default_factory=list)
    created: dict[str, int | Bounds] = Field(default_factory=dict)
    task_status: dict[str, TaskStatus] = Field(default_factory=dict, description="Status of "
                                               "the most recently created task of each key")
    facts: dict[str, Any] = Field(default_factory=dict)
    notifications: list[MessageExpect] | None = None


class Step(_Model):
    at: Moment
    observe: str | None = None
    value: Any = None
    unit: str | None = None
    complete: str | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    event: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    pathway: str | None = Field(None, description="Key of the case an event or completion "
                                "goes to (several pathways)")
    refused: str | None = Field(None, description="The action must be refused with this text")
    expect: Expect | list[Expect] | None = None


class Scenario(_Model):
    scenario: str
    description: str = ""
    pathway: str
    also_enrolled: list[str] = Field(default_factory=list, description="Other pathway files "
                                     "the patient is enrolled in at 'start'")
    xfail: str | None = Field(None, description="Expected to fail, and why (strict: a pass "
                              "is a failure)")
    patient: PatientSpec
    care_team: dict[str, str | None] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    start: Moment
    eligible: bool = True
    steps: list[Step] = Field(default_factory=list)
