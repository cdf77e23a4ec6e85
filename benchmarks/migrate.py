"""Benchmark of ``parcours migrate apply``: 100 000 running cases moved to a new version on
PostgreSQL (and SQLite with ``--only sqlite``).

Run: ``.venv/bin/python benchmarks/migrate.py [--cases N] [--batch N] [--only postgresql]``

Every case of the benchmark pathway (version 1) moves to version 2, which changes the
delay of the timer the cases wait on (P1M → P6W): each case is loaded, moved (its timer
re-armed from its anchor), its row updated with its row version checked, its timer
replaced, a history line and a ``migration_case`` row (what a rollback needs) written,
one transaction per batch. Reports cases/s and peak memory (RSS) at several counts, to
show memory stays flat as the count grows. A plan (which writes nothing) is timed too.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    BENCH_PATHWAY,
    BENCH_T0,
    bench_territory,
    drop_pg_database,
    fresh_pg_database,
    machine,
    peak_rss_mib,
)

KEY = "bench-suivi"


def run(url: str, cases: int, batch: int) -> dict[str, float]:
    from engine.store import migration

    started = time.perf_counter()
    engine, service = bench_territory(url, cases)
    v2 = BENCH_PATHWAY.read_text(encoding="utf-8").replace("version: 1", "version: 2", 1)
    v2 = v2.replace("echeance: {after: P1M}", "echeance: {after: P6W}")
    now = BENCH_T0 + timedelta(days=10)
    service.publish(v2, "bench-suivi.v2.yaml", now)
    print(f"  setup: {cases} cases on version 1 in {time.perf_counter() - started:.1f} s",
          flush=True)
    started = time.perf_counter()
    plan = migration.plan(engine, KEY, 2, now, batch_size=batch)
    plan_seconds = time.perf_counter() - started
    assert plan.migrated == cases, plan.counts()
    print(f"  plan: {cases} cases in {plan_seconds:.1f} s, peak RSS {peak_rss_mib():.0f} MiB",
          flush=True)
    marks = {cases // 4, cases // 2, (3 * cases) // 4}

    def progress(done: int, total: int) -> None:
        if done in marks or any(done - batch < m <= done for m in marks) or done == total:
            print(f"    {done:>7} migrated, peak RSS {peak_rss_mib():.0f} MiB", flush=True)

    started = time.perf_counter()
    report = migration.apply(engine, KEY, 2, now, batch_size=batch, progress=progress)
    elapsed = time.perf_counter() - started
    assert report.migrated == cases and report.rearmed == {"echeance": cases}, report.counts()
    assert migration.apply(engine, KEY, 2, now, batch_size=batch).cases == 0
    engine.dispose()
    return {"cases": cases, "seconds": elapsed, "rate": cases / elapsed,
            "plan_rate": cases / plan_seconds, "peak_rss_mib": peak_rss_mib()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    print(f"migrate benchmark · {datetime.now(UTC):%Y-%m-%d} · {machine()}")
    results = {}
    if args.only == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite ({args.cases} cases, batches of {args.batch})")
            results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.cases, args.batch)
    else:
        url, name = fresh_pg_database()
        try:
            print(f"PostgreSQL ({args.cases} cases, batches of {args.batch})")
            results["postgresql"] = run(url, args.cases, args.batch)
        finally:
            drop_pg_database(name)
    for db, r in results.items():
        print(f"{db:<10} {r['cases']:>7} cases migrated in {r['seconds']:6.1f} s = "
              f"{r['rate']:7.0f} cases/s (plan: {r['plan_rate']:.0f} cases/s), "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
