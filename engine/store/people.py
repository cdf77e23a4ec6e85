"""The coordinator's patients and professionals (issue 13): search, lists, care-team
edits, adding, deactivating and reactivating a professional.

Every writing function runs inside the caller's transaction and writes, for what it
changes on a case, a history line (``case_event``) in that case. Searches are
accent- and case-insensitive through ``engine.store.search`` and answered by indexes
(a prefix range on the folded names, equality on the INS, the local id and the birth
date): nothing scans the patient table per keystroke.

A deactivated professional cannot sign in (``worklist.viewer`` ignores inactive ones, no
link is sent to them and the links sent before are spent) and
receives no new task (``batch`` gives a role only to active holders). Their open tasks are
*released*: no assignee any more, status back to ``requested``, a ``task_released`` history
line each, and their pending messages about those tasks withdrawn. The coordinator's
queue lists them as *open tasks with no assignee on an open case*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, or_, select, union, update
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import outbox
from engine.store.batch import COORDINATOR
from engine.store.bulk import insert_rows
from engine.store.careteam import ROLES
from engine.store.exceptions import InputError, NotFoundError
from engine.store.imports import _EMAIL, _PHONE, PROFESSIONS
from engine.store.search import fold, prefix_range
from engine.store.tables import (
    EVENT_TABLE,
    OPEN_TASK_STATUSES,
    CareTeamMember,
    CaseRow,
    OutboxRow,
    Patient,
    Professional,
    SignInToken,
    TaskRow,
)

#: History (``case_event.kind``) written here.
CARE_TEAM_CHANGED = "care_team_changed"
TASK_RELEASED = "task_released"
#: ``care_team_changed`` data ``change``: what happened to the role.
ADDED, REPLACED, REMOVED = "added", "replaced", "removed"
PAGE_SIZE = 25
#: A search word shorter than this is not looked up by name (too many answers).
MIN_WORD = 2
_BIRTH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")

PROFESSION_FR = {
    "medecin": "médecin", "infirmier": "infirmier·ère", "pharmacien": "pharmacien·ne",
    "cardiologue": "cardiologue", "pedicure_podologue": "pédicure-podologue",
    "chirurgien_dentiste": "chirurgien·ne-dentiste", "kinesitherapeute": "kinésithérapeute",
    "sage_femme": "sage-femme", "orthophoniste": "orthophoniste", "pediatre": "pédiatre",
    "psychologue": "psychologue", "dieteticien": "diététicien·ne",
    "endocrinologue": "endocrinologue", "ophtalmologue": "ophtalmologue",
    "orthoptiste": "orthoptiste", "angiologue": "angiologue", "coordinateur": "coordination",
    "dac": "dispositif d'appui à la coordination"}


def profession_fr(profession: str) -> str:
    return PROFESSION_FR.get(profession, profession.replace("_", " "))


# -- patients -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PatientHit:
    id: int
    family_name: str
    given_names: str
    birth_date: date
    ins: str | None
    local_id: str | None

    @property
    def name(self) -> str:
        return f"{self.given_names} {self.family_name.upper()}"


@dataclass
class PatientResults:
    query: str
    hits: list[PatientHit]
    page: int
    has_next: bool
    #: why nothing was searched (a word too short…), in French; empty when searched
    note: str = ""


def parse_birth_date(text: str) -> date | None:
    """``12/03/1950`` (JJ/MM/AAAA) → a date; None when it is not written so."""
    found = _BIRTH.match(text.strip())
    if found is None:
        return None
    day, month, year = (int(g) for g in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def patient_search_query(text: str) -> Select[Any] | None:
    """The ids of the patients matching ``text``: a union of index lookups (None: nothing
    to look up). Each name word must start a word of the folded names; the first word
    that can be looked up by prefix narrows through an index, the others filter."""
    raw = text.strip()
    if not raw:
        return None
    branches: list[Select[Any]] = [
        select(col(Patient.id).label("pid")).where(col(Patient.ins) == raw),
        select(col(Patient.id).label("pid")).where(col(Patient.local_id) == raw)]
    born = parse_birth_date(raw)
    if born is not None:
        branches.append(select(col(Patient.id).label("pid"))
                        .where(col(Patient.birth_date) == born))
    words = [w for w in fold(raw).split() if len(w) >= MIN_WORD and not w.isdigit()]
    if words and born is None:
        names = col(Patient.search_family) + " " + col(Patient.search_given)
        rest = [or_(names.like(f"{w}%"), names.like(f"% {w}%")) for w in words]
        for column in (col(Patient.search_family), col(Patient.search_given)):
            branches.append(select(col(Patient.id).label("pid"))
                            .where(prefix_range(column, words[0]), *rest))
    return union(*branches)  # type: ignore[return-value]  # a CompoundSelect reads the same


def search_patients(session: Session, text: str, page: int = 1,
                    size: int = PAGE_SIZE) -> PatientResults:
    query = patient_search_query(text)
    page = max(page, 1)
    if query is None:
        return PatientResults(text, [], page, False,
                              "Saisissez un nom, une date de naissance (JJ/MM/AAAA), "
                              "un INS ou un identifiant local.")
    ids = query.subquery()
    rows = session.execute(
        select(col(Patient.id), col(Patient.family_name), col(Patient.given_names),
               col(Patient.birth_date), col(Patient.ins), col(Patient.local_id))
        .join(ids, ids.c.pid == col(Patient.id))
        .order_by(col(Patient.search_family), col(Patient.search_given), col(Patient.id))
        .offset((page - 1) * size).limit(size + 1)).all()
    hits = [PatientHit(r.id, r.family_name, r.given_names, r.birth_date, r.ins, r.local_id)
            for r in rows[:size]]
    return PatientResults(text, hits, page, len(rows) > size)


def all_patients(session: Session, text: str = "", limit: int = 100_000) -> list[PatientHit]:
    """For the CSV export: the search's patients, or every patient (by name)."""
    query = select(col(Patient.id), col(Patient.family_name), col(Patient.given_names),
                   col(Patient.birth_date), col(Patient.ins), col(Patient.local_id))
    found = patient_search_query(text)
    if found is not None:
        ids = found.subquery()
        query = query.join(ids, ids.c.pid == col(Patient.id))
    rows = session.execute(query.order_by(col(Patient.search_family),
                                          col(Patient.search_given), col(Patient.id))
                           .limit(limit)).all()
    return [PatientHit(r.id, r.family_name, r.given_names, r.birth_date, r.ins, r.local_id)
            for r in rows]


# -- care team ------------------------------------------------------------------------------

def change_member(session: Session, patient_id: int, role: str, professional_id: int | None,
                  day: date, by: int, now: datetime) -> str:
    """Give ``role`` to a professional from ``day`` (replacing its holder), or end it
    (``professional_id`` None). One history line in each open case of the patient.
    Returns the French confirmation."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("patient", patient_id)
    if role not in ROLES:
        raise InputError(f"rôle : choisissez un des rôles proposés ({', '.join(ROLES)})")
    current = list(session.scalars(select(CareTeamMember).where(
        col(CareTeamMember.patient_id) == patient_id, col(CareTeamMember.role) == role,
        col(CareTeamMember.start_date) <= day,
        or_(col(CareTeamMember.end_date).is_(None), col(CareTeamMember.end_date) >= day))))
    before = current[0].professional_id if current else None
    if professional_id is None:
        if not current:
            raise InputError("personne ne tient ce rôle : rien à retirer")
        _end(session, current, day)
        change, message = REMOVED, "retiré(e) de l'équipe de soins"
    else:
        pro = session.get(Professional, professional_id)
        if pro is None:
            raise InputError("professionnel : choisissez un professionnel de la liste")
        if not pro.active:
            raise InputError(f"{pro.given_names} {pro.family_name} est désactivé(e) : "
                             "choisissez un professionnel actif")
        if before == professional_id:
            raise InputError(f"{pro.given_names} {pro.family_name} tient déjà ce rôle")
        _end(session, current, day)
        session.add(CareTeamMember(patient_id=patient_id, professional_id=professional_id,
                                   role=role, start_date=day))
        change = REPLACED if current else ADDED
        message = "ajouté(e) à l'équipe de soins" if not current else "remplace le titulaire"
    session.flush()
    cases = list(session.scalars(select(col(CaseRow.id)).where(
        col(CaseRow.patient_id) == patient_id, col(CaseRow.closed_at).is_(None))))
    insert_rows(session, EVENT_TABLE, [{
        "case_id": case_id, "at": now, "recorded_at": now, "actor_kind": "coordinator",
        "actor_id": by, "kind": CARE_TEAM_CHANGED, "from_state": None, "to_state": None,
        "data": {"role": role, "change": change, "professional_id": professional_id,
                 "previous_id": before}} for case_id in cases])
    return message


def _end(session: Session, members: list[CareTeamMember], day: date) -> None:
    """End each membership the day before ``day`` (one starting that day is removed)."""
    for member in members:
        if member.start_date >= day:
            session.delete(member)
        else:
            member.end_date = day - timedelta(days=1)


# -- professionals --------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfessionalLine:
    professional: Professional
    open_tasks: int
    overdue_tasks: int

    @property
    def name(self) -> str:
        p = self.professional
        return f"{p.given_names} {p.family_name.upper()}"


def professionals(session: Session, text: str, now: datetime, *,
                  include_inactive: bool = True) -> list[ProfessionalLine]:
    """Every professional (a territory has hundreds, not thousands), filtered in Python on
    the folded names, RPPS, profession and addresses, with their open and overdue tasks."""
    query = select(Professional).order_by(col(Professional.family_name),
                                          col(Professional.given_names), col(Professional.id))
    if not include_inactive:
        query = query.where(col(Professional.active))
    pros = list(session.scalars(query))
    words = fold(text).split()
    if words:
        def haystack(p: Professional) -> str:
            return " ".join((fold(p.family_name), fold(p.given_names), p.rpps,
                             fold(profession_fr(p.profession)), fold(p.profession),
                             fold(p.email), fold(p.mssante)))
        pros = [p for p in pros if all(w in haystack(p) for w in words)]
    counts = task_counts(session, [p.id or 0 for p in pros], now)
    return [ProfessionalLine(p, *counts.get(p.id or 0, (0, 0))) for p in pros]


def task_counts(session: Session, ids: list[int], now: datetime) -> dict[int, tuple[int, int]]:
    if not ids:
        return {}
    late = func.sum(case((col(TaskRow.due_at) < now, 1), else_=0))
    rows = session.execute(
        select(col(TaskRow.assignee_id), func.count(), late)
        .where(col(TaskRow.assignee_id).in_(ids), col(TaskRow.status).in_(OPEN_TASK_STATUSES))
        .group_by(col(TaskRow.assignee_id))).all()
    return {int(r[0]): (int(r[1]), int(r[2] or 0)) for r in rows}


@dataclass
class ProfessionalDetail:
    professional: Professional
    open_tasks: list[tuple[TaskRow, int, str]] = field(default_factory=list)
    messages: list[OutboxRow] = field(default_factory=list)
    sent: int = 0
    failed: int = 0


def professional_detail(session: Session, professional_id: int,
                        messages: int = 20) -> ProfessionalDetail:
    pro = session.get(Professional, professional_id)
    if pro is None:
        raise NotFoundError("professional", professional_id)
    rows = session.execute(
        select(TaskRow, col(Patient.id), col(Patient.given_names), col(Patient.family_name))
        .join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .join(Patient, col(Patient.id) == col(CaseRow.patient_id))
        .where(col(TaskRow.assignee_id) == professional_id,
               col(TaskRow.status).in_(OPEN_TASK_STATUSES))
        .order_by(col(TaskRow.due_at), col(TaskRow.id)).limit(500)).all()
    detail = ProfessionalDetail(pro, [(t, pid or 0, f"{g} {f.upper()}") for t, pid, g, f in rows])
    detail.messages = list(session.scalars(
        select(OutboxRow).where(col(OutboxRow.recipient_id) == professional_id)
        .order_by(col(OutboxRow.id).desc()).limit(messages)))
    statuses = {str(r[0]): int(r[1]) for r in session.execute(
        select(col(OutboxRow.status), func.count())
        .where(col(OutboxRow.recipient_id) == professional_id)
        .group_by(col(OutboxRow.status)))}
    detail.sent = int(statuses.get("sent", 0)) + int(statuses.get("digested", 0))
    detail.failed = int(statuses.get("dead", 0))
    return detail


@dataclass
class NewProfessional:
    """The « Ajouter un professionnel » form, as typed."""

    rpps: str = ""
    family_name: str = ""
    given_names: str = ""
    profession: str = ""
    email: str = ""
    mssante: str = ""
    phone: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Any) -> NewProfessional:
        def text(name: str) -> str:
            value = form.get(name)
            return " ".join(value.split()) if isinstance(value, str) else ""
        return cls(text("rpps").replace(" ", ""), text("nom"), text("prenoms"),
                   text("profession"), text("email"), text("mssante"),
                   re.sub(r"[ .-]", "", text("telephone")))

    def check(self, session: Session) -> bool:
        e = self.errors
        if not re.fullmatch(r"\d{11}", self.rpps):
            e["rpps"] = "numéro RPPS : 11 chiffres (par exemple 10001234567)"
        elif session.scalar(select(col(Professional.id))
                            .where(col(Professional.rpps) == self.rpps)) is not None:
            e["rpps"] = "numéro RPPS : déjà enregistré pour un autre professionnel"
        if not self.family_name:
            e["nom"] = "nom : obligatoire"
        elif len(self.family_name) > 120:
            e["nom"] = "nom : 120 caractères au plus"
        if not self.given_names:
            e["prenoms"] = "prénom(s) : obligatoire"
        elif len(self.given_names) > 200:
            e["prenoms"] = "prénom(s) : 200 caractères au plus"
        if self.profession not in PROFESSIONS:
            e["profession"] = "profession : choisissez une profession de la liste"
        for name, value, label in (("email", self.email, "adresse e-mail"),
                                   ("mssante", self.mssante, "adresse MSSanté")):
            if value and (not _EMAIL.match(value) or len(value) > 254):
                e[name] = f"{label} : adresse invalide (par exemple prenom.nom@exemple.fr)"
        if self.phone and not _PHONE.match(self.phone):
            e["telephone"] = "téléphone : 10 chiffres (0612345678) ou +33612345678"
        if not (self.email or self.mssante or self.phone):
            e["email"] = ("adresse e-mail : donnez au moins une adresse e-mail, MSSanté ou un "
                          "téléphone pour que le professionnel soit prévenu de ses tâches")
        return not e


def add_professional(session: Session, new: NewProfessional) -> Professional:
    if not new.check(session):
        raise InputError("; ".join(new.errors.values()))
    pro = Professional(rpps=new.rpps, family_name=new.family_name,
                       given_names=new.given_names, profession=new.profession,
                       email=new.email or None, mssante=new.mssante or None,
                       phone=new.phone or None, active=True)
    session.add(pro)
    session.flush()
    return pro


def deactivate(session: Session, professional_id: int, by: int, now: datetime) -> int:
    """Deactivate a professional and release their open tasks; returns how many."""
    pro = session.scalars(select(Professional).where(col(Professional.id) == professional_id)
                          .with_for_update()).first()
    if pro is None:
        raise NotFoundError("professional", professional_id)
    if professional_id == by:
        raise InputError("vous ne pouvez pas vous désactiver vous-même")
    if not pro.active:
        raise InputError(f"{pro.given_names} {pro.family_name} est déjà désactivé(e)")
    if pro.profession == COORDINATOR and session.scalar(
            select(func.count()).select_from(Professional).where(
                col(Professional.profession) == COORDINATOR, col(Professional.active),
                col(Professional.id) != professional_id)) == 0:
        raise InputError("c'est la seule coordination active : ajoutez-en une autre d'abord")
    pro.active = False
    # a sign-in link sent before cannot be used any more (an open session ends by itself:
    # ``worklist.viewer`` ignores inactive professionals)
    session.execute(update(SignInToken).where(
        col(SignInToken.professional_id) == professional_id,
        col(SignInToken.used_at).is_(None)).values(used_at=now))
    tasks = list(session.scalars(
        select(TaskRow).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(TaskRow.assignee_id) == professional_id,
               col(TaskRow.status).in_(OPEN_TASK_STATUSES))
        .with_for_update(of=TaskRow)))
    for task in tasks:
        task.assignee_id, task.status, task.accepted_at = None, "requested", None
        task.unassigned_role = True  # listed in « À traiter » (role nobody holds)
    session.flush()
    if tasks:
        ids = [t.id for t in tasks]
        session.execute(update(OutboxRow).where(
            col(OutboxRow.task_id).in_(ids), col(OutboxRow.recipient_id) == professional_id,
            col(OutboxRow.status) == "pending", col(OutboxRow.kind).in_(outbox.TASK_KINDS))
            .values(status="skipped", last_error="professionnel désactivé"))
        insert_rows(session, EVENT_TABLE, [{
            "case_id": t.case_id, "at": now, "recorded_at": now, "actor_kind": "coordinator",
            "actor_id": by, "kind": TASK_RELEASED, "from_state": t.state, "to_state": None,
            "data": {"ref": t.ref, "key": t.key, "task_id": t.id,
                     "professional_id": professional_id}} for t in tasks])
    return len(tasks)


def reactivate(session: Session, professional_id: int) -> Professional:
    pro = session.get(Professional, professional_id)
    if pro is None:
        raise NotFoundError("professional", professional_id)
    if pro.active:
        raise InputError(f"{pro.given_names} {pro.family_name} est déjà actif(ve)")
    pro.active = True
    session.flush()
    return pro


def released_tasks(session: Session, limit: int = 200) -> list[TaskRow]:
    """Open tasks with no assignee on an open case (what the coordinator's queue lists)."""
    return list(session.scalars(
        select(TaskRow).join(CaseRow, col(CaseRow.id) == col(TaskRow.case_id))
        .where(col(TaskRow.assignee_id).is_(None), col(TaskRow.status).in_(OPEN_TASK_STATUSES),
               col(CaseRow.closed_at).is_(None))
        .order_by(col(TaskRow.due_at)).limit(limit)))


