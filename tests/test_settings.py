"""Territory settings files: every error located (file:line:col) with what is allowed; the
example settings of the three pathways are valid; parameter bounds in the language."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.exceptions import SettingsDefinitionError
from engine.pathway.loader import check_text, load_file
from engine.pathway.settings import (
    check_settings_text,
    effective_parameters,
    load_settings,
    load_settings_text,
)
from engine.runtime import Runtime
from flows.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "settings"
PATHWAY = load_file(str(DATA / "reglable.yaml"))
ALLOWED = "age_min, seuil, intervalle, relance_active, motif, niveau, debut"


def problems(text: str) -> list[tuple[int, int, str]]:
    settings, found = check_settings_text(text, PATHWAY, "reglages.yaml")
    assert settings is None
    assert all(d.file == "reglages.yaml" for d in found)
    return [(d.line, d.column, d.message) for d in found]


def test_valid_settings_keep_values_in_their_type() -> None:
    settings = load_settings_text(
        "age_min: 70\nseuil: {value: 7.5, unit: '%'}\nintervalle: P6M\n"
        "relance_active: false\nniveau: haut\nmotif: 'on'\ndebut: 2026-03-01\n", PATHWAY)
    assert dict(settings.values) == {"age_min": 70, "seuil": 7.5, "intervalle": "P6M",
                                     "relance_active": False, "niveau": "haut", "motif": "on",
                                     "debut": "2026-03-01"}
    assert settings.pathway == "reglable"
    assert settings.positions["intervalle"] == (3, 1)


def test_the_content_hash_is_the_values_not_the_text() -> None:
    one = load_settings_text("age_min: 70\nintervalle: P6M\n", PATHWAY)
    two = load_settings_text("# commentaire\nintervalle: P6M   # six mois\nage_min: 70\n",
                             PATHWAY)
    three = load_settings_text("age_min: 71\nintervalle: P6M\n", PATHWAY)
    assert one.content_hash == two.content_hash != three.content_hash


def test_an_unknown_parameter_is_located_with_the_allowed_names() -> None:
    [(line, column, message)] = problems("age_min: 70\n  \nage_mini: 70\n")
    assert (line, column) == (3, 1)
    assert "paramètre inconnu 'age_mini'" in message
    assert "vouliez-vous dire 'age_min' ?" in message
    assert message.endswith(f"paramètres du parcours reglable : {ALLOWED}")


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [("seuil: haut\n", (1, 8), "seuil : valeur attendue : un nombre, pas 'haut'"),
     ("age_min: 70.5\n", (1, 10), "age_min : valeur attendue : un entier, pas 70.5"),
     ("age_min: true\n", (1, 10), "un entier, pas True"),
     ("intervalle: 6 mois\n", (1, 13), "une durée ISO-8601 (P3M, P1Y, P2W, P14D…), pas '6 mois'"),
     ("relance_active: oui\n", (1, 17), "true ou false, pas 'oui'"),
     ("niveau: moyen\n", (1, 9), "'moyen' n'est pas un des choix possibles : bas, haut"),
     ("age_min: 12\n", (1, 10), "12 ans est hors des bornes déclarées : entre 18 ans et 110 ans"),
     ("seuil: 11\n", (1, 8), "11 % est hors des bornes déclarées : entre 5 % et 10 %"),
     ("intervalle: P2W\n", (1, 13), "P2W est hors des bornes déclarées : entre P1M et P1Y"),
     ("intervalle: P2Y\n", (1, 13), "P2Y est hors des bornes déclarées"),
     ("seuil: {value: 53, unit: mmol/mol}\n", (1, 26),
      "unité 'mmol/mol' refusée ; l'unité déclarée est '%'"),
     ("intervalle: {value: P6M, unit: mois}\n", (1, 32),
      "unité 'mois' refusée ; ce paramètre n'a pas d'unité"),
     ("seuil: {value: 12, unit: '%'}\n", (1, 16), "hors des bornes"),
     ("seuil: {valeur: 7}\n", (1, 8), "clés inconnues : valeur"),
     ("debut: le 1er mars\n", (1, 8), "une date AAAA-MM-JJ, pas 'le 1er mars'"),
     ("seuil: {unit: '%'}\n", (1, 8), "la forme longue demande « value »")],
    ids=["text-for-number", "float-for-integer", "boolean-for-integer", "bad-duration",
         "yes-is-not-a-boolean", "not-a-choice", "below-minimum", "above-maximum",
         "duration-below-minimum", "duration-above-maximum", "wrong-unit", "no-unit-declared",
         "long-form-out-of-bounds", "long-form-unknown-key", "bad-date",
         "long-form-without-value"])
def test_each_bad_value_is_located(text: str, where: tuple[int, int], expected: str) -> None:
    [(line, column, message)] = problems(text)
    assert (line, column) == where
    assert expected in message


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    found = problems("age_mini: 70\nseuil: 11\nintervalle: P2W\nage_min: 12\n")
    assert [(line, column) for line, column, _ in found] == [(1, 1), (2, 8), (3, 13), (4, 10)]


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [("age_min: [70\n", (1, 10), "YAML syntax error"),
     ("age_min: 70\nage_min: 71\n", (2, 1), "duplicate key 'age_min'"),
     ("- age_min\n", (1, 1), "un fichier de réglages est une liste « paramètre: valeur »"),
     ("age_min: !!python/object 1\n", (1, 10), "unknown YAML tag")],
    ids=["syntax", "duplicate-key", "not-a-mapping", "tag"])
def test_the_hardened_reader_locates_file_errors(text: str, where: tuple[int, int],
                                                 expected: str) -> None:
    found = problems(text)
    assert any((line, column) == where and expected in message
               for line, column, message in found), found


def test_an_empty_file_overrides_nothing() -> None:
    assert dict(load_settings_text("# rien\n", PATHWAY).values) == {}


def test_load_settings_raises_with_every_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "reglable.settings.yaml"
    path.write_text("seuil: 11\nfoo: 1\n", encoding="utf-8")
    with pytest.raises(SettingsDefinitionError, match=r"reglable.settings.yaml:1:8: .*\n"
                       r".*reglable.settings.yaml:2:1: paramètre inconnu 'foo'"):
        load_settings(str(path), PATHWAY)


def test_effective_parameters_lay_the_settings_over_the_defaults() -> None:
    values = effective_parameters(PATHWAY, {"intervalle": "P6M"})
    assert values["intervalle"] == "P6M" and values["seuil"] == 7.0
    with pytest.raises(SettingsDefinitionError,
                       match="paramètre 'ancien' non déclaré par cette version"):
        effective_parameters(PATHWAY, {"ancien": 1})
    with pytest.raises(SettingsDefinitionError, match="hors des bornes"):
        effective_parameters(PATHWAY, {"intervalle": "P5Y"})


def test_a_duration_override_out_of_bounds_is_refused_by_the_runtime_too() -> None:
    with pytest.raises(ValueError, match="parameter 'intervalle': P2W est hors des bornes"):
        Runtime(PATHWAY, {"intervalle": "P2W"})


KEYS = ["diabete-type2", "insuffisance-cardiaque-65", "hospitalisation-sujet-age"]


@pytest.mark.parametrize("key", KEYS)
def test_the_example_settings_fit_their_pathway(key: str) -> None:
    pathway = load_file(str(ROOT / "pathways" / f"{key}.yaml"))
    settings = load_settings(str(ROOT / "pathways" / "settings" / f"{key}.settings.yaml"),
                             pathway)
    assert settings.values
    values = effective_parameters(pathway, settings.values)
    assert all(values[k] == v for k, v in settings.values.items())
    assert any(values[k] != p.default for k, p in pathway.definition.parameters.items())


def test_the_heart_failure_example_is_the_issue_s_example() -> None:
    pathway = load_file(str(ROOT / "pathways" / "insuffisance-cardiaque-65.yaml"))
    settings = load_settings(str(ROOT / "pathways" / "settings" /
                                 "insuffisance-cardiaque-65.settings.yaml"), pathway)
    assert settings.values["intervalle_depistage"] == "P6M"
    assert settings.values["age_min"] == 70


def test_cli_validate_reports_located_errors(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reglable.settings.yaml"
    path.write_text("seuil: 7.5\nintervalle: P2W\n", encoding="utf-8")
    assert main(["settings", "validate", str(path), "--pathway",
                 str(DATA / "reglable.yaml")]) == 1
    out = capsys.readouterr().out
    assert f"{path}:2:13: intervalle : P2W est hors des bornes déclarées" in out
    path.write_text("seuil: 7.5\n", encoding="utf-8")
    assert main(["settings", "validate", str(path), "--pathway",
                 str(DATA / "reglable.yaml")]) == 0
    assert "valide pour reglable v1 (1 paramètre(s) réglé(s) : seuil)" in \
        capsys.readouterr().out


# -- bounds in the pathway language ---------------------------------------------------------

BASE = (DATA / "reglable.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("declaration", "expected"),
    [("{type: duration, default: P3M, minimum: 5, description: x}",
      "minimum of 'intervalle': expected an ISO-8601 duration such as P1M, got 5"),
     ("{type: duration, default: P3M, minimum: P1Y, maximum: P1M, description: x}",
      "minimum P1Y is above maximum P1M"),
     ("{type: duration, default: P3M, minimum: P6M, description: x}",
      "default of 'intervalle' (P3M) is outside its bounds (minimum P6M)"),
     ("{type: text, default: a, maximum: 3, description: x}",
      "maximum of 'intervalle': expected absent (a parameter of type text has no bounds)"),
     ("{type: integer, default: 3, maximum: P1M, description: x}",
      "maximum of 'intervalle': expected a number, got 'P1M'"),
     ("{type: integer, default: 30, maximum: 20, description: x}",
      "default of 'intervalle' (30) is outside its bounds (maximum 20)")],
    ids=["number-bound-for-duration", "duration-min-above-max", "default-below-minimum",
         "bound-on-text", "duration-bound-for-integer", "default-above-maximum"])
def test_parameter_bounds_are_checked_in_the_pathway(declaration: str, expected: str) -> None:
    text = BASE.replace(
        "{type: duration, default: P3M, minimum: P1M, maximum: P1Y, description: Intervalle}",
        declaration)
    _, found = check_text(text, "p.yaml")
    messages = [d.message for d in found if d.is_error]
    assert any(expected in m for m in messages), messages
    assert all(d.line == 7 for d in found if expected in d.message)
