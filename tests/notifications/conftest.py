"""Fixtures of the notification tests: a small territory, real servers, settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import OutboxRow, Professional, TaskRow
from notifications.settings import NotificationSettings
from tests.db.world import T0, build
from tests.notifications.servers import SmtpSink, WebhookSink

#: Monday 5 January 2026, 10:00 in Paris: SMS allowed.
MORNING = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PAUL, ANNE, LUC, CLAIRE = "10000000001", "10000000002", "10000000003", "10000000009"


def settings(**values: Any) -> NotificationSettings:
    """Settings of the sending tests: their sample messages (new tasks due in weeks) go at
    once; the digest-by-default policy has its own tests (``test_urgency.py``)."""
    base: dict[str, Any] = {"base_url": "https://parcours.cpts.example", "console": False,
                            "backoff_base": 60.0, "backoff_factor": 2.0, "max_attempts": 4,
                            "new_tasks": "immediate"}
    base.update(values)
    return NotificationSettings(**base)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> CaseService:
    """The example pathway, four professionals (Paul: GP with MSSanté, e-mail and phone;
    Anne: nurse, e-mail; Luc: podiatrist; Claire: coordinator) and two enrolled patients:
    two `task_assigned` rows for Paul."""
    service = build(engine, tmp_path)
    service.enroll("195031234567890", "exemple-suivi", T0, event_id="enrol-1")
    service.enroll("P-002", "exemple-suivi", T0, event_id="enrol-2")
    return service


def pro_id(engine: Engine, rpps: str) -> int:
    with transaction(engine) as s:
        return int(s.scalar(select(Professional.id).where(Professional.rpps == rpps)))


def set_preferences(engine: Engine, rpps: str, preferences: dict[str, Any]) -> None:
    with transaction(engine) as s:
        s.execute(update(Professional).where(Professional.rpps == rpps)
                  .values(preferences=preferences))


def outbox(engine: Engine) -> list[OutboxRow]:
    with transaction(engine) as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def tasks(engine: Engine) -> list[TaskRow]:
    with transaction(engine) as s:
        return list(s.scalars(select(TaskRow).order_by(TaskRow.id)))


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    sink = WebhookSink().start()
    yield sink
    sink.stop()
