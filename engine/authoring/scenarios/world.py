"""A scenario's world: a fresh SQLite database with one patient, a care team, one case.

Scenarios run through the production ``CaseService``, so role assignment
(a task goes to the care-team holder of its role, else to the coordinator,
flagged), persistence, timers and the notification outbox behave exactly as
they do for real patients. The migrated schema is built once per process and
copied for each scenario, which keeps a scenario well under a second.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from engine import events
from engine.clock import PARIS
from engine.store.tables import (
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


@dataclass
class TaskSeen:
    key: str
    role: str
    assignee: str          # the holder's name, or "coordinateur" when nobody holds the role
    unassigned: bool
    due: datetime


@dataclass
class MessageSeen:
    role: str
    to: str
    unassigned: bool
    message: str


@dataclass
class Snapshot:
    """What a scenario can check about its case at one moment."""

    active: list[str]
    closed: bool
    facts: dict[str, Any]
    tasks: list[TaskSeen]
    created: dict[str, int]
    messages: list[MessageSeen] = field(default_factory=list)

    def is_active(self, state: str) -> bool:
        """A state id, or its last part(s) (``revue``, ``glycemie.revue``), is active."""
        ids = {leaf.rsplit(".", n)[0] for leaf in self.active for n in range(leaf.count(".") + 1)}
        return any(sid == state or sid.endswith("." + state) for sid in ids)


class World:
    """One database, one patient and one case, driven through the case service."""

    def __init__(self, folder: Path, pathway_text: str, pathway_file: str, key: str,
                 parameters: dict[str, Any], start: datetime) -> None:
        from engine.store.db import make_engine
        from engine.store.service import CaseService

        db = folder / "scenario.db"
        shutil.copyfile(_template(), db)
        self.engine: Engine = make_engine(f"sqlite:///{db}")
        self.service = CaseService(self.engine, parameters={key: parameters})
        self.service.publish(pathway_text, pathway_file, start)
        self.names: dict[int, str] = {}
        self.case_id: int | None = None
        self._outbox_seen = 0

    def close(self) -> None:
        self.engine.dispose()

    # -- the people ---------------------------------------------------------------------------

    def populate(self, birth_date: date, sex: str | None, conditions: list[str],
                 team: dict[str, str | None], start: datetime) -> None:
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
                                birth_date=birth_date, sex=sex or "U", conditions=conditions,
                                created_at=start))
            session.flush()
            for role, professional in holders.items():
                rpps = session.get(Professional, professional).rpps  # type: ignore[union-attr]
                set_member(session, PATIENT_REF, role, rpps, start.astimezone(PARIS).date())

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
        self.case_id = result.case_ids[0]

    def advance(self, at: datetime) -> None:
        self.service.advance(at)

    def observe(self, code: str, value: Any, unit: str | None, at: datetime) -> None:
        self.service.observe(PATIENT_REF, code, value, unit, at, at)

    def complete(self, key: str, result: dict[str, Any], at: datetime) -> None:
        from engine.store.exceptions import InputError

        open_tasks = self._rows(_TASK, _TASK.c.status.in_(OPEN_TASK_STATUSES))
        task = next((t for t in open_tasks if t.key == key), None)
        if task is None:
            keys = sorted({t.key for t in open_tasks})
            raise InputError(f"no open task {key!r} to complete; open tasks: "
                             f"{', '.join(keys) or 'none'}")
        self.service.complete_task(task.id, result, at, at)

    def event(self, name: str, data: dict[str, Any], at: datetime) -> None:
        if events.is_hospital(name):
            self.service.hospital_event(PATIENT_REF, name, at, at, data=data)
        else:
            self.service.pathway_event(self.case_id or 0, name, at, at, data=data)

    # -- what can be checked --------------------------------------------------------------------

    def _rows(self, table: Any, *where: Any) -> list[Any]:
        """Plain rows of the scenario's case (or of the outbox), in id order."""
        from engine.store.db import transaction

        if table is not _OUTBOX:
            where = (table.c.case_id == self.case_id, *where)
        with transaction(self.engine) as session:
            return list(session.execute(select(table).where(*where).order_by(table.c.id)))

    def snapshot(self) -> Snapshot:
        (case,) = self._case()
        rows = self._rows(_TASK)
        outbox = self._rows(_OUTBOX, _OUTBOX.c.id > self._outbox_seen)
        self._outbox_seen = max([self._outbox_seen, *(o.id for o in outbox)])
        created: dict[str, int] = {}
        for row in rows:
            created[row.key] = created.get(row.key, 0) + 1
        return Snapshot(
            active=list(case.active_states), closed=case.closed_at is not None,
            facts=dict(case.facts), created=created,
            tasks=[TaskSeen(t.key, t.role, self._label(t.assignee_id, t.unassigned_role),
                            t.unassigned_role, t.due_at.astimezone(PARIS))
                   for t in rows if t.status in OPEN_TASK_STATUSES],
            messages=[MessageSeen(o.payload.get("role", ""),
                                  self._label(o.recipient_id,
                                              bool(o.payload.get("unassigned_role"))),
                                  bool(o.payload.get("unassigned_role")), o.payload["message"])
                      for o in outbox if "message" in o.payload])

    def _case(self) -> list[Any]:
        from engine.store.db import transaction

        with transaction(self.engine) as session:
            return list(session.execute(select(_CASE).where(_CASE.c.id == self.case_id)))

    def _label(self, professional: int | None, unassigned: bool) -> str:
        if unassigned:
            return COORDINATOR
        return self.names.get(professional or 0, "personne")
