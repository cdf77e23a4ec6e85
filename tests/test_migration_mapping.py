"""Mapping files are checked like pathways: every error located as file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.exceptions import PathwayDefinitionError
from engine.migration import load_mapping, load_mapping_text
from engine.pathway import load_file, load_text

EXAMPLE = Path(__file__).resolve().parents[1] / "pathways" / "examples" / "exemple-suivi.yaml"
OLD = load_file(str(EXAMPLE))
NEW = load_text(EXAMPLE.read_text(encoding="utf-8").replace("version: 1", "version: 2", 1)
                .replace("          attente:\n", "          en_attente:\n")
                .replace("initial: attente", "initial: en_attente")
                .replace("to: attente", "to: en_attente"), "v2.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(PathwayDefinitionError) as err:
        load_mapping_text(text, "m.yaml", OLD, NEW)
    return [str(d) for d in err.value.diagnostics]


def test_a_good_mapping() -> None:
    mapping = load_mapping_text(
        "pathway: exemple-suivi\nfrom: 1\nto: 2\nstates:\n"
        "  suivi.glycemie.attente: suivi.glycemie.en_attente\n", "m.yaml", OLD, NEW)
    assert mapping.states["suivi.glycemie.attente"][0].targets == ("suivi.glycemie.en_attente",)
    assert mapping.unmapped(OLD, NEW) == []
    assert load_mapping_text("pathway: exemple-suivi\n", "m.yaml", OLD, NEW).unmapped(
        OLD, NEW) == ["suivi.glycemie.attente"]


@pytest.mark.parametrize(("text", "expected"), [
    ("pathway: exemple-suivi\nstates:\n  suivi.glycemie.attente: suivi.glycemie.atente\n",
     "m.yaml:3:27: l'étape 'suivi.glycemie.atente' n'existe pas dans la version 2"),
    ("pathway: exemple-suivi\nstates:\n  suivi.glycemie.atente: suivi.glycemie.en_attente\n",
     "m.yaml:3:3: l'étape 'suivi.glycemie.atente' n'existe pas dans la version 1"),
    ("pathway: exemple-suivi\ntasks:\n  revoir: cancel\n",
     "m.yaml:3:3: tâche 'revoir' inconnue dans la version 1"),
    ("pathway: exemple-suivi\ntasks:\n  revoir_traitement: revoir\n",
     "m.yaml:3:22: 'revoir' : « keep », « cancel » ou une tâche de la version 2"),
    ("pathway: exemple-suivi\ntimers:\n  rearm: [podo]\n",
     "m.yaml:3:11: minuterie 'podo' inconnue dans la version 2"),
    ("pathway: exemple-suivi\ntimers:\n  rename: {podo: podologie}\n",
     "m.yaml:3:12: minuterie 'podo' inconnue dans la version 1"),
    ("pathway: exemple-suivi\nfacts:\n  set: {echecs: 0}\n",
     "m.yaml:3:9: fait 'echecs' inconnu dans la version 2"),
    ("pathway: exemple-suivi\nfacts:\n  rename: {failure: failures}\n",
     "m.yaml:3:12: fait 'failure' inconnu dans la version 1"),
    ("pathway: exemple-suivi\ncreate:\n  - {task: bilan, in: inclusion}\n",
     "m.yaml:3:12: tâche 'bilan' inconnue dans la version 2"),
    ("pathway: exemple-suivi\nstate:\n  a: b\n", "m.yaml:2:1: clé inconnue 'state'"),
    ("pathway: autre\n", "m.yaml:1:10: parcours 'autre'"),
    ("pathway: exemple-suivi\nfrom: 3\n", "m.yaml:2:7: from: 3 mais le fichier du parcours"),
    ("pathway: exemple-suivi\nstates:\n  suivi.glycemie.attente:\n    - to: suivi.glycemie.dosage\n"
     "    - to: suivi.glycemie.revue\n      when: \"facts.failures >=\"\n",
     "m.yaml:4:7: seule la dernière branche peut se passer de « when »"),
    ("pathway: exemple-suivi\nstates:\n  suivi.glycemie.attente:\n"
     "    - {to: suivi.glycemie.dosage, when: \"obs.hba1c.value > 7\"}\n"
     "    - to: suivi.glycemie.revue\n",
     "elle ne peut lire que facts, params et now"),
    ("pathway: exemple-suivi\nstates: [a]\n", "m.yaml:2:9: states doit être une table"),
])
def test_errors_are_located(text: str, expected: str) -> None:
    found = errors(text)
    assert any(expected in line for line in found), found


def test_every_error_is_reported_at_once() -> None:
    found = errors("pathway: exemple-suivi\nstates:\n  x: y\ntasks:\n  z: cancel\n")
    assert len(found) == 3 and all(line.startswith("m.yaml:") for line in found)


def test_hostile_and_broken_yaml_are_refused_with_positions(tmp_path: Path) -> None:
    assert errors("pathway: [\n")[0].startswith("m.yaml:2:1:")
    assert "duplicate" in " ".join(errors("pathway: a\npathway: b\n")).lower() or \
        "deux fois" in " ".join(errors("pathway: a\npathway: b\n"))
    path = tmp_path / "m.yaml"
    path.write_bytes(b"pathway: \xff\n")
    with pytest.raises(PathwayDefinitionError, match="UTF-8"):
        load_mapping(str(path), OLD, NEW)
