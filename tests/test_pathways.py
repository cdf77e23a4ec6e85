"""The CPTS pathways (``pathways/*.yaml``): valid, drawable, traceable to the clinical notes.

Every clinical value and delay must be a named parameter with a source or
marked as a CPTS choice; the thresholds named in the issue must hold the
values of ``clinical-notes.md``; task titles and descriptions must be French
and say what to do, for whom, by when.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from engine.pathway.compiler import CompiledPathway
from engine.pathway.diagram import to_dot, to_mermaid
from engine.pathway.loader import check_file, check_text, load_file
from engine.store.careteam import ROLES

ROOT = Path(__file__).resolve().parents[1]
PATHWAYS = sorted((ROOT / "pathways").glob("*.yaml"))
IDS = [p.stem for p in PATHWAYS]
#: LOINC codes of clinical-notes.md §4, with the observation keys that must use them
LOINC = {"4548-4": "HbA1c", "33762-6": "NT-proBNP", "30934-4": "BNP", "62238-1": "eGFR",
         "9318-7": "urine albumin/creatinine", "29463-7": "body weight"}


@pytest.fixture(scope="module", params=PATHWAYS, ids=IDS)
def pathway(request: pytest.FixtureRequest) -> CompiledPathway:
    return load_file(str(request.param))


def test_the_three_cpts_pathways_are_there() -> None:
    assert {"diabete-type2", "insuffisance-cardiaque-65", "hospitalisation-sujet-age"} <= \
        set(IDS)


@pytest.mark.parametrize("path", PATHWAYS, ids=IDS)
def test_validates(path: Path) -> None:
    _, problems = check_file(str(path))
    errors = [p for p in problems if p.is_error]  # warnings are for the pathway's authors
    assert not errors, "\n".join(map(str, errors))


def test_draws_as_mermaid_and_dot(pathway: CompiledPathway) -> None:
    mermaid, dot = to_mermaid(pathway), to_dot(pathway)
    assert mermaid.startswith("stateDiagram-v2") and dot.lstrip().startswith("digraph")
    for sid in pathway.states:
        assert sid.replace(".", "__") in mermaid


def test_every_parameter_has_a_source_or_is_a_cpts_choice(pathway: CompiledPathway) -> None:
    definition = pathway.definition
    for name, parameter in definition.parameters.items():
        assert parameter.source or parameter.cpts_choice, f"{name}: no source, no cpts_choice"
        assert parameter.source is None or parameter.source in definition.sources, name
        assert parameter.description.strip(), name


def test_every_source_is_cited_by_a_parameter(pathway: CompiledPathway) -> None:
    cited = {p.source for p in pathway.definition.parameters.values()}
    assert set(pathway.definition.sources) <= cited


def test_every_delay_is_a_parameter(pathway: CompiledPathway) -> None:
    """No duration literal: task delays and timers name a parameter."""
    parameters = pathway.definition.parameters
    delays = [d for t in pathway.tasks.values() for d in (t.due, t.reminder, t.escalation) if d]
    delays += [t.delay for s in pathway.states.values() for t in s.timers]
    for delay in delays:
        assert delay in parameters and parameters[delay].type == "duration", delay


_FRENCH_VERB = re.compile(r"^[A-ZÉÈÀ][a-zéèêàâîôûç'’-]*(er|ir|re|oir)\b")


def test_tasks_are_french_and_say_what_for_whom_by_when(pathway: CompiledPathway) -> None:
    for key, task in pathway.tasks.items():
        assert _FRENCH_VERB.match(task.title), f"{key}: title should start with a French " \
                                               f"verb: {task.title!r}"
        assert task.description and task.description.strip().startswith("Pour "), key
        text = task.description.lower()
        assert re.search(r"dans (les?|la|l')|le lendemain|jours?|semaine|mois|heures", text), \
            f"{key}: the description should say by when"


def test_roles_are_care_team_roles(pathway: CompiledPathway) -> None:
    assert set(pathway.definition.roles) <= set(ROLES)
    assert {t.role for t in pathway.tasks.values()} <= set(pathway.definition.roles)


def test_observations_use_the_loinc_codes_of_the_notes(pathway: CompiledPathway) -> None:
    for key, obs in pathway.definition.observations.items():
        assert obs.code in LOINC, f"{key}: {obs.code} is not a LOINC code of the notes"
        assert obs.minimum is not None and obs.maximum is not None
        assert obs.minimum < obs.maximum, key


def test_every_top_level_state_can_end_by_an_exit_event(pathway: CompiledPathway) -> None:
    finals = {s for s, state in pathway.states.items() if state.top_final}
    exits = [t for t in pathway.transitions.values() if t.target in finals]
    assert exits and all(t.event in pathway.definition.events for t in exits)
    motif = pathway.definition.events[exits[0].event].data["motif"]
    assert {"deces", "demenagement", "retrait_consentement"} <= set(motif.choices or [])


# -- thresholds and intervals of clinical-notes.md ------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = {
    "diabete-type2": {
        "hba1c_intervalle": "P3M", "cible_generale": 7.0, "cible_diagnostic_recent": 6.5,
        "cible_comorbidite": 8.0, "cible_age_vigoureux": 7.0, "cible_age_fragile": 8.0,
        "cible_age_malade": 9.0, "cible_irc_3": 7.0, "cible_irc_4_5": 8.0,
        "retino_intervalle": "P1Y", "pieds_intervalle": "P1Y",
        "podologie_intervalle_grade_2": "P3M", "podologie_intervalle_grade_3": "P2M",
        "bilans_intervalle": "P1Y", "dentaire_intervalle": "P1Y",
        "insuline_point_1": "P1M", "insuline_point_2": "P3M", "code_diabete_t2": "44054006",
        "age_doppler": 40, "duree_diabete_doppler": 20, "doppler_intervalle": "P5Y",
        "delivrances_min_sophia": 3},
    "insuffisance-cardiaque-65": {
        "age_min": 65, "seuil_signes_epof": 2, "seuil_nt_probnp": 125, "seuil_bnp": 35,
        "delai_visite_infirmiere": "P7D", "delai_visite_medecin": "P7D",
        "delai_cardiologue": "P2M", "intervalle_infirmier_hebdo": "P1W",
        "duree_infirmier_hebdo": "P2M", "intervalle_infirmier_quinzaine": "P2W",
        "duree_infirmier_quinzaine": "P4M", "prise_poids_alerte": 3, "fenetre_prise_poids": "P7D",
        "seuil_nt_probnp_aigu": 300, "seuil_bnp_aigu": 100, "visites_nyha_3_4": 15},
    "hospitalisation-sujet-age": {
        "age_min": 75, "delai_visite_medecin": "P7D", "veille_readmission": "P30D",
        "delai_verification_lettre": "P1D", "gir_max_apa": 4},
}
CPTS_CHOICES = {
    "diabete-type2": ["echecs_avant_avis", "hygiene_vie_intervalle", "age_personne_agee"],
    "insuffisance-cardiaque-65": ["intervalle_depistage", "delai_echo_cardiologue",
                                  "escalade_echo", "renouvellement_echo", "abandon_consultation",
                                  "abandon_peptides", "motif_decompensation"],
    "hospitalisation-sujet-age": ["age_min", "delai_visite_medecin", "delai_conciliation",
                                  "delai_apa", "delai_dac"],
}
CASES = [(key, name, value) for key, values in EXPECTED.items() for name, value in values.items()]


@pytest.mark.parametrize(("key", "name", "value"), CASES,
                         ids=[f"{k}:{n}" for k, n, _ in CASES])
def test_clinical_values_are_parameters_with_the_notes_value(key: str, name: str,
                                                             value: Any) -> None:
    parameter = load_file(str(ROOT / "pathways" / f"{key}.yaml")).definition.parameters[name]
    assert parameter.default == value
    assert parameter.source is not None, f"{key}:{name} must cite its source"


@pytest.mark.parametrize("key", sorted(CPTS_CHOICES))
def test_cpts_choices_of_the_notes_are_marked(key: str) -> None:
    parameters = load_file(str(ROOT / "pathways" / f"{key}.yaml")).definition.parameters
    for name in CPTS_CHOICES[key]:
        assert parameters[name].cpts_choice, f"{key}:{name} is a CPTS choice in the notes"


def test_hba1c_target_table_is_selected_by_the_gp_profile() -> None:
    """Each HAS 2013 profile the GP can choose maps to a target parameter."""
    definition = load_file(str(ROOT / "pathways" / "diabete-type2.yaml")).definition
    profiles = definition.tasks["fixer_cible_hba1c"].result["profil"].choices or []
    assert profiles == definition.events["changer_cible"].data["profil"].choices
    for profile in profiles:
        assert f"cible_{profile}" in definition.parameters


# -- the guard language reads a literal mapping indexed by a computed key -------------------

_LOOKUP = """\
key: lookup
version: 1
title: Table de cibles
parameters:
  a: {type: number, default: 1, description: A, cpts_choice: true}
  b: {type: number, default: 2, description: B, cpts_choice: true}
facts:
  cible: {type: number}
events:
  choisir:
    title: Choisir
    data: {profil: {type: choice, choices: [a, b]}}
initial: s
states:
  s:
    transitions:
      - on: choisir
        set: {cible: "{'a': params.a, 'b': params.%s}[event.data.profil]"}
      - {on: choisir, to: fin}
  fin: {final: true}
"""


def test_a_mapping_lookup_validates() -> None:
    _, problems = check_text(_LOOKUP % "b")
    assert not problems


def test_a_mapping_lookup_still_checks_the_names_inside() -> None:
    _, problems = check_text(_LOOKUP % "bb")
    assert [p.check for p in problems] == ["unknown-name"]
    assert "unknown parameter 'bb'" in problems[0].message
