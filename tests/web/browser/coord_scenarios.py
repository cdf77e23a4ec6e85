"""What the coordinator finds in her queue, made in the browser tests' world."""

from __future__ import annotations

from datetime import date, timedelta

from engine.store import inbox
from engine.store.db import transaction
from tests.web.browser.world import (
    DIABETES_CODE,
    GP,
    NT_PROBNP,
    NURSE,
    PHARMACIST,
    PODIATRIST,
    World,
)


def refused_peptide(world: World) -> tuple[int, int]:
    """A patient in heart-failure screening whose NT-proBNP came from the laboratory with a
    typing error (900 000 pg/mL, above the plausible maximum): the inbound flow refused it.
    Returns (patient, inbox row)."""
    patient = world.patient("Lefort", date(1950, 7, 1), [],
                            {"medecin_traitant": GP, "infirmier": NURSE,
                             "pharmacien": PHARMACIST})
    world.service.enroll(patient, "insuffisance-cardiaque-65", world.now() - timedelta(days=5))
    with transaction(world.engine) as db:
        row = inbox.enqueue(db, "observation", effective_at=world.now() - timedelta(days=1),
                            received_at=world.now(), patient_ref=str(patient),
                            source="laboratoire", payload={"code": NT_PROBNP,
                                                           "value": "900000",
                                                           "unit": "pg/mL"})
    report = inbox.drain(world.service, world.now(), 100)
    assert any(f.inbox_id == row.id for f in report.failed), "the observation was not refused"
    return patient, row.id


def diabetic_without_nurse(world: World) -> tuple[int, int]:
    """A diabetic patient whose care team has no nurse: the foot exam waits, with the
    coordinator, for someone to hold the role. Returns (patient, task)."""
    patient = world.patient("Garnier", date(1952, 5, 4), [DIABETES_CODE],
                            {"medecin_traitant": GP, "pedicure_podologue": PODIATRIST})
    world.service.enroll(patient, "diabete-type2", world.now() - timedelta(days=10))
    return patient, world.open_task(patient, "examen_pieds")


def declined_review(world: World) -> int:
    """The pharmacist declined the medication review of a heart-failure patient."""
    patient = world.heart_failure_followed()
    task = world.open_task(patient, "bilan_medication")
    world.service.decline_task(task, world.ids["pharmacist"], "Patient suivi par une autre "
                               "officine", world.now())
    return task
