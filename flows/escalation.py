"""``escalate_overdue``: reminders to assignees, then escalation to the coordinator.

The rule (``engine.store.escalation``): a reminder at the task's
``reminder_at``; escalation to the coordinator at its ``escalation_at``, or
at its due time when the pathway gives no escalation delay; never about a
task the coordinator holds herself (she gets its reminder). Each batch of
tasks is a Prefect task and one transaction (tasks claimed ``SKIP LOCKED``
on PostgreSQL, outbox rows with idempotency keys): a message is queued once.
Artifacts: reminders and escalations queued by pathway and role, and every
open overdue task counted by pathway and role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from engine.store.db import transaction
from engine.store.escalation import EscalationReport, escalate_one, has_due, overdue_by_role
from flows import artifacts
from flows.advance import retry_transient
from flows.exceptions import run_batch, sanitized
from flows.workspace import Workspace, now_or_clock, open_workspace


@task(name="escalate-batch", task_run_name="relances {number}", cache_policy=NO_CACHE,
      persist_result=False, retry_condition_fn=retry_transient)
def escalate_batch(ws: Workspace, number: int, now: datetime, size: int) -> EscalationReport:
    report = run_batch("lot de relances", number, size,
                       lambda: escalate_one(ws.engine, now, size, ws.settings.max_retries))
    get_run_logger().info("lot %d : %d rappel(s), %d escalade(s)", number,
                          len(report.reminded_ids), len(report.escalated_ids))
    return report


def has_work(ws: Workspace, now: datetime) -> bool:
    """Whether a reminder or an escalation is due (the cycle skips the step otherwise)."""
    with transaction(ws.engine) as session:
        return has_due(session, now)


def publish(report: EscalationReport, now: datetime, overdue: list[dict[str, Any]]) -> None:
    keys = sorted(set(report.reminders) | set(report.overdue))
    artifacts.table("escalation-queued", [
        {"parcours": p, "rôle": r, "rappels": report.reminders.get((p, r), 0),
         "escalades au coordinateur": report.overdue.get((p, r), 0)} for p, r in keys],
        f"Rappels et escalades envoyés — {artifacts.moment(now)}")
    artifacts.table("overdue-by-role", [
        {"parcours": row["pathway"], "rôle": row["role"], "tâches en retard": row["overdue"],
         "dont escaladées": row["escalated"], "échéance la plus ancienne": row["oldest_due"]}
        for row in overdue], f"Tâches ouvertes en retard par rôle — {artifacts.moment(now)}")


@flow(name="escalate-overdue", flow_run_name=artifacts.run_name("escalation"),
      persist_result=False, log_prints=False)
def escalate_overdue(now: datetime | None = None) -> Any:
    """Queue the reminders and escalations due at ``now``."""
    return _escalate_overdue(now=now)


@sanitized
def _escalate_overdue(now: datetime | None = None) -> Any:
    ws = open_workspace()
    moment = now_or_clock(now)
    fs = ws.flow_settings
    runner = escalate_batch.with_options(retries=fs.task_retries,
                                         retry_delay_seconds=fs.retry_delay_seconds)
    report = EscalationReport()
    failed = None
    number = 0
    while True:
        number += 1
        state = runner(ws, number, moment, fs.escalation_batch, return_state=True)
        part = state.result(raise_on_failure=False)
        if not isinstance(part, EscalationReport):
            failed = getattr(part, "error_type", type(part).__name__)
            break
        if not part.batches:
            break
        report.merge(part)
    with transaction(ws.engine) as session:
        overdue = overdue_by_role(session, moment)
    publish(report, moment, overdue)
    pathways = {p for p, _ in report.reminders} | {p for p, _ in report.overdue}
    artifacts.tag_current_run(artifacts.pathway_tag(p) for p in pathways)
    message = (f"{len(report.reminded_ids)} rappel(s), {len(report.escalated_ids)} "
               f"escalade(s) ; {sum(r['overdue'] for r in overdue)} tâche(s) en retard"
               + (f" ; lot {number} en échec ({failed})" if failed else ""))
    get_run_logger().info(message)
    return (Failed if failed else Completed)(message=message, data=report)
