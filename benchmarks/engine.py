"""In-memory engine benchmark: guarded transitions per second over 100 000 cases.

Run: ``.venv/bin/python benchmarks/engine.py [--cases N] [--profile PHASE]``

One compiled pathway (``pathways/examples/exemple-suivi.yaml``: two parallel
regions, nested states, observation guards, recurring timers) and one
``Runtime``; every case is a plain ``Case`` value in a list, bound to the one
shared machine only while an event is applied. Phases, each over every case,
each timed around the ``Runtime`` calls only (events are built beforehand):

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
guards, effects, new immutable case).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
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
from engine.case import Case, Event, Outcome, Subject, Transitioned
from engine.clock import PARIS
from engine.durations import add_months
from engine.pathway import load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
PATHWAY = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
GUARDED = ("pieds", "hba1c")


def rss_mib() -> float:
    """Current resident memory (the peak comes from getrusage)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * 4096 / 2**20


class Bench:
    def __init__(self, cases: int, profile: str | None) -> None:
        self.count = cases
        self.profile = profile
        self.pathway = load_file(str(PATHWAY))
        self.runtime = Runtime(self.pathway)
        self.subjects = [Subject(date(1940 + i % 45, 1 + i % 12, 1 + i % 28), "FM"[i % 2])
                         for i in range(cases)]
        self.cases: list[Case] = []
        self.results: dict[str, dict[str, Any]] = {}

    def timed(self, phase: str, step: Callable[[int, Case], Outcome]) -> None:
        """Run ``step`` over every case; keep the new cases, count transitions, drop outcomes.

        Outcomes are not kept (a service writes them and lets them go): holding 100 000
        of them, with their effects, would mostly measure the garbage collector.
        """
        cases: list[Case] = []
        keep, transitions = cases.append, 0
        gc.collect()
        profiler = cProfile.Profile() if self.profile == phase else None
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        for i, case in enumerate(self.cases):
            outcome = step(i, case)
            keep(outcome.case)
            transitions += sum(type(e) is Transitioned for e in outcome.effects)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        calls = len(cases)
        self.results[phase] = {"seconds": elapsed, "calls": calls, "transitions": transitions}
        self.cases = cases
        print(f"  {phase:<8} {calls:>7} calls in {elapsed:6.2f} s = {calls / elapsed:>9,.0f} "
              f"calls/s, {transitions:>7} transitions = {transitions / elapsed:>9,.0f} "
              f"transitions/s; RSS {rss_mib():.0f} MiB", flush=True)

    def apply_all(self, phase: str, events: list[Event]) -> None:
        apply, subjects = self.runtime.apply, self.subjects
        self.timed(phase, lambda i, case: apply(case, events[i], subjects[i]))

    def task_ref(self, case: Case, key: str) -> str:
        return next(t.ref for t in case.tasks if t.key == key)

    def run(self) -> None:
        start, advance, subjects = self.runtime.start, self.runtime.advance, self.subjects
        self.cases = [Case(())] * self.count  # placeholders: ``start`` ignores them
        self.timed("start", lambda i, _: start(subjects[i], T0))
        at = T0 + timedelta(days=7)
        self.apply_all("bilan", [
            Event("task_completed:bilan_initial", at, task=self.task_ref(c, "bilan_initial"))
            for c in self.cases])
        at = T0 + timedelta(days=15)
        self.apply_all("pieds", [
            Event("task_completed:examen_pieds", at, task=self.task_ref(c, "examen_pieds"),
                  result={"grade": i % 4}) for i, c in enumerate(self.cases)])
        due = add_months(T0 + timedelta(days=7), 3) + timedelta(days=1)  # HbA1c timer due
        self.timed("advance", lambda i, case: advance(case, subjects[i], due))
        at = due + timedelta(days=4)
        self.apply_all("hba1c", [Event("observation:hba1c", at, value=5.0 + (i % 40) / 10,
                                       unit="%") for i in range(self.count)])
        self.check()

    def check(self) -> None:
        """The work was done: every case moved as the pathway says."""
        states = Counter(leaf for case in self.cases for leaf in case.active)
        expected = self.count
        assert states["suivi.glycemie.attente"] + states["suivi.glycemie.revue"] == expected
        assert states["suivi.pieds.prevention"] + states["suivi.pieds.annuel"] == expected
        for phase in ("bilan", *GUARDED):
            assert self.results[phase]["transitions"] == expected, (phase, self.results[phase])

    def report(self) -> None:
        seconds = sum(self.results[p]["seconds"] for p in GUARDED)
        transitions = sum(self.results[p]["transitions"] for p in GUARDED)
        start = self.results["start"]
        print(f"cases started: {start['calls'] / start['seconds']:,.0f} cases/s")
        print(f"guarded transitions (pieds + hba1c, full Runtime.apply): "
              f"{transitions / seconds:,.0f} transitions/s")
        print(f"peak RSS: {peak_rss_mib():.0f} MiB for {self.count} cases")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--profile", choices=["start", "bilan", "pieds", "advance", "hba1c"],
                        help="print a cProfile of one phase (slows it down)")
    args = parser.parse_args()
    print(f"engine benchmark · {datetime.now(PARIS):%Y-%m-%d %H:%M} · {machine()}")
    print(f"pathway {PATHWAY.relative_to(ROOT)}, {args.cases} cases in memory, "
          f"RSS before: {rss_mib():.0f} MiB")
    bench = Bench(args.cases, args.profile)
    bench.run()
    bench.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
