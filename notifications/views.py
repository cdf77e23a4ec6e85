"""What a message is about, as plain immutable values (no ORM rows, no session).

The dispatcher loads these from the database (``notifications.loading``);
the template tests and ``parcours notify preview`` build them from a pathway
file or a task. ``context.py`` turns them into the names templates see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class PatientView:
    family_name: str
    given_names: str
    birth_date: date
    sex: str = "U"
    #: The patient's id: the address of their page in the workspace (never shown).
    id: int | None = None


@dataclass(frozen=True)
class RecipientView:
    id: int
    family_name: str
    given_names: str
    profession: str = ""
    rpps: str = ""
    email: str | None = None
    mssante: str | None = None
    phone: str | None = None
    active: bool = True
    preferences: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.given_names} {self.family_name}".strip()


@dataclass(frozen=True)
class TaskView:
    id: int
    case_id: int
    title: str
    role: str
    role_title: str
    status: str
    due_at: datetime
    description: str | None = None
    assignee_id: int | None = None
    assignee_name: str | None = None
    unassigned_role: bool = False
    pathway_title: str = ""
    #: Declared ``urgent: true`` by the pathway: told at once, never held for a digest.
    urgent: bool = False
    closed_at: datetime | None = None


@dataclass(frozen=True)
class MessageData:
    """Everything needed to render one outbox row (a digest holds its items)."""

    row_id: int
    kind: str
    idempotency_key: str
    created_at: datetime
    recipient: RecipientView
    payload: dict[str, Any] = field(default_factory=dict)
    case_id: int | None = None
    task: TaskView | None = None
    patient: PatientView | None = None
    pathway_title: str = ""
    #: For pathway messages: the French title of the role the message is for.
    role_title: str = ""
    items: tuple[MessageData, ...] = ()
    #: For ``delivery_failure``: the row that could not be delivered.
    failed: FailedView | None = None


@dataclass(frozen=True)
class FailedView:
    row_id: int
    kind: str
    attempts: int
    recipient_name: str
    channel: str | None
    error: str
    task_id: int | None = None
    case_id: int | None = None
