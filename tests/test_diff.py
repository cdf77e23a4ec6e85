"""``engine.pathway.diff`` and ``parcours pathways diff``: each category added, removed and
changed on a small pathway, and the real v1 → v2 of the three CPTS pathways (v1 as it was in
git at b59ef1b, before the pathways' second versions; kept in tests/data/versions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.pathway.diff import CATEGORIES, ELIGIBILITY, diff, to_data, to_text
from engine.pathway.loader import load_file, load_text
from flows.cli import main

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ROOT / "tests" / "data" / "versions"

BASE = """\
key: petit
version: 1
title: Petit parcours
eligibility: "patient.age >= params.age_min"
parameters:
  age_min: {type: integer, default: 18, description: Âge minimal}
  delai: {type: duration, default: P1M, description: Délai}
roles:
  medecin: {title: Médecin}
tasks:
  voir: {title: Voir le patient, role: medecin, due: delai}
initial: attente
states:
  attente:
    timers:
      rappel: {after: P3M}
    transitions:
      - on: timer:rappel
        to: visite
  visite:
    on_enter:
      tasks: [voir]
    transitions:
      - on: task_completed:voir
        guard: "facts.n > 0"
        to: fin
      - on: task_completed:voir
        to: attente
  fin:
    final: true
facts:
  n: {type: integer, default: 0}
"""


def changed(old: str, new: str) -> dict[str, set[str]]:
    """Category:kind → ids, for the categories and kinds that are not empty."""
    d = diff(load_text(old, "old.yaml"), load_text(new, "new.yaml"))
    out: dict[str, set[str]] = {}
    for c in d.changes:
        out.setdefault(f"{c.category}:{c.kind}", set()).add(c.id)
    return out


def edit(*pairs: tuple[str, str]) -> str:
    text = BASE
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_a_pathway_has_no_difference_with_itself() -> None:
    d = diff(load_text(BASE), load_text(BASE))
    assert not d and d.changes == ()
    assert "aucune différence" in to_text(d)


CASES = {
    "state-added": (edit(("  fin:\n    final: true\n", "  fin:\n    final: true\n"
                          "  pause:\n    ongoing: true\n"
                          "    transitions:\n      - on: sortie\n        to: attente\n"),
                         ("        to: visite\n", "        to: visite\n"
                          "      - on: sortie\n        to: pause\n"),
                         ("roles:", "events:\n  sortie: {title: Sortie}\nroles:")),
                    {"states:added": {"pause"},
                     "transitions:added": {"attente --sortie--> pause",
                                           "pause --sortie--> attente"}}),
    "state-removed": (None, {"states:removed": {"pause"},
                             "transitions:removed": {"attente --sortie--> pause",
                                                     "pause --sortie--> attente"}}),
    "state-changed": (edit(("  visite:\n", "  visite:\n    title: Visite\n")),
                      {"states:changed": {"visite"}}),
    "transition-added": (edit(("        to: visite\n", "        to: visite\n"
                               "      - on: timer:rappel\n        to: fin\n")),
                         {"transitions:added": {"attente --timer:rappel--> fin"}}),
    "transition-removed": (edit(("      - on: task_completed:voir\n        to: attente\n", "")),
                           {"transitions:removed": {"visite --task_completed:voir--> attente"}}),
    "transition-changed": (edit(("        to: visite\n", "        to: visite\n"
                                 "        set: {n: 1}\n")),
                           {"transitions:changed": {"attente --timer:rappel--> visite"}}),
    "task-added": (edit(("tasks:\n", "tasks:\n  appeler: {title: Appeler, role: medecin, "
                         "due: P7D}\n"), ("      tasks: [voir]", "      tasks: [voir, appeler]")),
                   {"tasks:added": {"appeler"}, "states:changed": {"visite"}}),
    "task-removed": (None, {"tasks:removed": {"appeler"}, "states:changed": {"visite"}}),
    "task-changed": (edit(("due: delai}", "due: P15D}")), {"tasks:changed": {"voir"}}),
    "timer-added": (edit(("      rappel: {after: P3M}\n", "      rappel: {after: P3M}\n"
                          "      relance: {every: P1M}\n")),
                    {"timers:added": {"attente/relance"}}),
    "timer-removed": (None, {"timers:removed": {"attente/relance"}}),
    "timer-changed": (edit(("rappel: {after: P3M}", "rappel: {after: P6M}")),
                      {"timers:changed": {"attente/rappel"}}),
    "parameter-added": (edit(("parameters:\n", "parameters:\n  seuil: {type: number, "
                              "default: 7, description: Seuil}\n")),
                        {"parameters:added": {"seuil"}}),
    "parameter-removed": (None, {"parameters:removed": {"seuil"}}),
    "parameter-changed": (edit(("default: P1M", "default: P2M")),
                          {"parameters:changed": {"delai"}}),
    "guard-added": (edit(("        to: attente\n", "        guard: \"facts.n == 0\"\n"
                          "        to: attente\n")),
                    {"guards:added": {"visite --task_completed:voir--> attente"}}),
    "guard-removed": (None, {"guards:removed": {"visite --task_completed:voir--> attente"}}),
    "guard-changed": (edit(("facts.n > 0", "facts.n > 1")),
                      {"guards:changed": {"visite --task_completed:voir--> fin"}}),
    "eligibility-changed": (edit(('"patient.age >= params.age_min"',
                                  '"patient.age >= params.age_min + 1"')),
                            {"guards:changed": {ELIGIBILITY}}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_category_added_removed_changed(case: str) -> None:
    new, expected = CASES[case]
    if new is None:  # the reverse of the "…-added" case: removed
        added = CASES[case.replace("removed", "added")][0]
        assert added is not None
        assert changed(added, BASE) == expected
    else:
        assert changed(BASE, new) == expected


def test_json_lists_every_category() -> None:
    data = to_data(diff(load_text(BASE), load_text(edit(("facts.n > 0", "facts.n > 1")))))
    assert set(CATEGORIES) <= set(data)
    assert data["guards"]["changed"] == [{"id": "visite --task_completed:voir--> fin",
                                          "fields": {"guard": {"old": "facts.n > 0",
                                                               "new": "facts.n > 1"}}}]
    assert data["states"] == {"added": [], "removed": [], "changed": []}


def test_french_text_names_what_changed() -> None:
    text = to_text(diff(load_text(BASE), load_text(edit(("default: P1M", "default: P2M")))))
    assert text.splitlines()[0] == "Parcours petit : version 1 → version 1"
    assert "Paramètres (1 modifié(s))" in text
    assert "~ delai : modifié" in text and "default : 'P1M' → 'P2M'" in text


# -- the real pathways, v1 → v2 ---------------------------------------------------------------

KEYS = ["diabete-type2", "insuffisance-cardiaque-65", "hospitalisation-sujet-age"]


@pytest.mark.parametrize("key", KEYS)
def test_real_v1_to_v2_is_the_reverse_of_v2_to_v1(key: str) -> None:
    v1, v2 = (load_file(str(VERSIONS / f"{key}.v{n}.yaml")) for n in (1, 2))
    forward, backward = diff(v1, v2), diff(v2, v1)
    assert forward and (forward.old_version, forward.new_version) == (1, 2)
    for category in CATEGORIES:
        assert forward.ids(category, "added") == backward.ids(category, "removed")
        assert forward.ids(category, "changed") == backward.ids(category, "changed")


def test_diabetes_v1_to_v2_shows_the_issue_10_changes() -> None:
    d = diff(load_file(str(VERSIONS / "diabete-type2.v1.yaml")),
             load_file(str(VERSIONS / "diabete-type2.v2.yaml")))
    assert {"suivi.glycemie.cible_a_fixer", "suivi.arteres", "suivi.sophia"} <= \
        d.ids("states", "added")
    assert d.ids("tasks", "added") == {"albuminurie", "doppler_arteres", "proposer_sophia"}
    assert "outlives_state" in next(c for c in d.of("tasks", "changed")
                                    if c.id == "avis_endocrinologue").fields
    assert {"age_doppler", "delivrances_min_sophia"} <= d.ids("parameters", "added")
    assert "suivi.arteres.doppler_fait/doppler_quinquennal" in d.ids("timers", "added")
    guard = next(c for c in d.of("guards", "changed")
                 if c.id.endswith("--> suivi.glycemie.avis_specialise"))
    assert guard.fields["guard"][1].endswith("and not facts.avis_en_cours")
    assert not d.of("states", "removed")


def test_cli_diff_of_files_in_french_and_json(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    old, new = (str(VERSIONS / f"hospitalisation-sujet-age.v{n}.yaml") for n in (1, 2))
    assert main(["pathways", "diff", old, new]) == 0
    text = capsys.readouterr().out
    assert "Parcours hospitalisation-sujet-age : version 1 → version 2" in text
    assert "- parcours.retour_domicile.autonomie.situation_complexe : supprimé" in text
    assert main(["pathways", "diff", old, new, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "parcours.retour_domicile.autonomie.situation_complexe" in data["states"]["removed"]


def test_cli_diff_refuses_what_is_neither_file_nor_version(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pathways", "diff", "Pas Un Fichier", "autre"]) == 1
    assert "n'est ni un fichier, ni un parcours publié" in capsys.readouterr().err
