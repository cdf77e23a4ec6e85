"""``dispatch_notifications``: the Prefect flow around the notifications dispatcher.

``notifications.digest.queue_daily_digests`` first gathers the messages held
for a daily digest, then ``notifications.dispatch.dispatch_pending`` drains
the outbox once (claims, renders, sends, records; retries with back-off,
dead letters and the coordinator's failure report are its business). The
flow adds what Prefect gives: schedules, a run per minute in the UI, retries
of a run that hit a transient database error, and a table of counts by
outcome. Exceptions are reduced to their type before reaching Prefect (an
SMTP error may quote an address).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from flows import artifacts
from flows.advance import retry_transient
from flows.exceptions import run_batch, sanitized
from flows.workspace import Workspace, now_or_clock, open_workspace


def flatten(report: Any, prefix: str = "") -> dict[str, int]:
    """The counts of a report (dataclass, mapping or object), nested keys joined by dots;
    a list counts its items. Anything else (text) is left out."""
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        items: Any = dataclasses.asdict(report).items()
    elif isinstance(report, Mapping):
        items = report.items()
    else:
        items = vars(report).items() if hasattr(report, "__dict__") else ()
    out: dict[str, int] = {}
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            out[name] = value
        elif isinstance(value, list | tuple | set):
            out[name] = len(value)
        elif isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
    return out


@task(name="dispatch-outbox", task_run_name="envoi {number}", cache_policy=NO_CACHE,
      persist_result=False, retry_condition_fn=retry_transient)
def dispatch_once(ws: Workspace, number: int, now: datetime, digests: bool,
                  channels: Any = None) -> dict[str, int]:
    from notifications.settings import NotificationSettings

    def work() -> dict[str, int]:
        counts: dict[str, int] = {}
        settings = NotificationSettings()
        if digests:
            from notifications.digest import queue_daily_digests

            counts["digests_queued"] = _count(queue_daily_digests(ws.engine, now))
        from notifications.dispatch import dispatch_pending

        report = dispatch_pending(ws.engine, settings, now,
                                  batch_size=ws.flow_settings.dispatch_batch, channels=channels)
        counts.update(flatten(report))
        return counts

    counts = run_batch("envoi", number, 0, work)
    get_run_logger().info("envoi %d : %s", number,
                          ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "rien")
    return counts


def _count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list | tuple | set | dict):
        return len(value)
    return sum(flatten(value).values()) if value is not None else 0


def publish(counts: dict[str, int], now: datetime) -> None:
    """By kind and outcome, by channel and outcome (the dispatcher's nested counts)."""
    rows: list[dict[str, Any]] = []
    for key, n in sorted(counts.items()):
        parts = key.split(".")
        if len(parts) == 3 and parts[0] in ("by_kind", "by_channel"):
            rows.append({"par": "type" if parts[0] == "by_kind" else "canal",
                         "valeur": parts[1], "résultat": parts[2], "messages": n})
    rows += [{"par": "total", "valeur": key, "résultat": None, "messages": n}
             for key, n in sorted(counts.items()) if "." not in key]
    artifacts.table("notifications-sent", rows, f"Notifications — {artifacts.moment(now)}")


def available() -> bool:
    """Whether the notifications package has its dispatcher (it lands with issue 6)."""
    import importlib.util

    return importlib.util.find_spec("notifications.dispatch") is not None


def has_work(ws: Workspace, now: datetime) -> bool:
    """Whether a message is due or held for a digest (the cycle skips the step otherwise)."""
    if not available():
        return False
    from notifications.outbox import has_work as outbox_has_work

    return outbox_has_work(ws.engine, now)


@flow(name="dispatch-notifications", flow_run_name=artifacts.run_name("notify"),
      persist_result=False, log_prints=False)
def dispatch_notifications(now: datetime | None = None, digests: bool = True) -> Any:
    """Send what the outbox holds for ``now`` through each professional's channels."""
    return _dispatch_notifications(now=now, digests=digests)


@sanitized
def _dispatch_notifications(now: datetime | None = None, digests: bool = True) -> Any:
    ws = open_workspace()
    moment = now_or_clock(now)
    if not available():
        message = "dispatcher absent (notifications.dispatch) : rien n'est envoyé"
        get_run_logger().warning(message)
        return Completed(message=message, data={})
    fs = ws.flow_settings
    state = dispatch_once.with_options(retries=fs.task_retries,
                                       retry_delay_seconds=fs.retry_delay_seconds)(
        ws, 1, moment, digests, return_state=True)
    counts = state.result(raise_on_failure=False)
    if not isinstance(counts, dict):
        message = f"envoi en échec ({getattr(counts, 'error_type', '?')}) ; repris au prochain"
        get_run_logger().warning(message)
        return Failed(message=message, data={})
    publish(counts, moment)
    statuses = {k.split(".", 1)[1]: v for k, v in counts.items() if k.startswith("by_status.")}
    message = (", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
               or "rien à envoyer") + f" ; {counts.get('digests_queued', 0)} récapitulatif(s)"
    return Completed(message=message, data=counts)
