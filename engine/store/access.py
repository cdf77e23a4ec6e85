"""The access log: every display of a patient's page or of a task, append-only.

Who (the professional), when, what (the patient, the task) and from where (the client
address). Written when a page is shown, never for a refused read; read by the
coordinator, newest first. On PostgreSQL a trigger refuses UPDATE and DELETE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.tables import AccessLogRow, Patient, Professional

READ_TASK, READ_PATIENT = "read_task", "read_patient"
ACTIONS = {READ_TASK: "tâche consultée", READ_PATIENT: "dossier patient consulté"}


@dataclass(frozen=True)
class AccessEntry:
    id: int
    at: datetime
    professional_id: int
    professional_name: str
    action: str
    patient_id: int | None
    patient_name: str
    task_id: int | None
    client: str | None

    @property
    def action_label(self) -> str:
        return ACTIONS.get(self.action, self.action)


def log_access(session: Session, professional_id: int, action: str, now: datetime, *,
               patient_id: int | None = None, task_id: int | None = None,
               client: str | None = None) -> None:
    session.add(AccessLogRow(at=now, professional_id=professional_id, action=action,
                             patient_id=patient_id, task_id=task_id,
                             client=(client or "")[:64] or None))
    session.flush()


def read_log(session: Session, *, patient_id: int | None = None,
             professional_id: int | None = None, since: datetime | None = None,
             until: datetime | None = None, limit: int = 200) -> list[AccessEntry]:
    """Newest first; ``since`` included, ``until`` excluded."""
    query = (select(AccessLogRow, col(Professional.given_names),
                    col(Professional.family_name), col(Patient.given_names),
                    col(Patient.family_name))
             .join(Professional, col(Professional.id) == col(AccessLogRow.professional_id))
             .outerjoin(Patient, col(Patient.id) == col(AccessLogRow.patient_id)))
    if patient_id is not None:
        query = query.where(col(AccessLogRow.patient_id) == patient_id)
    if professional_id is not None:
        query = query.where(col(AccessLogRow.professional_id) == professional_id)
    if since is not None:
        query = query.where(col(AccessLogRow.at) >= since)
    if until is not None:
        query = query.where(col(AccessLogRow.at) < until)
    rows = session.execute(query.order_by(col(AccessLogRow.id).desc()).limit(limit)).all()
    return [AccessEntry(row.id or 0, row.at, row.professional_id, f"{pg} {pf}", row.action,
                        row.patient_id, f"{ag} {af.upper()}" if af else "", row.task_id,
                        row.client)
            for row, pg, pf, ag, af in rows]
