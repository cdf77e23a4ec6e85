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


@pytest.mark.parametrize("file", FILES, ids=[_id(f) for f in FILES])
def test_scenario(file: str) -> None:
    result = run_file(file)
    assert result.ok, f"{result.title}\n" + "\n".join(map(str, result.failures))
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
           "assignee Dr Paul Martin, due 2026-03-16 09:00" in messages[1]


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
