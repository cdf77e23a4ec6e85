"""advance_due_cases: batches as Prefect tasks, failures isolated and reported, retries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from engine.store.exceptions import TransientStoreError
from engine.store.writer import Writer
from flows.advance import AdvanceSummary, advance_due_cases
from tests.db.world import T0
from tests.flows.helpers import ROOT, artifacts, fired, flow_run, populate, tasks_per_case

DUE = T0 + timedelta(days=40)


def run(**kwargs: Any) -> tuple[Any, AdvanceSummary]:
    state = advance_due_cases(now=DUE, return_state=True, **kwargs)
    return state, state.result(raise_on_failure=False)


def test_advances_every_due_case_in_batches_with_names_tags_and_artifacts(app_db: str) -> None:
    cases = populate(app_db, 260)
    state, summary = run(batch_size=50)
    assert state.is_completed(), state.message
    assert (summary.cases, summary.batches) == (260, 6)
    assert summary.counts["timer_fired"] == 260
    assert sum(n for (_, kind, _), n in summary.moves.items() if kind == "transition") == 260
    assert fired(app_db) == {case: 1 for case in cases}
    run_info = flow_run(state)
    assert run_info.name == "advance 2026-02-14 09:00"
    assert "parcours:bench-suivi" in run_info.tags
    table = json.loads(artifacts("advance-transitions", state)[0]["data"])
    assert {row["parcours"] for row in table} == {"bench-suivi"}
    assert sum(row["transitions"] for row in table) == 260
    roles = json.loads(artifacts("advance-tasks-by-role", state)[0]["data"])
    assert roles == [{"parcours": "bench-suivi", "rôle": "medecin_traitant",
                      "tâches créées": 260}]
    state, summary = run(batch_size=50)
    assert state.is_completed() and summary.cases == 0


class Fault:
    """Makes the writer fail part-way through one batch: after the case rows were updated."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, victim: int, times: int = 1,
                 error: type[Exception] = RuntimeError) -> None:
        self.victim, self.left, self.error, self.raised = victim, times, error, 0
        original = Writer._update_cases

        def update_then_fail(writer: Writer, pg: bool) -> None:
            original(writer, pg)
            if self.left and victim in writer.batch.cases:
                self.left -= 1
                self.raised += 1
                raise self.error(f"injected fault while writing case {victim}")
        monkeypatch.setattr(Writer, "_update_cases", update_then_fail)


def test_a_failing_batch_is_reported_and_the_next_run_finishes_it(
        app_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = populate(app_db, 200)
    victim = cases[130]
    fault = Fault(monkeypatch, victim)
    state, summary = run(batch_size=50)
    assert state.is_failed()
    assert "1 lot(s)" in (state.message or "")
    [bad] = summary.failed_batches
    assert victim in bad.case_ids and len(bad.case_ids) == 50
    assert bad.error_type == "RuntimeError" and fault.raised == 1
    assert summary.cases == 150
    done = fired(app_db)
    assert set(done) == set(cases) - set(bad.case_ids) and set(done.values()) == {1}
    failures = json.loads(artifacts("advance-failures", state)[0]["data"])
    assert failures[0]["lot"] == bad.number and str(victim) in failures[0][
        "identifiants des dossiers"]
    state, summary = run(batch_size=50)
    assert state.is_completed() and summary.cases == 50
    assert fired(app_db) == {case: 1 for case in cases}
    assert tasks_per_case(app_db) == {case: 1 for case in cases}


def test_a_transient_error_is_retried_by_prefect_after_the_service(
        app_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = populate(app_db, 40)
    # the service tries 6 times (1 + 5 retries), then Prefect retries the batch task
    fault = Fault(monkeypatch, cases[0], times=7, error=TransientStoreError)
    state, summary = run(batch_size=40)
    assert state.is_completed(), state.message
    assert fault.raised == 7 and summary.cases == 40
    assert fired(app_db) == {case: 1 for case in cases}


def test_bounded_concurrency_comes_from_the_task_runner(
        app_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from engine.store.service import CaseService

    populate(app_db, 90)
    lock, active, peak = threading.Lock(), [0], [0]
    original = CaseService.advance_batch

    def counting(self: CaseService, *args: Any, **kwargs: Any) -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            time.sleep(0.05)
            return original(self, *args, **kwargs)
        finally:
            with lock:
                active[0] -= 1
    monkeypatch.setattr(CaseService, "advance_batch", counting)
    flow = advance_due_cases.with_options(task_runner=ThreadPoolTaskRunner(max_workers=3))
    state = flow(now=DUE, batch_size=10, return_state=True)
    assert state.is_completed() and state.result().batches == 9
    assert 2 <= peak[0] <= 3


WORKER = """
import json, sys, time
from pathlib import Path
from datetime import datetime
import flows.advance
from flows.advance import advance_due_cases

start, ready = Path(sys.argv[1]), Path(sys.argv[1]).parent / f"ready-{sys.argv[3]}"
listing = flows.advance.due_pathways

def gated(*args, **kwargs):  # both runs have started: wait for each other, then list
    ready.touch()
    while not start.exists():
        time.sleep(0.005)
    return listing(*args, **kwargs)

flows.advance.due_pathways = gated

from engine.store.service import CaseService
mine = start.parent / f"claiming-{sys.argv[3]}"
other = start.parent / f"claiming-{1 - int(sys.argv[3])}"
advance = CaseService.advance_batch

def claiming(self, *args, **kwargs):  # both runs claim at the same moment, whichever starts first
    mine.touch()
    deadline = time.monotonic() + 120
    while not other.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    return advance(self, *args, **kwargs)

CaseService.advance_batch = claiming
state = advance_due_cases(now=datetime.fromisoformat(sys.argv[2]), batch_size=100,
                          return_state=True)
summary = state.result(raise_on_failure=False)
print(json.dumps({"state": state.type.value, "cases": summary.cases,
                  "failed": len(summary.failed_batches)}))
"""


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_runs_at_the_same_time_fire_each_timer_once(app_db: str, tmp_path: Path) -> None:
    from prefect.settings import get_current_settings

    cases = populate(app_db, 10_000)
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url),
           "PARCOURS_DATABASE_URL": app_db}
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(go), DUE.isoformat(), str(n)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for n in range(2)]
    deadline = time.monotonic() + 120  # both import Prefect and the flows, then start together
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["state"] == "COMPLETED" and r["failed"] == 0 for r in reports), reports
    assert sum(r["cases"] for r in reports) == 10_000
    assert all(r["cases"] > 0 for r in reports), f"no overlap: {reports}"
    assert fired(app_db) == {case: 1 for case in cases}
    assert tasks_per_case(app_db) == {case: 1 for case in cases}
