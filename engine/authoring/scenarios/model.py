"""The shape of a scenario file, as pydantic models (format in ``pathways/README.md``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.authoring.timeline import Moment, PatientSpec

ACTIONS = ("observe", "complete", "event")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskExpect(_Model):
    key: str
    role: str | None = None
    assignee: str | None = Field(None, description="Care-team name, or 'coordinateur'")
    unassigned: bool | None = None
    due: Moment | None = None
    count: int | None = Field(None, description="Exactly this many open tasks of the key")


class MessageExpect(_Model):
    role: str | None = None
    to: str | None = Field(None, description="Care-team name, or 'coordinateur'")
    unassigned: bool | None = None
    contains: str | None = None


class Expect(_Model):
    states: list[str] = Field(default_factory=list)
    not_states: list[str] = Field(default_factory=list)
    closed: bool | None = None
    tasks: list[TaskExpect] = Field(default_factory=list)
    no_tasks: list[str] = Field(default_factory=list)
    created: dict[str, int] = Field(default_factory=dict)
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
    refused: str | None = Field(None, description="The action must be refused with this text")
    expect: Expect | None = None


class Scenario(_Model):
    scenario: str
    description: str = ""
    pathway: str
    patient: PatientSpec
    care_team: dict[str, str | None] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    start: Moment
    eligible: bool = True
    steps: list[Step] = Field(default_factory=list)
