"""Observation units (issue 10): equivalent units converted, others refused in French."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.case import Event, Subject
from engine.exceptions import UnitError
from engine.pathway import load_file
from engine.runtime import Runtime
from engine.units import HBA1C_SOURCE, accepted, to_declared

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("value", "unit", "declared", "expected"), [
    (450, "ng/L", "pg/mL", 450.0),
    (0.45, "ng/mL", "pg/mL", 450.0),
    (70500, "g", "kg", 70.5),
    (82, "kg", "g", 82000.0),
    (140, "mmHg", "mm[Hg]", None),            # same unit, lab spelling
], ids=["ng/L=pg/mL", "ng/mL", "g→kg", "kg→g", "mmHg-spelling"])
def test_equivalent_units_are_converted(value: float, unit: str, declared: str,
                                        expected: float | None) -> None:
    converted = to_declared("X", value, unit, declared)
    if expected is None:
        assert converted is None
        return
    assert converted is not None
    assert converted.value == expected and converted.unit == declared
    assert converted.record() == {"original_value": value, "original_unit": unit,
                                  "value": expected, "unit": declared, "method": "ucum"}


@pytest.mark.parametrize(("value", "unit", "declared", "expected"), [
    (53, "mmol/mol", "%", 7.0), (48, "mmol/mol", "%", 6.5), (64, "mmol/mol", "%", 8.0),
    (7.0, "%", "mmol/mol", 53.0), (8.0, "%", "mmol/mol", 64.0),
], ids=["53→7.0", "48→6.5", "64→8.0", "7.0→53", "8.0→64"])
def test_hba1c_uses_the_ifcc_ngsp_master_equation(value: float, unit: str, declared: str,
                                                  expected: float) -> None:
    converted = to_declared("HbA1c", value, unit, declared, "4548-4")
    assert converted is not None
    assert converted.value == expected and converted.method == HBA1C_SOURCE


def test_ratios_of_other_quantities_are_not_converted() -> None:
    # a units library would make 53 mmol/mol 5.3 %: only the HbA1c equation may do it
    with pytest.raises(UnitError, match="non convertible en '%'"):
        to_declared("Autre", 53, "mmol/mol", "%", "1234-5")
    with pytest.raises(UnitError, match=r"unités acceptées : mg/g$"):
        to_declared("Albuminurie", 3, "%", "mg/g", "9318-7")


def test_refusal_lists_the_accepted_units_in_french() -> None:
    with pytest.raises(UnitError) as info:
        to_declared("NT-proBNP", 450, "mmol/L", "pg/mL", "33762-6")
    message = str(info.value)
    assert message.startswith("NT-proBNP : unité 'mmol/L' non convertible en 'pg/mL'")
    assert "unités acceptées : pg/mL, ng/L" in message
    assert accepted("%", "4548-4") == ["%", "mmol/mol"]


def test_the_runtime_converts_before_guards_read_the_value() -> None:
    runtime = Runtime(load_file(str(ROOT / "pathways" / "examples" / "exemple-suivi.yaml")))
    at = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
    converted = runtime.in_declared_unit(Event("observation:hba1c", at, value=64,
                                               unit="mmol/mol"))
    assert (converted.value, converted.unit) == (8.0, "%")
    with pytest.raises(UnitError, match="unités acceptées"):
        runtime.apply(runtime.start(Subject(), at).case,
                      Event("observation:hba1c", at, value=8, unit="kg"), Subject())
