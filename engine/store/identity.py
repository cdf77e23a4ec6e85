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

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, and_, bindparam, cast, null, or_, select, union_all
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.intake.exceptions import RefusedMessage, UnknownPatient
from engine.intake.model import IDENTITY_STATUSES, Identifier, Identity
from engine.store.search import fold
from engine.store.tables import PATIENT_TABLE, Patient, PatientIdentifier

_IDENTIFIER_TABLE = PatientIdentifier.__table__  # type: ignore[attr-defined]


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
            session.add(PatientIdentifier(**_identifier_row(patient_id, identifier, now)))


def _identifier_row(patient_id: int, identifier: Identifier, now: datetime) -> dict[str, Any]:
    """The ``patient_identifier`` row linking a facility identifier (``link``, ``match_one``)."""
    return {"patient_id": patient_id, "system": identifier.system, "value": identifier.value,
            "type_code": identifier.type_code or None, "created_at": now}


@dataclass(frozen=True)
class Found:
    """What ``match`` reads for one identity, read in one statement (``lookup``)."""

    #: the patient of its qualified INS
    by_ins: int | None
    #: the owners of its facility identifiers (as ``owners``)
    known: dict[Identifier, int]
    #: that patient already records what ``match`` writes on them (the INS OID, the
    #: identity status, the names folded by ``tables._refold_names``): nothing to update
    current: bool = True


_LOOKUPS: dict[tuple[bool, int], Any] = {}


def _lookup_statement(ins: bool, local: int) -> Any:
    """The patient of an INS (``:ins``), and the owners of ``local`` identifiers (``:s<n>``,
    ``:v<n>``), in one statement; a row of the patient has no system. Built once per shape."""
    key = (ins, local)
    if key not in _LOOKUPS:
        p, i = PATIENT_TABLE.c, _IDENTIFIER_TABLE.c
        none = cast(null(), String)
        parts = []
        if ins:
            parts.append(select(p.id, none, none, p.ins_oid, p.identity_status, p.family_name,
                                p.given_names, p.search_family, p.search_given)
                         .where(p.ins == bindparam("ins")))
        if local:
            parts.append(select(i.patient_id, i.system, i.value, none, none, none, none, none,
                                none).where(or_(*(
                and_(i.system == bindparam(f"s{n}"), i.value == bindparam(f"v{n}"))
                for n in range(local)))))
        _LOOKUPS[key] = parts[0] if len(parts) == 1 else union_all(*parts)
    return _LOOKUPS[key]


def lookup(connection: Connection, identity: Identity) -> Found:
    """What ``match`` reads for ``identity`` (the patient of its qualified INS, the
    ``owners`` of its facility identifiers), in one statement on a Core connection."""
    ins = identity.qualified_ins
    wanted = {(i.system, i.value): i for i in identity.local}
    if ins is None and not wanted:
        return Found(None, {})
    params: dict[str, str] = {} if ins is None else {"ins": ins.value}
    for n, (system, value) in enumerate(wanted):
        params[f"s{n}"], params[f"v{n}"] = system, value
    by_ins, known, current = None, {}, True
    for row in connection.execute(_lookup_statement(ins is not None, len(wanted)), params):
        if row[1] is None:   # the patient of the INS
            by_ins = row[0]
            current = ins is not None and (row[3], row[4]) == (ins.system, identity.status) \
                and (row[7], row[8]) == (fold(row[5]), fold(row[6]))
        else:
            known[wanted[(row[1], row[2])]] = row[0]
    return Found(by_ins, known, current)


def match_one(connection: Connection, identity: Identity, now: datetime) -> int:
    """``match`` on a Core connection, for one message alone: the same reads (in one
    statement, ``lookup``), the same decision (``resolve``) and the same writes (the
    identifiers linked; the patient's identity recorded, through the ORM as ``match``
    does, only when it changes): the id of our patient, or ``RefusedMessage``."""
    found = lookup(connection, identity)
    patient_id, new = resolve(identity, found.by_ins, found.known)
    # not by INS: a patient that owns an identifier exists (foreign key), as ``match``
    # finds with ``session.get``
    if new:
        connection.execute(_IDENTIFIER_TABLE.insert(),
                           [_identifier_row(patient_id, i, now) for i in new])
    if found.by_ins is not None and not found.current:
        with Session(bind=connection) as session:   # joins the connection's transaction
            patient = session.get(Patient, patient_id)
            assert patient is not None   # just read in this transaction
            _record_identity(patient, identity)
            session.flush()
    return patient_id


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
    patient_id, _ = resolve(identity, None if by_ins is None else by_ins.id or 0, known)
    if by_ins is not None:
        link(session, by_ins.id or 0, identity.local, now, known)
        if lookups is not None:
            for identifier in identity.local:
                lookups.owners.setdefault((identifier.system, identifier.value),
                                          by_ins.id or 0)
        _record_identity(by_ins, identity)
        return by_ins
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise unknown(identity)
    return patient


def _record_identity(patient: Patient, identity: Identity) -> None:
    """What a message matched by its qualified INS records on our patient (``match`` and
    ``match_one``): the INS's OID and the sender's identity reliability status."""
    ins = identity.qualified_ins
    patient.ins_oid = ins.system if ins is not None else None
    patient.identity_status = identity.status


def resolve(identity: Identity, by_ins: int | None, known: dict[Identifier, int],
            ) -> tuple[int, list[Identifier]]:
    """The decision of ``match``, without the database: the patient ``identity`` designates,
    given the patient its qualified INS names (``by_ins``) and the owners of its
    identifiers (``known``, from ``owners``), and the identifiers to link to them (matched
    by INS: those not linked yet); ``RefusedMessage`` when they disagree or name nobody."""
    local = set(known.values())
    if by_ins is not None:
        if local - {by_ins}:
            raise RefusedMessage(
                f"identité en conflit : l'INS désigne le patient {by_ins}, l'identifiant de "
                f"l'établissement le patient {sorted(local)[0]} ; rien n'a été appliqué",
                "PID", 3)
        return by_ins, [i for i in identity.local if i not in known]
    if len(local) == 1:
        return local.pop(), []
    if len(local) > 1:
        raise RefusedMessage(f"identifiants de l'établissement rattachés à plusieurs patients "
                             f"({sorted(local)}) : identité en conflit", "PID", 3)
    raise unknown(identity)


def unknown(identity: Identity) -> UnknownPatient:
    """The refusal of a message whose patient none of its identifiers names."""
    hint = "" if identity.qualified_ins is not None or identity.ins is None else \
        " ; l'INS n'est utilisée que si l'identité est qualifiée (PID-32 = QUAL)"
    return UnknownPatient(f"patient inconnu : {_describe(identity)}{hint} ; rattachez "
                          "l'identifiant de l'établissement au patient (parcours patients "
                          "link) puis relancez la ligne (parcours inbox retry)", "PID", 3)
