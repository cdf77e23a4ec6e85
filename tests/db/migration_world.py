"""Helpers of the migration tests: versions of the example pathway, cases at chosen states,
and a dump of every table (to prove that a plan writes nothing)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text

from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import ALL_TABLES, CaseRow, TaskRow, TimerRow
from tests.db.world import EXAMPLE, T0

V1 = EXAMPLE.read_text(encoding="utf-8")
KEY = "exemple-suivi"


def variant(*replacements: tuple[str, str], version: int = 2) -> str:
    """The example pathway with some text replaced (each replacement must apply)."""
    out = V1.replace("version: 1", f"version: {version}", 1)
    for old, new in replacements:
        assert old in out, old
        out = out.replace(old, new)
    return out


def publish(service: CaseService, text_: str, now: datetime = T0) -> int:
    return service.publish(text_, "v.yaml", now).version


def open_task(engine: Engine, case_id: int, key: str) -> TaskRow:
    with transaction(engine) as s:
        task = s.scalars(select(TaskRow).where(TaskRow.case_id == case_id, TaskRow.key == key,
                                               TaskRow.status == "requested")).one()
        s.expunge(task)
        return task


def enrol_in_suivi(service: CaseService, patient: str, at: datetime = T0) -> int:
    """A case past inclusion: in suivi (glycemie.attente, pieds.examen)."""
    applied = service.enroll(patient, KEY, at)
    case_id = applied.case_ids[0]
    task = open_task(service.engine, case_id, "bilan_initial")
    service.complete_task(task.id or 0, {}, at + timedelta(days=1), at + timedelta(days=1))
    return case_id


def to_prevention(service: CaseService, case_id: int, at: datetime) -> None:
    task = open_task(service.engine, case_id, "examen_pieds")
    service.complete_task(task.id or 0, {"grade": 2}, at, at)


def case_row(engine: Engine, case_id: int) -> CaseRow:
    with transaction(engine) as s:
        row = s.get(CaseRow, case_id)
        assert row is not None
        s.expunge(row)
        return row


def timers(engine: Engine, case_id: int) -> dict[str, TimerRow]:
    with transaction(engine) as s:
        rows = s.scalars(select(TimerRow).where(TimerRow.case_id == case_id)).all()
        for row in rows:
            s.expunge(row)
        return {t.name: t for t in rows}


def tasks(engine: Engine, case_id: int) -> list[TaskRow]:
    with transaction(engine) as s:
        rows = s.scalars(select(TaskRow).where(TaskRow.case_id == case_id)
                         .order_by(TaskRow.id)).all()
        for row in rows:
            s.expunge(row)
        return list(rows)


def dump_tables(engine: Engine) -> dict[str, list[Any]]:
    out = {}
    with engine.connect() as conn:
        for table in ALL_TABLES:
            name = table.__tablename__  # type: ignore[attr-defined]
            out[name] = [tuple(map(repr, row)) for row in
                         conn.execute(text(f'SELECT * FROM "{name}" ORDER BY 1'))]
    return out


def write(tmp: Path, name: str, content: str) -> str:
    path = tmp / name
    path.write_text(content, encoding="utf-8")
    return str(path)
