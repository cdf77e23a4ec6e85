"""Benchmark of the inbox drain: events applied per second, and memory as the count grows.

Run: ``.venv/bin/python benchmarks/inbox.py [--events N] [--patients P] [--slice S]
[--only sqlite|postgresql] [--one-by-one]``

P patients are enrolled in the benchmark pathway; N inbound events are
received into the inbox (HbA1c results, most valid, one in twenty impossible
and refused, one in twenty a resend of an earlier event id, one in fifty for an
unknown patient; several per patient, so one patient's events follow each
other), then ``engine.store.inbox.drain`` applies them slice after slice (what
the ``process-inbound-events`` flow runs). Reports events/s and peak memory
(RSS) at 10 000, 50 000 and 100 000 events to show it stays flat, and events
per CPU second of this process (less sensitive than wall time to a loaded
machine).
``--one-by-one`` measures the former path (one transaction per event).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    BENCH_T0,
    bench_territory,
    drop_pg_database,
    fresh_pg_database,
    machine,
    now_utc,
    peak_rss_mib,
)

T0 = BENCH_T0
MARKS = (10_000, 50_000, 100_000)


def receive(engine: object, patients: int, count: int) -> None:
    """``count`` inbox rows (bulk: the benchmark measures applying, not receiving)."""
    from engine import events
    from engine.store.bulk import insert_rows
    from engine.store.db import transaction
    from engine.store.tables import INBOX_TABLE, EventReceipt

    rows, receipts = [], []
    for n in range(count):
        at = T0 + timedelta(days=1, seconds=n)
        patient = f"B{n % patients:07d}"
        value = 6.0 + (n % 30) / 10
        if n % 20 == 7:
            value = 45.0                      # impossible: refused, stays in the inbox
        elif n % 20 == 13:                    # already applied (say, typed in): duplicate
            receipts.append({"event_id": f"bench:{n}", "kind": events.OBSERVATION,
                             "recorded_at": T0})
        if n % 50 == 11:
            patient = "inconnu"               # unknown patient: refused
        rows.append({"event_id": f"bench:{n}", "kind": events.OBSERVATION,
                     "patient_ref": patient, "case_id": None, "task_id": None,
                     "payload": {"code": "4548-4", "value": value, "unit": "%"},
                     "effective_at": at, "received_at": T0 + timedelta(days=1),
                     "source": "bench", "actor_kind": "system", "actor_id": None,
                     "status": "pending", "attempts": 0, "error": None,
                     "processed_at": None})
        if len(rows) == 5000 or n == count - 1:
            with transaction(engine) as session:  # type: ignore[arg-type]
                insert_rows(session, INBOX_TABLE, rows)
                insert_rows(session, EventReceipt.__table__, receipts)  # type: ignore[attr-defined]
            rows, receipts = [], []


def run(url: str, patients: int, count: int, size: int, batched: bool) -> dict[str, float]:
    from engine.store import inbox

    started = time.perf_counter()
    engine, service = bench_territory(url, patients)
    receive(engine, patients, count)
    print(f"  setup: {patients} patients enrolled, {count} events received in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    now = T0 + timedelta(days=2)
    done, applied, failed, duplicates = 0, 0, 0, 0
    marks = [m for m in MARKS if m <= count] or [count]
    started, cpu = time.perf_counter(), time.process_time()
    while True:
        report = inbox.drain(service, now, size, batched=batched)
        if report.seen == 0:
            break
        assert report.stopped is None, report.stopped
        done += report.seen
        applied += sum(report.applied.values())
        failed += len(report.failed)
        duplicates += report.duplicates
        while marks and done >= marks[0]:
            print(f"    {done:>7} events, {done / (time.perf_counter() - started):6.0f} "
                  f"events/s so far, peak RSS {peak_rss_mib():.0f} MiB", flush=True)
            marks.pop(0)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert done == count, (done, count)
    engine.dispose()
    return {"events": count, "seconds": elapsed, "rate": count / elapsed, "cpu": cpu,
            "applied": applied,
            "failed": failed, "duplicates": duplicates, "peak_rss_mib": peak_rss_mib()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--slice", type=int, default=500, help="events per drain call")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--one-by-one", action="store_true",
                        help="one transaction per event (the former drain)")
    args = parser.parse_args()
    print(f"inbox benchmark · {now_utc():%Y-%m-%d %H:%M} UTC · {machine()}")
    mode = "one by one" if args.one_by_one else "batched"
    results = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite ({args.events} events, {args.patients} patients, {mode})")
            results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.patients, args.events,
                                    args.slice, not args.one_by_one)
    if args.only in (None, "postgresql"):
        url, name = fresh_pg_database()
        try:
            print(f"PostgreSQL ({args.events} events, {args.patients} patients, {mode})")
            results["postgresql"] = run(url, args.patients, args.events, args.slice,
                                        not args.one_by_one)
        finally:
            drop_pg_database(name)
    for db, r in results.items():
        print(f"{db:<10} {r['events']:>7} events in {r['seconds']:6.1f} s = "
              f"{r['rate']:6.0f} events/s, {r['events'] / r['cpu']:.0f} per CPU second of this "
              f"process ({r['applied']} applied, {r['duplicates']} "
              f"duplicates, {r['failed']} refused), peak RSS {r['peak_rss_mib']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
