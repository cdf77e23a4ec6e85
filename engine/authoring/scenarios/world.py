"""A scenario's world: a fresh database with one patient, a care team, its cases.

Scenarios run through the production ``CaseService``, so role assignment
(a task goes to the care-team holder of its role, else to the coordinator,
flagged), persistence, timers and the notification outbox behave exactly as
they do for real patients; as time passes, the reminder and escalation sweep
of ``engine.store.escalation`` (the code the ``escalate-overdue`` flow runs)
queues its messages too. On SQLite the migrated schema is built once per
process and copied for each scenario; on PostgreSQL (``database=`` a URL of a
migrated database that belongs to the caller) every table is emptied first.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from engine import events
from engine.authoring.scenarios.snapshot import MessageSeen, Snapshot, TaskSeen
from engine.authoring.timeline import PatientSpec
from engine.clock import PARIS
from engine.store.tables import (
    ALL_TABLES,
    CASE_TABLE,
    OPEN_TASK_STATUSES,
    OUTBOX_TABLE,
    TASK_TABLE,
    Patient,
    Professional,
)

_CASE = CASE_TABLE
_TASK = TASK_TABLE
_OUTBOX = OUTBOX_TABLE
PATIENT_REF = "SCENARIO-1"
DEFAULT_COORDINATOR = "Coordination CPTS"
COORDINATOR = "coordinateur"
#: care-team role → profession of the made-up professional who holds it
PROFESSION = {"medecin_traitant": "medecin"}
_TEMPLATE: dict[str, Path] = {}


def _template() -> Path:
    """A migrated, empty SQLite database, built once per process."""
    if "db" not in _TEMPLATE:
        from engine.store.db import make_engine
        from engine.store.migrate import upgrade

        path = Path(tempfile.mkdtemp(prefix="parcours-scenarios-")) / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        _TEMPLATE["db"] = path
    return _TEMPLATE["db"]


def _emptied(url: str) -> Engine:
    """An engine on ``url`` (a migrated PostgreSQL database) whose tables are all empty."""
    from engine.store.db import make_engine

    engine = make_engine(url)
    names = ", ".join(t.__table__.name for t in ALL_TABLES)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return engine


class World:
    """One database, one patient and its cases, driven through the case service."""

    def __init__(self, folder: Path, pathways: list[tuple[str, str, str]],
                 parameters: dict[str, Any], start: datetime, database: str | None = None) -> None:
        """``pathways``: (text, file, key) of each pathway, the scenario's own first."""
        from engine.store.db import make_engine
        from engine.store.service import CaseService

        if database is None:
            db = folder / "scenario.db"
            shutil.copyfile(_template(), db)
            self.engine: Engine = make_engine(f"sqlite:///{db}")
        else:
            self.engine = _emptied(database)
        self.main = pathways[0][2]
        self.service = CaseService(self.engine, parameters={self.main: parameters})
        for pathway_text, file, _ in pathways:
            self.service.publish(pathway_text, file, start)
        self.names: dict[int, str] = {}
        self.cases: dict[str, int] = {}
        self._outbox_seen = 0

    def close(self) -> None:
        self.engine.dispose()

    # -- the people ---------------------------------------------------------------------------

    def populate(self, spec: PatientSpec, team: dict[str, str | None], start: datetime) -> None:
        from engine.store.careteam import set_member
        from engine.store.db import transaction

        with transaction(self.engine) as session:
            coordinator = team.get(COORDINATOR) or DEFAULT_COORDINATOR
            self._professional(session, coordinator, COORDINATOR)
            holders = {role: self._professional(session, name, PROFESSION.get(role, role))
                       for role, name in team.items() if name and role != COORDINATOR}
            if team.get(COORDINATOR):
                holders[COORDINATOR] = next(i for i, n in self.names.items() if n == coordinator)
            session.add(Patient(local_id=PATIENT_REF, family_name="Patient", given_names="Fictif",
                                birth_date=spec.birth_date, sex=spec.sex or "U",
                                conditions=spec.conditions, ald=spec.ald, created_at=start,
                                condition_onsets={c: d.isoformat()
                                                  for c, d in spec.onsets.items()}))
            session.flush()
            for role, professional in holders.items():
                member = session.get(Professional, professional)
                assert member is not None
                set_member(session, PATIENT_REF, role, member.rpps, start.astimezone(PARIS).date())

    def _professional(self, session: Session, name: str, profession: str) -> int:
        number = len(self.names) + 1
        family, _, given = name.rpartition(" ")
        row = Professional(rpps=f"{10_000_000_000 + number}", family_name=family or name,
                           given_names=given if family else "-", profession=profession)
        session.add(row)
        session.flush()
        self.names[row.id or 0] = name
        return row.id or 0

    # -- actions --------------------------------------------------------------------------------

    def enroll(self, key: str, at: datetime) -> None:
        result = self.service.enroll(PATIENT_REF, key, at)
        self.cases[key] = result.case_ids[0]

    def begin_step(self) -> None:
        """From now on, messages count as sent during the next step."""
        rows = self._rows(_OUTBOX)
        self._outbox_seen = max([self._outbox_seen, *(o.id for o in rows)])

    def advance(self, at: datetime) -> None:
        """Timers due by ``at`` fire; then reminders and escalations due by ``at`` are queued."""
        from engine.store.escalation import escalate

        self.service.advance(at)
        escalate(self.engine, at)

    def observe(self, code: str, value: Any, unit: str | None, at: datetime) -> None:
        self.service.observe(PATIENT_REF, code, value, unit, at, at)

    def complete(self, key: str, result: dict[str, Any], at: datetime,
                 pathway: str | None = None) -> None:
        from engine.store.exceptions import InputError

        cases = [self.cases[pathway]] if pathway else list(self.cases.values())
        open_tasks = self._rows(_TASK, _TASK.c.case_id.in_(cases),
                                _TASK.c.status.in_(OPEN_TASK_STATUSES))
        task = next((t for t in open_tasks if t.key == key), None)
        if task is None:
            keys = sorted({t.key for t in open_tasks})
            raise InputError(f"no open task {key!r} to complete; open tasks: "
                             f"{', '.join(keys) or 'none'}")
        self.service.complete_task(task.id, result, at, at)

    def event(self, name: str, data: dict[str, Any], at: datetime, pathway: str) -> None:
        if events.is_hospital(name):
            self.service.hospital_event(PATIENT_REF, name, at, at, data=data)
        else:
            self.service.pathway_event(self.cases[pathway], name, at, at, data=data)

    # -- what can be checked --------------------------------------------------------------------

    def _rows(self, table: Any, *where: Any) -> list[Any]:
        """Plain rows of ``table``, in id order."""
        from engine.store.db import transaction

        with transaction(self.engine) as session:
            return list(session.execute(select(table).where(*where).order_by(table.c.id)))

    def snapshot(self, pathway: str | None = None) -> Snapshot:
        """The case of ``pathway`` (default: the scenario's own) and this step's messages."""
        case_id = self.cases[pathway or self.main]
        (case,) = self._rows(_CASE, _CASE.c.id == case_id)
        rows = self._rows(_TASK, _TASK.c.case_id == case_id)
        keys = {t.id: t.key for t in rows}
        outbox = self._rows(_OUTBOX, _OUTBOX.c.id > self._outbox_seen,
                            _OUTBOX.c.case_id == case_id)
        created: dict[str, int] = {}
        last_status: dict[str, str] = {}
        for row in rows:
            created[row.key] = created.get(row.key, 0) + 1
            last_status[row.key] = row.status
        return Snapshot(
            active=list(case.active_states), closed=case.closed_at is not None,
            facts=dict(case.facts), created=created, last_status=last_status,
            tasks=[TaskSeen(t.key, t.role, self._label(t.assignee_id, t.unassigned_role),
                            t.unassigned_role, t.due_at.astimezone(PARIS))
                   for t in rows if t.status in OPEN_TASK_STATUSES],
            messages=[self._message(o, keys) for o in outbox])

    def _message(self, row: Any, task_keys: dict[int, str]) -> MessageSeen:
        payload = row.payload or {}
        unassigned = bool(payload.get("unassigned_role"))
        return MessageSeen(kind=row.kind, role=payload.get("role", ""),
                           to=self._label(row.recipient_id, unassigned),
                           unassigned=unassigned, message=payload.get("message", ""),
                           task=task_keys.get(row.task_id or 0))

    def _label(self, professional: int | None, unassigned: bool) -> str:
        if unassigned:
            return COORDINATOR
        return self.names.get(professional or 0, "personne")
