"""Render a template for a real task without sending anything (``parcours notify preview``).

The message is built exactly as the dispatcher would build it for the task's
assignee (or a chosen professional), on a channel of the chosen kind:
``mssante`` (secure: patient details), ``email`` (not secure) or ``sms``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Engine

from engine.store.batch import coordinator_id
from engine.store.db import transaction
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import TaskRow
from notifications import kinds
from notifications.channels import registry
from notifications.channels.base import MemoryChannel
from notifications.delivery import Delivery
from notifications.loading import load_bundle, message_data
from notifications.outbox import Claimed
from notifications.render import Renderer
from notifications.settings import NotificationSettings
from notifications.views import FailedView, MessageData

SAMPLE_MESSAGE = "Message d'exemple du parcours (aperçu)."
PREVIEW_CHANNELS = registry.PREVIEWS


@dataclass(frozen=True)
class Preview:
    channel: str
    secure: bool
    subject: str
    text: str
    html: str | None


def preview(engine: Engine, settings: NotificationSettings, template: str, task_id: int,
            now: datetime, *, channel: str = registry.MSSANTE, recipient_id: int | None = None,
            message: str | None = None) -> Preview:
    if template not in kinds.TEMPLATES:
        raise InputError(f"modèle inconnu {template!r} ; modèles : {', '.join(kinds.TEMPLATES)}")
    if channel not in PREVIEW_CHANNELS:
        raise InputError(f"canal {channel!r} ; choisir parmi : {', '.join(PREVIEW_CHANNELS)}")
    data = _data(engine, template, task_id, recipient_id, message or SAMPLE_MESSAGE, now)
    secure, medium = PREVIEW_CHANNELS[channel]
    fake = MemoryChannel(channel, secure=secure, medium=medium, field="email")
    delivery = Delivery(engine, settings, {channel: fake}, Renderer(settings.templates_dir),
                        now)
    built = delivery.message(fake, data)
    return Preview(channel, secure, built.subject, built.text, built.html)


def _data(engine: Engine, template: str, task_id: int, recipient_id: int | None,
          message: str, now: datetime) -> MessageData:
    with transaction(engine) as session:
        task = session.get(TaskRow, task_id)
        if task is None:
            raise NotFoundError("task", task_id)
        recipient = recipient_id or _default_recipient(template, task,
                                                       coordinator_id(session))
        row = Claimed(0, f"preview:{template}:{task_id}", template, task.case_id, task.id,
                      recipient, {"message": message, "role": task.role,
                                  "reason": "case closed"}, 1, now)
        data = message_data(load_bundle(session, [row]), row)
    if data is None:
        raise NotFoundError("professional", recipient)
    if template == kinds.DAILY_DIGEST:
        item = replace(data, kind=kinds.TASK_ASSIGNED)
        return replace(data, task=None, items=(item, replace(item, kind=kinds.TASK_REMINDER)))
    if template == kinds.DELIVERY_FAILURE:
        failed = FailedView(0, kinds.TASK_ASSIGNED, 6, data.task.assignee_name or "—"
                            if data.task else "—", "email",
                            "refus définitif du serveur : 550 utilisateur inconnu (exemple)",
                            task_id, task.case_id)
        return replace(data, failed=failed)
    return data


def _default_recipient(template: str, task: TaskRow, coordinator: int | None) -> int:
    if template in (kinds.TASK_OVERDUE, kinds.DELIVERY_FAILURE) or task.assignee_id is None:
        if coordinator is None:
            raise InputError("aucun coordinateur actif : précisez --recipient")
        return coordinator
    return task.assignee_id
