"""``parcours run``: two simulated years of the example pathway, and bad timeline files.

The example (``pathways/examples/exemple-suivi.yaml``) is written only in YAML and has
a parallel state, nested states, guards on an observation and a recurring timer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.clock import PARIS
from engine.pathway import load_file
from flows.cli import main

ROOT = Path(__file__).resolve().parents[1]
PATHWAY = str(ROOT / "pathways" / "examples" / "exemple-suivi.yaml")
TIMELINE = str(ROOT / "pathways" / "examples" / "exemple-suivi.timeline.yaml")

HEADER = re.compile(r"^── step (\d+) · (\d{4}-\d\d-\d\d \d\d:\d\d) · (.+)$")
EFFECT = re.compile(r"^   (\d{4}-\d\d-\d\d \d\d:\d\d)  (.+)$")


def paris(text: str) -> datetime:
    """'2026-04-12 09:00' → that time in Paris."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


# -- the example, as text --------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_run() -> list[dict[str, Any]]:
    """The text output of the replay, parsed into steps of (time, line) effects."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", PATHWAY, "--timeline", TIMELINE]) == 0
    steps: list[dict[str, Any]] = []
    for line in out.getvalue().splitlines():
        if header := HEADER.match(line):
            steps.append({"index": int(header[1]), "at": header[2], "label": header[3],
                          "effects": [], "case": []})
        elif effect := EFFECT.match(line):
            steps[-1]["effects"].append((effect[1], effect[2]))
        else:
            steps[-1]["case"].append(line.strip())
    return steps


def effects(steps: list[dict[str, Any]], prefix: str) -> list[tuple[str, str]]:
    return [(when, text) for step in steps for when, text in step["effects"]
            if text.startswith(prefix)]


def test_the_example_has_what_the_issue_asks_for() -> None:
    pathway = load_file(PATHWAY)
    tree = pathway.tree
    assert any(n.state.parallel for n in tree.states())
    assert any(len(pathway.states[s].ancestors) >= 2 for s in pathway.states)
    assert any(t.guard is not None and t.event.startswith("observation:")
               and "value" in t.guard.source for t in pathway.transitions.values())
    assert any(timer.recurring for s in pathway.states.values() for timer in s.timers)


def test_replay_covers_two_years_step_by_step(text_run: list[dict[str, Any]]) -> None:
    assert [(s["index"], s["at"]) for s in text_run] == [
        (0, "2026-01-05 09:00"), (1, "2026-01-12 09:00"), (2, "2026-01-20 09:00"),
        (3, "2026-04-20 09:00"), (4, "2026-07-22 09:00"), (5, "2026-08-05 09:00"),
        (6, "2026-11-10 09:00"), (7, "2026-11-20 09:00"), (8, "2027-02-25 09:00"),
        (9, "2027-06-01 09:00"), (10, "2027-09-15 09:00"), (11, "2027-10-01 09:00"),
        (12, "2028-01-05 09:00")]
    assert text_run[0]["label"] == "inscription"
    assert text_run[0]["effects"][0] == ("2026-01-05 09:00", "enrolled in inclusion")
    assert text_run[-1]["label"] == "fin"


def test_each_transition_at_its_date(text_run: list[dict[str, Any]]) -> None:
    g, p = "suivi.glycemie", "suivi.pieds"
    expected = [
        ("2026-01-12 09:00", "transition inclusion → suivi on task_completed:bilan_initial"),
        ("2026-01-20 09:00", f"transition {p}.examen → {p}.prevention on "
                             "task_completed:examen_pieds"),
        ("2026-04-12 09:00", f"transition {g}.attente → {g}.dosage on timer:hba1c_due"),
        ("2026-04-20 09:00", f"internal {p}.prevention#0 on timer:podologie"),
        ("2026-04-20 09:00", f"transition {g}.dosage → {g}.attente on observation:hba1c"),
        ("2026-07-20 09:00", f"transition {g}.attente → {g}.dosage on timer:hba1c_due"),
        ("2026-07-20 09:00", f"internal {p}.prevention#0 on timer:podologie"),
        ("2026-07-22 09:00", f"transition {g}.dosage → {g}.revue on observation:hba1c"),
        ("2026-08-05 09:00", f"transition {g}.revue → {g}.attente on "
                             "task_completed:revoir_traitement"),
        ("2026-10-20 09:00", f"internal {p}.prevention#0 on timer:podologie"),
        ("2026-11-05 09:00", f"transition {g}.attente → {g}.dosage on timer:hba1c_due"),
        ("2026-11-10 09:00", f"transition {g}.dosage → {g}.revue on observation:hba1c"),
        ("2026-11-20 09:00", f"transition {g}.revue → {g}.attente on "
                             "task_completed:revoir_traitement"),
        ("2027-01-20 09:00", f"internal {p}.prevention#0 on timer:podologie"),
        ("2027-01-20 09:00", f"transition {p}.prevention → {p}.examen on timer:reexamen"),
        ("2027-02-20 09:00", f"transition {g}.attente → {g}.dosage on timer:hba1c_due"),
        ("2027-02-25 09:00", f"transition {g}.dosage → {g}.avis_specialise on "
                             "observation:hba1c"),
        ("2027-06-01 09:00", f"transition {g}.avis_specialise → {g}.attente on "
                             "observation:hba1c"),
        ("2027-09-01 09:00", f"transition {g}.attente → {g}.dosage on timer:hba1c_due"),
        ("2027-10-01 09:00", "transition suivi → sorti on sortie_parcours"),
    ]
    moves = effects(text_run, "transition") + effects(text_run, "internal")
    assert sorted(moves) == sorted(expected)
    # within the replay, time never goes back
    times = [when for step in text_run for when, _ in step["effects"]]
    assert times == sorted(times)


def test_each_task_created_completed_and_cancelled_at_its_date(
        text_run: list[dict[str, Any]]) -> None:
    created = [(when, re.sub(r": .*$", "", text)) for when, text in
               effects(text_run, "task created")]
    assert created == [
        ("2026-01-05 09:00", "task created bilan_initial-1 [medecin_traitant] due "
                             "2026-01-20 23:59"),
        ("2026-01-12 09:00", "task created examen_pieds-2 [infirmier] due 2026-02-12 23:59"),
        ("2026-04-12 09:00", "task created prescrire_hba1c-3 [medecin_traitant] due "
                             "2026-04-27 23:59"),
        ("2026-04-20 09:00", "task created seance_podologie-4 [pedicure_podologue] due "
                             "2026-05-20 23:59"),
        ("2026-07-20 09:00", "task created prescrire_hba1c-5 [medecin_traitant] due "
                             "2026-08-04 23:59"),
        ("2026-07-20 09:00", "task created seance_podologie-6 [pedicure_podologue] due "
                             "2026-08-20 23:59"),
        ("2026-07-22 09:00", "task created revoir_traitement-7 [medecin_traitant] due "
                             "2026-08-22 23:59"),
        ("2026-10-20 09:00", "task created seance_podologie-8 [pedicure_podologue] due "
                             "2026-11-20 23:59"),
        ("2026-11-05 09:00", "task created prescrire_hba1c-9 [medecin_traitant] due "
                             "2026-11-20 23:59"),
        ("2026-11-10 09:00", "task created revoir_traitement-10 [medecin_traitant] due "
                             "2026-12-10 23:59"),
        ("2027-01-20 09:00", "task created seance_podologie-11 [pedicure_podologue] due "
                             "2027-02-20 23:59"),
        ("2027-01-20 09:00", "task created examen_pieds-12 [infirmier] due 2027-02-20 23:59"),
        ("2027-02-20 09:00", "task created prescrire_hba1c-13 [medecin_traitant] due "
                             "2027-03-07 23:59"),
        ("2027-09-01 09:00", "task created prescrire_hba1c-14 [medecin_traitant] due "
                             "2027-09-16 23:59"),
    ]
    assert effects(text_run, "task completed") == [
        ("2026-01-12 09:00", "task completed bilan_initial-1"),
        ("2026-01-20 09:00", "task completed examen_pieds-2"),
        ("2026-04-20 09:00", "task completed prescrire_hba1c-3 (by observation:hba1c)"),
        ("2026-07-22 09:00", "task completed prescrire_hba1c-5 (by observation:hba1c)"),
        ("2026-08-05 09:00", "task completed revoir_traitement-7"),
        ("2026-11-10 09:00", "task completed prescrire_hba1c-9 (by observation:hba1c)"),
        ("2026-11-20 09:00", "task completed revoir_traitement-10"),
        ("2027-02-25 09:00", "task completed prescrire_hba1c-13 (by observation:hba1c)"),
    ]


def test_leaving_prevention_on_2027_01_20_cancels_its_tasks_and_timer(
        text_run: list[dict[str, Any]]) -> None:
    step = text_run[8]
    assert step["at"] == "2027-02-25 09:00"   # the timers fired before this observation
    cancelled = [e for e in step["effects"] if "cancelled" in e[1]]
    assert cancelled == [("2027-01-20 09:00", f"task cancelled seance_podologie-{n} "
                                              "(left state 'suivi.pieds.prevention')")
                         for n in (4, 6, 8, 11)] + [
        ("2027-01-20 09:00", "timer cancelled podologie (left state 'suivi.pieds.prevention')")]
    lines = [text for _, text in step["effects"]]
    # cancellations come after the timer that caused them and before the transition
    assert lines.index("timer fired reexamen") < lines.index(
        "task cancelled seance_podologie-4 (left state 'suivi.pieds.prevention')") < lines.index(
        "transition suivi.pieds.prevention → suivi.pieds.examen on timer:reexamen")
    assert "timer: podologie (every P3M) at 2027-04-20 09:00" not in step["case"]
    assert not any(line.startswith("open task: seance_podologie") for line in step["case"])


def test_timers_at_their_dates(text_run: list[dict[str, Any]]) -> None:
    assert effects(text_run, "timer set") == [
        ("2026-01-12 09:00", "timer set hba1c_due at 2026-04-12 09:00"),
        ("2026-01-20 09:00", "timer set podologie at 2026-04-20 09:00"),
        ("2026-01-20 09:00", "timer set reexamen at 2027-01-20 09:00"),
        ("2026-04-20 09:00", "timer set hba1c_due at 2026-07-20 09:00"),
        ("2026-08-05 09:00", "timer set hba1c_due at 2026-11-05 09:00"),
        ("2026-11-20 09:00", "timer set hba1c_due at 2027-02-20 09:00"),
        ("2027-06-01 09:00", "timer set hba1c_due at 2027-09-01 09:00"),
    ]
    fired = effects(text_run, "timer fired")
    # podiatry every three months, on the 20th, until the feet are re-examined
    assert [when for when, text in fired if text == "timer fired podologie"] == [
        "2026-04-20 09:00", "2026-07-20 09:00", "2026-10-20 09:00", "2027-01-20 09:00"]
    assert [when for when, text in fired if text == "timer fired hba1c_due"] == [
        "2026-04-12 09:00", "2026-07-20 09:00", "2026-11-05 09:00", "2027-02-20 09:00",
        "2027-09-01 09:00"]
    assert [when for when, text in fired if text == "timer fired reexamen"] == [
        "2027-01-20 09:00"]
    # the recurring timer is shown re-armed in the case after each firing
    assert "timer: podologie (every P3M) at 2026-07-20 09:00" in text_run[3]["case"]
    assert "timer: podologie (every P3M) at 2027-01-20 09:00" in text_run[6]["case"]


def test_the_case_closes_on_2027_10_01(text_run: list[dict[str, Any]]) -> None:
    step = text_run[11]
    assert step["label"] == "événement sortie_parcours"
    assert step["effects"][-1] == ("2027-10-01 09:00", "case closed in sorti")
    assert sorted(text for _, text in step["effects"] if "cancelled" in text) == [
        "task cancelled examen_pieds-12 (left state 'suivi.pieds.examen')",
        "task cancelled prescrire_hba1c-14 (left state 'suivi.glycemie.dosage')"]
    assert step["case"][0] == "states: sorti  (closed)"
    assert not any(line.startswith(("open task", "timer:")) for line in step["case"])
    # letting time pass afterwards changes nothing
    assert text_run[12]["effects"] == []
    assert text_run[12]["case"][0] == "states: sorti  (closed)"


def test_states_and_facts_after_key_steps(text_run: list[dict[str, Any]]) -> None:
    assert text_run[1]["case"][0] == "states: suivi.glycemie.attente, suivi.pieds.examen"
    assert text_run[8]["case"][0] == ("states: suivi.glycemie.avis_specialise, "
                                      "suivi.pieds.examen")
    assert "facts: failures=3, foot_grade=2" in text_run[8]["case"]
    assert "facts: failures=0, foot_grade=2" in text_run[9]["case"]


# -- the example, as JSON --------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_run() -> dict[str, Any]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", PATHWAY, "--timeline", TIMELINE, "--json"]) == 0
    return json.loads(out.getvalue())


def all_effects(run: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for step in run["steps"] for e in step["effects"] if e["kind"] == kind]


def test_json_output_is_plain_data_with_zoned_times(json_run: dict[str, Any]) -> None:
    assert (json_run["pathway"], json_run["version"]) == ("exemple-suivi", 1)
    assert [s["step"] for s in json_run["steps"]] == list(range(13))
    first = json_run["steps"][0]
    assert first["at"] == "2026-01-05T09:00:00+01:00"
    assert first["case"]["active"] == ["inclusion"]
    assert {"active", "facts", "timers", "tasks", "seq", "closed_at"} <= set(first["case"])


def test_json_hba1c_timer_at_9_paris_time(json_run: dict[str, Any]) -> None:
    first = all_effects(json_run, "timer_set")[0]
    assert first == {"kind": "timer_set", "name": "hba1c_due",
                     "state": "suivi.glycemie.attente", "fire_at": "2026-04-12T09:00:00+02:00"}
    # every time of the replay is 09:00 in Paris, in winter (+01:00) as in summer (+02:00)
    times = [e.get("at") or e.get("fire_at") for step in json_run["steps"]
             for e in step["effects"]]
    assert {datetime.fromisoformat(t).astimezone(PARIS).hour for t in times} == {9}
    assert {datetime.fromisoformat(t).utcoffset().total_seconds() // 3600  # type: ignore[union-attr]
            for t in times} == {1, 2}


def test_json_transitions_and_tasks(json_run: dict[str, Any]) -> None:
    transitions = all_effects(json_run, "transition")
    assert len(transitions) == 20
    assert Counter(t["event"] for t in transitions) == {
        "timer:hba1c_due": 5, "observation:hba1c": 5, "timer:podologie": 4,
        "task_completed:revoir_traitement": 2, "task_completed:bilan_initial": 1,
        "task_completed:examen_pieds": 1, "timer:reexamen": 1, "sortie_parcours": 1}
    enter = transitions[0]
    assert enter["entered"] == ["suivi", "suivi.glycemie", "suivi.glycemie.attente",
                                "suivi.pieds", "suivi.pieds.examen"]
    created = {e["ref"]: e for e in all_effects(json_run, "task_created")}
    assert created["examen_pieds-2"]["result"]["grade"]["maximum"] == 3
    assert created["bilan_initial-1"]["reminder_at"] == "2026-01-15T09:00:00+01:00"
    assert created["bilan_initial-1"]["escalation_at"] == "2026-02-04T09:00:00+01:00"
    cancelled = all_effects(json_run, "task_cancelled")
    assert [(c["ref"], c["at"]) for c in cancelled] == [
        ("seance_podologie-4", "2027-01-20T09:00:00+01:00"),
        ("seance_podologie-6", "2027-01-20T09:00:00+01:00"),
        ("seance_podologie-8", "2027-01-20T09:00:00+01:00"),
        ("seance_podologie-11", "2027-01-20T09:00:00+01:00"),
        ("examen_pieds-12", "2027-10-01T09:00:00+02:00"),
        ("prescrire_hba1c-14", "2027-10-01T09:00:00+02:00")]


def test_json_recurring_podiatry_timer(json_run: dict[str, Any]) -> None:
    fired = [e["at"] for e in all_effects(json_run, "timer_fired") if e["name"] == "podologie"]
    assert fired == ["2026-04-20T09:00:00+02:00", "2026-07-20T09:00:00+02:00",
                     "2026-10-20T09:00:00+02:00", "2027-01-20T09:00:00+01:00"]
    assert all_effects(json_run, "timer_cancelled") == [
        {"kind": "timer_cancelled", "at": "2027-01-20T09:00:00+01:00", "name": "podologie",
         "state": "suivi.pieds.prevention"}]
    step2_timers = json_run["steps"][2]["case"]["timers"]
    assert {"name": "podologie", "state": "suivi.pieds.prevention",
            "fire_at": "2026-04-20T09:00:00+02:00", "every": "P3M",
            "anchor": "2026-01-20T09:00:00+01:00"} in step2_timers


def test_json_case_closed(json_run: dict[str, Any]) -> None:
    assert all_effects(json_run, "case_closed") == [
        {"kind": "case_closed", "at": "2027-10-01T09:00:00+02:00", "state": "sorti"}]
    last = json_run["steps"][-1]["case"]
    assert last["closed_at"] == "2027-10-01T09:00:00+02:00"
    assert (last["active"], last["tasks"], last["timers"]) == (["sorti"], [], [])


def test_text_and_json_tell_the_same_story(text_run: list[dict[str, Any]],
                                           json_run: dict[str, Any]) -> None:
    for text_step, json_step in zip(text_run, json_run["steps"], strict=True):
        assert paris(text_step["at"]) == datetime.fromisoformat(json_step["at"])
        assert len(text_step["effects"]) == len(json_step["effects"])


# -- bad timeline files ----------------------------------------------------------------------

PATIENT = "patient: {birth_date: 1958-06-14, sex: F}\nstart: 2026-01-05T09:00\n"
BILAN = "  - {at: 2026-01-12, complete: bilan_initial}\n"

BAD_TIMELINES = {
    "unknown-key": (
        PATIENT + "steps:\n  - {at: 2026-01-12, complet: bilan_initial}\n",
        r"4:22: unknown key 'complet'; did you mean 'complete'\?; allowed keys are at, observe, "
        r"value, unit, complete, result, event, data"),
    "unknown-top-key": (
        PATIENT + "stpes: []\n",
        r"3:1: unknown key 'stpes'; did you mean 'steps'\?; allowed keys are patient, "
        r"parameters, start, steps, end"),
    "missing-key": (
        "patient: {birth_date: 1958-06-14}\nsteps: []\n",
        r"1:1: the timeline: missing key 'start'; required keys are patient, start"),
    "wrong-date-text": (
        PATIENT + "steps:\n" + BILAN + "  - {at: next tuesday, observe: hba1c, value: 7}\n",
        r"5:10: steps.1.at: expected a date \(2026-01-12\) or a date and time "
        r"\(2026-01-12T14:30\), got 'next tuesday'"),
    "number-for-a-date": (
        "patient: {birth_date: 1958-06-14}\nstart: 2026\n",
        r"2:8: start: expected a date \(2026-01-12\) or a date and time \(2026-01-12T14:30\), "
        r"got 2026"),
    "steps-not-a-list": (
        PATIENT + "steps: {at: 2026-01-12}\n",
        r"3:8: steps: expected a list, got a mapping"),
    "patient-not-a-mapping": (
        "patient: 1958\nstart: 2026-01-05\n",
        r"1:10: patient: expected a mapping \(key: value\), got 1958"),
    "wrong-birth-date": (
        "patient: {birth_date: 14/06/1958}\nstart: 2026-01-05\n",
        r"1:23: patient.birth_date: expected a date such as 1950-03-02, got '14/06/1958'"),
    "task-not-open": (
        PATIENT + "steps:\n" + BILAN + "  - {at: 2026-01-13, complete: revoir_traitement}\n",
        r"5:32: step 2 \(2026-01-13 09:00\): no open task 'revoir_traitement' to complete; "
        r"open tasks: examen_pieds"),
    "task-completed-twice": (
        PATIENT + "steps:\n" + BILAN + "  - {at: 2026-01-13, complete: bilan_initial}\n",
        r"5:32: step 2 \(2026-01-13 09:00\): no open task 'bilan_initial' to complete; "
        r"open tasks: examen_pieds"),
    "unknown-task": (
        PATIENT + "steps:\n  - {at: 2026-01-12, complete: bilan_initiale}\n",
        r"4:32: step 1 \(2026-01-12 09:00\): unknown task 'bilan_initiale'; did you mean "
        r"'bilan_initial'\?; this pathway's tasks are bilan_initial, prescrire_hba1c"),
    "observation-value-type": (
        PATIENT + "steps:\n" + BILAN + "  - {at: 2026-04-20, observe: hba1c, value: élevée}\n",
        r"5:45: step 2 \(2026-04-20 09:00\): HbA1c: 'élevée' is not a number; expected a "
        r"number between 3 and 20 %"),
    "observation-out-of-range": (
        PATIENT + "steps:\n" + BILAN + "  - {at: 2026-04-20, observe: hba1c, value: 42}\n",
        r"5:45: step 2 \(2026-04-20 09:00\): HbA1c: 42 % is impossible; allowed between "
        r"3 and 20 %"),
    "observation-without-value": (
        PATIENT + "steps:\n  - {at: 2026-04-20, observe: hba1c}\n",
        r"4:31: step 1 \(2026-04-20 09:00\): HbA1c: None is not a number"),
    "unknown-observation": (
        PATIENT + "steps:\n  - {at: 2026-04-20, observe: hba1, value: 7}\n",
        r"4:31: step 1 \(2026-04-20 09:00\): unknown observation 'hba1'; did you mean "
        r"'hba1c'\?; this pathway observes hba1c"),
    "unknown-event": (
        PATIENT + "steps:\n  - {at: 2026-04-20, event: sortie}\n",
        r"4:29: step 1 \(2026-04-20 09:00\): unknown event 'sortie'; this pathway knows: "
        r"admission, admission_cancelled, discharge, .*sortie_parcours"),
    "bad-event-data": (
        PATIENT + "steps:\n" + BILAN
        + "  - {at: 2026-04-20, event: sortie_parcours, data: {motif: inconnu}}\n",
        r"5:52: step 2 \(2026-04-20 09:00\): data of event 'sortie_parcours', field 'motif': "
        r"'inconnu' is not allowed; choose one of deces, demenagement, retrait"),
    "two-things-in-one-step": (
        PATIENT + "steps:\n  - {at: 2026-01-12, complete: bilan_initial, observe: hba1c, "
                  "value: 7}\n",
        r"4:22: step 1: a step does one thing \(observe, complete, event\); this one has "
        r"observe and complete"),
    "stray-value": (
        PATIENT + "steps:\n  - {at: 2026-01-12, complete: bilan_initial, value: 2}\n",
        r"4:47: step 1: 'value' only goes with 'observe', which this step does not have"),
    "steps-out-of-order": (
        PATIENT + "steps:\n" + BILAN + "  - {at: 2026-01-10, observe: hba1c, value: 7}\n",
        r"5:10: step 2 \(2026-01-10 09:00\) comes before 2026-01-12 09:00; steps must be in "
        r"date order, after 'start'"),
    "step-before-start": (
        PATIENT + "steps:\n  - {at: 2025-12-31, observe: hba1c, value: 7}\n",
        r"4:10: step 1 \(2025-12-31 09:00\) comes before 2026-01-05 09:00"),
    "end-before-last-step": (
        PATIENT + "steps:\n" + BILAN + "end: 2026-01-10\n",
        r"5:6: end \(2026-01-10 09:00\) comes before the last step \(2026-01-12 09:00\)"),
    "bad-parameter": (
        PATIENT + "parameters: {hba1c_target: haut, max_failure: 2}\n",
        r"3:14: parameter 'hba1c_target': expected number, got 'haut'\n"
        r".*:3:34: unknown parameter 'max_failure'; did you mean 'max_failures'\?"),
    "not-eligible": (
        "patient: {birth_date: 2015-06-14}\nstart: 2026-01-05\n",
        r"1:10: the patient \(age 10 on 2026-01-05\) is not eligible for this pathway: "
        r"patient.age >= params.age_min"),
    "yaml-syntax": (
        "patient: {birth_date: 1958-06-14, sex: F\nstart: 2026-01-05T09:00\n",
        r"1:10: YAML syntax error: the mapping opened here with '\{' is not closed"),
    "not-a-mapping": (
        "- at: 2026-01-05\n",
        r"1:1: a timeline must be a mapping with keys patient, parameters, start, steps, end"),
}


@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", list(BAD_TIMELINES))
def test_bad_timeline_exits_1_with_file_line_col(name: str, json_output: bool, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    content, message = BAD_TIMELINES[name]
    path = tmp_path / f"{name}.timeline.yaml"
    path.write_text(content, encoding="utf-8")
    argv = ["run", PATHWAY, "--timeline", str(path)] + (["--json"] if json_output else [])
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert re.match(re.escape(str(path)) + ":" + message, err), err
    assert "Traceback" not in out + err
    if json_output:
        assert out == ""


def test_impossible_date_is_reported_at_its_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "impossible-date.timeline.yaml"
    path.write_text(PATIENT + "steps:\n  - {at: 2026-13-01, observe: hba1c, value: 7}\n",
                    encoding="utf-8")
    assert main(["run", PATHWAY, "--timeline", str(path)]) == 1
    _, err = capsys.readouterr()
    assert err.startswith(f"{path}:4:10: ")


def test_missing_timeline_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.yaml"
    assert main(["run", PATHWAY, "--timeline", str(path)]) == 1
    assert capsys.readouterr().err == (f"{path}:1:1: cannot read file: No such file or "
                                       "directory [file]\n")


def test_invalid_pathway_is_reported_before_the_timeline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pathway = tmp_path / "broken.yaml"
    pathway.write_text("key: x\nversion: 1\n", encoding="utf-8")
    assert main(["run", str(pathway), "--timeline", TIMELINE]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{pathway}:1:1: missing required key")


def test_the_command_line_prints_no_traceback(tmp_path: Path) -> None:
    content, _ = BAD_TIMELINES["observation-value-type"]
    path = tmp_path / "bad.timeline.yaml"
    path.write_text(content, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", PATHWAY, "--timeline",
                           str(path)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{path}:5:45: step 2")
