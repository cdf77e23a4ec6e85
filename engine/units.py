"""Observation units: a value in an equivalent unit is converted, not refused.

The pathway declares each observation's unit (``unit: pg/mL``); a laboratory
may send the same quantity in another unit (NT-proBNP in ng/L, a weight in g,
HbA1c in mmol/mol). ``to_declared`` returns the value in the declared unit and
says how it was obtained, so the history keeps the original value and unit
next to the converted ones.

Library: **ucumvert** (UCUM grammar, built on **pint**). UCUM is the unit code
system of LOINC, HL7 v2 and FHIR, so the units laboratories send parse as they
are (``ng/L``, ``mmol/mol``, ``mm[Hg]``, ``mL/min/{1.73_m2}``); ``pint`` alone
(well kept, but not UCUM-aware: ``[Hg]``, annotations ``{…}``) would need a
hand-written alias for every lab spelling, and ``ucumate`` is a binding to a
native core with no wheel we can rely on here. ucumvert is loaded lazily
(the first time a unit differs from the declared one): validating pathways and
applying observations in their declared unit never pay for it.

HbA1c is not a unit conversion: % (NGSP/DCCT) and mmol/mol (IFCC) measure
against different reference methods, related by the IFCC–NGSP master equation
NGSP % = 0.09148 × IFCC + 2.152 (Hoelzel W. et al., "IFCC reference system for
measurement of hemoglobin A1c in human blood and the national standardization
schemes in the United States, Japan, and Sweden: a method-comparison study",
Clin Chem 2004;50(1):166–174; NGSP, "IFCC Standardization of HbA1c",
ngsp.org). A units library would turn mmol/mol into % as 1/10 (a ratio),
which is wrong; the equation is applied explicitly, before any library. For
the same reason no other dimensionless unit (%, mmol/mol, mg/g) is converted:
a ratio of one quantity is not a ratio of another.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.exceptions import UnitError

#: LOINC codes of HbA1c: 4548-4 (% NGSP/DCCT), 17856-6 (% HPLC), 59261-8 (mmol/mol IFCC)
HBA1C_CODES = frozenset({"4548-4", "17856-6", "59261-8"})
NGSP_SLOPE, NGSP_INTERCEPT = 0.09148, 2.152
HBA1C_SOURCE = "IFCC–NGSP master equation (Hoelzel et al., Clin Chem 2004;50:166–174)"

#: lab spellings that are not UCUM codes, mapped to the UCUM code (spelling only, no factor)
_SPELLINGS = {"mmHg": "mm[Hg]", "µg/L": "ug/L", "µg/mL": "ug/mL", "mL/min/1.73m2":
              "mL/min/{1.73_m2}", "mL/min/1,73m2": "mL/min/{1.73_m2}", "mmol/mol Hb": "mmol/mol"}
#: units offered in the refusal message, when convertible to the declared one
_SUGGESTIONS = ("pg/mL", "ng/L", "ng/mL", "pmol/L", "kg", "g", "mg", "%", "mmol/mol", "mg/g",
                "mg/mmol", "mg/L", "g/L", "mmol/L", "umol/L", "mL/min/{1.73_m2}", "mm[Hg]",
                "cm", "m")
_PRECISION = 10  # significant digits kept: 1 ng/L is 1 pg/mL, not 1.0000000000000002


@dataclass(frozen=True, slots=True)
class Converted:
    """A value in the declared unit, and how it was obtained."""

    value: float
    unit: str
    original_value: float
    original_unit: str
    method: str  # "ucum" or the HbA1c equation's source

    def record(self) -> dict[str, Any]:
        """What the history keeps of the conversion."""
        return {"original_value": self.original_value, "original_unit": self.original_unit,
                "value": self.value, "unit": self.unit, "method": self.method}


def same_unit(unit: str | None, declared: str | None) -> bool:
    return not unit or not declared or _ucum(unit) == _ucum(declared)


def to_declared(title: str, value: Any, unit: str | None, declared: str | None,
                code: str | None = None) -> Converted | None:
    """``value`` in the ``declared`` unit; None when no conversion is needed.

    Raises ``UnitError`` (French message, accepted units listed) when the unit
    measures something else.
    """
    if same_unit(unit, declared) or not isinstance(value, int | float) \
            or isinstance(value, bool):
        return None
    assert unit is not None and declared is not None
    if code in HBA1C_CODES:
        converted = _hba1c(float(value), _ucum(unit), _ucum(declared))
        if converted is not None:
            return Converted(_round(converted), declared, value, unit, HBA1C_SOURCE)
    factor = _factor(_ucum(unit), _ucum(declared))
    if factor is None:
        raise UnitError(title, unit, declared, accepted(declared, code))
    return Converted(_round(float(value) * factor), declared, value, unit, "ucum")


def accepted(declared: str, code: str | None = None) -> list[str]:
    """The declared unit first, then the usual units convertible to it."""
    out = [declared]
    target = _ucum(declared)
    for unit in _SUGGESTIONS:
        if unit != target and unit not in out and _factor(unit, target) is not None:
            out.append(unit)
    if code in HBA1C_CODES:
        out += [u for u in ("%", "mmol/mol") if u not in out]
    return out


def _hba1c(value: float, unit: str, declared: str) -> float | None:
    # rounded as laboratories report them (% to one decimal, mmol/mol whole): 53 mmol/mol
    # is 7.0 %, not 7.00044 % that a "≤ 7 %" target would call above target
    if unit == "mmol/mol" and declared == "%":
        return round(NGSP_SLOPE * value + NGSP_INTERCEPT, 1)
    if unit == "%" and declared == "mmol/mol":
        return float(round((value - NGSP_INTERCEPT) / NGSP_SLOPE))
    return None


def _ucum(unit: str) -> str:
    text = unit.strip()
    return _SPELLINGS.get(text, text)


@cache
def _factor(unit: str, declared: str) -> float | None:
    """How many ``declared`` in one ``unit``; None if they are not the same kind."""
    registry = _registry()
    try:
        source, target = registry.from_ucum(unit), registry.from_ucum(declared)
        if source.dimensionless:
            # ratios (%, mmol/mol, mg/g) of different quantities are not interchangeable
            return None
        return float(source.to(target.units).magnitude / target.magnitude)
    except Exception:  # unparsable or of another dimension: not convertible
        return None


@cache
def _registry() -> Any:
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


def _round(value: float) -> float:
    return float(f"{value:.{_PRECISION}g}")
