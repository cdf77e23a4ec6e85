"""Drain the outbox once: claim due rows in batches, render, send, record.

``dispatch_pending`` is what the Prefect flow ``dispatch_notifications``
calls (and ``parcours notify``). It loops: claim a batch (``outbox.claim``),
load what the rows are about (``loading``), decide and send each row
(``delivery``), record each result in its own short transaction, until no
row is due at ``now``. Delivery is at-least-once (see ``outbox``); every
message carries its row's idempotency token.

The ``DispatchReport`` holds counts by kind, channel and status and the ids
of rows given up: nothing else, since it ends up in Prefect artifacts and
logs, which must never hold a name or a clinical value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from engine.settings import Settings
from engine.store.db import is_transient
from notifications import kinds
from notifications.channels import Channel, build_channels
from notifications.delivery import Delivery, Outcome
from notifications.loading import Bundle, load, message_data
from notifications.outbox import (
    DEAD,
    HELD,
    PENDING,
    SENT,
    SKIPPED,
    Claimed,
    claim,
    new_row,
    next_attempt,
)
from notifications.outbox import record as record_row
from notifications.render import Renderer
from notifications.settings import NotificationSettings


@dataclass
class DispatchReport:
    """Counts of one run, by kind, channel and outcome; ids of rows given up or retried."""

    batches: int = 0
    claimed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    failed_ids: list[int] = field(default_factory=list)
    retry_ids: list[int] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)

    def add(self, row: Claimed, outcome: Outcome) -> None:
        status = outcome.status
        self.by_status[status] = self.by_status.get(status, 0) + 1
        kind = self.by_kind.setdefault(row.kind, {})
        kind[status] = kind.get(status, 0) + 1
        if outcome.channel is not None:
            channel = self.by_channel.setdefault(outcome.channel, {})
            channel[status] = channel.get(status, 0) + 1
        if status == "dead":
            self.failed_ids.append(row.id)
        elif status == "retry":
            self.retry_ids.append(row.id)

    def count(self, status: str) -> int:
        return self.by_status.get(status, 0)

    @property
    def sent(self) -> int:
        return self.count("sent")

    def table(self) -> list[dict[str, Any]]:
        """One line per (kind, channel, status): for a Prefect table artifact."""
        return [{"kind": kind, "status": status, "count": count}
                for kind, statuses in sorted(self.by_kind.items())
                for status, count in sorted(statuses.items())]

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "claimed": self.claimed, "by_status": self.by_status,
                "by_kind": self.by_kind, "by_channel": self.by_channel,
                "failed_ids": self.failed_ids, "retry_ids": self.retry_ids,
                "warnings": self.warnings}


def as_notification_settings(settings: NotificationSettings | Settings) -> NotificationSettings:
    """The engine's ``Settings`` are accepted too: the base URL and zone are taken from
    them and the rest from the environment (``PARCOURS_NOTIFY_*``)."""
    if isinstance(settings, NotificationSettings):
        return settings
    return NotificationSettings(base_url=settings.base_url, timezone=settings.timezone)


def dispatch_pending(engine: Engine, settings: NotificationSettings | Settings, now: datetime,
                     *, batch_size: int | None = None,
                     channels: Mapping[str, Channel] | None = None,
                     renderer: Renderer | None = None,
                     max_batches: int | None = None) -> DispatchReport:
    """Send every outbox message due at ``now``; returns counts (no personal data).

    ``channels`` replaces the configured ones (tests, a Prefect block);
    ``max_batches`` bounds one run (default: until nothing is due).
    """
    config = as_notification_settings(settings)
    if channels is None:
        channels = build_channels(config)
    delivery = Delivery(engine, config, channels,
                        renderer or Renderer(config.templates_dir), now)
    report = DispatchReport()
    size = batch_size or config.batch_size
    lease = timedelta(seconds=config.lease_seconds)
    try:
        while max_batches is None or report.batches < max_batches:
            rows = claim(engine, now, size, lease)
            if not rows:
                break
            report.batches += 1
            report.claimed += len(rows)
            _run_batch(engine, delivery, rows, report)
    finally:
        for channel in channels.values():
            channel.close()
    report.warnings = dict(delivery.warnings)
    return report


def _run_batch(engine: Engine, delivery: Delivery, rows: list[Claimed],
               report: DispatchReport) -> None:
    bundle = load(engine, rows)
    for row in rows:
        outcome = _handle(delivery, row, bundle)
        record(engine, row, outcome, delivery.now)
        report.add(row, outcome)


def _handle(delivery: Delivery, row: Claimed, bundle: Bundle) -> Outcome:
    """One row's outcome; an unexpected error stays with its row instead of stopping the
    run (its type only: the message of a third-party error may quote personal data)."""
    try:
        return delivery.handle(row, message_data(bundle, row))
    except Exception as exc:
        error = f"erreur interne ({type(exc).__name__})"
        if is_transient(exc) and row.attempts < delivery.settings.max_attempts:
            return Outcome("retry", error=error, at=next_attempt(
                delivery.now, row.attempts, row.idempotency_key, delivery.settings))
        return Outcome("dead", error=error)


def record(engine: Engine, row: Claimed, outcome: Outcome, now: datetime) -> None:
    """Write the outcome of one row (and the coordinator's notice if it is given up)."""
    values: dict[str, Any] = {"channel": outcome.channel, "last_error": outcome.error}
    extra: list[dict[str, Any]] = []
    match outcome.status:
        case "sent":
            values.update(status=SENT, sent_at=now)
        case "retry":
            values.update(status=PENDING, next_attempt_at=outcome.at)
        case "deferred":
            values.update(status=PENDING, next_attempt_at=outcome.at, attempts=row.attempts - 1)
        case "held":
            values.update(status=HELD, attempts=row.attempts - 1)
        case "skipped":
            values.update(status=SKIPPED)
        case _:
            values.update(status=DEAD)
            extra = _failure_notice(engine, row, now)
    record_row(engine, row.id, values, extra)


def _failure_notice(engine: Engine, row: Claimed, now: datetime) -> list[dict[str, Any]]:
    """A ``delivery_failure`` message to the coordinator (not for a failed notice itself)."""
    if row.kind == kinds.DELIVERY_FAILURE:
        return []
    from engine.store.batch import coordinator_id
    from engine.store.db import transaction

    with transaction(engine) as session:
        coordinator = coordinator_id(session)
    return [new_row(kinds.DELIVERY_FAILURE, f"failure:{row.id}", coordinator, now,
                    {"failed_id": row.id}, case_id=row.case_id,
                    task_id=row.subject_task_id)]
