"""Regression: the demo's first morning sent the dentist 75 identical messages.

Cause: every new task was its own message, sent at once, whatever its due
date. On the first morning the whole territory's eligible patients are
enrolled together, so the one dentist got one « une nouvelle tâche vous
attend, à faire avant le 5 mars » per diabetic patient (identical on a
channel that is not secure). Now a new task that is not urgent waits for the
professional's daily digest: that morning the dentist gets nothing, the next
morning one digest listing every task. Reproduced here without Prefect: the
demo's pathways and territory (same seed), the eligibility enrolment, then
the dispatcher with the shipped settings, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import col

from engine.clock import PARIS
from engine.store import registry
from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import OutboxRow, TaskRow
from flows.commands.demo import START, pathway_sources
from flows.territory import create_territory
from notifications import dispatch_pending, kinds, queue_daily_digests
from notifications.channels import MemoryChannel
from notifications.outbox import HELD, SENT
from notifications.settings import NotificationSettings

FIRST_MORNING = datetime.fromisoformat(START).replace(tzinfo=PARIS)


def _first_morning(engine: Engine) -> tuple[dict[str, list[int]], int]:
    """The demo up to its first dispatch: (professionals by profession, tasks created)."""
    service = CaseService(engine)
    before = FIRST_MORNING - timedelta(days=1)
    keys = [service.publish(path.read_text(encoding="utf-8"), str(path), before).key
            for path in pathway_sources()]
    with transaction(engine) as session:
        roles = {role for key in keys
                 for role in registry.compiled(registry.latest(session, key)).definition.roles}
    territory = create_territory(engine, before, roles, patients=300, seed=2026)
    for key in keys:
        service.enroll_many(territory.patients, key, FIRST_MORNING)
    with transaction(engine) as session:
        created = len(list(session.scalars(select(TaskRow.id))))
    return territory.professionals, created


def _channels() -> dict[str, MemoryChannel]:
    return {"mssante": MemoryChannel("mssante", secure=True, field="mssante"),
            "sms": MemoryChannel("sms", medium="sms", field="phone")}


def test_the_first_morning_sends_no_flood_and_one_digest_the_next_day(engine: Engine) -> None:
    professionals, created = _first_morning(engine)
    (dentist,) = professionals["chirurgien_dentiste"]
    with transaction(engine) as session:
        dentist_tasks = list(session.scalars(select(TaskRow).where(
            col(TaskRow.assignee_id) == dentist)))
    assert len(dentist_tasks) > 40 and created > 500          # the burst is still there

    settings = NotificationSettings(console=False, base_url="https://parcours.cpts.example")
    channels = _channels()
    dispatch_pending(engine, settings, FIRST_MORNING, channels=channels)
    with transaction(engine) as session:
        to_dentist = Counter(session.scalars(select(OutboxRow.status).where(
            col(OutboxRow.recipient_id) == dentist)))
        told_at_once = list(session.scalars(
            select(TaskRow.due_at).join(OutboxRow, col(OutboxRow.task_id) == TaskRow.id)
            .where(col(OutboxRow.kind) == kinds.TASK_ASSIGNED, col(OutboxRow.status) == SENT)))
    assert to_dentist == {HELD: len(dentist_tasks)}           # nothing sent to him that day
    assert all(due <= FIRST_MORNING + timedelta(hours=48) for due in told_at_once)
    per_professional = Counter(m.address for c in channels.values() for m in c.sent)
    assert max(per_professional.values(), default=0) <= 3, per_professional.most_common(3)

    next_morning = FIRST_MORNING + timedelta(days=1)
    queue_daily_digests(engine, next_morning, settings=settings)
    channels = _channels()
    dispatch_pending(engine, settings, next_morning, channels=channels)
    to_dentist = [m for m in channels["mssante"].sent if "chirurgien_dentiste" in m.address]
    assert len(to_dentist) == 1
    (digest,) = to_dentist
    assert digest.kind == kinds.DAILY_DIGEST
    assert f"({len(dentist_tasks)} notifications)" in digest.subject
    assert digest.text.count("Réaliser le contrôle dentaire annuel") == len(dentist_tasks)
