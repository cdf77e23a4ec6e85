"""Which of our patients a message is about: by qualified INS, else by the facility's IPP.

Never by name. A qualified INS (PID-32 ``QUAL``, or FHIR's identity
reliability) with a known OID is looked up first; the sending facility's own
identifiers (assigning authority + value, ``patient_identifier``) next; a
patient matched by INS has the facility's identifiers linked to them, so
that later messages without INS find them too. The two disagreeing (the INS
says one patient, the IPP another) is refused: a message is never applied to
the wrong patient.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.intake.exceptions import RefusedMessage, UnknownPatient
from engine.intake.model import IDENTITY_STATUSES, Identifier, Identity
from engine.store.tables import Patient, PatientIdentifier


def owners(session: Session, identifiers: list[Identifier]) -> dict[Identifier, int]:
    """The patients these identifiers are linked to (one query)."""
    if not identifiers:
        return {}
    wanted = {(i.system, i.value): i for i in identifiers}
    rows = session.execute(select(col(PatientIdentifier.system), col(PatientIdentifier.value),
                                  col(PatientIdentifier.patient_id)).where(or_(*(
        and_(col(PatientIdentifier.system) == system, col(PatientIdentifier.value) == value)
        for system, value in wanted))))
    return {wanted[(system, value)]: patient_id for system, value, patient_id in rows}


def link(session: Session, patient_id: int, identifiers: list[Identifier], now: datetime,
         known: dict[Identifier, int] | None = None) -> None:
    """Record the facility's identifiers of a patient; refused (nothing written) on a conflict."""
    known = owners(session, identifiers) if known is None else known
    for identifier, owner in known.items():
        if owner != patient_id:
            raise RefusedMessage(
                f"l'identifiant {identifier.value} ({identifier.system}) est déjà rattaché au "
                f"patient {owner}, pas au patient {patient_id} : identité en conflit, "
                "à vérifier par la cellule d'identitovigilance", "PID", 3)
    for identifier in identifiers:
        if identifier not in known:
            session.add(PatientIdentifier(patient_id=patient_id, system=identifier.system,
                                          value=identifier.value,
                                          type_code=identifier.type_code or None,
                                          created_at=now))


def _describe(identity: Identity) -> str:
    parts = [f"{i.type_code or 'identifiant'} {i.value} ({i.system})" for i in identity.local]
    ins = identity.ins
    if ins is not None:
        status = IDENTITY_STATUSES.get(identity.status or "", "statut d'identité absent")
        parts.insert(0, f"INS {ins.value} ({status})")
    return ", ".join(parts) or "aucun identifiant"


class Lookups:
    """What ``match`` reads, read at once for a group of identities (the messages a sender
    pipelined, stored in one transaction): two queries for the group instead of two per
    message. The identifiers ``match`` links are added as it links them, so that a later
    identity of the group finds them, as it would in the database."""

    def __init__(self, session: Session, identities: list[Identity]) -> None:
        inses = {ins.value for who in identities if (ins := who.qualified_ins) is not None}
        local = [i for who in identities for i in who.local]
        self.by_ins: dict[str | None, Patient] = {} if not inses else {
            p.ins: p for p in session.scalars(select(Patient).where(col(Patient.ins).in_(inses)))}
        self.owners = {(i.system, i.value): owner for i, owner in owners(session, local).items()}
        ids = set(self.owners.values()) - {p.id for p in self.by_ins.values()}
        #: held here: the session's identity map only holds them weakly (``session.get``)
        self.loaded = [] if not ids else list(session.scalars(
            select(Patient).where(col(Patient.id).in_(ids))))

    def owned(self, identifiers: list[Identifier]) -> dict[Identifier, int]:
        """``owners`` of these identifiers, from what was read and linked."""
        wanted = {(i.system, i.value): i for i in identifiers}
        return {i: self.owners[key] for key, i in wanted.items() if key in self.owners}


def match(session: Session, identity: Identity, now: datetime,
          lookups: Lookups | None = None) -> Patient:
    """Our patient for ``identity``; ``RefusedMessage`` (unknown patient) otherwise.
    ``lookups``: read beforehand for a group of identities (``Lookups``)."""
    ins = identity.qualified_ins
    if ins is None:
        by_ins = None
    elif lookups is None:
        by_ins = session.scalar(select(Patient).where(col(Patient.ins) == ins.value))
    else:
        by_ins = lookups.by_ins.get(ins.value)
    known = owners(session, identity.local) if lookups is None else \
        lookups.owned(identity.local)
    local = set(known.values())
    if by_ins is not None:
        if local - {by_ins.id}:
            raise RefusedMessage(
                f"identité en conflit : l'INS désigne le patient {by_ins.id}, l'identifiant de "
                f"l'établissement le patient {sorted(local)[0]} ; rien n'a été appliqué",
                "PID", 3)
        link(session, by_ins.id or 0, identity.local, now, known)
        if lookups is not None:
            for identifier in identity.local:
                lookups.owners.setdefault((identifier.system, identifier.value),
                                          by_ins.id or 0)
        by_ins.ins_oid = ins.system if ins is not None else None
        by_ins.identity_status = identity.status
        return by_ins
    if len(local) == 1:
        patient = session.get(Patient, local.pop())
        if patient is not None:
            return patient
    if len(local) > 1:
        raise RefusedMessage(f"identifiants de l'établissement rattachés à plusieurs patients "
                             f"({sorted(local)}) : identité en conflit", "PID", 3)
    hint = "" if ins is not None or identity.ins is None else \
        " ; l'INS n'est utilisée que si l'identité est qualifiée (PID-32 = QUAL)"
    raise UnknownPatient(f"patient inconnu : {_describe(identity)}{hint} ; rattachez "
                         "l'identifiant de l'établissement au patient (parcours patients link) "
                         "puis relancez la ligne (parcours inbox retry)", "PID", 3)
