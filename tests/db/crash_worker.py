"""Applies a fixed script of events to a database; may kill itself mid-way.

Usage: python -m tests.db.crash_worker URL [KILL_AFTER_N_STATEMENTS]

Every operation carries an event id, so running the script again after a
crash applies exactly what had not been committed.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

from sqlalchemy import event, select

from engine.store.db import make_engine, transaction
from engine.store.service import CaseService
from engine.store.tables import CaseRow, TaskRow
from tests.db.world import T0


def task_id(engine, patient_ref: str, key: str) -> int:  # type: ignore[no-untyped-def]
    from engine.store.service import find_patient

    with transaction(engine) as s:
        patient = find_patient(s, patient_ref)
        case_ids = s.scalars(select(CaseRow.id).where(CaseRow.patient_id == patient.id)).all()
        return s.scalars(select(TaskRow.id).where(TaskRow.case_id.in_(case_ids),  # type: ignore[attr-defined]
                                                  TaskRow.key == key).order_by(TaskRow.id)).first()


def script(svc: CaseService) -> None:
    e = svc.engine
    day = lambda n: T0 + timedelta(days=n)  # noqa: E731
    svc.enroll("195031234567890", "exemple-suivi", day(0), event_id="enrol-1")
    svc.enroll("P-002", "exemple-suivi", day(0), event_id="enrol-2")
    svc.complete_task(task_id(e, "195031234567890", "bilan_initial"), {}, day(2), day(2),
                      event_id="done-1")
    svc.complete_task(task_id(e, "P-002", "bilan_initial"), {}, day(3), day(3),
                      event_id="done-2")
    svc.complete_task(task_id(e, "195031234567890", "examen_pieds"), {"grade": 2}, day(5),
                      day(5), event_id="foot-1")
    svc.advance(day(100), batch_size=1)
    svc.observe("195031234567890", "4548-4", "8.2", "%", day(101), day(101), event_id="obs-1")
    svc.observe("P-002", "4548-4", "6.1", "%", day(102), day(102), event_id="obs-2")
    svc.advance(day(200), batch_size=1)
    svc.pathway_event(2, "sortie_parcours", day(201), day(201), data={"motif": "retrait"},
                      event_id="exit-2")
    svc.advance(day(400), batch_size=1)


def main() -> None:
    url = sys.argv[1]
    kill_after = int(sys.argv[2]) if len(sys.argv) > 2 else -1
    engine = make_engine(url)
    if kill_after >= 0:
        count = {"n": 0}

        @event.listens_for(engine, "before_cursor_execute")
        def _maybe_die(*_args: object) -> None:
            count["n"] += 1
            if count["n"] > kill_after:
                os._exit(86)

        @event.listens_for(engine, "commit")
        def _maybe_die_at_commit(*_args: object) -> None:
            count["n"] += 1
            if count["n"] > kill_after:
                os._exit(86)

    script(CaseService(engine))


if __name__ == "__main__":
    main()
