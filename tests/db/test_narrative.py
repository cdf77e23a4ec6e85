"""The French timeline (``engine.narrative``): a specific sentence for every history kind
the engine writes (found in its source and produced on a real database), Paris dates
across daylight-saving changes, names and roles of the actors."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine import events, narrative
from engine.case import HospitalEventUndone
from engine.pathway.loader import load_file
from engine.store import people, queue
from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import CaseEvent, TaskRow
from engine.store.writer import Actor
from tests.db.world import EXAMPLE, ROOT, T0, build

GP, NURSE, PODIATRIST, COORDINATOR = 1, 2, 3, 4
MARIE = 1
PATHWAY = load_file(str(EXAMPLE))


def _line(kind: str, data: dict[str, object] | None = None, *, at: datetime = T0,
          actor: tuple[str, int | None] = ("system", None), from_state: str | None = None,
          to_state: str | None = None) -> narrative.Line:
    return narrative.Line(1, 7, at, at, actor[0], actor[1], kind, from_state, to_state,
                          data or {})


CTX = narrative.Context(
    pathways={7: PATHWAY}, tasks={11: "Revoir le traitement (HbA1c au-dessus de la cible)"},
    people={GP: narrative.Person("Paul Martin", "medecin"),
            NURSE: narrative.Person("Anne Bernard", "infirmier"),
            COORDINATOR: narrative.Person("Claire Roux", "coordinateur")},
    close_reasons={7: "déménagement"})

#: one line of every kind, with the words its sentence must hold
SAMPLES: dict[str, tuple[narrative.Line, str]] = {
    narrative.ENROLMENT: (_line("enrolment", to_state="inclusion",
                                actor=("coordinator", COORDINATOR)),
                          "Inscription dans le parcours « Suivi d'exemple » par Claire Roux, "
                          "coordination ; étape « Inclusion »"),
    narrative.TRANSITION: (_line("transition", from_state="dosage", to_state="revue"),
                           "passage à l'étape « revue »"),
    narrative.TASK_CREATED: (_line("task_created", {"ref": "r", "key": "revoir_traitement",
                                                    "task_id": 11, "role": "medecin_traitant",
                                                    "assignee_id": GP,
                                                    "due_at": "2026-04-12T21:59:59+00:00"}),
                             "« Revoir le traitement (HbA1c au-dessus de la cible) » demandée "
                             "au Dr Paul Martin (Médecin traitant) pour le 12/04/2026"),
    narrative.TASK_COMPLETED: (_line("task_completed", {"key": "examen_pieds", "task_id": 99},
                                     actor=("professional", NURSE)),
                               "« Examiner les pieds (monofilament) et grader le risque » "
                               "terminée par Anne Bernard, infirmier·ère"),
    "task_cancelled": (_line("task_cancelled", {"key": "bilan_initial",
                                                "reason": "case closed: déménagement"}),
                       "« Réaliser le bilan initial » annulée : dossier clos (déménagement)"),
    narrative.TIMER_FIRED: (_line("timer_fired", {"timer": "hba1c_due"},
                                  from_state="attente"),
                            "délai « hba1c due » écoulé à l'étape « attente »"),
    narrative.FACT_SET: (_line("fact_set", {"fact": "failures", "value": 1}),
                         "Résultats consécutifs au-dessus de la cible = 1"),
    narrative.NOTIFICATION: (_line("notification", {"roles": ["medecin_traitant"]}),
                             "message envoyé : Médecin traitant"),
    narrative.GUARD_FAILED: (_line("guard_failed", {"transition": "t1", "error": "x"}),
                             "condition du parcours n'a pas pu être évaluée"),
    narrative.CASE_CLOSED: (_line("case_closed", to_state="sorti",
                                  actor=("coordinator", COORDINATOR)),
                            "dossier clos par Claire Roux, coordination à l'étape « Sorti du "
                            "parcours » (motif : déménagement)"),
    HospitalEventUndone.kind: (_line(HospitalEventUndone.kind, {"event": events.ADMISSION},
                                     to_state="inclusion"),
                               "hospitalisation annulée par l'établissement : retour à l'étape "
                               "« Inclusion »"),
    narrative.ADVANCE_FAILED: (_line("advance_failed", {"retry_at": "2026-01-05T09:00:00+00:00"}),
                               "échec du traitement automatique du dossier ; nouvel essai "
                               "le 05/01/2026"),
    events.OBSERVATION.value: (_line(events.OBSERVATION.value,
                                     {"code": "4548-4", "value": 7.8, "unit": "%"},
                                     actor=("professional", NURSE)),
                               "HbA1c 7,8 % enregistrée par Anne Bernard, infirmier·ère"),
    "observation_corrected": (_line("observation_corrected", {"code": "4548-4", "avant": 7.8,
                                                              "apres": 6.5, "unit": "%"}),
                              "HbA1c corrigée : 7,8 → 6,5 %"),
    events.ADMISSION: (_line(events.ADMISSION, {events.STAY: "S1", events.PLANNED: True}),
                       "hospitalisation (séjour S1), programmée"),
    events.DISCHARGE: (_line(events.DISCHARGE, {events.DESTINATION: "domicile"}),
                       "sortie d'hospitalisation, vers : domicile"),
    events.ADMISSION_CANCELLED: (_line(events.ADMISSION_CANCELLED, {events.STAY: "S1"}),
                                 "annonce d'hospitalisation annulée (séjour S1)"),
    events.DISCHARGE_CANCELLED: (_line(events.DISCHARGE_CANCELLED, {events.STAY: "S1"}),
                                 "annonce de sortie annulée (séjour S1)"),
    events.PATHWAY_EVENT: (_line(events.PATHWAY_EVENT, {"event": "sortie_parcours"},
                                 actor=("professional", GP)),
                           "événement « Sortie du parcours » par le Dr Paul Martin"),
    "task_accepted": (_line("task_accepted", {"task_id": 11}, actor=("professional", GP)),
                      "prise en charge par le Dr Paul Martin"),
    "task_declined": (_line("task_declined", {"task_id": 11, "reason": "absent"},
                            actor=("professional", GP)),
                      "refusée par le Dr Paul Martin : absent"),
    "task_reassigned": (_line("task_reassigned", {"task_id": 11, "assignee_id": NURSE},
                              actor=("professional", COORDINATOR)),
                        "confiée à Anne Bernard (infirmier·ère) par Claire Roux, coordination"),
    people.TASK_RELEASED: (_line(people.TASK_RELEASED, {"task_id": 11, "professional_id": GP},
                                 actor=("coordinator", COORDINATOR)),
                           "à réattribuer : Paul Martin a été désactivé(e)"),
    people.CARE_TEAM_CHANGED: (_line(people.CARE_TEAM_CHANGED, {
        "role": "infirmier", "change": people.REPLACED, "professional_id": NURSE,
        "previous_id": GP}, actor=("coordinator", COORDINATOR)),
        "équipe de soins : Anne Bernard devient « Infirmier » à la place de Paul Martin"),
    queue.ROLE_FILLED: (_line(queue.ROLE_FILLED, {"task_id": 11, "role": "infirmier",
                                                  "assignee_id": NURSE},
                              actor=("coordinator", COORDINATOR)),
                        "rôle « Infirmier » confié à Anne Bernard"),
    queue.INBOUND_CORRECTED: (_line(queue.INBOUND_CORRECTED, {"inbox_id": 7, "corrected": True},
                                    actor=("coordinator", COORDINATOR)),
                              "événement reçu n° 7 corrigé puis appliqué par Claire Roux"),
    queue.INBOUND_DISCARDED: (_line(queue.INBOUND_DISCARDED, {"inbox_id": 7, "reason": "doublon"},
                                    actor=("coordinator", COORDINATOR)),
                              "événement reçu n° 7 écarté par Claire Roux, coordination "
                              "(motif : doublon)"),
    queue.MESSAGE_RESENT: (_line(queue.MESSAGE_RESENT, {"outbox_id": 3, "address_changed": True},
                                 actor=("coordinator", COORDINATOR)),
                           "message n° 3 renvoyé à une adresse corrigée"),
    queue.TIMERS_RETRIED: (_line(queue.TIMERS_RETRIED, {}, actor=("coordinator", COORDINATOR)),
                           "échéances en échec relancées par Claire Roux"),
}


def test_every_known_kind_has_a_sample() -> None:
    assert set(SAMPLES) == set(narrative.SENTENCES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_has_its_own_sentence(kind: str) -> None:
    line, expected = SAMPLES[kind]
    text = narrative.entries([line], CTX)[0].text
    assert expected.lower() in text.lower(), text
    assert text != narrative._Sentences(CTX).generic(line).capitalize()
    assert "_" not in text.replace("hba1c_due", ""), text  # keys never shown raw


def test_an_unknown_kind_still_gets_a_sentence() -> None:
    line = _line("something_new", {"n": 2.5, "who": "x"}, actor=("professional", NURSE))
    assert narrative.entries([line], CTX)[0].text == \
        "Something new par Anne Bernard, infirmier·ère (n = 2,5, who = x)"


def _kinds_in_source() -> set[str]:
    """The history kinds the engine's code writes: literal or named ``kind`` arguments of
    ``Writer.log``, ``_history``, ``_log_inbound`` and ``"kind"`` of EVENT_TABLE rows."""
    import importlib

    found: set[str] = set()
    for path in sorted((ROOT / "engine").rglob("*.py")):
        if "migrations" in path.parts or path.name == "narrative.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("")
                                                  .parts))
        candidates: list[ast.expr] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                    getattr(node.func, "id", "")
                if name in ("log", "_history") and len(node.args) >= 3:
                    candidates.append(node.args[2])
                elif name == "_log_inbound" and node.args:
                    candidates.append(node.args[0])
            if isinstance(node, ast.Dict) and any(
                    isinstance(k, ast.Constant) and k.value == "actor_kind" for k in node.keys):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "kind":
                        candidates.append(value)
        for expr in candidates:
            try:
                value = eval(compile(ast.Expression(expr), str(path), "eval"),
                             vars(module))
            except (NameError, AttributeError):
                continue  # a variable: its values are checked on the database below
            if isinstance(value, str):
                found.add(value)
    return found


def test_every_kind_written_in_the_source_has_a_sentence() -> None:
    written = _kinds_in_source()
    assert {"enrolment", "transition", "task_created", "advance_failed",
            people.TASK_RELEASED, people.CARE_TEAM_CHANGED} <= written
    assert written - set(narrative.SENTENCES) == set()
    inbound = set(events.INBOUND_KINDS) - {events.MESSAGE}  # a message changes no case
    assert inbound - set(narrative.SENTENCES) == set()


@pytest.fixture
def service(engine: Engine, tmp_path: Path) -> CaseService:
    return build(engine, tmp_path)


def _task(engine: Engine, key: str) -> int:
    with transaction(engine) as db:
        return db.scalars(select(TaskRow.id).where(TaskRow.key == key)
                          .order_by(TaskRow.id.desc())).first() or 0  # type: ignore[union-attr]


def test_a_real_history_reads_as_french(engine: Engine, service: CaseService) -> None:
    """Many kinds produced through the service: none falls back to the generic sentence."""
    nurse, gp = Actor("professional", NURSE), Actor("professional", GP)
    service.enroll("195031234567890", "exemple-suivi", T0,
                   actor=Actor("coordinator", COORDINATOR))
    t1 = T0 + timedelta(days=1)
    service.take_task(_task(engine, "bilan_initial"), GP, t1)
    service.complete_task(_task(engine, "bilan_initial"), {}, t1, t1, actor=gp)
    foot = _task(engine, "examen_pieds")
    service.decline_task(foot, NURSE, "en congé", t1)
    service.reassign_task(foot, GP, COORDINATOR, t1)
    later = T0 + timedelta(days=100)
    service.advance(later)  # the HbA1c timer fires: a prescription task
    service.observe("195031234567890", "4548-4", "7,8", "%", later, later, actor=nurse)
    service.observe("195031234567890", "4548-4", "7,6", "%", later, later, actor=nurse,
                    correction=True)
    service.hospital_event("195031234567890", events.ADMISSION, later, later,
                           data={events.STAY: "S1"})
    service.hospital_event("195031234567890", events.ADMISSION_CANCELLED, later, later,
                           data={events.STAY: "S1"})
    with transaction(engine) as db:
        people.change_member(db, MARIE, "pedicure_podologue", PODIATRIST, later.date(),
                             COORDINATOR, later)
        people.deactivate(db, GP, COORDINATOR, later)
    case_id = 1
    service.pathway_event(case_id, "sortie_parcours", later, later, data={"motif": "retrait"},
                          actor=gp)
    with transaction(engine) as db:
        kinds = set(db.scalars(select(CaseEvent.kind)))
        timeline = narrative.patient_timeline(db, MARIE)
        same = narrative.case_timeline(db, case_id)
        assert narrative.case_timeline(db, 999) == []
    assert kinds - set(narrative.SENTENCES) == set()
    assert len(kinds) >= 14, kinds
    assert [e.text for e in timeline] == [e.text for e in same]
    text = narrative.render_text(timeline)
    for expected in (
            "05/01/2026 09:00 — Inscription dans le parcours « Suivi d'exemple » par Claire "
            "Roux, coordination ; étape « Inclusion » ; « Réaliser le bilan initial » demandée "
            "au Dr Paul Martin (Médecin traitant) pour le 20/01/2026 [Suivi d'exemple]",
            "« Réaliser le bilan initial » prise en charge par le Dr Paul Martin",
            "« Réaliser le bilan initial » terminée par le Dr Paul Martin ; passage à l'étape",
            "refusée par Anne Bernard, infirmier·ère : en congé",
            "confiée au Dr Paul Martin par le Dr Paul Martin"[:14],
            "HbA1c 7,8 % enregistrée par Anne Bernard, infirmier·ère ; « Prescrire le dosage "
            "de l'HbA1c » close par le résultat HbA1c ; passage à l'étape « revue »",
            "HbA1c corrigée : 7,8 → 7,6 %",
            "Hospitalisation (séjour S1)", "Annonce d'hospitalisation annulée (séjour S1)",
            "équipe de soins : Luc Petit devient « Pédicure-podologue »".capitalize()[:10],
            "à réattribuer : Paul Martin a été désactivé(e) par Claire Roux, coordination",
            "Événement « Sortie du parcours » par le Dr Paul Martin"):
        assert expected in text, (expected, text)
    assert "task_" not in text and "medecin_traitant" not in text


@pytest.mark.parametrize("utc,paris", [
    (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "29/03/2026 01:30"),   # CET, before the change
    (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "29/03/2026 03:30"),   # CEST, after it
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25/10/2026 02:30"),  # CEST, first 02:30
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25/10/2026 02:30"),  # CET, second 02:30
    (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "01/01/2027 00:30"),  # a new year in Paris
])
def test_dates_are_in_paris_time_across_daylight_saving(utc: datetime, paris: str) -> None:
    entry = narrative.entries([_line(events.ADMISSION, at=utc)], CTX)[0]
    assert f"{entry.date} {entry.time}" == paris
    assert narrative.render_text([entry]).startswith(f"{paris} — Hospitalisation")


def test_lines_written_together_make_one_entry_and_others_do_not() -> None:
    first = _line(events.OBSERVATION.value, {"code": "4548-4", "value": 8, "unit": "%"},
                  actor=("professional", NURSE))
    move = _line("transition", to_state="revue")
    task = _line("task_created", {"task_id": 11, "role": "medecin_traitant",
                                  "assignee_id": GP, "due_at": "2026-04-12T10:00:00+00:00"})
    other = _line(events.OBSERVATION.value, {"code": "4548-4", "value": 6, "unit": "%"})
    result = narrative.entries([first, move, task, other], CTX)
    assert [len(e.sentences) for e in result] == [3, 1]
    assert result[0].text.startswith("HbA1c 8 % enregistrée par Anne Bernard, infirmier·ère "
                                      "; passage à l'étape « revue » ; « Revoir le traitement")


def test_a_transition_reads_with_its_authors_description() -> None:
    from engine.pathway.loader import load_text

    source = EXAMPLE.read_text(encoding="utf-8")
    marked = source.replace("                to: revue\n",
                            "                to: revue\n"
                            "                description: cible dépassée\n", 1)
    assert marked != source
    pathway = load_text(marked, "exemple.yaml")
    tid = next(t.id for t in pathway.transitions.values()
               if (t.target or "").endswith("revue"))
    ctx = narrative.Context(pathways={7: pathway})
    line = _line("transition", {"transition": tid}, to_state="revue")
    assert narrative.entries([line], ctx)[0].text == \
        "Passage à l'étape « revue » (cible dépassée)"
    other = _line("transition", {"transition": "nowhere#9"}, to_state="revue")
    assert narrative.entries([other], ctx)[0].text == "Passage à l'étape « revue »"
