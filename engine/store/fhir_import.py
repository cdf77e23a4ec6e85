"""FHIR bundles into the database: the patient created or matched, its events in the inbox.

One bundle is one transaction (all or nothing). The patient is matched like
an HL7 v2 message's (qualified INS, else the sender's identifiers) and,
unlike HL7 v2, created when unknown: a bundle carries the whole patient. Its
active conditions are added to the patient's. Its observations and stays go
to the inbox, idempotent by resource id, so importing a file again changes
nothing; the bundle itself is recorded as one ``message`` row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import events
from engine.intake.exceptions import RefusedMessage, UnknownPatient
from engine.intake.fhir import BundleContent, InvalidResource, Subject, read_bundle, resource_events
from engine.intake.model import Identity
from engine.store import inbox
from engine.store.db import transaction
from engine.store.identity import link, match, owners
from engine.store.inbox import enqueue
from engine.store.service import CaseService
from engine.store.tables import PathwayVersion, Patient

FHIR = "fhir"


@dataclass
class BundleReport:
    file: str
    patient_id: int = 0
    created: bool = False
    events: int = 0
    already: int = 0
    deceased: bool = False
    ignored: dict[str, int] = field(default_factory=dict)

    def french(self) -> str:
        who = f"patient {self.patient_id} " + ("créé" if self.created else "déjà connu")
        ignored = sum(self.ignored.values())
        return (f"{self.file} : {who}, {self.events} événement(s) reçu(s) dans l'inbox, "
                f"{self.already} déjà reçu(s), {ignored} ressource(s) non lue(s)"
                + (" ; patient décédé : n'est inscrit dans aucun parcours"
                   if self.deceased else ""))


def create_patient(session: Session, who: Identity, now: datetime) -> Patient:
    if who.birth_date is None:
        raise RefusedMessage("Patient.birthDate manquante : le patient ne peut être créé")
    ins = who.qualified_ins
    patient = Patient(ins=ins.value if ins else None, ins_oid=ins.system if ins else None,
                      identity_status=who.status, family_name=who.family_name[:120] or "?",
                      given_names=who.given_names[:200] or "?", birth_date=who.birth_date,
                      sex=who.sex or "U", conditions=list(who.conditions), created_at=now)
    session.add(patient)
    session.flush()
    link(session, patient.id or 0, who.local, now)
    return patient


def import_bundle(session: Session, content: BundleContent, file: str,
                  now: datetime) -> BundleReport:
    """Store one bundle in the caller's transaction."""
    intake = content.intake
    who = intake.identity or Identity()
    report = BundleReport(file, deceased=content.deceased_at is not None,
                          ignored=dict(content.ignored))
    try:
        patient = match(session, who, now)  # writes nothing when it refuses
        new = [c for c in who.conditions if c not in patient.conditions]
        if new:
            patient.conditions = [*patient.conditions, *new]
    except UnknownPatient:
        patient = create_patient(session, who, now)
        report.created = True
    report.patient_id = patient.id or 0
    for event in intake.events:
        received = enqueue(session, event.kind, effective_at=event.effective_at,
                           received_at=now, event_id=event.event_id, source=intake.source,
                           patient_ref=patient.id, payload=event.payload)
        report.events += received.created
        report.already += not received.created
    enqueue(session, events.MESSAGE, effective_at=now, received_at=now,
            event_id=intake.message_id, source=intake.source, patient_ref=patient.id,
            payload={"format": FHIR, "file": file, "events": report.events},
            status="applied", processed_at=now)
    session.flush()
    return report


@dataclass
class ResourceReport:
    """A single posted resource: its patient, and its events new or already received."""

    patient_id: int
    events: int = 0
    already: int = 0


def subject_patient(session: Session, subject: Subject, kind: str) -> int:
    """Our patient a posted resource is about; InvalidResource (``kind.subject``) if none."""
    if subject.patient_id is not None:
        if session.get(Patient, subject.patient_id) is not None:
            return subject.patient_id
        raise InvalidResource(f"{kind}.subject.reference",
                              f"patient Patient/{subject.patient_id} inconnu")
    ident = subject.identifier
    assert ident is not None  # Subject has one or the other
    if ident.is_ins:
        found = session.scalar(select(col(Patient.id)).where(col(Patient.ins) == ident.value))
    else:
        found = owners(session, [ident]).get(ident)
    if found is None:
        raise InvalidResource(f"{kind}.subject.identifier",
                              f"aucun patient connu avec l'identifiant {ident.value} "
                              f"({ident.system}) : envoyez d'abord son Patient ou un Bundle")
    return found


def import_resource(session: Session, model: Any, subject: Subject, ident: str,
                    source: str, now: datetime) -> ResourceReport:
    """Store one posted Observation or Encounter's events in the caller's transaction."""
    kind = str(model.get_resource_type())  # an R4B model
    patient_id = subject_patient(session, subject, kind)
    report = ResourceReport(patient_id)
    for event in resource_events(model, patient_id, ident):
        received = enqueue(session, event.kind, effective_at=event.effective_at,
                           received_at=now, event_id=event.event_id, source=source[:120],
                           patient_ref=patient_id, payload=event.payload)
        report.events += received.created
        report.already += not received.created
    session.flush()
    return report


def import_file(engine: Engine, path: Path, now: datetime) -> BundleReport | str:
    """One file, one transaction; a French error (nothing written) when it is refused."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"{path.name} : fichier JSON illisible ({exc})"
    try:
        content = read_bundle(data, f"FHIR:{path.name}")
        with transaction(engine) as session:
            return import_bundle(session, content, path.name, now)
    except RefusedMessage as exc:
        return f"{path.name} : {exc} ; rien n'a été importé de ce fichier"


def apply_imported(service: CaseService, reports: list[BundleReport], now: datetime,
                   batch: int = 1000) -> str:
    """Enrol the imported living patients where eligible, then apply the inbox in order."""
    living = sorted({r.patient_id for r in reports if not r.deceased})
    with transaction(service.engine) as session:
        keys = sorted(set(session.scalars(select(col(PathwayVersion.key)))))
    enrolled = 0
    for key in keys:
        enrolled += service.enroll_many(living, key, now).enrolled
    applied = failed = 0
    while True:
        report = inbox.drain(service, now, batch)
        applied += sum(report.applied.values())
        failed += len(report.failed)
        if report.seen < batch or report.stopped:
            break
    return (f"{enrolled} inscription(s) dans les parcours, {applied} événement(s) appliqué(s), "
            f"{failed} refusé(s) (parcours inbox list --status failed)")
