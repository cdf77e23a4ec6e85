"""The coordinator's territory dashboard: counts only, read with a handful of grouped queries.

- Cases by state come from ``case_state`` (one row per active state of each open case,
  kept by triggers: migration 0009), read through its ``(pathway_key, state, case_id)``
  index: no case's JSON is read. Open cases by pathway, and the pathway of each open
  task, come from a partial index on the open cases' ``(id, pathway_key)``. A case in a
  parallel state has one row per region; the dashboard says "région X : n dossiers dans
  l'état Y", and counts cases once.
- Tasks: open and overdue by pathway and by role; by month of the last twelve (created,
  completed, overdue: due that month and done late or still open past due).

Months are the territory's (Europe/Paris) on PostgreSQL; SQLite has no time zones and
groups by the UTC month (tasks created in the first hour of a month may fall in the month
before: the embedded database is for trials, the figures for funders come from PostgreSQL).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.pathway.compiler import CompiledPathway
from engine.store import registry
from engine.store.tables import (
    CaseRow,
    CaseStateRow,
    PathwayVersion,
    TaskRow,
    task_is_open,
)

COMPLETED = "completed"


@dataclass(frozen=True)
class StateCount:
    state: str
    title: str
    region: str | None      # the parallel region's title, None outside parallel states
    cases: int


@dataclass
class PathwayBoard:
    key: str
    title: str
    cases: int = 0
    states: list[StateCount] = field(default_factory=list)
    open_tasks: int = 0
    overdue_tasks: int = 0


@dataclass
class Dashboard:
    pathways: list[PathwayBoard]
    #: role → (open, overdue)
    roles: dict[str, tuple[int, int]]
    #: "AAAA-MM" → (created, completed, overdue), the last twelve months, oldest first
    months: dict[str, tuple[int, int, int]]


def month_key(column: Any, dialect: str) -> Any:
    """SQL: the ``AAAA-MM`` month of a time column (Paris time on PostgreSQL)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Europe/Paris", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def last_months(today: date, n: int = 12) -> list[str]:
    out, year, month = [], today.year, today.month
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def state_counts(session: Session) -> dict[str, Counter[str]]:
    """pathway → state → open cases in it (from the ``case_state`` index)."""
    out: dict[str, Counter[str]] = {}
    for key, state, n in session.execute(
            select(col(CaseStateRow.pathway_key), col(CaseStateRow.state), func.count())
            .group_by(col(CaseStateRow.pathway_key), col(CaseStateRow.state))):
        out.setdefault(key, Counter())[state] = n
    return out


def open_case_counts(session: Session) -> dict[str, int]:
    """pathway → open cases (each counted once, however many regions it is in), from the
    partial index on open cases."""
    return {key: n for key, n in session.execute(
        select(col(CaseRow.pathway_key), func.count()).where(col(CaseRow.closed_at).is_(None))
        .group_by(col(CaseRow.pathway_key)))}


def region_of(pathway: CompiledPathway, state: str) -> str | None:
    """The title of the parallel region ``state`` is in (None outside parallel states)."""
    compiled = pathway.states.get(state)
    if compiled is None:
        return None
    child = state
    for ancestor in compiled.ancestors:
        node = pathway.tree.nodes.get(ancestor)
        if node is not None and node.state.parallel:
            return pathway.states[child].title or child
        child = ancestor
    return None


def board(session: Session, now: datetime, today: date, pathway: str | None = None
          ) -> Dashboard:
    counts, totals = state_counts(session), open_case_counts(session)
    titles = _latest_compiled(session)
    boards: dict[str, PathwayBoard] = {}
    for key in sorted(set(titles) | set(counts)):
        if pathway and key != pathway:
            continue
        compiled = titles.get(key)
        b = boards[key] = PathwayBoard(key, compiled.definition.title if compiled else key,
                                       totals.get(key, 0))
        order = compiled.states if compiled else {}
        for state, n in sorted(counts.get(key, Counter()).items(),
                               key=lambda item: (order[item[0]].order if item[0] in order
                                                 else 10**6, item[0])):
            title = order[state].title if state in order else state
            b.states.append(StateCount(state, title or state,
                                       region_of(compiled, state) if compiled else None, n))
    by_pathway, roles = task_counts(session, now, pathway)
    for key, (n_open, n_late) in by_pathway.items():
        if key in boards:
            boards[key].open_tasks, boards[key].overdue_tasks = n_open, n_late
    return Dashboard(list(boards.values()), roles, monthly_tasks(session, now, today, pathway))


def task_counts(session: Session, now: datetime, pathway: str | None = None
                ) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Open and overdue tasks (open, overdue) by pathway (open cases only) and by role, from
    one grouped pass over the open tasks."""
    open_case = col(CaseRow.closed_at).is_(None)
    late = col(TaskRow.due_at) < now
    query = (select(col(CaseRow.pathway_key), col(TaskRow.role), func.count(),
                    func.count().filter(late), func.count().filter(open_case),
                    func.count().filter(and_(late, open_case)))
             .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
             .where(task_is_open())
             .group_by(col(CaseRow.pathway_key), col(TaskRow.role)))
    if pathway:
        query = query.where(col(CaseRow.pathway_key) == pathway)
    by_pathway: dict[str, tuple[int, int]] = {}
    by_role: dict[str, tuple[int, int]] = {}
    for key, role, n_open, n_late, n_open_case, n_late_case in session.execute(query):
        o, la = by_pathway.get(key, (0, 0))
        by_pathway[key] = (o + n_open_case, la + n_late_case)
        o, la = by_role.get(role, (0, 0))
        by_role[role] = (o + n_open, la + n_late)
    return by_pathway, dict(sorted(by_role.items()))


def monthly_tasks(session: Session, now: datetime, today: date, pathway: str | None = None
                  ) -> dict[str, tuple[int, int, int]]:
    """Tasks created, completed and overdue in each of the last twelve months, from one
    grouped pass over the tasks touched since then."""
    months = last_months(today)
    year, month = (int(part) for part in months[0].split("-"))
    start = datetime(year, month, 1, tzinfo=UTC) - timedelta(days=1)  # Paris is ahead of UTC
    dialect = session.get_bind().dialect.name
    completed = col(TaskRow.status) == COMPLETED
    overdue = and_(col(TaskRow.due_at) < now, or_(
        task_is_open(), and_(completed, col(TaskRow.closed_at) > col(TaskRow.due_at))))
    created_m = month_key(col(TaskRow.created_at), dialect)
    done_m = case((completed, month_key(col(TaskRow.closed_at), dialect)))
    late_m = case((overdue, month_key(col(TaskRow.due_at), dialect)))
    query = (select(created_m, done_m, late_m, func.count())
             .where(or_(col(TaskRow.created_at) >= start,
                        and_(completed, col(TaskRow.closed_at) >= start),
                        col(TaskRow.due_at) >= start))
             .group_by(created_m, done_m, late_m))
    if pathway:
        query = query.join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id)).where(
            col(CaseRow.pathway_key) == pathway)
    created: Counter[str] = Counter()
    done: Counter[str] = Counter()
    late: Counter[str] = Counter()
    for c_month, d_month, l_month, n in session.execute(query):
        created[c_month] += n
        if d_month is not None:
            done[d_month] += n
        if l_month is not None:
            late[l_month] += n
    return {m: (created[m], done[m], late[m]) for m in months}


def _latest_compiled(session: Session) -> dict[str, CompiledPathway]:
    latest: dict[str, PathwayVersion] = {}
    for version in session.scalars(select(PathwayVersion).order_by(
            col(PathwayVersion.key), col(PathwayVersion.version))):
        latest[version.key] = version
    return {key: registry.compiled(v) for key, v in latest.items()}
