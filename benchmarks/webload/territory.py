"""The territory of ``benchmarks/web.py``: patients, professionals, open tasks and the plan
of the Locust users, seeded fast through the bulk paths (``COPY`` on PostgreSQL).

Half the professionals are GPs and half nurses; patient *n* has GP *n mod G* and nurse
*n mod N* in their care team and is enrolled in ``benchmarks/pathways/bench-web.yaml``,
which opens one task for each (``controle`` for the GP, ``visite`` for the nurse): with
50 000 patients, 100 000 open tasks. No name is a real person's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from benchmarks.common import ROOT

PATHWAY = ROOT / "benchmarks" / "pathways" / "bench-web.yaml"
PATHWAY_KEY = "bench-web"
CHUNK = 5000
#: what each role types in the result form of its task (French decimal comma included)
FORMS = {"medecin": [{"hba1c": "6,8"}, {"hba1c": "7,6"}],
         "infirmier": [{"observance": "oui"}, {"observance": "non"}]}


@dataclass(frozen=True)
class Territory:
    patients: int
    professionals: list[tuple[int, str]]   # (id, profession)
    open_tasks: int
    coordinator: int | None = None          # the CPTS coordinator (dashboard and queue)


def seed(engine: Engine, patients: int, professionals: int, enrolled_at: datetime,
         progress: Any = print) -> Territory:
    """Migrate, publish the pathway, insert people, enrol everybody (open tasks)."""
    from engine.store.db import transaction
    from engine.store.migrate import upgrade
    from engine.store.service import CaseService

    upgrade(engine)
    service = CaseService(engine)
    service.publish(PATHWAY.read_text(encoding="utf-8"), str(PATHWAY), enrolled_at)
    with transaction(engine) as session:
        pros = _professionals(session, professionals)
        ids = _patients(session, patients, pros, enrolled_at)
    progress(f"  {len(ids)} patients and {len(pros)} professionals inserted; enrolling…")
    report = service.enroll_many(ids, PATHWAY_KEY, enrolled_at, batch_size=2000)
    assert report.enrolled == patients, report
    with transaction(engine) as session:
        from sqlalchemy import func

        from engine.store.tables import TaskRow

        coordinator = _coordination_work(session, ids, enrolled_at)
        open_tasks = session.scalar(select(func.count()).select_from(TaskRow)
                                    .where(col(TaskRow.status) == "requested")) or 0
    if engine.dialect.name == "postgresql":
        # a territory in use has statistics (autovacuum); right after a bulk load it has none
        # yet, and the planner then joins every care-team row to every open task
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return Territory(patients, pros, open_tasks, coordinator)


def _coordination_work(session: Session, patients: list[int], at: datetime,
                       problems: int = 50) -> int:
    """The CPTS coordinator, and something for her queue: ``problems`` refused inbound
    observations and ``problems`` messages that could not be delivered."""
    from engine import outbox
    from engine.store.bulk import insert_rows
    from engine.store.tables import INBOX_TABLE, OUTBOX_TABLE, PROFESSIONAL_TABLE

    (coordinator,) = insert_rows(session, PROFESSIONAL_TABLE, [{
        "rpps": "99999999999", "family_name": "Coordination", "given_names": "Bench",
        "profession": "coordinateur", "email": "coordination@bench.example.fr",
        "mssante": None, "phone": None, "active": True, "preferences": {}}], with_ids=True)
    insert_rows(session, INBOX_TABLE, [{
        "event_id": f"bench-refused-{n}", "kind": "observation", "patient_ref": str(pid),
        "case_id": None, "task_id": None, "payload": {"code": "4548-4", "value": "78"},
        "effective_at": at, "received_at": at, "source": "bench", "actor_kind": "system",
        "actor_id": None, "status": "failed", "attempts": 1, "processed_at": at,
        "error": "InputError: valeur hors des bornes"} for n, pid in enumerate(
            patients[:problems])])
    insert_rows(session, OUTBOX_TABLE, [{
        "idempotency_key": f"bench-dead-{n}", "kind": outbox.DAILY_DIGEST, "case_id": None,
        "task_id": None, "recipient_id": coordinator, "payload": {}, "status": "dead",
        "attempts": 5, "created_at": at, "next_attempt_at": at, "sent_at": None,
        "last_error": "550 mailbox unavailable", "channel": "email"}
        for n in range(problems)])
    return int(coordinator)


def existing(engine: Engine) -> Territory:
    """The territory a previous ``--keep`` run left in the database."""
    from sqlalchemy import func

    from engine.store.db import transaction
    from engine.store.tables import Patient, Professional, TaskRow

    with transaction(engine) as session:
        pros = [(p.id or 0, p.profession) for p in session.scalars(
            select(Professional).order_by(col(Professional.id)))]
        coordinator = next((i for i, p in pros if p == "coordinateur"), None)
        pros = [(i, p) for i, p in pros if p != "coordinateur"]
        patients = session.scalar(select(func.count()).select_from(Patient)) or 0
        open_tasks = session.scalar(select(func.count()).select_from(TaskRow)
                                    .where(col(TaskRow.status) == "requested")) or 0
    if engine.dialect.name == "postgresql":
        # a territory in use has statistics (autovacuum); right after a bulk load it has none
        # yet, and the planner then joins every care-team row to every open task
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return Territory(patients, pros, open_tasks, coordinator)


def _professionals(session: Session, count: int) -> list[tuple[int, str]]:
    from engine.store.bulk import insert_rows
    from engine.store.tables import Professional

    professions = ["medecin", "infirmier"] * (count // 2) + ["medecin"] * (count % 2)
    rows: list[dict[str, Any]] = [
        {"rpps": f"9{n:010d}", "family_name": f"Pro{n:03d}", "given_names": "Bench",
         "profession": p, "email": f"pro{n:03d}@bench.example.fr", "mssante": None,
         "phone": None, "active": True, "preferences": {}}
        for n, p in enumerate(professions)]
    ids = insert_rows(session, Professional.__table__, rows, with_ids=True)  # type: ignore[attr-defined]
    return list(zip(ids, professions, strict=True))


def _patients(session: Session, count: int, pros: list[tuple[int, str]],
              created: datetime) -> list[int]:
    from engine.store.bulk import insert_rows
    from engine.store.tables import CareTeamMember, Patient

    gps = [i for i, p in pros if p == "medecin"]
    nurses = [i for i, p in pros if p == "infirmier"] or gps
    ids: list[int] = []
    for start in range(0, count, CHUNK):
        rows: list[dict[str, Any]] = [
            {"ins": None, "local_id": f"W{n:07d}", "family_name": f"Patient{n}",
             "given_names": "Bench", "birth_date": date(1940 + n % 45, 1 + n % 12, 1 + n % 28),
             "sex": "FM"[n % 2], "commune": None, "conditions": [], "created_at": created}
            for n in range(start, min(count, start + CHUNK))]
        chunk = insert_rows(session, Patient.__table__, rows, with_ids=True)  # type: ignore[attr-defined]
        team = []
        for n, pid in enumerate(chunk, start):
            team.append({"patient_id": pid, "professional_id": gps[n % len(gps)],
                         "role": "medecin_traitant", "start_date": date(2020, 1, 1),
                         "end_date": None})
            team.append({"patient_id": pid, "professional_id": nurses[n % len(nurses)],
                         "role": "infirmier", "start_date": date(2020, 1, 1),
                         "end_date": None})
        insert_rows(session, CareTeamMember.__table__, team)  # type: ignore[attr-defined]
        ids.extend(chunk)
    return ids


def plan(engine: Engine, territory: Territory, users: int, now: datetime,
         views: int = 200, completions: int = 200, coordinators: int = 0) -> dict[str, Any]:
    """One entry per Locust user: a one-time sign-in token (issued in the database, valid
    two hours), tasks to open and distinct tasks to complete, the form values."""
    from engine.store import signin
    from engine.store.db import transaction
    from engine.store.tables import TaskRow
    from web.forms import PREFIX

    pick = random.Random(12)
    entries = []
    with transaction(engine) as session:
        for pid, profession in territory.professionals[:users]:
            tasks = list(session.scalars(
                select(col(TaskRow.id)).where(col(TaskRow.assignee_id) == pid,
                                         col(TaskRow.status) == "requested")
                .order_by(col(TaskRow.id)).limit(views + completions)))
            pick.shuffle(tasks)
            half = min(views, len(tasks) // 2)
            form = pick.choice(FORMS[profession])
            entries.append({
                "id": pid, "token": signin.issue(session, pid, now, timedelta(hours=2)),
                "view": tasks[:half], "complete": tasks[half:],
                "form": {PREFIX + key: value for key, value in form.items()}})
        chief, chiefs = territory.coordinator, []
        if chief is not None:
            chiefs = [{"id": chief, "token": signin.issue(session, chief, now,
                                                          timedelta(hours=2))}
                      for _ in range(coordinators)]
    return {"users": entries, "coordinators": chiefs}
