"""The one place where external codes meet the engine's vocabulary.

- ``ADT_TRIGGERS``: HL7 v2 ADT trigger events → hospital events of
  ``engine.events`` (``None``: accepted and kept, but changes no case).
- ``RESULTS``: LOINC codes of laboratory results and measurements → the code
  the pathways read (59261-8, HbA1c in mmol/mol, → 4548-4). Units are converted
  by the engine (``engine.units``, when the observation is recorded, the
  conversion kept in the history); here only lab spellings the engine does not
  know, and the albumin/creatinine ratio in mg/mmol (not a UCUM conversion).
- ``DISCHARGE_DESTINATIONS``: PMSI discharge modes → ``events.DESTINATIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine import events

#: ADT trigger → hospital event; ``None`` = accepted, no effect on a case.
ADT_TRIGGERS: Mapping[str, str | None] = {
    "A01": events.ADMISSION,             # admission (hospitalisation)
    "A02": events.ADMISSION,             # transfer: the stay goes on (pathways ignore it
                                         # during a stay; it opens one if A01 was missed)
    "A03": events.DISCHARGE,             # discharge
    "A11": events.ADMISSION_CANCELLED,   # cancel admission
    "A13": events.DISCHARGE_CANCELLED,   # cancel discharge
    "A04": None,                         # outpatient / emergency visit, not a stay
    "A05": None,                         # pre-admission
    "A08": None,                         # update patient information (identity)
    "A12": None,                         # cancel transfer
    "A38": None,                         # cancel pre-admission
}
#: PV1-4 admission type (HL7 table 0007 as PAM-FR uses it) → planned admission?
PLANNED_ADMISSION: Mapping[str, bool] = {
    "R": True, "C": True, "L": True, "N": True,   # routine, comfort, labour, newborn
    "E": False, "U": False,                       # emergency, urgent
}
#: PMSI discharge mode (ZFM-2, else PV1-36) → ``events.DESTINATIONS``: 6 mutation and
#: 7 transfer (to another unit or establishment, incl. SSR, HAD: ZFM-3 would tell), 8 home
#: (EHPAD is the patient's home in the PMSI), 9 death.
DISCHARGE_DESTINATIONS: Mapping[str, str] = {
    "6": "autre_etablissement", "7": "autre_etablissement", "8": "domicile", "9": "deces",
}
assert set(DISCHARGE_DESTINATIONS.values()) <= set(events.DESTINATIONS)

_HBA1C, _NTPROBNP, _BNP, _EGFR, _ACR, _WEIGHT = (
    "4548-4", "33762-6", "30934-4", "62238-1", "9318-7", "29463-7")

#: LOINC code → the code the pathways read.
RESULTS: Mapping[str, str] = {
    "4548-4": _HBA1C, "17856-6": _HBA1C, "59261-8": _HBA1C,
    "33762-6": _NTPROBNP, "30934-4": _BNP,
    "62238-1": _EGFR, "98979-8": _EGFR, "33914-3": _EGFR,
    "9318-7": _ACR, "14959-1": _ACR,
    "29463-7": _WEIGHT, "3141-9": _WEIGHT,
}
#: spellings the engine's UCUM reading does not know (same unit, no factor)
_SPELLINGS: Mapping[str, str] = {"pg/ml": "pg/mL", "ng/l": "ng/L", "ml/min/1.73m2":
                                 "mL/min/{1.73_m2}", "mg/g{creat}": "mg/g"}
#: (code read, unit) → (unit, factor): conversions that are not UCUM ones
_FACTORS: Mapping[tuple[str, str], tuple[str, float]] = {
    # Synthea writes the per-1.73 m² rate so
    (_EGFR, "mL/min"): ("mL/min/{1.73_m2}", 1.0),
    # albumin/creatinine: 1 mmol creatinine = 113.12 mg
    (_ACR, "mg/mmol"): ("mg/g", 8.84),
}


def convert(code: str, value: float, unit: str) -> tuple[str, float, str]:
    """A known result under the code the pathways read; the engine converts its unit."""
    target = RESULTS.get(code)
    if target is None:
        return code, value, unit
    unit = unit.strip() if unit else unit
    unit = _SPELLINGS.get(unit, unit)
    factor = _FACTORS.get((target, unit))
    if factor is not None:
        return target, round(value * factor[1], 4), factor[0]
    return target, value, unit
