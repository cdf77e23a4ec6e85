"""New tasks go into the daily digest unless urgent; reminders keep their own delays.

On SQLite and PostgreSQL, with in-memory channels and an injected clock. The
world (``conftest.world``): two ``bilan_initial`` tasks for Paul, created
Monday 5 January 2026 at 09:00 (Paris), due 15 days later (end of that day).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from engine.store.escalation import escalate
from engine.store.service import CaseService
from notifications import dispatch_pending, queue_daily_digests
from notifications.channels import MemoryChannel
from notifications.settings import NotificationSettings
from tests.db.world import EXAMPLE, T0
from tests.notifications.conftest import (
    MORNING,
    PAUL,
    outbox,
    set_preferences,
    settings,
    tasks,
)


def sinks() -> dict[str, MemoryChannel]:
    return {"mssante": MemoryChannel("mssante", secure=True, field="mssante"),
            "email": MemoryChannel("email", field="email")}


def default(**values: Any) -> NotificationSettings:
    """The shipped defaults for new tasks (the sending tests pin ``immediate``)."""
    return settings(new_tasks="digest", **values)


def statuses(engine: Engine, kind: str = "task_assigned") -> list[str]:
    return [r.status for r in outbox(engine) if r.kind == kind]


def test_new_tasks_wait_for_the_next_morning_digest_by_default(engine: Engine,
                                                                world: CaseService) -> None:
    channels = sinks()
    report = dispatch_pending(engine, default(), MORNING, channels=channels)
    assert report.by_status == {"held": 2} and not channels["mssante"].sent
    tomorrow = MORNING + timedelta(days=1)
    assert queue_daily_digests(engine, tomorrow, settings=default()).items == 2
    report = dispatch_pending(engine, default(), tomorrow, channels=channels)
    assert report.by_kind == {"daily_digest": {"sent": 1}}
    (digest,) = channels["mssante"].sent
    assert "(2 notifications)" in digest.subject and "Réaliser le bilan initial" in digest.text
    assert statuses(engine) == ["digested", "digested"]


@pytest.mark.parametrize(("hours_before_due", "window", "expected"), [
    (47, 48.0, "sent"), (49, 48.0, "digest"), (47, 24.0, "digest"), (-5, 0.0, "sent")],
    ids=["within-48h", "outside-48h", "outside-24h", "already-late"])
def test_a_task_due_within_the_urgency_window_is_told_at_once(
        engine: Engine, world: CaseService, hours_before_due: int, window: float,
        expected: str) -> None:
    now = tasks(engine)[0].due_at - timedelta(hours=hours_before_due)
    dispatch_pending(engine, default(urgency_hours=window), now, channels=sinks())
    assert statuses(engine) == [expected, expected]


def test_a_task_the_pathway_marks_urgent_is_told_at_once_even_in_digest_mode(
        engine: Engine, world: CaseService) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("key: exemple-suivi",
                                                       "key: exemple-urgent")
    marked = text.replace("    escalation: P30D\n", "    escalation: P30D\n    urgent: true\n", 1)
    assert marked != text
    world.publish(marked, "exemple-urgent.yaml", T0)
    world.enroll("P-002", "exemple-urgent", T0, event_id="enrol-urgent")
    set_preferences(engine, PAUL, {"mode": "digest"})
    channels = sinks()
    dispatch_pending(engine, default(), MORNING, channels=channels)
    assert statuses(engine) == ["digest", "digest", "sent"]
    assert "Réaliser le bilan initial" in channels["mssante"].sent[0].subject


def test_a_professional_may_ask_for_new_tasks_at_once(engine: Engine,
                                                      world: CaseService) -> None:
    set_preferences(engine, PAUL, {"new_tasks": "immediate"})
    dispatch_pending(engine, default(), MORNING, channels=sinks())
    assert statuses(engine) == ["sent", "sent"]


def test_reminders_keep_their_own_delay_and_go_at_once(engine: Engine,
                                                       world: CaseService) -> None:
    dispatch_pending(engine, default(), MORNING, channels=sinks())       # held for the digest
    reminder_day = T0 + timedelta(days=10, hours=1)
    assert len(escalate(engine, reminder_day).reminded_ids) == 2
    channels = sinks()
    report = dispatch_pending(engine, default(), reminder_day, channels=channels)
    assert report.by_kind == {"task_reminder": {"sent": 2}}
    assert statuses(engine, "task_reminder") == ["sent", "sent"]


def test_a_cancelled_task_never_told_is_not_told_cancelled(engine: Engine,
                                                           world: CaseService) -> None:
    dispatch_pending(engine, default(), MORNING, channels=sinks())       # held
    world.close_case(1, "déménagement", MORNING + timedelta(hours=1))
    channels = sinks()
    tomorrow = MORNING + timedelta(days=1)
    queue_daily_digests(engine, tomorrow, settings=default())
    report = dispatch_pending(engine, default(), tomorrow, channels=channels)
    sent_texts = [m.text for m in channels["mssante"].sent]
    assert report.by_kind.get("task_cancelled") == {"skipped": 1}
    assert len(sent_texts) == 1 and "(1 notification)" in channels["mssante"].sent[0].subject


def test_each_professional_has_their_own_digest_hour(engine: Engine,
                                                     world: CaseService) -> None:
    dispatch_pending(engine, default(), MORNING, channels=sinks())       # held at 10:00
    evening = MORNING + timedelta(hours=9)                               # 19:00 in Paris
    assert queue_daily_digests(engine, evening, settings=default()).digests == 0
    set_preferences(engine, PAUL, {"digest_time": "18:30"})
    made = queue_daily_digests(engine, evening, settings=default())
    assert (made.digests, made.items) == (1, 2)
    assert queue_daily_digests(engine, evening + timedelta(hours=13),
                               settings=default()).digests == 0      # once for that slot


def test_the_urgency_window_and_the_default_are_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert NotificationSettings().urgency_hours == 48.0
    assert NotificationSettings().new_tasks == "digest"
    monkeypatch.setenv("PARCOURS_NOTIFY_URGENCY_HOURS", "12")
    monkeypatch.setenv("PARCOURS_NOTIFY_NEW_TASKS", "immediate")
    assert NotificationSettings().urgency_hours == 12.0
    assert NotificationSettings().new_tasks == "immediate"


def test_a_task_told_in_a_digest_then_cancelled_is_told_cancelled_in_the_next(
        engine: Engine, world: CaseService) -> None:
    dispatch_pending(engine, default(), MORNING, channels=sinks())       # held
    tomorrow = MORNING + timedelta(days=1)
    queue_daily_digests(engine, tomorrow, settings=default())
    dispatch_pending(engine, default(), tomorrow, channels=sinks())      # the digest is sent
    world.close_case(1, "déménagement", tomorrow + timedelta(hours=1))
    dispatch_pending(engine, default(), tomorrow + timedelta(hours=2), channels=sinks())
    assert statuses(engine, "task_cancelled") == ["digest"]              # told, not skipped
    after = tomorrow + timedelta(days=1)
    queue_daily_digests(engine, after, settings=default())
    channels = sinks()
    dispatch_pending(engine, default(), after, channels=channels)
    (digest,) = channels["mssante"].sent
    assert "Tâche annulée" in digest.text and "(1 notification)" in digest.subject
