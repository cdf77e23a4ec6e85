"""Benchmark of ``parcours advance``: 100 000 cases whose timers are due, on SQLite and PostgreSQL.

Run: ``.venv/bin/python benchmarks/advance.py [--cases N] [--only sqlite|postgresql]``

Each case, when advanced, fires its timer, evaluates a guard over its latest
HbA1c, moves state, gets a new task (assigned through its care team), a new
timer, history rows and an outbox row. Reports cases/s and peak memory (RSS)
at several case counts, to show memory stays flat as the count grows.
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
    BENCH_T0,
    bench_territory,
    drop_pg_database,
    fresh_pg_database,
    machine,
    peak_rss_mib,
)

T0 = BENCH_T0


def run(url: str, cases: int, batch: int, workers: int) -> dict[str, float]:
    started = time.perf_counter()
    engine, service = bench_territory(url, cases)
    setup = time.perf_counter() - started
    print(f"  setup: {cases} patients enrolled in {setup:.1f} s", flush=True)
    now = T0 + timedelta(days=40)
    done = [0]
    marks = {cases // 4, cases // 2, cases}

    def progress(count: int) -> None:
        done[0] += count
        if done[0] in marks or done[0] % (cases // 10 or 1) < count:
            print(f"    {done[0]:>7} advanced, peak RSS {peak_rss_mib():.0f} MiB", flush=True)

    started = time.perf_counter()
    report = service.advance(now, batch_size=batch, progress=progress, workers=workers)
    elapsed = time.perf_counter() - started
    assert report.cases == cases and not report.failures, report
    assert service.advance(now, batch_size=batch).cases == 0
    engine.dispose()
    return {"cases": cases, "seconds": elapsed, "rate": cases / elapsed,
            "peak_rss_mib": peak_rss_mib(), "counts": report.counts}  # type: ignore[dict-item]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, default=2, help="threads on PostgreSQL")
    args = parser.parse_args()
    print(f"advance benchmark · {datetime.now(UTC):%Y-%m-%d} · {machine()}")
    results = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite ({args.cases} cases, batches of {args.batch})")
            results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.cases, args.batch, 1)
    if args.only in (None, "postgresql"):
        url, name = fresh_pg_database()
        try:
            print(f"PostgreSQL ({args.cases} cases, batches of {args.batch})")
            results["postgresql"] = run(url, args.cases, args.batch, args.workers)
        finally:
            drop_pg_database(name)
    for db, r in results.items():
        print(f"{db:<10} {r['cases']:>7} cases in {r['seconds']:6.1f} s = "
              f"{r['rate']:7.0f} cases/s, peak RSS {r['peak_rss_mib']:.0f} MiB; rows: "
              f"{r['counts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
