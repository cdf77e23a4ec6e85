"""The one place where external codes meet the engine's vocabulary.

- ``ADT_TRIGGERS``: HL7 v2 ADT trigger events → hospital events of
  ``engine.events`` (``None``: accepted and kept, but changes no case).
- ``RESULTS``: LOINC codes of laboratory results and measurements → the code
  and unit the pathways read, with the unit conversions needed on the way.

When the typed hospital events and the observation unit conversions land in
the engine, only this module changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine import events
from engine.intake.exceptions import RefusedMessage

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
#: PMSI discharge mode (ZFM-2, else PV1-36) → destination passed to the pathway.
DISCHARGE_DESTINATIONS: Mapping[str, str] = {
    "6": "mutation", "7": "transfert", "8": "domicile", "9": "deces",
}


@dataclass(frozen=True)
class Result:
    """What the pathways read for an external result code."""

    code: str
    unit: str
    #: accepted unit → (factor, offset): value in ``unit`` = value × factor + offset
    units: Mapping[str, tuple[float, float]]


def _same(*aliases: str) -> dict[str, tuple[float, float]]:
    return {a: (1.0, 0.0) for a in aliases}


_HBA1C = Result("4548-4", "%", {**_same("%"),
                                # IFCC mmol/mol → NGSP % (master equation, NGSP/IFCC)
                                "mmol/mol": (0.09148, 2.152)})
_NTPROBNP = Result("33762-6", "pg/mL", _same("pg/mL", "ng/L", "pg/ml", "ng/l"))
_BNP = Result("30934-4", "pg/mL", _same("pg/mL", "ng/L", "pg/ml", "ng/l"))
_EGFR = Result("62238-1", "mL/min/1.73m2", _same("mL/min/1.73m2", "mL/min/{1.73_m2}",
                                                 "mL/min/1,73m2", "ml/min/1.73m2",
                                                 # Synthea writes the per-1.73 m² rate so
                                                 "mL/min"))
_ACR = Result("9318-7", "mg/g", {**_same("mg/g", "mg/g{creat}"),
                                 "mg/mmol": (8.84, 0.0)})   # 1 mmol creatinine = 113.12 mg
_WEIGHT = Result("29463-7", "kg", {**_same("kg"), "g": (0.001, 0.0)})

#: LOINC code → what the pathways read.
RESULTS: Mapping[str, Result] = {
    "4548-4": _HBA1C, "17856-6": _HBA1C, "59261-8": _HBA1C,
    "33762-6": _NTPROBNP, "30934-4": _BNP,
    "62238-1": _EGFR, "98979-8": _EGFR, "33914-3": _EGFR,
    "9318-7": _ACR, "14959-1": _ACR,
    "29463-7": _WEIGHT, "3141-9": _WEIGHT,
}


def convert(code: str, value: float, unit: str) -> tuple[str, float, str]:
    """A known result in the code and unit the pathways read; unknown codes pass unchanged."""
    result = RESULTS.get(code)
    if result is None:
        return code, value, unit
    factor = result.units.get(unit.strip()) if unit else (1.0, 0.0)
    if factor is None:
        raise RefusedMessage(f"résultat LOINC {code} : unité {unit!r} non prise en charge ; "
                             f"unités acceptées : {', '.join(result.units)}", "OBX", 6)
    return result.code, round(value * factor[0] + factor[1], 4), result.unit
