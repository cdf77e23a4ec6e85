"""Cohort simulation: deterministic for a seed, French tables of workload and states."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from engine.authoring.lifecycle import Setting
from engine.authoring.simulate import Plan, Progress, report, run_cohort
from engine.pathway.loader import load_file
from flows.cli import main

ROOT = Path(__file__).resolve().parents[1]
DIABETES = str(ROOT / "pathways" / "diabete-type2.yaml")
PATHWAYS = ["diabete-type2", "insuffisance-cardiaque-65", "hospitalisation-sujet-age"]


def _report(path: str, patients: int, years: float, seed: int, jobs: int = 1) -> str:
    pathway = load_file(path)
    cohort = run_cohort(path, pathway, patients, years, seed, jobs=jobs)
    return report(pathway, cohort, Plan(path, seed, years))


def test_same_seed_same_output_other_seed_other_output() -> None:
    first = _report(DIABETES, 40, 1, seed=7)
    assert _report(DIABETES, 40, 1, seed=7) == first
    assert _report(DIABETES, 40, 1, seed=8) != first


def test_output_has_roles_months_and_states() -> None:
    text = _report(DIABETES, 40, 1, seed=3)
    assert "Tâches créées par rôle et par mois" in text
    for title in ("Médecin traitant", "Infirmier·ère", "Pédicure-podologue",
                  "Chirurgien-dentiste", "Ophtalmologue ou orthoptiste"):
        assert title in text
    for month in ("janv. 2027", "juin 2027", "déc. 2027", "Moyenne par mois"):
        assert month in text
    assert "janv. 2028" not in text                # one year: twelve months
    assert "États au 01/01/2028" in text
    assert "suivi.glycemie." in text and "suivi.bilans.programme" in text


def test_the_workload_adds_up() -> None:
    pathway = load_file(DIABETES)
    cohort = run_cohort(DIABETES, pathway, 30, 1, seed=2, jobs=1)
    assert cohort.patients == 30 and cohort.refused == 0
    # at enrolment every patient gets the six GP tasks of the first month
    assert cohort.created[(0, "medecin_traitant")] >= 6 * 30
    # every open case has one atomic state in each of the eight regions (version 2 added the
    # lower-limb Doppler and sophia regions)
    open_cases = 30 - sum(cohort.closed.values())
    assert sum(cohort.states.values()) == 8 * open_cases


@pytest.mark.parametrize("key", PATHWAYS)
def test_each_pathway_simulates_without_refused_events(key: str) -> None:
    path = str(ROOT / "pathways" / f"{key}.yaml")
    cohort = run_cohort(path, load_file(path), 60, 2, seed=1, jobs=1)
    assert cohort.patients == 60 and cohort.refused == 0
    assert sum(cohort.created.values()) > 60


def test_worker_processes_give_the_same_result_as_one_process() -> None:
    assert _report(DIABETES, 420, 0.5, seed=5, jobs=2) == _report(DIABETES, 420, 0.5, seed=5)


def test_synthetic_patients_meet_the_eligibility() -> None:
    import random

    path = str(ROOT / "pathways" / "hospitalisation-sujet-age.yaml")
    plan = Plan(path, 1, 1)
    setting = Setting.of(load_file(path), plan.start, plan.end)
    rng = random.Random(1)
    ages = [setting.subject(rng, plan.start).age_at(plan.start) for _ in range(50)]
    assert min(a for a in ages if a is not None) >= 75


def test_progress_bar() -> None:
    stream = io.StringIO()
    bar = Progress(200, stream, width=10)
    bar.update(100)
    bar.update(1)          # same percentage band: not redrawn
    bar.update(99)
    bar.done()
    assert stream.getvalue() == ("\r[█████░░░░░]  50 % 100/200 patients"
                                 "\r[██████████] 100 % 200/200 patients\n")


def test_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", DIABETES, "--patients", "25", "--years", "1", "--seed", "4",
                 "--jobs", "1"]) == 0
    captured = capsys.readouterr()
    assert "25 patients synthétiques" in captured.out and "Total" in captured.out
    assert "100 % 25/25 patients" in captured.err
    assert main(["simulate", DIABETES, "--patients", "0", "--years", "1"]) == 2
