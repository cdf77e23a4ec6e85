"""In-memory engine benchmark: guarded transitions per second over 100 000 cases.

Run: ``.venv/bin/python benchmarks/engine.py [--cases N] [--workers N] [--profile PHASE]``

One compiled pathway (``pathways/examples/exemple-suivi.yaml``: two parallel
regions, nested states, observation guards, recurring timers) and one
``Runtime``; every case is a plain ``Case`` value in a list, bound to the one
shared machine table only while an event is applied. Phases, each over every
case, each timed around the ``Runtime`` calls (events are built beforehand;
outcomes are dropped once their case is kept, as a service would after writing
them):

- ``start``   enrol (initial state, task created);
- ``bilan``   complete the initial review: enter the parallel state (two
  regions, a timer armed, a task created);
- ``pieds``   complete the foot exam with a grade: guarded transition
  (``event.result.grade >= 2``), fact set, timers armed;
- ``advance`` three months later: due timers fire (HbA1c due, podiatry);
- ``hba1c``   record an HbA1c: guarded transition (one or two guards over the
  value, facts and parameters), a task completed by the observation, facts
  set, then a task or a timer.

The headline figure is guarded transitions per second over ``pieds`` and
``hba1c``: full ``Runtime.apply`` calls (validation, timers, Jinja2 sandbox
guards, effects, new immutable case). It is measured in one process, then
with the cases split over ``--workers`` processes (default: one per core),
each with its own compiled pathway, phases started together. Each phase runs
with the cyclic garbage collector paused, as the service's batch loops do
(``engine.store.bulk.collector_paused``: the timer sweep, the inbox drain);
``--gc`` leaves it on.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import multiprocessing
import os
import pstats
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine, peak_rss_mib
from engine import events
from engine.case import Case, Event, Outcome, Subject, Transitioned
from engine.clock import PARIS
from engine.durations import add_months
from engine.pathway import load_file
from engine.runtime import Runtime
from engine.store.bulk import collector_paused

ROOT = Path(__file__).resolve().parents[1]
PATHWAY = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
PHASES = ("start", "bilan", "pieds", "advance", "hba1c")
GUARDED = ("pieds", "hba1c")
Results = dict[str, dict[str, float]]


def rss_mib() -> float:
    """Current resident memory (the peak comes from getrusage)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


class Bench:
    """The phases over cases ``first`` … ``first + count - 1`` of the synthetic territory."""

    def __init__(self, count: int, first: int = 0, profile: str | None = None,
                 sync: Callable[[], object] | None = None, verbose: bool = True,
                 collect: bool = False) -> None:
        self.count, self.first, self.collect = count, first, collect
        self.profile, self.sync, self.verbose = profile, sync, verbose
        self.runtime = Runtime(load_file(str(PATHWAY)))
        self.subjects = [Subject(date(1940 + i % 45, 1 + i % 12, 1 + i % 28), "FM"[i % 2])
                         for i in range(first, first + count)]
        self.cases: list[Case] = [Case(())] * count  # placeholders until ``start``
        self.results: Results = {}

    def timed(self, phase: str, step: Callable[[int, Case], Outcome]) -> None:
        """Run ``step`` over every case; keep the new cases, count transitions, drop outcomes.

        Outcomes are not kept (a service writes them and lets them go): holding 100 000
        of them, with their effects, would mostly measure the garbage collector.
        """
        cases: list[Case] = []
        keep, transitions = cases.append, 0
        gc.collect()
        if self.sync is not None:
            self.sync()
        profiler = cProfile.Profile() if self.profile == phase else None
        if profiler:
            profiler.enable()
        with contextlib.nullcontext() if self.collect else collector_paused():
            started = time.perf_counter()
            for i, case in enumerate(self.cases):
                outcome = step(i, case)
                keep(outcome.case)
                transitions += list(map(type, outcome.effects)).count(Transitioned)
            elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        self.cases = cases
        self.results[phase] = {"seconds": elapsed, "calls": len(cases),
                               "transitions": transitions}
        if self.verbose:
            print(f"  {phase:<8} {_rates(self.results[phase])}; RSS {rss_mib():.0f} MiB",
                  flush=True)

    def apply_all(self, phase: str, events: list[Event]) -> None:
        apply, subjects = self.runtime.apply, self.subjects
        self.timed(phase, lambda i, case: apply(case, events[i], subjects[i]))

    def run(self) -> Results:
        start, advance, subjects = self.runtime.start, self.runtime.advance, self.subjects
        n = range(self.first, self.first + self.count)  # global numbers: same data mix
        self.timed("start", lambda i, _: start(subjects[i], T0))
        at = T0 + timedelta(days=7)
        self.apply_all("bilan", [Event(events.task_completed("bilan_initial"), at,
                                       task=_ref(c, "bilan_initial")) for c in self.cases])
        at = T0 + timedelta(days=15)
        self.apply_all("pieds", [Event(events.task_completed("examen_pieds"), at,
                                       task=_ref(c, "examen_pieds"), result={"grade": i % 4})
                                 for i, c in zip(n, self.cases, strict=True)])
        due = add_months(T0 + timedelta(days=7), 3) + timedelta(days=1)  # HbA1c timer due
        self.timed("advance", lambda i, case: advance(case, subjects[i], due))
        at = due + timedelta(days=4)
        self.apply_all("hba1c", [Event(events.observation("hba1c"), at, value=5.0 + (i % 40) / 10,
                                       unit="%") for i in n])
        self.check()
        return self.results

    def check(self) -> None:
        """The work was done: every case moved as the pathway says."""
        states = Counter(leaf for case in self.cases for leaf in case.active)
        assert states["suivi.glycemie.attente"] + states["suivi.glycemie.revue"] == self.count
        assert states["suivi.pieds.prevention"] + states["suivi.pieds.annuel"] == self.count
        for phase in ("bilan", *GUARDED):
            assert self.results[phase]["transitions"] == self.count, (phase, self.results)


def _ref(case: Case, key: str) -> str:
    return next(t.ref for t in case.tasks if t.key == key)


def _rates(r: dict[str, float]) -> str:
    return (f"{r['calls']:>7.0f} calls in {r['seconds']:6.2f} s = "
            f"{r['calls'] / r['seconds']:>9,.0f} calls/s, {r['transitions']:>7.0f} transitions "
            f"= {r['transitions'] / r['seconds']:>9,.0f} transitions/s")


def headline(results: Results, cases: int, peak: str) -> None:
    seconds = sum(results[p]["seconds"] for p in GUARDED)
    transitions = sum(results[p]["transitions"] for p in GUARDED)
    start = results["start"]
    print(f"  → cases started: {start['calls'] / start['seconds']:,.0f} cases/s; guarded "
          f"transitions (pieds + hba1c, full Runtime.apply): "
          f"{transitions / seconds:,.0f} transitions/s; {peak} for {cases} cases")


# -- several processes ----------------------------------------------------------------------


def _worker(count: int, first: int, barrier: Any, queue: Any, collect: bool) -> None:
    results = Bench(count, first, sync=barrier.wait, verbose=False, collect=collect).run()
    queue.put((results, peak_rss_mib()))


def parallel(cases: int, workers: int, collect: bool = False) -> None:
    """The same phases, the cases split over ``workers`` processes started together."""
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(workers), context.Queue()
    share = -(-cases // workers)
    firsts = list(range(0, cases, share))
    processes = [context.Process(target=_worker, args=(min(share, cases - f), f, barrier, queue,
                                                           collect))
                 for f in firsts]
    for process in processes:
        process.start()
    reports = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    combined: Results = {}
    for phase in PHASES:
        rows = [results[phase] for results, _ in reports]
        # phases start together (barrier): the phase lasts as long as its slowest worker
        combined[phase] = {"seconds": max(r["seconds"] for r in rows),
                           "calls": sum(r["calls"] for r in rows),
                           "transitions": sum(r["transitions"] for r in rows)}
        print(f"  {phase:<8} {_rates(combined[phase])}")
    peaks = [peak for _, peak in reports]
    headline(combined, cases, f"peak RSS {max(peaks):.0f} MiB per process "
                              f"({sum(peaks):.0f} MiB in all)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes for the second run (default: one per core; 1: skip it)")
    parser.add_argument("--profile", choices=PHASES,
                        help="print a cProfile of one phase of the one-process run")
    parser.add_argument("--gc", action="store_true",
                        help="leave the garbage collector on during the phases")
    args = parser.parse_args()
    print(f"engine benchmark · {datetime.now(PARIS):%Y-%m-%d %H:%M} · {machine()}")
    print(f"pathway {PATHWAY.relative_to(ROOT)}, {args.cases} cases in memory; "
          f"RSS before: {rss_mib():.0f} MiB")
    print("one process:")
    bench = Bench(args.cases, profile=args.profile, collect=args.gc)
    results = bench.run()
    headline(results, args.cases, f"peak RSS {peak_rss_mib():.0f} MiB")
    del bench
    gc.collect()
    if args.workers > 1:
        print(f"{args.workers} processes, {-(-args.cases // args.workers)} cases each:")
        parallel(args.cases, args.workers, args.gc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
