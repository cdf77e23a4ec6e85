"""Cohort simulation: size a pathway before signing it.

``run_cohort`` enrols N synthetic patients (spread over the first month) and
lives their pathway for Y years in memory, with the real ``Runtime`` and no
database: timers fire when due, professionals complete tasks on time, late or
never, laboratories send plausible values (``engine.authoring.synthetic``), patients
leave the pathway or go to hospital now and then. It counts the tasks created
per role and per month (the workload a CPTS's nurses, GPs, pharmacists… will
get) and the states of the cases at the end. ``report`` prints both as French
tables for CPTS coordinators.

Each patient has their own random source derived from the seed and their
number, so the result does not depend on how patients are split over worker
processes: the same seed gives the same tables.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine.authoring.lifecycle import Life, Setting, month_index
from engine.clock import PARIS
from engine.durations import add_months
from engine.pathway.compiler import CompiledPathway

DEFAULT_START = datetime(2027, 1, 1, 0, 0, tzinfo=PARIS)   # months are whole


@dataclass
class Cohort:
    """What a simulation counted; partial cohorts from workers are merged."""

    patients: int = 0
    created: Counter[tuple[int, str]] = field(default_factory=Counter)   # (month, role)
    states: Counter[str] = field(default_factory=Counter)      # open cases' atomic states
    closed: Counter[str] = field(default_factory=Counter)      # closed cases' final state
    refused: int = 0                                            # events the runtime refused

    def merge(self, other: Cohort) -> None:
        self.patients += other.patients
        self.created.update(other.created)
        self.states.update(other.states)
        self.closed.update(other.closed)
        self.refused += other.refused


@dataclass(frozen=True)
class Plan:
    path: str
    seed: int
    years: float
    start: datetime = DEFAULT_START

    @property
    def end(self) -> datetime:
        """``years`` later on the calendar (whole months; 1.5 years = 18 months)."""
        return add_months(self.start, max(1, round(12 * self.years)))

    @property
    def months(self) -> int:
        return month_index(self.start, self.end - timedelta(microseconds=1)) + 1


def run_cohort(path: str, pathway: CompiledPathway, patients: int, years: float, seed: int,
               *, jobs: int | None = None, progress: Callable[[int], None] | None = None,
               start: datetime = DEFAULT_START) -> Cohort:
    """Simulate ``patients`` synthetic patients for ``years``; ``jobs`` worker processes."""
    plan = Plan(path, seed, years, start)
    setting = Setting.of(pathway, plan.start, plan.end)
    setting.check_eligible_patient(random.Random(seed))
    jobs = max(1, min(jobs or os.cpu_count() or 1, patients // 200 or 1))
    size = max(20, min(500, patients // (jobs * 10) or 1))
    chunks = [(first, min(first + size, patients)) for first in range(0, patients, size)]
    total = Cohort()
    if jobs == 1:
        for chunk in chunks:
            part = _simulate(setting, plan, chunk)
            total.merge(part)
            if progress is not None:
                progress(part.patients)
        return total
    context = multiprocessing.get_context("fork" if "fork" in
                                         multiprocessing.get_all_start_methods() else "spawn")
    with context.Pool(jobs, initializer=_init_worker, initargs=(plan,)) as pool:
        for part in pool.imap_unordered(_worker_chunk, chunks):
            total.merge(part)
            if progress is not None:
                progress(part.patients)
    return total


_WORKER: dict[str, Any] = {}


def _init_worker(plan: Plan) -> None:
    from engine.pathway.loader import load_file

    _WORKER["plan"] = plan
    _WORKER["setting"] = Setting.of(load_file(plan.path), plan.start, plan.end)


def _worker_chunk(chunk: tuple[int, int]) -> Cohort:
    return _simulate(_WORKER["setting"], _WORKER["plan"], chunk)


def _simulate(setting: Setting, plan: Plan, chunk: tuple[int, int]) -> Cohort:
    cohort = Cohort()
    for index in range(*chunk):
        life = Life(setting, random.Random(f"{plan.seed}:{index}"))
        case = life.run()
        cohort.patients += 1
        cohort.refused += life.refused
        cohort.created.update(life.created)
        if case.closed:
            cohort.closed[next(s for s in case.active if s in setting.finals)] += 1
        else:
            cohort.states.update(case.active)
    return cohort


# -- output -----------------------------------------------------------------------------------


def _n(value: float) -> str:
    """A French number: thousands separated by a narrow no-break space."""
    return f"{value:,.0f}".replace(",", "\u202f")


def report(pathway: CompiledPathway, cohort: Cohort, plan: Plan) -> str:
    """The French tables for CPTS coordinators: tasks per role and month, final states."""
    from engine.authoring.synthetic import ASSUMPTIONS

    lines = [f"Simulation du parcours « {pathway.definition.title} » "
             f"({pathway.key} v{pathway.version})",
             f"{_n(cohort.patients)} patients synthétiques inscrits au cours du premier mois, "
             f"suivis {_years(plan.years)} à partir du {plan.start:%d/%m/%Y} (graine "
             f"{plan.seed})", f"Hypothèses : {ASSUMPTIONS}.", ""]
    lines += _workload(pathway, cohort, plan)
    lines += ["", *_states(pathway, cohort, plan)]
    return "\n".join(lines) + "\n"


def _years(years: float) -> str:
    return f"{years:g} an" + ("s" if years >= 2 else "")


def _workload(pathway: CompiledPathway, cohort: Cohort, plan: Plan) -> list[str]:
    used = {role for _, role in cohort.created}
    roles = [r for r in pathway.definition.roles if r in used]
    header = ["Mois", *(pathway.definition.roles[r].title for r in roles), "Total"]
    rows = []
    for month in range(plan.months):
        counts = [cohort.created.get((month, r), 0) for r in roles]
        rows.append([_month(plan.start, month), *map(_n, counts), _n(sum(counts))])
    totals = [sum(cohort.created.get((m, r), 0) for m in range(plan.months)) for r in roles]
    rows.append(["Total", *map(_n, totals), _n(sum(totals))])
    rows.append(["Moyenne par mois", *(_n(t / plan.months) for t in totals),
                 _n(sum(totals) / plan.months)])
    if plan.months > 1:   # without the enrolment month: the steady workload
        later = [t - cohort.created.get((0, r), 0) for t, r in zip(totals, roles, strict=True)]
        rows.append(["Moyenne hors 1er mois", *(_n(t / (plan.months - 1)) for t in later),
                     _n(sum(later) / (plan.months - 1))])
    return ["Tâches créées par rôle et par mois", *_table(header, rows)]


_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
           "nov.", "déc.")


def _month(start: datetime, index: int) -> str:
    month = start.astimezone(PARIS).month - 1 + index
    return f"{_MONTHS[month % 12]} {start.astimezone(PARIS).year + month // 12}"


def _states(pathway: CompiledPathway, cohort: Cohort, plan: Plan) -> list[str]:
    closed = sum(cohort.closed.values())
    open_cases = cohort.patients - closed
    rows = []
    for sid, state in pathway.states.items():
        count = cohort.states.get(sid, 0) + cohort.closed.get(sid, 0)
        if count:
            base = cohort.patients if sid in cohort.closed else max(open_cases, 1)
            rows.append([sid, state.title, _n(count), f"{100 * count / base:.1f} %"])
    title = (f"États au {plan.end:%d/%m/%Y} : {_n(open_cases)} dossiers ouverts, {_n(closed)} "
             "clos (en % des dossiers ouverts, des dossiers inscrits pour les états de sortie ; "
             "un état parallèle compte chaque dossier dans chacune de ses régions)")
    return [title, *_table(["État", "Libellé", "Dossiers", "%"], rows, text_columns=2)]


def _table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    """Text columns aligned left, numbers right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(f"{c:<{w}}" if i < text_columns else f"{c:>{w}}"
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()
    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


class Progress:
    """A progress bar on a text stream (stderr), redrawn when the percentage changes."""

    def __init__(self, total: int, stream: Any, enabled: bool = True, width: int = 30) -> None:
        self.total, self.stream, self.enabled, self.width = total, stream, enabled, width
        self.count, self.shown = 0, -1

    def update(self, n: int) -> None:
        self.count += n
        percent = 100 * self.count // max(self.total, 1)
        if not self.enabled or percent == self.shown:
            return
        self.shown = percent
        filled = self.width * self.count // max(self.total, 1)
        self.stream.write(f"\r[{'█' * filled}{'░' * (self.width - filled)}] {percent:3d} % "
                          f"{_n(self.count)}/{_n(self.total)} patients")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.shown >= 0:
            self.stream.write("\n")
            self.stream.flush()
