"""A patient known by INS (enrolled in the hospital pathway), for the HL7 v2 tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from engine.store import inbox
from engine.store.db import transaction
from engine.store.imports import import_patients
from engine.store.service import CaseService
from engine.store.tables import CaseRow, InboxRow, TaskRow
from tests.intake.messages import INS

ROOT = Path(__file__).resolve().parents[2]
HOSPITAL = ROOT / "pathways" / "hospitalisation-sujet-age.yaml"
T0 = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)
PATIENTS = f"""\
ins,local_id,family_name,given_names,birth_date,sex,commune,conditions
{INS},,Durand,Marie,1940-03-12,F,25056,
,P-777,Martin,Louis,1945-01-01,M,25056,
"""


def build(engine: Engine, tmp: Path) -> CaseService:
    service = CaseService(engine)
    service.publish(HOSPITAL.read_text(encoding="utf-8"), str(HOSPITAL), T0)
    (tmp / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    with transaction(engine) as session:
        import_patients(session, str(tmp / "patients.csv"), T0)
    service.enroll(INS, "hospitalisation-sujet-age", T0)
    return service


def drain(service: CaseService) -> inbox.DrainReport:
    # the listener stamps received_at with the real clock: apply what it received so far
    return inbox.drain(service, datetime.now(UTC) + timedelta(minutes=1), 1000)


def case_of(engine: Engine) -> CaseRow:
    with transaction(engine) as session:
        case = session.scalars(select(CaseRow)).one()
        session.expunge(case)
        return case


def open_tasks(engine: Engine) -> set[str]:
    with transaction(engine) as session:
        return set(session.scalars(select(TaskRow.key).where(
            TaskRow.status.in_(("requested", "accepted", "in-progress")))))  # type: ignore[attr-defined]


def inbox_rows(engine: Engine) -> list[InboxRow]:
    with transaction(engine) as session:
        rows = list(session.scalars(select(InboxRow).order_by(InboxRow.id)))  # type: ignore[arg-type]
        for row in rows:
            session.expunge(row)
        return rows
