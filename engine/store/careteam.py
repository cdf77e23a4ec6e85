"""Care teams: who holds which role for a patient, and since when."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.exceptions import InputError
from engine.store.queries import professional_id
from engine.store.service import find_patient
from engine.store.tables import CareTeamMember

ROLES = ("medecin_traitant", "infirmier", "pharmacien", "cardiologue", "pedicure_podologue",
         "chirurgien_dentiste", "kinesitherapeute", "dieteticien", "endocrinologue",
         "ophtalmologue", "sage_femme", "coordinateur", "dac", "angiologue")


def set_member(session: Session, patient_ref: str, role: str, professional_ref: str,
               start: date, end: date | None = None) -> str:
    """Give ``role`` to a professional from ``start``.

    The previous holder's term ends the day before.
    """
    if role not in ROLES:
        raise InputError(f"rôle {role!r} inconnu ; rôles possibles : {', '.join(ROLES)}")
    if end is not None and end < start:
        raise InputError(f"la date de fin {end} précède la date de début {start}")
    patient = find_patient(session, patient_ref)
    pro = professional_id(session, professional_ref)
    current = session.scalars(select(CareTeamMember).where(
        col(CareTeamMember.patient_id) == patient.id, col(CareTeamMember.role) == role,
        or_(col(CareTeamMember.end_date).is_(None), col(CareTeamMember.end_date) >= start))).all()
    for member in current:
        if member.professional_id == pro and member.start_date <= start:
            member.end_date = end
            return f"{role} de {patient.id} : déjà tenu par le professionnel {pro}"
        member.end_date = max(member.start_date, start - timedelta(days=1))
    session.add(CareTeamMember(patient_id=patient.id or 0, professional_id=pro, role=role,
                               start_date=start, end_date=end))
    session.flush()
    return f"{role} du patient {patient.id} : professionnel {pro} à partir du {start}"
