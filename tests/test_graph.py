"""``parcours graph``: Mermaid and DOT diagrams of a pathway."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.pathway import load_file
from engine.pathway.compiler import CompiledPathway
from flows.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
DATA = ROOT / "tests" / "data" / "runtime"
PATHWAYS = [EXAMPLE, *sorted(DATA.glob("*.yaml"))]
DOT = shutil.which("dot")


def ident(state_id: str) -> str:
    return state_id.replace(".", "__")


def graph(path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["graph", str(path), "--format", fmt]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.fixture(scope="module")
def example() -> CompiledPathway:
    return load_file(str(EXAMPLE))


# -- Mermaid -------------------------------------------------------------------------------------


def test_mermaid_is_the_default_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stateDiagram-v2\n    %% exemple-suivi v1\n")
    assert out == graph(EXAMPLE, "mermaid", capsys)


def test_mermaid_has_every_state_with_its_title(example: CompiledPathway,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(EXAMPLE, "mermaid", capsys)
    for sid, state in example.states.items():
        assert f'state "{state.title}" as {ident(sid)}\n' in out, sid
    assert 'state "Avis endocrinologue demandé" as suivi__glycemie__avis_specialise' in out


def test_mermaid_has_every_transition(example: CompiledPathway,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(EXAMPLE, "mermaid", capsys)
    arrows = [line.strip() for line in out.splitlines()
              if "-->" in line and "[*]" not in line]
    assert len(arrows) == len(example.transitions) == 13
    for t in example.transitions.values():
        target = ident(t.target if t.target is not None else t.source)
        label = t.event + (f" [{t.guard.source}]" if t.guard else "")
        label += " (internal)" if t.target is None else ""
        assert f"{ident(t.source)} --> {target}: {label}" in arrows, t.id


def test_mermaid_structure(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(EXAMPLE, "mermaid", capsys)
    lines = [line.strip() for line in out.splitlines()]
    assert "[*] --> inclusion" in lines                    # the initial state
    assert "[*] --> suivi__glycemie__attente" in lines      # each region's initial state
    assert "[*] --> suivi__pieds__examen" in lines
    assert "sorti --> [*]" in lines                         # the final state
    assert "--" in lines                                     # the parallel regions' separator
    assert out.count("{") == out.count("}") == 3            # suivi and its two regions
    # guards on observations are shown, internal transitions are marked
    assert ("suivi__glycemie__dosage --> suivi__glycemie__revue: observation:hba1c" in lines)
    assert ("suivi__pieds__prevention --> suivi__pieds__prevention: timer:podologie "
            "(internal)") in lines


# -- DOT -----------------------------------------------------------------------------------------


def test_dot_has_every_state_and_every_transition(example: CompiledPathway,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(EXAMPLE, "dot", capsys)
    assert out.startswith('digraph "exemple-suivi" {\n')
    assert out.rstrip().endswith("}")
    tree = example.tree
    for sid, state in example.states.items():
        if tree.nodes[sid].children:
            assert f"subgraph cluster_{ident(sid)} {{" in out, sid
            assert f'label="{state.title}";' in out
        else:
            assert re.search(rf'^\s+"{ident(sid)}" \[label="{re.escape(state.title)}"', out,
                             re.MULTILINE), sid
    edges = re.findall(r'^\s+"(\w+)" -> "(\w+)" \[label="((?:[^"\\]|\\.)*)"', out, re.MULTILINE)
    assert len(edges) == len(example.transitions)
    labels = [label for _, _, label in edges]
    for t in example.transitions.values():
        label = t.event + (f" [{t.guard.source}]" if t.guard else "")
        assert label in labels or label + " (internal)" in labels, t.id


def test_dot_clips_edges_at_clusters(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(EXAMPLE, "dot", capsys)
    assert ('"inclusion" -> "suivi__glycemie__attente" [label="task_completed:bilan_initial", '
            "lhead=cluster_suivi];") in out
    assert ('"suivi__glycemie__attente" -> "sorti" [label="sortie_parcours", '
            "ltail=cluster_suivi];") in out
    assert '"sorti" [label="Sorti du parcours", shape=doublecircle];' in out
    assert '"suivi__pieds__prevention" -> "suivi__pieds__prevention" [label="timer:podologie ' \
           '(internal)", style=dashed];' in out


def test_dot_quotes_names_that_are_dot_keywords(capsys: pytest.CaptureFixture[str]) -> None:
    out = graph(DATA / "awkward-names.yaml", "dot", capsys)
    assert '"node" [label="Le \\"premier\\" état \\\\ accueil"];' in out
    assert '"__start" -> "node";' in out
    assert "[label=\"edge [facts.motif != 'a \\\"b\\\"']\", lhead=cluster_graph]" in out
    # an edge back to an ancestor is not clipped at a cluster it starts in
    assert '"graph__strict" -> "graph__subgraph" [label="edge"];' in out


@pytest.mark.parametrize("path", PATHWAYS, ids=lambda p: p.stem)
def test_dot_output_is_accepted_by_graphviz(path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    if DOT is None:
        if os.environ.get("CI") == "true":
            pytest.fail("graphviz's dot is required in CI (scripts/test.sh installs it)")
        pytest.skip("graphviz's dot is not installed")
    out = graph(path, "dot", capsys)
    done = subprocess.run([str(DOT), "-Tsvg"], input=out, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""                 # no warning (e.g. an edge clipped at its own tail)
    load = load_file(str(path))
    leaves = [s for s in load.states if not load.tree.nodes[s].children]
    assert done.stdout.count('class="node"') == len(leaves) + 1   # and the start point


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_invalid_pathway_exits_1_with_its_errors(fmt: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(EXAMPLE.read_text(encoding="utf-8").replace("to: avis_specialise",
                                                                  "to: avis_specialiste"),
                      encoding="utf-8")
    assert main(["graph", str(broken), "--format", fmt]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.match(re.escape(str(broken)) + r":\d+:\d+: transition to undefined state "
                    r"'avis_specialiste'; did you mean .*'avis_specialise'", err), err
    assert "Traceback" not in err


def test_missing_pathway_file_exits_1(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(tmp_path / "absent.yaml")]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "absent.yaml:1:1: cannot read file" in err


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["graph", str(EXAMPLE), "--format", "png"])
    assert info.value.code == 2
    assert "invalid choice: 'png'" in capsys.readouterr().err
