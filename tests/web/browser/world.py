"""The territory the browser tests click through, and the messages it receives.

A module's server and its tests share one ``World``: the database, the fixed clock, the
case service and the in-memory channels that stand for MSSanté and e-mail. The messages a
professional reads are the real ones: outbox rows written by the pathways, rendered and
"sent" by ``notifications.dispatch``, and the sign-in links the web app sends itself.

Each test makes its own patient (``diabetic_with_foot_exam``, ``heart_failure_followed``),
so the tests of a module do not depend on one another's clicks.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select
from sqlmodel import col

from engine.clock import FixedClock
from engine.store.careteam import set_member
from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CaseRow,
    OutboxRow,
    Patient,
    Professional,
    TaskRow,
)
from engine.store.writer import Actor
from notifications.channels import MemoryChannel
from notifications.channels.base import OutgoingMessage
from notifications.dispatch import dispatch_pending
from notifications.settings import CHANNELS, NotificationSettings
from tests.conftest import ROOT

#: A Monday morning in Paris (09:00): no SMS quiet hours, no digest hour.
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PATHWAYS = ("diabete-type2", "insuffisance-cardiaque-65")
DIABETES_CODE = "44054006"
WEIGHT, NT_PROBNP = "29463-7", "33762-6"
#: The secure health messaging and plain e-mail, as ``notifications.settings`` names them.
MSSANTE, EMAIL = CHANNELS[0], CHANNELS[1]


@dataclass(frozen=True)
class Person:
    key: str
    rpps: str
    given: str
    family: str
    profession: str
    email: str
    mssante: str | None = None

    @property
    def address(self) -> str:
        """What the professional types on the sign-in page."""
        return self.email


GP = Person("gp", "10000000001", "Paul", "Martin", "medecin", "paul.martin@example.fr",
            "paul.martin@medecin.mssante.fr")
NURSE = Person("nurse", "10000000002", "Anne", "Bernard", "infirmier",
               "anne.bernard@example.fr")
PHARMACIST = Person("pharmacist", "10000000003", "Sophie", "Lambert", "pharmacien",
                    "sophie.lambert@example.fr")
PODIATRIST = Person("podiatrist", "10000000004", "Luc", "Petit", "pedicure_podologue",
                    "luc.petit@example.fr")
COORDINATOR = Person("coordinator", "10000000009", "Claire", "Roux", "coordinateur",
                     "coordination@cpts.example.fr")
PEOPLE = (GP, NURSE, PHARMACIST, PODIATRIST, COORDINATOR)


@dataclass
class World:
    engine: Engine
    base_url: str
    clock: FixedClock = field(default_factory=lambda: FixedClock(NOW))
    ids: dict[str, int] = field(default_factory=dict)
    channels: dict[str, MemoryChannel] = field(default_factory=lambda: {
        MSSANTE: MemoryChannel(MSSANTE, secure=True, field="mssante"),
        EMAIL: MemoryChannel(EMAIL, field="email")})
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def service(self) -> CaseService:
        return CaseService(self.engine)

    @property
    def notify_settings(self) -> NotificationSettings:
        # the flows follow the link of the message announcing a new task: one message per task
        # (the default sends non-urgent new tasks in the next morning's digest)
        return NotificationSettings(base_url=self.base_url, new_tasks="immediate")

    def now(self) -> datetime:
        return self.clock.now()

    # -- the territory --------------------------------------------------------------------

    def build(self) -> World:
        for key in PATHWAYS:
            path = ROOT / "pathways" / f"{key}.yaml"
            self.service.publish(path.read_text(encoding="utf-8"), str(path),
                                 NOW - timedelta(days=90))
        with transaction(self.engine) as db:
            for person in PEOPLE:
                pro = Professional(rpps=person.rpps, family_name=person.family,
                                   given_names=person.given, profession=person.profession,
                                   email=person.email, mssante=person.mssante)
                db.add(pro)
                db.flush()
                self.ids[person.key] = pro.id or 0
        return self

    def patient(self, family: str, birth: date, conditions: list[str],
                team: dict[str, Person]) -> int:
        ref = f"B-{next(self._serial):04d}-{family[:3].upper()}"
        with transaction(self.engine) as db:
            patient = Patient(local_id=ref, family_name=family, given_names="Jeanne",
                              birth_date=birth, sex="F", conditions=conditions,
                              created_at=NOW - timedelta(days=60))
            db.add(patient)
            db.flush()
            for role, person in team.items():
                set_member(db, ref, role, person.rpps, date(2025, 1, 1))
            return patient.id or 0

    # -- scenarios --------------------------------------------------------------------------

    def diabetic_with_foot_exam(self) -> tuple[int, int]:
        """A diabetic patient with no nurse: the foot exam reaches the coordinator, who
        gives it to the GP (the pathway says « infirmier·ère (ou le médecin traitant) »).
        Returns (patient, task); the GP's message about the task has been sent."""
        patient = self.patient("Durand", date(1950, 3, 12), [DIABETES_CODE],
                               {"medecin_traitant": GP, "pedicure_podologue": PODIATRIST})
        self.service.enroll(patient, "diabete-type2", NOW - timedelta(days=10))
        task = self.open_task(patient, "examen_pieds")
        self.service.reassign_task(task, self.ids["gp"], self.ids["coordinator"],
                                   NOW - timedelta(hours=1))
        self.dispatch()
        return patient, task

    def heart_failure_followed(self, last_weight: float = 70.0) -> int:
        """A patient of 76 whose heart failure was confirmed a week ago, weighed two days
        ago: the nurse's, GP's and pharmacist's follow-up tasks are open. Returns the
        patient."""
        patient = self.patient("Moreau", date(1950, 7, 1), [],
                               {"medecin_traitant": GP, "infirmier": NURSE,
                                "pharmacien": PHARMACIST})
        start = NOW - timedelta(days=20)
        service = self.service
        service.enroll(patient, "insuffisance-cardiaque-65", start)
        self.complete(patient, "reperage_epof_infirmier", start + timedelta(days=1),
                      {"essoufflement": True, "prise_de_poids": True, "oedemes": False,
                       "fatigue": False})
        service.observe(patient, NT_PROBNP, 900, "pg/mL", start + timedelta(days=3),
                        start + timedelta(days=3))
        # pathway v2: a raised peptide goes straight to the echocardiography request
        self.complete(patient, "echo_avis_cardiologue", start + timedelta(days=13),
                      {"ic_confirmee": True, "nyha": 2})
        weighed = NOW - timedelta(days=2)
        service.observe(patient, WEIGHT, last_weight, "kg", weighed, weighed)
        self.dispatch()
        return patient

    def complete(self, patient: int, key: str, at: datetime, result: dict[str, object]
                 ) -> None:
        self.service.complete_task(self.open_task(patient, key), result, at, at,
                                   actor=Actor("professional", self.ids["coordinator"]))

    # -- reading the database -------------------------------------------------------------

    def open_task(self, patient: int, key: str) -> int:
        with transaction(self.engine) as db:
            task_id = db.scalars(select(col(TaskRow.id)).join(
                CaseRow, col(CaseRow.id) == col(TaskRow.case_id)).where(
                col(CaseRow.patient_id) == patient, col(TaskRow.key) == key,
                col(TaskRow.status).in_(OPEN_TASK_STATUSES))
                .order_by(col(TaskRow.id).desc())).first()
        assert task_id is not None, f"no open task {key!r} for patient {patient}"
        return task_id

    def task(self, task_id: int) -> TaskRow:
        with transaction(self.engine) as db:
            row = db.get(TaskRow, task_id)
            assert row is not None
            return row

    def last_message_row(self) -> int:
        """The newest outbox row (a message the pathways asked for)."""
        with transaction(self.engine) as db:
            row_id = db.scalars(select(col(OutboxRow.id))
                                .order_by(col(OutboxRow.id).desc())).first()
        assert row_id is not None, "the outbox is empty"
        return row_id

    # -- messages -------------------------------------------------------------------------

    def dispatch(self) -> None:
        dispatch_pending(self.engine, self.notify_settings, self.now(),
                         channels=dict(self.channels))

    def messages_to(self, person: Person) -> list[OutgoingMessage]:
        mine = {person.email, person.mssante}
        return [m for c in self.channels.values() for m in c.sent if m.address in mine]

    def link_in_messages(self, person: Person, pattern: str) -> str:
        """The newest link matching ``pattern`` in the messages sent to ``person``."""
        for message in reversed(self.messages_to(person)):
            found = re.findall(pattern, message.text)
            if found:
                return str(found[-1])
        raise AssertionError(f"no message to {person.key} has a link like {pattern!r}; "
                             f"{len(self.messages_to(person))} message(s) sent to them")

    def task_link(self, person: Person, task_id: int) -> str:
        return self.link_in_messages(person, rf"https?://\S+/tasks/{task_id}\b")

    def sign_in_link(self, person: Person) -> str:
        return self.link_in_messages(person, r"https?://\S+/connexion/lien\?\S+")
