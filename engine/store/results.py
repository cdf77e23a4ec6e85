"""Results that do not simply drive a pathway: unknown codes, corrections, abnormal flags.

A result whose code no published pathway reads is stored as an observation
of the patient and drives nothing. A correction (HL7 OBX-11 ``C``) replaces
the value recorded earlier for the same patient, code and time and leaves a
history line (``observation_corrected``) in each open case of the patient;
with no earlier value it is recorded as a new result.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.batch import as_of, load_batch
from engine.store.tables import ObservationRow, Patient
from engine.store.writer import Actor, Writer

#: the history line of a corrected result
OBSERVATION_CORRECTED = "observation_corrected"


def row_values(value: Any) -> dict[str, Any]:
    number = isinstance(value, int | float)
    return {"value": float(value) if number else None,
            "value_text": None if number else str(value)}


def store_unknown(session: Session, patient: Patient, code: str, value: Any,
                  unit: str | None, at: datetime, now: datetime, source: str | None,
                  interpretation: str | None, correction: bool = False) -> str:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value.replace(",", "."))
    earlier = _earlier(session, patient, code, at) if correction else None
    if earlier is not None:
        for name, new in row_values(value).items():
            setattr(earlier, name, new)
        earlier.unit, earlier.recorded_at, earlier.interpretation = unit, now, interpretation
        session.flush()
        return f"résultat {code} corrigé pour le patient {patient.id}"
    session.add(ObservationRow(patient_id=patient.id or 0, code=code[:40], system="loinc",
                               unit=unit, effective_at=at, recorded_at=now, source=source,
                               interpretation=interpretation, **row_values(value)))
    session.flush()
    return (f"résultat {code} enregistré pour le patient {patient.id} ; aucun parcours ne lit "
            "ce code")


def _earlier(session: Session, patient: Patient, code: str,
             at: datetime) -> ObservationRow | None:
    return session.scalars(select(ObservationRow).where(
        col(ObservationRow.patient_id) == patient.id, col(ObservationRow.code) == code,
        col(ObservationRow.effective_at) == at).order_by(col(ObservationRow.id).desc())).first()


def correct(session: Session, patient: Patient, spec: dict[str, Any], value: Any,
            unit: str | None, at: datetime, now: datetime, actor: Actor,
            open_cases: list[int]) -> ObservationRow | None:
    """Replace the earlier value of this result; None when there is none (record it anew)."""
    earlier = _earlier(session, patient, spec["code"], at)
    if earlier is None:
        return None
    before = earlier.value if earlier.value is not None else earlier.value_text
    for name, new in row_values(value).items():
        setattr(earlier, name, new)
    earlier.unit = unit or spec["unit"]
    earlier.recorded_at = now
    batch = load_batch(session, open_cases, as_of(now))
    writer = Writer(session, batch, now)
    for case_id in open_cases:
        writer.log(case_id, at, OBSERVATION_CORRECTED, actor, data={
            "code": spec["code"], "avant": before, "apres": value,
            "unit": unit or spec["unit"]})
    writer.flush()
    session.flush()
    return earlier
