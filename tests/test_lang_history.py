"""Observation history in guards: ``history.KEY.min/max/count/any(within=…)``, ``last(n)``,
``last_date``, and the bounded history the case keeps for them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from engine.case import Case, Event, ObservationValue, Outcome, Subject
from engine.clock import PARIS
from engine.pathway import load_file
from engine.pathway.compiler import CompiledPathway
from engine.runtime import Runtime

DATA = Path(__file__).parent / "data" / "runtime"
PATIENT = Subject()
START = datetime(2026, 3, 2, 8, tzinfo=PARIS)


def compiled() -> CompiledPathway:
    return load_file(str(DATA / "history.yaml"))


def feed(rt: Runtime, case: Case, key: str, *values: tuple[int, float]) -> tuple[Case, Outcome]:
    out = None
    for day, value in values:
        out = rt.apply(case, Event(f"observation:{key}", START + timedelta(days=day), value),
                       PATIENT)
        case = out.case
    assert out is not None
    return case, out


def test_compiler_finds_what_the_guards_read() -> None:
    needs = compiled().history
    assert set(needs) == {"poids", "hba1c", "ntprobnp"}  # not creatinine: no guard reads it
    assert needs["poids"].windows == {"params.fenetre_poids"}
    assert needs["hba1c"].counts == {1, "params.nb_hba1c"}
    assert needs["hba1c"].windows == {"P2Y"}


def test_weight_alert_compares_with_the_lowest_weight_of_the_window() -> None:
    rt = Runtime(compiled())
    case = rt.start(PATIENT, START).case
    # 70 kg on day 0, 71 on day 3, 72.5 on day 6: +2.5 kg over the lowest of 7 days
    case, _ = feed(rt, case, "poids", (0, 70.0), (3, 71.0), (6, 72.5))
    assert case.facts["poids_min"] == 70.0 and case.facts["alerte_poids"] is True
    # day 8: day 0 has left the 7-day window, so the lowest is 71 and +1.5 kg is no alert
    case, _ = feed(rt, case, "poids", (8, 72.5))
    assert case.facts["poids_min"] == 71.0 and case.facts["alerte_poids"] is False


def test_window_is_a_parameter_the_cpts_may_override() -> None:
    rt = Runtime(compiled(), {"fenetre_poids": "P14D"})
    case = rt.start(PATIENT, START).case
    case, _ = feed(rt, case, "poids", (0, 70.0), (8, 72.5))
    assert case.facts["poids_min"] == 70.0 and case.facts["alerte_poids"] is True


def test_last_n_values_and_last_date() -> None:
    rt = Runtime(compiled())
    case = rt.start(PATIENT, START).case
    case, _ = feed(rt, case, "hba1c", (0, 7.5), (90, 7.8))
    assert case.facts["hba1c_hautes"] is False  # only two values
    case, _ = feed(rt, case, "hba1c", (180, 7.2))
    assert case.facts["hba1c_hautes"] is True
    assert case.facts["derniere_hba1c"] == START + timedelta(days=180)
    case, _ = feed(rt, case, "hba1c", (270, 6.8))
    assert case.facts["hba1c_hautes"] is False  # the latest three are not all above 7


def test_any_above_within_a_window() -> None:
    rt = Runtime(compiled())
    case = rt.start(PATIENT, START).case
    case, _ = feed(rt, case, "ntprobnp", (0, 900))
    case, _ = feed(rt, case, "ntprobnp", (10, 120))
    assert case.facts["bnp_eleve_recent"] is True   # a low result does not erase a high one
    case, _ = feed(rt, case, "ntprobnp", (40, 100))
    assert case.facts["bnp_eleve_recent"] is False  # the high one is older than a month


def test_the_case_keeps_only_what_guards_can_read() -> None:
    rt = Runtime(compiled())
    case = rt.start(PATIENT, START).case
    case, _ = feed(rt, case, "poids", *[(day, 70.0 + day / 10) for day in range(30)])
    kept = case.history["poids"]
    # a 7-day window ending on day 29: days 22..29 (8 calendar days), newest first
    assert [e.at.day for e in kept] == [(START + timedelta(days=d)).day
                                        for d in range(29, 21, -1)]
    case, _ = feed(rt, case, "hba1c", *[(day * 30, 7.0) for day in range(40)])
    assert len(case.history["hba1c"]) <= 26  # two years of monthly values, not forty
    case, _ = feed(rt, case, "creatinine", (1300, 80.0))
    assert "creatinine" not in case.history


def test_late_result_takes_its_place_by_date() -> None:
    rt = Runtime(compiled())
    case = rt.start(PATIENT, START).case
    case, _ = feed(rt, case, "hba1c", (0, 7.5), (180, 7.8))
    case, _ = feed(rt, case, "hba1c", (90, 7.1))  # a result dated earlier, arriving late
    assert [e.value for e in case.history["hba1c"]] == [7.8, 7.1, 7.5]


def test_enrolment_starts_from_the_latest_value_on_record() -> None:
    rt = Runtime(compiled())
    subject = Subject(observations={"hba1c": ObservationValue(8.2, START - timedelta(days=5))})
    case = rt.start(subject, START).case
    assert [e.value for e in case.history["hba1c"]] == [8.2]
    assert "poids" not in case.history


def test_history_survives_serialisation() -> None:
    rt = Runtime(compiled())
    case = rt.start(PATIENT, START).case
    case, _ = feed(rt, case, "poids", (0, 70.0), (3, 71.0))
    back = Case.from_dict(case.to_dict())
    assert back.history == case.history
    assert Case.from_dict({k: v for k, v in case.to_dict().items()
                           if k != "history"}).history == {}


def test_a_pathway_that_reads_no_history_keeps_none() -> None:
    plain = load_file(str(DATA / "timers.yaml"))
    assert plain.history == {}
    rt = Runtime(plain)
    assert rt.start(PATIENT, START).case.history == {}
