"""What the demo says about its messages: one new task rendered both ways, and the digests.

The same ``task_assigned`` message is shown as MSSanté (the secure health
messaging: patient and task in clear) and as an SMS (not secure: no health
data, only the link), built by ``notifications.preview`` exactly as the
dispatcher builds them, with the ``parcours notify preview`` commands that
show them again. Everything in the demo is invented: no real patient.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import col

from engine.store.batch import COORDINATOR
from engine.store.db import transaction
from engine.store.tables import OPEN_TASK_STATUSES, OutboxRow, Professional, TaskRow
from notifications import kinds
from notifications.channels import registry
from notifications.outbox import DIGESTED, SENT
from notifications.settings import NotificationSettings

#: (channel, what the reader should notice) for the two renderings shown.
RENDERINGS = ((registry.MSSANTE, "MSSanté, sécurisé : le patient et la tâche en clair"),
              (registry.SMS, "SMS, non sécurisé : aucune donnée de santé, seulement le lien"))


def sample_task(engine: Engine) -> int | None:
    """The first open task held by a professional other than the coordinator."""
    with transaction(engine) as session:
        return session.scalar(
            select(col(TaskRow.id)).join(Professional, col(Professional.id) == TaskRow.assignee_id)
            .where(col(TaskRow.status).in_(OPEN_TASK_STATUSES),
                   col(Professional.profession) != COORDINATOR)
            .order_by(col(TaskRow.id)).limit(1))


def digest_counts(engine: Engine) -> tuple[int, int]:
    """(daily digests sent, messages they gathered)."""
    with transaction(engine) as session:
        def count(kind_or_status: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(OutboxRow)
                                      .where(kind_or_status)) or 0)
        sent = count((col(OutboxRow.kind) == kinds.DAILY_DIGEST) &
                     (col(OutboxRow.status) == SENT))
        return sent, count(col(OutboxRow.status) == DIGESTED)


def show(engine: Engine, now: datetime, db: Path, console: Any) -> None:
    """Print the digest counts and one new task rendered for MSSanté and for SMS."""
    from rich.panel import Panel

    from notifications.preview import preview

    digests, gathered = digest_counts(engine)
    console.print(f"Récapitulatifs quotidiens envoyés : {digests}, regroupant {gathered} "
                  "message(s) (les nouvelles tâches non urgentes y vont par défaut)")
    task = sample_task(engine)
    if task is None:
        return
    console.print(f"\n[bold]Un même message, deux rendus[/bold] (nouvelle tâche n° {task})")
    settings = NotificationSettings()
    for channel, label in RENDERINGS:
        shown = preview(engine, settings, kinds.TASK_ASSIGNED, task, now, channel=channel)
        body = (f"Objet : {shown.subject}\n\n" if shown.subject else "") + shown.text.strip()
        console.print(Panel(body, title=label, title_align="left", expand=False))
    console.print("Pour les revoir (ou un autre modèle, une autre tâche) :")
    for channel, _ in RENDERINGS:
        console.print(f"  PARCOURS_DATABASE_URL=sqlite:///{db} .venv/bin/parcours notify "
                      f"preview {kinds.TASK_ASSIGNED} --task {task} --channel {channel}",
                      soft_wrap=True)
