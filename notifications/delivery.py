"""What to do with one claimed outbox row: skip, hold, defer, send, retry or give up.

The decision, in order:

1. a message about a task that is closed by now (or handed to someone else)
   is **skipped**; a cancellation whose assignment never reached the
   professional is skipped too;
2. a professional who chose the daily digest has the message **held** for it;
3. the channels: the professional's preferred ones that are configured and
   reach them (they have that address), else the console channel when on;
   none at all is a permanent failure;
4. channels in quiet hours are left out; if all are quiet the message is
   **deferred** until the first one opens (not counted as an attempt);
5. it is rendered for each open channel in turn (patient details only on a
   secure one) and sent; the first success wins. When every channel failed,
   a retryable failure is **retried** with backoff until ``max_attempts``,
   then, like a permanent failure, **dead**-lettered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from engine.store.db import transaction
from engine.store.tables import OPEN_TASK_STATUSES
from notifications import kinds
from notifications.channels import registry
from notifications.channels.base import Channel, OutgoingMessage
from notifications.context import Links, build_context
from notifications.exceptions import (
    DeliveryError,
    NotificationError,
    PreferencesError,
    TransientDeliveryError,
)
from notifications.outbox import DIGESTED, OUTBOX, SENT, Claimed, next_attempt
from notifications.preferences import Preferences, parse_preferences, usable_now
from notifications.render import Renderer
from notifications.settings import NotificationSettings
from notifications.views import MessageData

#: Failures that say the channel itself is unavailable: skip it for the rest of the run.
_CHANNEL_DOWN_CODES = {None, 421, 502, 503, 504}


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, retry, deferred, held, skipped, dead
    channel: str | None = None
    error: str | None = None
    at: datetime | None = None


@dataclass
class Delivery:
    """Handles the rows of one dispatch run (shares connections and channel health)."""

    engine: Engine
    settings: NotificationSettings
    channels: Mapping[str, Channel]
    renderer: Renderer
    now: datetime
    down: dict[str, DeliveryError] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def handle(self, row: Claimed, data: MessageData | None) -> Outcome:
        if data is None:
            return Outcome("dead", error="destinataire inconnu ou supprimé")
        if row.attempts > self.settings.max_attempts:  # claimed again and again, never recorded
            return Outcome("dead", error=f"{row.attempts - 1} envoi(s) interrompu(s) sans "
                                         "résultat enregistré")
        if data.kind == kinds.DAILY_DIGEST:
            data = replace(data, items=self._live_items(data))
            if not data.items:
                return Outcome("skipped", error="plus rien à signaler dans le récapitulatif")
        reason = self._skip_reason(row, data)
        if reason is not None:
            return Outcome("skipped", error=reason)
        prefs = self._preferences(data)
        if prefs.digest and data.kind not in kinds.ALWAYS_IMMEDIATE:
            return Outcome("held")
        if not data.recipient.active:
            return Outcome("dead", error="le professionnel est inactif")
        return self._send(row, data, prefs)

    # -- deciding ---------------------------------------------------------------------------

    def _skip_reason(self, row: Claimed, data: MessageData) -> str | None:
        task = data.task
        if data.kind in kinds.TASK_KINDS and task is None:
            return None if row.subject_task_id is None else "tâche introuvable"
        if task is None:
            return None
        if data.kind in kinds.OPEN_TASK_ONLY and task.status not in OPEN_TASK_STATUSES:
            return f"la tâche est close ({task.status}) : message sans objet"
        if data.kind in (kinds.TASK_ASSIGNED, kinds.TASK_REMINDER) and \
                task.assignee_id != data.recipient.id:
            return "la tâche est confiée à un autre professionnel"
        if data.kind == kinds.TASK_CANCELLED and not self._assignment_reached(task.id,
                                                                               data.recipient.id):
            return "l'attribution de cette tâche n'avait pas été envoyée"
        return None

    def _assignment_reached(self, task_id: int, recipient_id: int) -> bool:
        """Whether the professional was told about the task (no row: assume they were)."""
        with transaction(self.engine) as session:
            t = OUTBOX.c
            statuses = list(session.scalars(select(t.status).where(
                t.task_id == task_id, t.kind == kinds.TASK_ASSIGNED,
                t.recipient_id == recipient_id)))
        return not statuses or any(s in (SENT, DIGESTED) for s in statuses)

    def _live_items(self, digest: MessageData) -> tuple[MessageData, ...]:
        """Digest items still worth telling: open tasks; a cancellation only if its
        assignment is not in the same digest (then neither is shown)."""
        assigned = {i.task.id for i in digest.items
                    if i.kind == kinds.TASK_ASSIGNED and i.task is not None}
        live = []
        for item in digest.items:
            task = item.task
            if task is not None and item.kind in kinds.OPEN_TASK_ONLY and \
                    task.status not in OPEN_TASK_STATUSES:
                continue
            if item.kind == kinds.TASK_CANCELLED and task is not None and task.id in assigned:
                continue
            live.append(item)
        return tuple(live)

    def _preferences(self, data: MessageData) -> Preferences:
        try:
            return parse_preferences(data.recipient.preferences, self.settings)
        except PreferencesError:
            self.warnings["invalid_preferences"] = self.warnings.get("invalid_preferences",
                                                                     0) + 1
            return parse_preferences({}, self.settings)

    def candidates(self, prefs: Preferences, data: MessageData) -> list[str]:
        names = [c for c in prefs.channels
                 if c in self.channels and self.channels[c].address(data.recipient)]
        if not names and registry.CONSOLE in self.channels:
            names = [registry.CONSOLE]
        return names

    # -- sending ----------------------------------------------------------------------------

    def _send(self, row: Claimed, data: MessageData, prefs: Preferences) -> Outcome:
        names = self.candidates(prefs, data)
        if not names:
            return Outcome("dead", error="aucun canal utilisable : ni adresse ni canal "
                                         f"configuré parmi {', '.join(prefs.channels)}")
        open_now, wait = usable_now(prefs, names, self.now, self.zone)
        if not open_now:
            return Outcome("deferred", names[0], f"heures de silence ({', '.join(names)})",
                           wait)
        errors: list[tuple[str, NotificationError]] = []
        for name in open_now:
            try:
                self._send_on(self.channels[name], data)
                return Outcome("sent", name)
            except NotificationError as exc:
                errors.append((name, exc))
        return self._failed(row, errors)

    def _send_on(self, channel: Channel, data: MessageData) -> None:
        if channel.name in self.down:
            raise self.down[channel.name]
        message = self.message(channel, data)
        try:
            channel.send(message)
        except TransientDeliveryError as exc:
            if exc.code in _CHANNEL_DOWN_CODES:
                self.down[channel.name] = exc
            raise

    def message(self, channel: Channel, data: MessageData) -> OutgoingMessage:
        """Render ``data`` for ``channel`` (patient details only if it is secure)."""
        context = build_context(data, secure=channel.secure, now=self.now,
                                links=Links(self.settings.base_url),
                                sender=self.settings.sender_name)
        address = channel.address(data.recipient) or ""
        if channel.medium == "sms":
            text, subject, html = self.renderer.sms(data.kind, context), "", None
        else:
            body = self.renderer.email(data.kind, context)
            text, subject, html = body.text, body.subject, body.html
        return OutgoingMessage(data.idempotency_key, data.kind, channel.name, address,
                               data.recipient.name, subject, text, html, self.now)

    def _failed(self, row: Claimed, errors: list[tuple[str, NotificationError]]) -> Outcome:
        channel = errors[-1][0]
        text = "; ".join(str(e) for _, e in errors)[:1000]
        if any(e.retryable for _, e in errors) and row.attempts < self.settings.max_attempts:
            return Outcome("retry", channel, text,
                           next_attempt(self.now, row.attempts, row.idempotency_key,
                                        self.settings))
        if any(e.retryable for _, e in errors):
            text = f"abandon après {row.attempts} tentative(s) : {text}"
        return Outcome("dead", channel, text[:1000])
