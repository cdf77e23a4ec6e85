"""`parcours validate` over the broken corpus (tests/data/broken) and every valid pathway.

Each broken file opens with one ``# expect: LINE:COL check-name`` comment per error
it must produce; the test runs the real command line and compares the reported
positions and check names with that list, exactly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.pathway.loader import check_file
from flows.cli import main

ROOT = Path(__file__).resolve().parent.parent
BROKEN = sorted((ROOT / "tests" / "data" / "broken").glob("*.yaml"))
VALID = sorted(
    [p for p in (ROOT / "pathways").rglob("*.yaml")
     if not p.name.endswith((".timeline.yaml", ".scenario.yaml", ".settings.yaml",
                                 ".mapping.yaml"))]
    + list((ROOT / "tests" / "data" / "valid").glob("*.yaml")))
PARCOURS = Path(sys.executable).with_name("parcours")

EXPECT = re.compile(r"^# expect: (\d+):(\d+) ([a-z-]+)$")
REPORT = re.compile(
    r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+) \[(?P<check>[a-z-]+)\]$")

#: Every check the corpus must exercise at least once.
CHECKS = {
    "yaml", "duplicate-key", "unknown-key", "missing-key", "type", "schema", "undefined-state",
    "ambiguous-state", "undefined-event", "undefined-role", "undefined-task",
    "undefined-parameter", "undefined-fact", "undefined-source", "unreachable-state", "no-end",
    "invalid-duration", "expression-syntax", "unknown-name", "initial", "parallel",
    "final-state", "timer", "duplicate-name", "dead-timer", "no-ending-rule", "history",
}

Error = tuple[int, int, str]


def expected(path: Path) -> set[Error]:
    """The ``# expect:`` header of a broken file, as (line, column, check)."""
    found = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# expect:"):
            break
        match = EXPECT.match(line)
        assert match, f"{path.name}: malformed header line {line!r}"
        found.add((int(match[1]), int(match[2]), match[3]))
    return found


def reported(output: str, path: Path) -> set[Error]:
    """Every ``file:line:col: message [check]`` line about ``path``; other lines must not be."""
    found = set()
    for line in output.splitlines():
        match = REPORT.match(line)
        assert match, f"not a diagnostic line: {line!r}"
        assert match["file"] == str(path)
        found.add((int(match["line"]), int(match["col"]), match["check"]))
    return found


def run_validate(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, str, str]:
    code = main(["validate", "--quiet", *map(str, paths)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_corpus_is_large_and_covers_every_check() -> None:
    assert len(BROKEN) >= 24
    covered = {check for path in BROKEN for _, _, check in expected(path)}
    assert covered >= CHECKS, f"no broken file for {sorted(CHECKS - covered)}"


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_file_reports_each_error_at_its_position(
        path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    want = expected(path)
    assert want, f"{path.name} has no '# expect:' header"
    code, out, err = run_validate(capsys, path)
    assert code == 1
    assert reported(out, path) == want
    assert "1 of 1 file(s) invalid" in err


@pytest.mark.parametrize("path", VALID, ids=lambda p: str(p.relative_to(ROOT)))
def test_valid_file_exits_zero(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_validate(capsys, path)
    assert (code, err) == (0, "")
    assert all(": warning: " in line for line in out.splitlines()), out


def test_valid_file_prints_ok(capsys: pytest.CaptureFixture[str]) -> None:
    clean = ROOT / "tests" / "data" / "valid" / "yaml11-names.yaml"
    assert main(["validate", str(clean)]) == 0
    assert capsys.readouterr().out == f"{clean}: ok\n"


def test_all_errors_of_a_file_in_one_run(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "tests" / "data" / "broken" / "many-errors.yaml"
    _, out, _ = run_validate(capsys, path)
    found = reported(out, path)
    assert len(found) >= 5
    # YAML, schema, reference and guard stages all report in the same run
    assert {"duplicate-key", "unknown-key", "undefined-role", "unknown-name",
            "undefined-state"} <= {check for _, _, check in found}


def test_a_folder_reports_every_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_validate(capsys, ROOT / "tests" / "data" / "broken")
    assert code == 1
    assert f"{len(BROKEN)} of {len(BROKEN)} file(s) invalid" in err
    assert len(out.splitlines()) == sum(len(expected(p)) for p in BROKEN)


def test_yaml_11_booleans_stay_names() -> None:
    model, problems = check_file(str(ROOT / "tests" / "data" / "valid" / "yaml11-names.yaml"))
    assert problems == []
    assert model is not None
    assert model.initial == "off"
    assert list(model.states) == ["off", "on", "yes"]
    assert [t.on for t in model.states["off"].transitions] == ["on", "timer:off"]
    assert set(model.events) == {"on", "no"}
    assert model.states["on"].on_enter is not None
    assert model.states["on"].on_enter.tasks == ["yes"]


@pytest.mark.parametrize("name", ["many-errors", "yaml-unclosed-bracket"])
def test_console_script_exit_code(name: str) -> None:
    path = ROOT / "tests" / "data" / "broken" / f"{name}.yaml"
    result = subprocess.run([str(PARCOURS), "validate", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert reported(result.stdout, path) == expected(path)
    assert "Traceback" not in result.stdout + result.stderr


def test_console_script_valid_exits_zero() -> None:
    result = subprocess.run([str(PARCOURS), "validate", *map(str, VALID)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == len(VALID)


def test_validate_does_not_import_prefect() -> None:
    code = (
        "import sys\n"
        "from flows.cli import main\n"
        f"assert main(['validate', {str(VALID[0])!r}]) == 0\n"
        f"assert main(['validate', {str(BROKEN[0])!r}]) == 1\n"
        "assert 'prefect' not in sys.modules, 'validate imported prefect'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr
