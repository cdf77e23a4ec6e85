"""Pathway-level transitions (``always:``): an observation read in every state."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.case import Event, Subject, Transitioned
from engine.clock import PARIS
from engine.pathway import check_file, check_text, load_file
from engine.runtime import Runtime
from flows.cli import main

DATA = Path(__file__).parent / "data" / "runtime"
PATIENT = Subject()
START = datetime(2026, 3, 2, 8, tzinfo=PARIS)


def runtime() -> Runtime:
    return Runtime(load_file(str(DATA / "always.yaml")))


def bnp(day: int, value: float) -> Event:
    return Event("observation:ntprobnp", START + timedelta(days=day), value, "pg/mL")


def test_a_high_value_in_a_state_that_does_not_read_it_takes_the_pathway_handler() -> None:
    rt = runtime()
    out = rt.apply(rt.start(PATIENT, START).case, bnp(1, 900), PATIENT)
    assert [(t.transition, t.source, t.target) for t in out.of(Transitioned)] == [
        ("always#0", "", "echographie")]
    assert out.case.active == ("echographie",)
    assert [t.key for t in out.case.tasks] == ["echo"]


def test_a_low_value_takes_the_next_pathway_handler() -> None:
    rt = runtime()
    out = rt.apply(rt.start(PATIENT, START).case, bnp(1, 120), PATIENT)
    assert [t.transition for t in out.of(Transitioned)] == ["always#1"]
    assert out.case.active == ("depistage",) and out.case.facts["vus"] == 1


def test_the_state_own_transition_comes_first() -> None:
    rt = runtime()
    case = rt.start(PATIENT, START).case
    case = rt.apply(case, Event("examen", START + timedelta(days=1)), PATIENT).case
    out = rt.apply(case, bnp(2, 3000), PATIENT)
    assert [t.transition for t in out.of(Transitioned)] == ["attente#0"]
    assert out.case.active == ("urgence",)


def test_when_the_state_guard_fails_the_pathway_handler_still_reads_the_value() -> None:
    rt = runtime()
    case = rt.start(PATIENT, START).case
    case = rt.apply(case, Event("examen", START + timedelta(days=1)), PATIENT).case
    out = rt.apply(case, bnp(2, 900), PATIENT)
    assert [t.transition for t in out.of(Transitioned)] == ["always#0"]
    assert out.case.active == ("echographie",)


# -- the validator's warning ---------------------------------------------------------------

WARNINGS = Path(__file__).parent / "data" / "warnings"


def _expected(path: Path) -> list[tuple[int, int, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# expect:"):
            break
        position, check = line.removeprefix("# expect: ").split()
        row, column = position.split(":")
        out.append((int(row), int(column), check))
    return sorted(out)


@pytest.mark.parametrize("path", sorted(WARNINGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_warnings_are_located_and_do_not_fail(path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--quiet", str(path)]) == 0
    out, err = capsys.readouterr()
    found = []
    for line in out.splitlines():
        match = re.match(rf"^{re.escape(str(path))}:(\d+):(\d+): warning: .+ \[([a-z-]+)\]$",
                         line)
        assert match, line
        found.append((int(match[1]), int(match[2]), match[3]))
    assert sorted(found) == _expected(path)
    assert err == ""
    assert main(["validate", "--strict", str(path)]) == 1


def test_warnings_keep_the_file_usable() -> None:
    model, problems = check_file(str(WARNINGS / "ignored-observation.yaml"))
    assert model is not None and problems and not any(p.is_error for p in problems)


def test_always_handler_silences_the_warning() -> None:
    text = (WARNINGS / "ignored-observation.yaml").read_text(encoding="utf-8")
    text = text.replace("initial: attente\n", "always:\n  - on: observation:hba1c\n"
                        "  - on: observation:poids\ninitial: attente\n")
    _, problems = check_text(text)
    assert problems == []
