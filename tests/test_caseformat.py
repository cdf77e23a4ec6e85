"""Stored case format versions: a case written by an older release is read by this one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine import caseformat
from engine.case import Case, Subject
from engine.clock import PARIS
from engine.pathway import load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
FORMAT1 = ROOT / "tests" / "data" / "caseformat" / "case-format1.json"
EXAMPLE = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"


def test_every_format_has_its_upgrade_and_the_current_one_is_written() -> None:
    assert sorted(caseformat.UPGRADES) == list(range(1, caseformat.CURRENT))
    assert all(step.__doc__ for step in caseformat.UPGRADES.values())
    assert Case(("a",)).to_dict()["format"] == caseformat.CURRENT


def test_a_format_1_case_is_read_by_todays_code() -> None:
    data = json.loads(FORMAT1.read_text(encoding="utf-8"))
    assert caseformat.format_of(data) == 1
    case = Case.from_dict(data)
    assert case.history == {} and case.stays == {}
    podologie = next(t for t in case.timers if t.name == "podologie")
    # the recurring timer keeps its next firing and is anchored there: no firing moves
    assert podologie.anchor == podologie.fire_at == datetime(2026, 4, 30, 10, tzinfo=PARIS)
    assert next(t for t in case.timers if t.name == "reexamen").anchor is None
    assert Case.from_dict(case.to_dict()) == case          # written back in today's format
    # and it runs: its recurring timer fires on schedule, every 3 months from its anchor
    runtime = Runtime(load_file(str(EXAMPLE)))
    outcome = runtime.advance(case, Subject(), datetime(2026, 11, 1, tzinfo=PARIS))
    fired = [t.fire_at.astimezone(PARIS).date().isoformat() for t in outcome.case.timers
             if t.name == "podologie"]
    assert fired == ["2027-01-30"]
    sessions = [e for e in outcome.effects if getattr(e, "key", None) == "seance_podologie"]
    assert [s.at.astimezone(PARIS).date().isoformat() for s in sessions] == [
        "2026-04-30", "2026-07-30", "2026-10-30"]


def test_the_upgrades_leave_their_input_alone_and_apply_in_order() -> None:
    data = json.loads(FORMAT1.read_text(encoding="utf-8"))
    copy = json.loads(json.dumps(data))
    upgraded = caseformat.upgrade(data)
    assert data == copy
    assert upgraded["format"] == caseformat.CURRENT
    assert caseformat.upgrade(upgraded) == upgraded
    two = caseformat.UPGRADES[1](data)
    assert all("anchor" in t for t in two["timers"]) and "history" not in two


@pytest.mark.parametrize("bad", [0, 99, "3", True])
def test_an_unknown_format_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="format"):
        caseformat.upgrade({"format": bad, "active": []})


def test_format_1_timestamps_stay_aware() -> None:
    case = Case.from_dict(json.loads(FORMAT1.read_text(encoding="utf-8")))
    assert all(t.fire_at.utcoffset() is not None for t in case.timers)
    assert case.tasks[0].due_at - case.tasks[0].due_at.replace(microsecond=0) == \
        timedelta(microseconds=999999)
