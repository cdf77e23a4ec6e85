"""The coordinator's patients and professionals (``engine.store.people``) and the French
timeline (``engine.narrative``), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, text

from engine import narrative
from engine.store import people
from engine.store.bulk import insert_rows
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.service import CaseService
from engine.store.tables import (
    PATIENT_TABLE,
    CareTeamMember,
    CaseEvent,
    OutboxRow,
    Patient,
    Professional,
    TaskRow,
)
from engine.store.worklist import viewer
from engine.store.writer import Actor
from tests.db.world import T0, build

GP, NURSE, PODIATRIST, COORDINATOR = 1, 2, 3, 4
MARIE = 1


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> CaseService:
    return build(engine, tmp_path)


def _add_patient(engine: Engine, family: str, given: str, born: date, **kw: object) -> int:
    with transaction(engine) as db:
        row = Patient(family_name=family, given_names=given, birth_date=born, sex="F",
                      created_at=T0, **kw)
        db.add(row)
        db.flush()
        return row.id or 0


def _search(engine: Engine, query: str, page: int = 1, size: int = 25) -> list[int]:
    with transaction(engine) as db:
        return [h.id for h in people.search_patients(db, query, page, size).hits]


# -- patient search ----------------------------------------------------------------------------

def test_names_are_folded_on_insert_orm_and_core(engine: Engine, service: CaseService) -> None:
    helene = _add_patient(engine, "Lefèvre-Œuf", "Hélène Marie", date(1960, 5, 4))
    with engine.begin() as conn:
        conn.execute(insert(PATIENT_TABLE), [
            {"family_name": "Éléonore", "given_names": "ÇA Va", "birth_date": date(1970, 1, 1),
             "sex": "M", "created_at": T0, "conditions": [], "condition_onsets": {}}])
    with transaction(engine) as db:  # the bulk path (COPY on PostgreSQL)
        insert_rows(db, PATIENT_TABLE, [
            {"family_name": "Bâton", "given_names": "Zoé", "birth_date": date(1971, 1, 1),
             "sex": "F", "created_at": T0, "conditions": [], "condition_onsets": {}}],
            with_ids=True)
    with transaction(engine) as db:
        rows = {p.family_name: (p.search_family, p.search_given)
                for p in db.scalars(select(Patient))}
        patient = db.get(Patient, helene)
        assert patient is not None
        patient.family_name = "Lefèvre"
    assert rows["Lefèvre-Œuf"] == ("lefevre oeuf", "helene marie")
    assert rows["Éléonore"] == ("eleonore", "ca va")
    assert rows["Bâton"] == ("baton", "zoe")
    assert rows["Durand"] == ("durand", "marie")  # the CSV import
    with transaction(engine) as db:
        assert db.get(Patient, helene).search_family == "lefevre"  # type: ignore[union-attr]


@pytest.mark.parametrize("query", ["helene", "HÉLÈNE", "hel", "lefevre", "Lefèvre hélène",
                                   "hélène lefevre", "04/05/1960", "4/5/1960", "LOC-77",
                                   "299051234567890"])
def test_search_is_accent_and_case_insensitive(engine: Engine, service: CaseService,
                                                query: str) -> None:
    helene = _add_patient(engine, "Lefèvre", "Hélène", date(1960, 5, 4), local_id="LOC-77",
                          ins="299051234567890")
    _add_patient(engine, "Helms", "Paul", date(1961, 1, 1))
    found = _search(engine, query)
    assert helene in found
    if query not in ("hel",):
        assert all(_name(engine, p) == "Lefèvre" for p in found), query


def _name(engine: Engine, pid: int) -> str:
    with transaction(engine) as db:
        return db.get(Patient, pid).family_name  # type: ignore[union-attr]


def test_search_pages_and_refuses_empty_queries(engine: Engine, service: CaseService) -> None:
    ids = [_add_patient(engine, "Garnier", f"Zoé{n:02d}", date(1980, 1, 1)) for n in range(7)]
    assert _search(engine, "garnier", 1, 3) == ids[:3]
    assert _search(engine, "garnier", 3, 3) == ids[6:]
    with transaction(engine) as db:
        first = people.search_patients(db, "garnier", 1, 3)
        last = people.search_patients(db, "garnier", 3, 3)
        empty = people.search_patients(db, "  ", 1)
    assert first.has_next and not last.has_next
    assert empty.hits == [] and "JJ/MM/AAAA" in empty.note
    assert _search(engine, "31/02/1980") == []  # impossible date: no birth-date lookup
    assert _search(engine, "x") == []           # one letter: no name lookup


def test_search_uses_indexes_not_a_scan_of_patients(engine: Engine, service: CaseService
                                                    ) -> None:
    with engine.begin() as conn:
        conn.execute(insert(PATIENT_TABLE), [
            {"family_name": f"Nom{n}", "given_names": "Prénom", "birth_date": date(1950, 1, 1),
             "sex": "F", "created_at": T0, "conditions": [], "condition_onsets": {}}
            for n in range(2000)])
    query = people.patient_search_query("hélène durand")
    assert query is not None
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE patient"))
            collations = set(conn.execute(text(
                "SELECT collation_name FROM information_schema.columns WHERE table_name = "
                "'patient' AND column_name IN ('search_family', 'search_given')")).scalars())
            assert collations == {"C"}  # prefix ranges exact whatever the server's locale
            conn.execute(text("SET enable_seqscan = off"))  # make a scan the costliest plan
            plan = "\n".join(r[0] for r in conn.execute(
                text("EXPLAIN " + str(query.compile(engine, compile_kwargs={
                    "literal_binds": True})))))
            assert "Seq Scan on patient" not in plan, plan
            assert "ix_patient_search_family" in plan and "ix_patient_search_given" in plan
        else:
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(str(r[-1]) for r in conn.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}")))
            assert not re.search(r"SCAN patient(?! USING)", plan), plan
            assert "ix_patient_search_family" in plan and "ix_patient_search_given" in plan


# -- care team --------------------------------------------------------------------------------

def test_care_team_add_replace_remove_with_history(engine: Engine, service: CaseService
                                                   ) -> None:
    service.enroll("195031234567890", "exemple-suivi", T0)
    day, now = date(2026, 2, 1), datetime(2026, 2, 1, 9, tzinfo=UTC)
    with transaction(engine) as db:
        assert "ajouté" in people.change_member(db, MARIE, "pedicure_podologue", PODIATRIST,
                                                day, COORDINATOR, now)
        assert "remplace" in people.change_member(db, MARIE, "medecin_traitant", GP + 0
                                                   if False else PODIATRIST, day,
                                                   COORDINATOR, now)
        people.change_member(db, MARIE, "infirmier", None, day, COORDINATOR, now)
    with transaction(engine) as db:
        team = {(m.role, m.professional_id, m.end_date) for m in db.scalars(
            select(CareTeamMember).where(CareTeamMember.patient_id == MARIE))}
        kinds = [e.data["change"] for e in db.scalars(
            select(CaseEvent).where(CaseEvent.kind == people.CARE_TEAM_CHANGED)
            .order_by(CaseEvent.id))]
        timeline = narrative.render_text(narrative.patient_timeline(db, MARIE))
    assert ("medecin_traitant", GP, date(2026, 1, 31)) in team
    assert ("medecin_traitant", PODIATRIST, None) in team
    assert ("infirmier", NURSE, date(2026, 1, 31)) in team
    assert ("pedicure_podologue", PODIATRIST, None) in team
    assert kinds == [people.ADDED, people.REPLACED, people.REMOVED]
    assert "Luc Petit devient « Médecin traitant » à la place de Paul Martin par Claire " \
           "Roux, coordination" in timeline
    assert "Anne Bernard n'est plus « Infirmier »" in timeline


@pytest.mark.parametrize("role,pro,message", [
    ("chef", GP, "rôle : choisissez"), ("medecin_traitant", GP, "tient déjà ce rôle"),
    ("medecin_traitant", 999, "choisissez un professionnel"),
    ("pedicure_podologue", None, "personne ne tient ce rôle")])
def test_care_team_refusals_write_nothing(engine: Engine, service: CaseService, role: str,
                                          pro: int | None, message: str) -> None:
    service.enroll("195031234567890", "exemple-suivi", T0)
    before = _count(engine, CareTeamMember), _count(engine, CaseEvent)
    with pytest.raises(InputError, match=message), transaction(engine) as db:
        people.change_member(db, MARIE, role, pro, date(2026, 2, 1), COORDINATOR, T0)
    assert (_count(engine, CareTeamMember), _count(engine, CaseEvent)) == before


def _count(engine: Engine, table: type) -> int:
    with transaction(engine) as db:
        return db.scalar(select(func.count()).select_from(table)) or 0


# -- professionals ----------------------------------------------------------------------------

def test_professional_list_search_and_counts(engine: Engine, service: CaseService) -> None:
    service.enroll("195031234567890", "exemple-suivi", T0)
    late = T0 + timedelta(days=40)
    with transaction(engine) as db:
        everyone = people.professionals(db, "", late)
        martin = people.professionals(db, "MARTÍN", late)
        nurses = people.professionals(db, "infirmier", late)
    assert [p.professional.id for p in martin] == [GP]
    assert [p.professional.id for p in nurses] == [NURSE]
    counts = {p.professional.id: (p.open_tasks, p.overdue_tasks) for p in everyone}
    assert counts[GP] == (1, 1) and counts[NURSE] == (0, 0)


def test_add_professional_validates_in_french(engine: Engine, service: CaseService) -> None:
    bad = people.NewProfessional(rpps="1234", family_name="", given_names="Eve",
                                 profession="sorcier", email="pas-une-adresse",
                                 phone="12345")
    with transaction(engine) as db:
        assert not bad.check(db)
    assert set(bad.errors) == {"rpps", "nom", "profession", "email", "telephone"}
    assert "11 chiffres" in bad.errors["rpps"]
    taken = people.NewProfessional(rpps="10000000001", family_name="X", given_names="Y",
                                   profession="medecin", email="x@example.fr")
    with pytest.raises(InputError, match="déjà enregistré"), transaction(engine) as db:
        people.add_professional(db, taken)
    good = people.NewProfessional(rpps="10000000077", family_name="Noël", given_names="Élise",
                                  profession="pharmacien", email="elise@example.fr",
                                  phone="0611223344")
    with transaction(engine) as db:
        pro = people.add_professional(db, good)
        assert pro.active and pro.id
    with transaction(engine) as db:
        assert [p.professional.rpps for p in people.professionals(db, "noel", T0)] == \
            ["10000000077"]


def test_deactivation_releases_open_tasks_and_blocks_sign_in(engine: Engine,
                                                             service: CaseService) -> None:
    service.enroll("195031234567890", "exemple-suivi", T0)
    service.enroll("P-002", "exemple-suivi", T0)
    now = T0 + timedelta(days=1)
    with transaction(engine) as db:
        assert viewer(db, GP) is not None
        released = people.deactivate(db, GP, COORDINATOR, now)
    assert released == 2
    with transaction(engine) as db:
        assert viewer(db, GP) is None           # no session, no sign-in link either
        tasks = people.released_tasks(db)
        assert {t.assignee_id for t in tasks} == {None} and len(tasks) == 2
        assert {t.status for t in tasks} == {"requested"}
        # the coordinator's « À traiter » lists them with the roles nobody holds
        from engine.store import queue

        assert {t.id for t in tasks} <= {t.task_id for t in queue.vacant_role_tasks(db)}
        pending = db.scalars(select(OutboxRow).where(OutboxRow.recipient_id == GP,
                                                     OutboxRow.status == "pending")).all()
        assert pending == []
        timeline = narrative.render_text(narrative.patient_timeline(db, MARIE))
    assert "« Réaliser le bilan initial » à réattribuer : Paul Martin a été désactivé(e) " \
           "par Claire Roux, coordination" in timeline
    # a new task of his role no longer reaches him: it goes to the coordinator, flagged
    service.complete_task(_task(engine, "bilan_initial", 1), {}, now, now)
    with transaction(engine) as db:
        assert people.professionals(db, "martin", now)[0].open_tasks == 0
        with pytest.raises(InputError, match="déjà désactivé"):
            people.deactivate(db, GP, COORDINATOR, now)
        with pytest.raises(InputError, match="vous-même"):
            people.deactivate(db, COORDINATOR, COORDINATOR, now)
        with pytest.raises(InputError, match="seule coordination"):
            people.deactivate(db, COORDINATOR, NURSE, now)
    with transaction(engine) as db:
        people.reactivate(db, GP)
    with transaction(engine) as db:
        assert viewer(db, GP) is not None


def _task(engine: Engine, key: str, patient: int) -> int:
    with transaction(engine) as db:
        return db.scalars(select(TaskRow.id).where(TaskRow.key == key)
                          .order_by(TaskRow.id)).first() or 0  # type: ignore[union-attr]


def test_professional_detail_shows_tasks_and_messages(engine: Engine,
                                                      service: CaseService) -> None:
    service.enroll("195031234567890", "exemple-suivi", T0)
    with transaction(engine) as db:
        detail = people.professional_detail(db, GP)
        db.execute(OutboxRow.__table__.update().values(status="dead"))  # type: ignore[attr-defined]
    assert [t.title for t, _, _ in detail.open_tasks] == ["Réaliser le bilan initial"]
    assert detail.open_tasks[0][2] == "Marie DURAND"
    assert len(detail.messages) == 1 and detail.failed == 0
    with transaction(engine) as db:
        assert people.professional_detail(db, GP).failed == 1


# -- eligibility ------------------------------------------------------------------------------

def test_eligibility_is_shown_before_enrolment(engine: Engine, service: CaseService) -> None:
    child = service.eligibility("P-003", "exemple-suivi", T0)
    adult = service.eligibility("195031234567890", "exemple-suivi", T0)
    assert child.eligible is False and "age_min" in (child.rule or "")
    assert adult.eligible is True and adult.open_case is None
    service.enroll("195031234567890", "exemple-suivi", T0,
                   actor=Actor("coordinator", COORDINATOR))
    assert service.eligibility("195031234567890", "exemple-suivi", T0).open_case == 1
    with transaction(engine) as db:
        assert db.get(Professional, COORDINATOR) is not None
