"""Benchmark of ``parcours advance``: 100 000 cases whose timers are due, on SQLite and PostgreSQL.

Run: ``.venv/bin/python benchmarks/advance.py [--cases N] [--only sqlite|postgresql]
[--workers W]``

Each case, when advanced, fires its timer, evaluates a guard over its latest
HbA1c, moves state, gets a new task (assigned through its care team), a new
timer, history rows and an outbox row. Reports cases/s and peak memory (RSS)
at several case counts, to show memory stays flat as the count grows, and the
CPU time of this process (less sensitive than wall time to a loaded machine).

On PostgreSQL a last phase measures the ceiling: the *raw driver* writes the
same rows again (read back from what the sweep wrote, JSON already text) with
psycopg alone, batch by batch in as many threads, each batch one transaction:
claim the cases ``FOR UPDATE SKIP LOCKED``, ``UPDATE … FROM unnest``, replace
the timers, ``COPY`` the tasks, history and outbox rows; the sweep's rate over
that one is the ratio reported (the goal is ≥ 0.5).
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

    started, cpu = time.perf_counter(), time.process_time()
    report = service.advance(now, batch_size=batch, progress=progress, workers=workers)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert report.cases == cases and not report.failures, report
    assert service.advance(now, batch_size=batch).cases == 0
    engine.dispose()
    out = {"cases": cases, "seconds": elapsed, "rate": cases / elapsed, "cpu": cpu,
           "peak_rss_mib": peak_rss_mib(), "counts": report.counts}
    if url.startswith("postgresql"):
        raw = raw_driver(url, batch, workers)
        out["raw_rate"] = cases / raw
        print(f"  raw driver: the same rows written again in {raw:.1f} s = "
              f"{cases / raw:.0f} cases/s", flush=True)
    return out  # type: ignore[return-value]


def raw_driver(url: str, batch: int, workers: int) -> float:
    """Seconds for psycopg alone to write the rows the sweep wrote (see the docstring)."""
    import threading
    from collections import defaultdict

    import psycopg

    dsn = url.replace("postgresql+psycopg", "postgresql")
    tables = {"task": None, "case_event": None, "outbox": None, "timer": None}
    rows: dict[str, dict[int, list[tuple[object, ...]]]] = {}
    columns: dict[str, list[str]] = {}
    with psycopg.connect(dsn) as conn:
        for table in tables:
            names = [r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND column_name <> 'id' ORDER BY ordinal_position", (table,))]
            json_columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND data_type = 'jsonb'", (table,))}
            select = ", ".join(f'"{c}"::text' if c in json_columns else f'"{c}"'
                               for c in names)
            by_case: dict[int, list[tuple[object, ...]]] = defaultdict(list)
            case_at = names.index("case_id")
            for row in conn.execute(f'SELECT {select} FROM "{table}" WHERE case_id IS NOT NULL'):
                values = list(row)
                if table == "task":       # unique (case, ref): written again as new tasks
                    values[names.index("ref")] = f"{values[names.index('ref')]}:raw"
                if table == "outbox":     # unique key
                    at = names.index("idempotency_key")
                    values[at] = f"{values[at]}:raw"
                by_case[values[case_at]].append(tuple(values))  # type: ignore[index]
            rows[table], columns[table] = by_case, names
        cases = [tuple(r) for r in conn.execute(
            "SELECT id, active_states::text, facts::text, memory::text, seq, next_due_at "
            "FROM pathway_case ORDER BY id")]
    chunks = [cases[i:i + batch] for i in range(0, len(cases), batch)]
    later = T0 + timedelta(days=3650)
    lock = threading.Lock()

    def write(conn: psycopg.Connection[object], chunk: list[tuple[object, ...]]) -> None:
        ids = [c[0] for c in chunk]
        with conn.transaction():
            claimed = conn.execute(
                "SELECT id FROM pathway_case WHERE closed_at IS NULL AND next_due_at <= %s "
                "AND id = ANY(%s) ORDER BY next_due_at, id FOR UPDATE SKIP LOCKED",
                (later, ids)).fetchall()
            assert len(claimed) == len(ids)
            conn.execute(
                "UPDATE pathway_case AS t SET active_states = v.a::jsonb, facts = v.f::jsonb, "
                "memory = v.m::jsonb, seq = v.s, next_due_at = v.n, "
                "row_version = t.row_version + 1 FROM unnest(%s::int[], %s::text[], "
                "%s::text[], %s::text[], %s::int[], %s::timestamptz[]) AS v(i, a, f, m, s, n) "
                "WHERE t.id = v.i", [list(col) for col in zip(*chunk, strict=True)])
            conn.execute("DELETE FROM timer WHERE case_id = ANY(%s)", (ids,))
            with conn.cursor() as cursor:
                for table in ("timer", "task", "case_event", "outbox"):
                    names = ", ".join(f'"{c}"' for c in columns[table])
                    with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                        for case_id in ids:
                            for row in rows[table].get(case_id, ()):  # type: ignore[call-overload]
                                copy.write_row(row)

    def loop() -> None:
        with psycopg.connect(dsn) as conn:
            while True:
                with lock:
                    if not chunks:
                        return
                    chunk = chunks.pop()
                write(conn, chunk)

    with psycopg.connect(dsn, autocommit=True) as conn:   # every case due again
        conn.execute("UPDATE pathway_case SET next_due_at = %s", (T0 + timedelta(days=1),))
    started = time.perf_counter()
    threads = [threading.Thread(target=loop) for _ in range(max(workers, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


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
        ratio = (f"; raw driver {r['raw_rate']:.0f} cases/s, ratio "
                 f"{r['rate'] / r['raw_rate']:.2f}") if "raw_rate" in r else ""
        print(f"{db:<10} {r['cases']:>7} cases in {r['seconds']:6.1f} s = "
              f"{r['rate']:7.0f} cases/s ({r['cpu']:.1f} s CPU in this process: "
              f"{r['cases'] / r['cpu']:.0f} cases per CPU second), "
              f"peak RSS {r['peak_rss_mib']:.0f} MiB; rows: {r['counts']}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
