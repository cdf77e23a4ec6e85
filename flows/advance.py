"""``advance_due_cases``: fire every due timer, batch after batch, each batch a Prefect task.

How a run works:

1. For each pathway with due cases, list their ids in pages (keyset on the
   id, no lock: a plain read), so memory stays bounded whatever the backlog.
2. Cut each page into batches of ``batch_size`` and submit one Prefect task
   per batch, tagged with its pathway; the flow's ``ThreadPoolTaskRunner``
   runs at most ``workers`` of them at once. Prefect's cost (a task run, a
   few milliseconds) is paid per batch, not per case.
3. A batch task calls ``CaseService.advance_batch`` with its ids: one
   transaction that *claims* those still due (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL), advances them and commits their new state, history, tasks,
   timers and outbox rows together. A case another run holds is skipped; a
   case another run already advanced is no longer due. So two runs at the
   same time never fire a timer twice.
4. A transient database error is retried (inside the service, then by
   Prefect); any other error rolls back that batch only, which is reported
   by number and case ids, while the others stay committed. Its cases stay
   due: the next run takes them.

Artifacts: transitions by pathway and state, tasks created by pathway and
role, failed batches and cases (ids only). The run ends *Failed* when a
batch or a case failed, so an automation or a coordinator sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from prefect import flow, get_run_logger, tags, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, wait
from prefect.states import Completed, Failed, State
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from engine.store import overview
from engine.store.db import transaction
from engine.store.service import AdvanceReport
from flows import artifacts
from flows.config import FlowSettings
from flows.exceptions import run_batch, sanitized
from flows.workspace import Workspace, now_or_clock, open_workspace


@dataclass
class BatchResult:
    pathway: str
    number: int
    cases: int = 0
    case_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    moves: dict[tuple[str, str, str], int] = field(default_factory=dict)
    failed_cases: list[int] = field(default_factory=list)


@dataclass
class FailedBatch:
    pathway: str
    number: int
    case_ids: list[int]
    error_type: str


@dataclass
class AdvanceSummary:
    """What one run did: counts and ids only."""

    now: datetime
    cases: int = 0
    batches: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    moves: dict[tuple[str, str, str], int] = field(default_factory=dict)
    failed_batches: list[FailedBatch] = field(default_factory=list)
    failed_cases: list[int] = field(default_factory=list)
    pathways: set[str] = field(default_factory=set)

    def add(self, result: BatchResult) -> None:
        self.cases += result.cases
        self.batches += 1 if result.cases else 0
        for kind, n in result.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        for key, n in result.moves.items():
            self.moves[key] = self.moves.get(key, 0) + n
        self.failed_cases.extend(result.failed_cases)

    @property
    def ok(self) -> bool:
        return not self.failed_batches and not self.failed_cases


def retry_transient(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Prefect retries a batch only when its error may pass (lock, lost connection)."""
    error = state.result(raise_on_failure=False)
    return bool(getattr(error, "retryable", False))


@task(name="advance-batch", task_run_name="lot {number} · {pathway}", cache_policy=NO_CACHE,
      persist_result=False, retry_condition_fn=retry_transient)
def advance_batch(ws: Workspace, pathway: str, number: int, case_ids: list[int],
                  now: datetime) -> BatchResult:
    report = AdvanceReport()
    run_batch("lot", number, len(case_ids),
              lambda: ws.service.advance_batch(now, len(case_ids), report, case_ids=case_ids))
    get_run_logger().info("lot %d · %s : %d dossier(s) avancé(s), %d en échec", number,
                          pathway, report.cases, len(report.failures))
    return BatchResult(pathway, number, report.cases, report.case_ids, report.counts,
                       report.moves, sorted(report.failures))


def due_pathways(ws: Workspace, now: datetime) -> list[str]:
    with transaction(ws.engine) as session:
        return overview.due_pathways(session, now)


def has_work(ws: Workspace, now: datetime) -> bool:
    """Whether some case is due (the cycle skips the step otherwise)."""
    return bool(due_pathways(ws, now))


def due_pages(ws: Workspace, pathway: str, now: datetime, page: int) -> Iterator[list[int]]:
    """Ids of the pathway's due cases, ``page`` at a time, in id order (no locks taken)."""
    cursor = 0
    while True:
        with transaction(ws.engine) as session:
            found = overview.due_case_ids(session, pathway, now, cursor, page)
        if not found:
            return
        yield found
        cursor = found[-1]


def sweep(ws: Workspace, now: datetime, batch_size: int,
          pathways: list[str] | None = None) -> AdvanceSummary:
    """Run the batches (inside a flow run) and gather what they did."""
    fs = ws.flow_settings
    summary = AdvanceSummary(now)
    runner = advance_batch.with_options(retries=fs.task_retries,
                                        retry_delay_seconds=fs.retry_delay_seconds)
    number = 0
    for pathway in due_pathways(ws, now):
        if pathways is not None and pathway not in pathways:
            continue
        summary.pathways.add(pathway)
        for page in due_pages(ws, pathway, now, max(fs.page_size, batch_size)):
            submitted: list[tuple[PrefectFuture[BatchResult], int, list[int]]] = []
            with tags(artifacts.pathway_tag(pathway)):
                for start in range(0, len(page), batch_size):
                    number += 1
                    chunk = page[start:start + batch_size]
                    submitted.append((runner.submit(ws, pathway, number, chunk, now),
                                      number, chunk))
            wait([future for future, _, _ in submitted])
            for future, n, chunk in submitted:
                outcome = future.result(raise_on_failure=False)
                if isinstance(outcome, BatchResult):
                    summary.add(outcome)
                else:
                    summary.failed_batches.append(FailedBatch(
                        pathway, n, chunk, getattr(outcome, "error_type",
                                                   type(outcome).__name__)))
    return summary


def publish(summary: AdvanceSummary) -> None:
    """The run's artifacts for coordinators (ids and counts only)."""
    moves = sorted(summary.moves.items())
    artifacts.table("advance-transitions", [
        {"parcours": p, "état atteint": s, "transitions": n}
        for (p, kind, s), n in moves if kind == "transition"],
        f"Transitions par parcours et état — passage du {artifacts.moment(summary.now)}")
    artifacts.table("advance-tasks-by-role", [
        {"parcours": p, "rôle": r, "tâches créées": n}
        for (p, kind, r), n in moves if kind == "task_created"],
        f"Tâches créées par rôle — passage du {artifacts.moment(summary.now)}")
    if not summary.ok:
        rows = [{"lot": b.number, "parcours": b.pathway, "dossiers": len(b.case_ids),
                 "identifiants des dossiers": artifacts.ids(b.case_ids),
                 "erreur": b.error_type} for b in summary.failed_batches]
        if summary.failed_cases:
            rows.append({"lot": None, "parcours": None, "dossiers": len(summary.failed_cases),
                         "identifiants des dossiers": artifacts.ids(summary.failed_cases),
                         "erreur": "ParcoursError"})
        artifacts.table("advance-failures", rows,
                        "Lots et dossiers en échec (repris au prochain passage)")
    artifacts.markdown("advance-summary", f"Passage du {artifacts.moment(summary.now)}", {
        "dossiers avancés": summary.cases, "lots": summary.batches,
        "transitions": summary.counts.get("transition", 0),
        "tâches créées": summary.counts.get("task_created", 0),
        "lots en échec": len(summary.failed_batches),
        "dossiers en échec": len(summary.failed_cases)}, "Résumé du passage")


def _thread_pool(workers: int) -> TaskRunner[PrefectFuture[Any]]:
    """A capped thread pool. Prefect 3.8 types ``flow(task_runner=)`` invariantly, so its own
    ``ThreadPoolTaskRunner`` (a ``TaskRunner[PrefectConcurrentFuture]``) needs this cast."""
    return cast("TaskRunner[PrefectFuture[Any]]", ThreadPoolTaskRunner(max_workers=workers))


@flow(name="advance-due-cases", flow_run_name=artifacts.run_name("advance"),
      task_runner=_thread_pool(FlowSettings().workers),
      persist_result=False, log_prints=False)
def advance_due_cases(now: datetime | None = None, batch_size: int | None = None,
                      pathways: list[str] | None = None) -> Any:
    """Advance every case whose timers are due at ``now`` (default: the current time)."""
    return _advance_due_cases(now=now, batch_size=batch_size, pathways=pathways)


@sanitized
def _advance_due_cases(now: datetime | None = None, batch_size: int | None = None,
                      pathways: list[str] | None = None) -> Any:
    ws = open_workspace()
    moment = now_or_clock(now)
    summary = sweep(ws, moment, batch_size or ws.flow_settings.batch_size, pathways)
    publish(summary)
    artifacts.tag_current_run(artifacts.pathway_tag(p) for p in summary.pathways)
    message = (f"{summary.cases} dossier(s) avancé(s) en {summary.batches} lot(s) ; "
               f"{len(summary.failed_batches)} lot(s) et {len(summary.failed_cases)} "
               "dossier(s) en échec")
    get_run_logger().info(message)
    return (Completed if summary.ok else Failed)(message=message, data=summary)
