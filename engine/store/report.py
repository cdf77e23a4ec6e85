"""The monthly activity report of a pathway, for the CPTS's reporting to its funders.

For one pathway and one calendar month (Europe/Paris):

- **patients enrolled**: patients with a case of the pathway opened during the month;
  cases closed during the month; open cases at the end of the month;
- **tasks completed** during the month, of which **on time** (completed no later than
  their due time) and the share on time; **median delay** from a task's creation to its
  completion, and the median lateness of those completed late (days, one decimal);
  tasks due during the month and still open at the end of it;
- **readmissions within 30 days**: admissions during the month (``admission`` history
  lines of the pathway's cases) of a patient discharged (from any case) in the 30 days
  before; with the number of admissions. None when the pathway saw no hospital event (the
  figure is meaningful for the hospital pathway).

Counts and medians only, no patient.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import events
from engine.store.exceptions import InputError
from engine.store.tables import OPEN_TASK_STATUSES, CaseEvent, CaseRow, TaskRow

PARIS = ZoneInfo("Europe/Paris")
READMISSION_DAYS = 30
COMPLETED = "completed"


@dataclass(frozen=True)
class MonthlyReport:
    pathway: str
    month: date                  # first day of the month
    patients_enrolled: int
    cases_closed: int
    open_at_end: int
    tasks_completed: int
    tasks_on_time: int
    median_days_to_complete: float | None
    median_days_late: float | None
    due_still_open: int
    admissions: int
    readmissions_30d: int | None

    @property
    def on_time_share(self) -> float | None:
        return self.tasks_on_time / self.tasks_completed if self.tasks_completed else None


def parse_month(text: str) -> date:
    try:
        year, month = (int(part) for part in text.strip().split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise InputError(f"mois {text!r} : attendu sous la forme AAAA-MM, par exemple "
                         "2026-03") from exc


def bounds(month: date, zone: ZoneInfo = PARIS) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=zone)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime(following.year, following.month, 1, tzinfo=zone)


def _median_days(deltas: list[timedelta]) -> float | None:
    if not deltas:
        return None
    return round(statistics.median(d.total_seconds() for d in deltas) / 86400, 1)


def monthly_report(session: Session, pathway: str, month: date,
                   zone: ZoneInfo = PARIS) -> MonthlyReport:
    start, end = bounds(month, zone)
    case = CaseRow
    in_pathway = col(case.pathway_key) == pathway
    enrolled = session.scalar(select(func.count(func.distinct(col(case.patient_id)))).where(
        in_pathway, col(case.opened_at) >= start, col(case.opened_at) < end)) or 0
    closed = session.scalar(select(func.count()).where(
        in_pathway, col(case.closed_at) >= start, col(case.closed_at) < end)) or 0
    open_at_end = session.scalar(select(func.count()).select_from(case).where(
        in_pathway, col(case.opened_at) < end,
        col(case.closed_at).is_(None) | (col(case.closed_at) >= end))) or 0
    tasks = select(TaskRow).join(case, col(case.id) == col(TaskRow.case_id)).where(in_pathway)
    completed = list(session.scalars(tasks.where(
        col(TaskRow.status) == COMPLETED, col(TaskRow.closed_at) >= start,
        col(TaskRow.closed_at) < end)))
    on_time = [t for t in completed if t.closed_at is not None and t.closed_at <= t.due_at]
    late = [t.closed_at - t.due_at for t in completed
            if t.closed_at is not None and t.closed_at > t.due_at]
    still_open = session.scalar(select(func.count()).select_from(TaskRow).join(
        case, col(case.id) == col(TaskRow.case_id)).where(
        in_pathway, col(TaskRow.due_at) >= start, col(TaskRow.due_at) < end,
        col(TaskRow.status).in_(OPEN_TASK_STATUSES))) or 0
    admissions, readmissions = _readmissions(session, pathway, start, end)
    return MonthlyReport(
        pathway, month, enrolled, closed, open_at_end, len(completed), len(on_time),
        _median_days([t.closed_at - t.created_at for t in completed if t.closed_at]),
        _median_days(late), still_open, admissions, readmissions)


def _readmissions(session: Session, pathway: str, start: datetime, end: datetime
                  ) -> tuple[int, int | None]:
    admitted = {(patient, at) for patient, at in session.execute(
        select(col(CaseRow.patient_id), col(CaseEvent.at))
        .join(CaseRow, col(CaseRow.id) == col(CaseEvent.case_id))
        .where(col(CaseRow.pathway_key) == pathway, col(CaseEvent.kind) == events.ADMISSION,
               col(CaseEvent.at) >= start, col(CaseEvent.at) < end))}
    hospital_seen = admitted or session.scalar(
        select(col(CaseEvent.id)).join(CaseRow, col(CaseRow.id) == col(CaseEvent.case_id))
        .where(col(CaseRow.pathway_key) == pathway,
               col(CaseEvent.kind).in_(events.HOSPITAL_EVENTS)).limit(1)) is not None
    if not hospital_seen:
        return 0, None
    patients = sorted({patient for patient, _ in admitted})
    discharges: dict[int, list[datetime]] = {}
    if patients:
        for patient, at in session.execute(
                select(col(CaseRow.patient_id), col(CaseEvent.at))
                .join(CaseRow, col(CaseRow.id) == col(CaseEvent.case_id))
                .where(col(CaseRow.patient_id).in_(patients),
                       col(CaseEvent.kind) == events.DISCHARGE,
                       col(CaseEvent.at) >= start - timedelta(days=READMISSION_DAYS),
                       col(CaseEvent.at) < end)):
            discharges.setdefault(patient, []).append(at)
    window = timedelta(days=READMISSION_DAYS)
    readmitted = sum(1 for patient, at in admitted
                     if any(at - window <= d < at for d in discharges.get(patient, [])))
    return len(admitted), readmitted
