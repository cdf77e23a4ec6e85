"""``process_inbound_events``: apply the inbox in order, one Prefect task per slice of events.

Events are applied one after the other in the order they were received
(``engine.store.inbox.drain``: slices of events, each one transaction with
the outcome of one transaction per event), idempotent by its event id.
Slices of ``inbox_batch`` events are Prefect tasks run in sequence (order
matters, so no parallelism here). A refused event stays in the inbox with
its error (``parcours inbox list --status failed``) and is listed in the
run's artifact by inbox id, kind and error type; nothing is dropped. Such a
run ends *Completed* under the name « Terminé avec refus »
(``artifacts.WITH_REFUSALS``) with the counts in its message, so the Prefect
UI does not show it as a clean success; a transient error that stopped the
drain ends it *Failed*. On
PostgreSQL one drainer runs at a time (advisory lock); a second
run started meanwhile returns at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from engine.store import overview
from engine.store.db import transaction
from engine.store.inbox import DrainReport, drain, drain_lock
from flows import artifacts
from flows.exceptions import run_batch, sanitized
from flows.workspace import Workspace, now_or_clock, open_workspace


@task(name="apply-inbound-events", task_run_name="événements {number}",
      cache_policy=NO_CACHE, persist_result=False)
def apply_slice(ws: Workspace, number: int, now: datetime, limit: int) -> DrainReport:
    # a failure here means the inbox itself is unreachable: nothing was lost, and the
    # slice is not retried within this run (the next run takes it again)
    report = run_batch("tranche d'événements", number, limit,
                       lambda: drain(ws.service, now, limit), retryable=False)
    get_run_logger().info("tranche %d : %d appliqué(s), %d doublon(s), %d refusé(s)", number,
                          sum(report.applied.values()), report.duplicates, len(report.failed))
    return report


def has_work(ws: Workspace, now: datetime) -> bool:
    """Whether an event received by ``now`` waits (the cycle skips the step otherwise)."""
    with transaction(ws.engine) as session:
        return overview.inbox_waiting(session, now)


def pathways_of(ws: Workspace, case_ids: set[int]) -> set[str]:
    with transaction(ws.engine) as session:
        return overview.pathways_of(session, case_ids)


def publish(report: DrainReport, now: datetime, pathways: set[str]) -> None:
    artifacts.table("inbound-applied", [
        {"type d'événement": kind, "appliqués": n} for kind, n in sorted(report.applied.items())
    ] + ([{"type d'événement": "doublon", "appliqués": report.duplicates}]
         if report.duplicates else []),
        f"Événements entrants appliqués — {artifacts.moment(now)}")
    if report.failed:
        artifacts.table("inbound-failures", [
            {"ligne de l'inbox": f.inbox_id, "type": f.kind, "dossier": f.case_id,
             "tâche": f.task_id, "erreur": f.error_type} for f in report.failed],
            "Événements refusés, gardés dans l'inbox avec leur erreur "
            "(parcours inbox list --status failed ; parcours inbox retry)")
    artifacts.markdown("inbound-summary", f"Événements entrants — {artifacts.moment(now)}", {
        "appliqués": sum(report.applied.values()), "doublons": report.duplicates,
        "refusés": len(report.failed), "dossiers touchés": len(report.case_ids),
        "parcours": sorted(pathways)}, "Résumé des événements entrants")


@flow(name="process-inbound-events", flow_run_name=artifacts.run_name("inbound"),
      persist_result=False, log_prints=False)
def process_inbound_events(now: datetime | None = None, max_events: int | None = None) -> Any:
    """Apply pending inbound events received up to ``now``, in order."""
    return _process_inbound_events(now=now, max_events=max_events)


@sanitized
def _process_inbound_events(now: datetime | None = None, max_events: int | None = None) -> Any:
    ws = open_workspace()
    moment = now_or_clock(now)
    size = ws.flow_settings.inbox_batch
    report = DrainReport()
    with drain_lock(ws.engine) as mine:
        if not mine:
            return Completed(message="un autre processus applique déjà l'inbox", data=report)
        number = 0
        while max_events is None or report.seen < max_events:
            number += 1
            part = apply_slice(ws, number, moment, size if max_events is None
                               else min(size, max_events - report.seen))
            report.merge(part)
            if part.stopped or part.seen == 0 or part.seen < size:
                break
    pathways = pathways_of(ws, report.case_ids)
    publish(report, moment, pathways)
    artifacts.tag_current_run(artifacts.pathway_tag(p) for p in pathways)
    message = (f"{sum(report.applied.values())} événement(s) appliqué(s), {report.duplicates} "
               f"doublon(s), {len(report.failed)} refusé(s)"
               + (f" ; arrêt sur erreur transitoire {report.stopped}" if report.stopped else ""))
    get_run_logger().info(message)
    if report.stopped:
        return Failed(message=message, data=report)
    if report.failed:
        # a refused event is bad data for the coordinator, not a failure of the run; but the
        # run must not look like a clean success either: a Completed state of its own name
        return Completed(name=artifacts.WITH_REFUSALS, message=message, data=report)
    return Completed(message=message, data=report)
