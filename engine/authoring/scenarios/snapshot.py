"""What a scenario can check about one case at one moment (built by ``world``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class TaskSeen:
    key: str
    role: str
    assignee: str          # the holder's name, or "coordinateur" when nobody holds the role
    unassigned: bool
    due: datetime


@dataclass
class MessageSeen:
    kind: str              # the outbox kind (a template name, a reminder, an escalation…)
    role: str
    to: str
    unassigned: bool
    message: str
    task: str | None = None   # key of the task the message is about


@dataclass
class Snapshot:
    """One case as stored, and the messages sent for it during the current step."""

    active: list[str]
    closed: bool
    facts: dict[str, Any]
    tasks: list[TaskSeen]
    created: dict[str, int]
    last_status: dict[str, str] = field(default_factory=dict)
    messages: list[MessageSeen] = field(default_factory=list)

    def is_active(self, state: str) -> bool:
        """A state id, or its last part(s) (``revue``, ``glycemie.revue``), is active."""
        ids = {leaf.rsplit(".", n)[0] for leaf in self.active for n in range(leaf.count(".") + 1)}
        return any(sid == state or sid.endswith("." + state) for sid in ids)
