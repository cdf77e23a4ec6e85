"""Benchmark of ``advance_due_cases`` through Prefect on PostgreSQL, against the direct sweep.

Run: ``.venv/bin/python benchmarks/flows.py [--cases N] [--batch B] [--workers W]
[--per-case M]``

Three measurements, each in its own process (so peak memory is its own) and
on its own fresh PostgreSQL database of ``N`` cases whose timers are due
(the workload of ``benchmarks/advance.py``: a guard over the latest HbA1c, a
transition, a task assigned through the care team, a new timer, history and
an outbox row per case):

1. ``direct``: ``CaseService.advance`` as ``parcours advance`` runs it (batches of B, W claim
   loops on PostgreSQL);
2. ``flow``: the ``advance_due_cases`` flow, batches of B as Prefect tasks,
   W at a time, against a real Prefect server on PostgreSQL started for the
   run on loopback (or the one at ``PREFECT_API_URL``); heartbeats off;
3. ``per-case``: one flow run per case (what not to do), M cases, heartbeats off.

Goals (issue 5): flow ≥ half the direct throughput, and > 100 × per-case.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    BENCH_T0,
    bench_territory,
    drop_pg_database,
    fresh_pg_database,
    machine,
    peak_rss_mib,
)

T0 = BENCH_T0
NOW = T0 + timedelta(days=40)


def setup(url: str, cases: int) -> None:
    engine, _ = bench_territory(url, cases)
    engine.dispose()


def check(url: str, cases: int) -> None:
    """Every case fired its timer exactly once."""
    from sqlalchemy import func, select

    from engine.store.db import make_engine, transaction
    from engine.store.tables import CaseEvent

    engine = make_engine(url)
    with transaction(engine) as s:
        rows = s.execute(select(func.count(), func.count(CaseEvent.case_id.distinct()))
                         .where(CaseEvent.kind == "timer_fired")).one()
    engine.dispose()
    assert tuple(rows) == (cases, cases), rows


def phase_direct(url: str, cases: int, batch: int, workers: int) -> dict[str, Any]:
    from engine.store.db import make_engine
    from engine.store.service import CaseService

    engine = make_engine(url)
    started = time.perf_counter()
    report = CaseService(engine).advance(NOW, batch_size=batch, workers=workers)
    seconds = time.perf_counter() - started
    assert report.cases == cases and not report.failures
    engine.dispose()
    return {"seconds": seconds, "cases": cases}


def phase_flow(url: str, cases: int, batch: int, workers: int) -> dict[str, Any]:
    os.environ["PARCOURS_DATABASE_URL"] = url
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.advance import advance_due_cases
    from flows.prefect_settings import local_runs

    flow = advance_due_cases.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
    with local_runs():
        flow(now=NOW - timedelta(days=400), return_state=True)  # warm-up: nothing is due
        started = time.perf_counter()
        state = flow(now=NOW, batch_size=batch, return_state=True)
        seconds = time.perf_counter() - started
    summary = state.result()
    assert state.is_completed() and summary.cases == cases, state.message
    return {"seconds": seconds, "cases": cases, "batches": summary.batches}


def phase_per_case(url: str, cases: int, batch: int, workers: int) -> dict[str, Any]:
    os.environ["PARCOURS_DATABASE_URL"] = url
    from prefect import flow
    from sqlalchemy import select

    from engine.store.db import transaction
    from engine.store.service import AdvanceReport
    from engine.store.tables import CaseRow
    from flows.prefect_settings import local_runs
    from flows.workspace import open_workspace

    @flow(name="advance-one-case", persist_result=False)
    def advance_one_case(case_id: int, now: datetime) -> int:
        return open_workspace().service.advance_batch(now, 1, AdvanceReport(), [case_id])

    ws = open_workspace()
    with transaction(ws.engine) as session:
        ids = list(session.scalars(select(CaseRow.id).order_by(CaseRow.id)))
    with local_runs():
        advance_one_case(ids[0], NOW - timedelta(days=400))  # warm-up: not due yet
        started = time.perf_counter()
        done = sum(advance_one_case(case_id, NOW) for case_id in ids)
        seconds = time.perf_counter() - started
    assert done == cases
    return {"seconds": seconds, "cases": cases}


PHASES = {"direct": phase_direct, "flow": phase_flow, "per-case": phase_per_case}


def run_phase(name: str, cases: int, batch: int, workers: int,
              env: dict[str, str]) -> dict[str, Any]:
    url, db = fresh_pg_database()
    try:
        started = time.perf_counter()
        setup(url, cases)
        print(f"  {name}: {cases} due cases set up in {time.perf_counter() - started:.0f} s",
              flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "--phase", name, "--url", url, "--cases", str(cases),
             "--batch", str(batch), "--workers", str(workers)],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=3600)
        if out.returncode != 0:
            raise SystemExit(f"{name} failed:\n{out.stderr[-4000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        check(url, cases)
    finally:
        drop_pg_database(db)
    result["rate"] = result["cases"] / result["seconds"]
    print(f"  {name}: {result['cases']} cases in {result['seconds']:.1f} s = "
          f"{result['rate']:.0f} cases/s, peak RSS {result['peak_rss_mib']:.0f} MiB", flush=True)
    return result


def prefect_server(tmp: str) -> tuple[Any, str, str | None]:
    """The Prefect server of the run: PREFECT_API_URL, or a real one on PostgreSQL."""
    if os.environ.get("PREFECT_API_URL"):
        return None, os.environ["PREFECT_API_URL"], None
    from flows.deploy import start_server

    url, db = fresh_pg_database()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.perf_counter()
    process, api = start_server("127.0.0.1", port, ui=False, log=Path(tmp) / "server.log", env={
        "PREFECT_HOME": str(Path(tmp) / "prefect-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": url.replace("+psycopg", "+asyncpg")})
    print(f"Prefect server on PostgreSQL healthy in {time.perf_counter() - started:.1f} s "
          f"({api})", flush=True)
    return process, api, db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-case", type=int, default=200)
    parser.add_argument("--only", choices=sorted(PHASES))
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # a child process: one measurement
        result = PHASES[args.phase](args.url, args.cases, args.batch, args.workers)
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return 0
    print(f"flows benchmark · {datetime.now(UTC):%Y-%m-%d} · {machine()}")
    print(f"{args.cases} cases, batches of {args.batch}, {args.workers} Prefect tasks at a time")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server, api, server_db = prefect_server(tmp)
        env = {"PREFECT_API_URL": api, "PREFECT_HOME": str(Path(tmp) / "client-home"),
               "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING"}
        try:
            for name in ("direct", "flow", "per-case"):
                if args.only in (None, name):
                    count = args.per_case if name == "per-case" else args.cases
                    results[name] = run_phase(name, count, args.batch, args.workers, env)
        finally:
            if server is not None:
                from flows.deploy import stop_server

                stop_server(server)
                drop_pg_database(server_db or "")
    if {"direct", "flow"} <= set(results):
        print(f"flow / direct = {results['flow']['rate'] / results['direct']['rate']:.2f} "
              "(goal ≥ 0.5)")
    if {"flow", "per-case"} <= set(results):
        ratio = results["flow"]["rate"] / results["per-case"]["rate"]
        print(f"flow / one run per case = {ratio:.0f} × (goal > 100 ×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
