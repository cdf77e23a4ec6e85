"""Scenario tests written in YAML by pathway authors, one test per file; and the runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.authoring.scenarios import run_file, scenario_files
from flows.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "pathways" / "scenarios"
FILES = list(scenario_files([str(SCENARIOS)]))


def _id(file: str) -> str:
    return str(Path(file).relative_to(SCENARIOS)).removesuffix(".scenario.yaml")


@pytest.fixture(params=["sqlite", "postgresql"])
def scenario_db(request: pytest.FixtureRequest) -> str | None:
    """None (a fresh SQLite file per scenario) or this session's PostgreSQL database."""
    return None if request.param == "sqlite" else request.getfixturevalue("pg_database")


@pytest.mark.parametrize("file", FILES, ids=[_id(f) for f in FILES])
def test_scenario(file: str, scenario_db: str | None) -> None:
    """Strict xfail: a scenario marked ``xfail: reason`` must fail, and is reported so."""
    result = run_file(file, scenario_db)
    failures = "\n".join(map(str, result.failures))
    if result.xfail is not None:
        assert not result.ok, f"{result.title}: passes, remove 'xfail: {result.xfail}'"
        pytest.xfail(result.xfail)
    assert result.ok, f"{result.title}\n{failures}"
    assert result.checks > 0


@pytest.mark.parametrize("pathway", ["diabete-type2", "insuffisance-cardiaque-65",
                                     "hospitalisation-sujet-age"])
def test_each_pathway_has_at_least_eight_scenarios(pathway: str) -> None:
    assert len(list((SCENARIOS / pathway).glob("*.scenario.yaml"))) >= 8


# -- the runner ------------------------------------------------------------------------------

HOSPITAL = ROOT / "pathways" / "hospitalisation-sujet-age.yaml"
SCENARIO = f"""\
scenario: Sortie sans infirmier·ère
pathway: {HOSPITAL}
patient: {{birth_date: 1940-01-01, sex: F}}
care_team: {{medecin_traitant: Dr Paul Martin, infirmier: null}}
start: 2026-03-02
steps:
  - {{at: 2026-03-03, event: admission}}
  - at: 2026-03-09
    event: discharge
    expect:
      states: [retour_domicile]
      tasks:
        - {{key: visite_infirmiere_sortie, assignee: %s, unassigned: true, due: 2026-03-12}}
        - {{key: visite_medecin_sortie, assignee: Dr Paul Martin, due: %s}}
      facts: {{en_veille: true}}
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "essai.scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_empty_role_goes_to_the_coordinator_flagged(tmp_path: Path) -> None:
    result = run_file(_write(tmp_path, SCENARIO % ("coordinateur", "2026-03-16")))
    assert result.ok, "\n".join(map(str, result.failures))
    assert result.checks == 4


def test_a_difference_is_reported_with_its_line_date_expected_and_found(tmp_path: Path) -> None:
    file = _write(tmp_path, SCENARIO % ("Anne Bernard", "2026-03-17"))
    result = run_file(file)
    messages = [str(f) for f in result.failures]
    assert len(messages) == 2
    assert messages[0].startswith(f"{file}:13:11: at 2026-03-09 09:00: open task "
                                  "'visite_infirmiere_sortie': expected assignee Anne Bernard")
    assert "found role infirmier, assignee coordinateur, unassigned" in messages[0]
    assert messages[1].startswith(f"{file}:14:11: ")
    assert "expected assignee Dr Paul Martin, due 2026-03-17; found role medecin_traitant, " \
           "assignee Dr Paul Martin, due 2026-03-16 23:59" in messages[1]


def test_a_wrong_key_is_reported_at_its_line(tmp_path: Path) -> None:
    file = _write(tmp_path, SCENARIO.replace("facts:", "fact:") % ("coordinateur", "2026-03-16"))
    result = run_file(file)
    assert [str(f) for f in result.failures] == [
        f"{file}:15:7: unknown key 'fact' in steps.1.expect.fact [scenario]"]


def test_a_refused_step_stops_the_scenario(tmp_path: Path) -> None:
    text = SCENARIO.replace("event: discharge", "complete: visite_medecin_sortie")
    result = run_file(_write(tmp_path, text % ("coordinateur", "2026-03-16")))
    assert len(result.failures) == 1
    assert "the step was refused: no open task 'visite_medecin_sortie' to complete; open " \
           "tasks: preparer_sortie, transmettre_lettre_liaison" in str(result.failures[0])


def test_a_step_does_one_thing(tmp_path: Path) -> None:
    text = SCENARIO.replace("event: discharge", "event: discharge\n    complete: x")
    result = run_file(_write(tmp_path, text % ("coordinateur", "2026-03-16")))
    assert "a step does one thing" in str(result.failures[0])


def test_parcours_test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, SCENARIO % ("coordinateur", "2026-03-16"))
    assert main(["test", good]) == 0
    assert "ok " in capsys.readouterr().out
    bad = tmp_path / "faux.scenario.yaml"
    bad.write_text(SCENARIO % ("personne", "2026-03-16"), encoding="utf-8")
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "ÉCHEC" in out and "faux.scenario.yaml:13:11:" in out


# -- the format's newer expectations ------------------------------------------------------------

HEART = ROOT / "pathways" / "insuffisance-cardiaque-65.yaml"
FOLLOW_UP = f"""\
scenario: Suivis de sortie relancés puis signalés
pathway: {HOSPITAL}
patient: {{birth_date: 1940-01-01, sex: F}}
care_team: {{medecin_traitant: Dr Paul Martin, infirmier: Anne Bernard,
             coordinateur: Claire Roux}}
start: 2026-03-02
steps:
  - at: 2026-03-03
    event: admission
    expect:
      notifications: [{{role: infirmier, to: Anne Bernard, contains: hospitalisé}}]
  - at: 2026-03-09
    event: discharge
    expect:
      notifications: []
      task_status: {{preparer_sortie: cancelled}}
      tasks:
        - {{key: visite_infirmiere_sortie, count: 1}}
        - {{key: reclamer_lettre_liaison, at_most: 0}}
  - at: 2026-03-11T10:00
    expect:
      notifications:
        - {{kind: rappel, task: visite_infirmiere_sortie, to: Anne Bernard, count: 1}}
        - {{kind: escalade, task: visite_infirmiere_sortie, at_most: 0}}
        - {{kind: escalade, task: verifier_lettre_liaison, to: Claire Roux}}
  - at: 2026-03-13T10:00
    expect:
      notifications:
        - {{kind: escalade, task: visite_infirmiere_sortie, to: Claire Roux}}
        - {{kind: rappel, task: visite_infirmiere_sortie, count: 0}}
  - at: 2026-03-14
    complete: visite_infirmiere_sortie
    expect:
      notifications: [{{kind: escalade, count: 0}}]
      task_status: {{visite_infirmiere_sortie: %s}}
      created: {{visite_infirmiere_sortie: {{at_most: 1}}, visite_medecin_sortie: {{at_least: 1}}}}
"""


@pytest.mark.parametrize("status", ["completed"])
def test_reminders_escalations_step_messages_statuses_and_bounds(
        tmp_path: Path, scenario_db: str | None, status: str) -> None:
    result = run_file(_write(tmp_path, FOLLOW_UP % status), scenario_db)
    assert result.ok, "\n".join(map(str, result.failures))
    assert result.checks == 14


def test_the_new_expectations_can_fail(tmp_path: Path) -> None:
    text = (FOLLOW_UP % "cancelled").replace("{at_most: 1}", "{at_most: 0}") \
                .replace("{kind: escalade, task: visite_infirmiere_sortie, at_most: 0}",
                 "{kind: rappel, at_most: 0}")
    text = text.replace("sortie, count: 1}", "sortie, count: 2}")
    result = run_file(_write(tmp_path, text))
    messages = "\n".join(map(str, result.failures))
    assert len(result.failures) == 4, messages
    assert "expected 2 open task(s) 'visite_infirmiere_sortie', found 1" in messages
    assert "expected at most 0 message(s) kind rappel" in messages
    assert "expected the latest task 'visite_infirmiere_sortie' to be cancelled; it is " \
           "completed" in messages
    assert "expected at most 0 task(s) 'visite_infirmiere_sortie' created since enrolment, " \
           "found 1" in messages


SEVERAL = f"""\
scenario: Patiente suivie dans deux parcours
pathway: {HOSPITAL}
also_enrolled: [{HEART}]
patient: {{birth_date: 1940-01-01, sex: F}}
care_team: {{medecin_traitant: Dr Paul Martin, infirmier: Anne Bernard}}
start: 2026-03-02
steps:
  - at: 2026-03-03
    event: admission
    expect:
      - {{states: [hospitalise]}}
      - pathway: insuffisance-cardiaque-65
        states: [reperage]
        tasks: [{{key: reperage_epof_infirmier, assignee: Anne Bernard}}]
        notifications: []
  - at: 2026-03-04
    complete: reperage_epof_infirmier
    result: {{essoufflement: true, prise_de_poids: true, oedemes: false, fatigue: false}}
    expect:
      - {{pathway: insuffisance-cardiaque-65, states: [consultation]}}
      - {{pathway: {'%s'}, states: [hospitalise]}}
"""


def test_a_patient_in_several_pathways(tmp_path: Path, scenario_db: str | None) -> None:
    result = run_file(_write(tmp_path, SEVERAL % "hospitalisation-sujet-age"), scenario_db)
    assert result.ok, "\n".join(map(str, result.failures))
    assert result.checks == 6
    wrong = run_file(_write(tmp_path, SEVERAL % "diabete-type2"))
    assert [str(f).split(": ", 1)[1] for f in wrong.failures] == [
        "no case in pathway 'diabete-type2'; the patient is enrolled in "
        "insuffisance-cardiaque-65, hospitalisation-sujet-age [scenario]"]


def test_xfail_is_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failing = SCENARIO % ("personne", "2026-03-16")
    xfailed = _write(tmp_path, "xfail: needs outliving tasks\n" + failing)
    result = run_file(xfailed)
    assert result.outcome == "xfailed" and result.as_expected
    assert main(["test", xfailed]) == 0
    assert "xfail   " in capsys.readouterr().out
    xpassed = _write(tmp_path, "xfail: needs outliving tasks\n" + SCENARIO % ("coordinateur",
                                                                              "2026-03-16"))
    assert run_file(xpassed).outcome == "xpassed"
    assert main(["test", xpassed]) == 1
    out, err = capsys.readouterr()
    assert "réussi alors qu'un échec est attendu (xfail : needs outliving tasks)" in out
    assert "1 en échec" in err
