"""HL7 v2.5 messages written to the IHE PAM / PAM-FR specification, for the intake tests.

Fields are given by number, so that no test counts pipes: ``segment("PID", {3: …, 32:
"QUAL"})``. The header names the PAM-FR profile (MSH-12 ``2.5^FRA^2.11``, MSH-21
``IHE_FR^…``), the character set (MSH-18) and the country (MSH-17 ``FRA``); PID-3
carries the facility's IPP and the INS with its OID; ZBE carries the movement.
"""

from __future__ import annotations

FACILITY_OID = "1.2.250.1.71.4.2.1"
INS_NIR_OID = "1.2.250.1.213.1.4.8"
INS = "248029912345678"          # test patients' INS (15 digits)
IPP = "IPP0042"
PROFILE = "IHE_FR^IHE-PAM-FR^1.2.250.1.213.1.1.1.1^ISO"


def segment(name: str, fields: dict[int, str]) -> str:
    size = max(fields) if fields else 0
    values = [fields.get(i, "") for i in range(1, size + 1)]
    return "|".join([name, *values])


def msh(kind: str, control: str, *, charset: str = "8859/1", at: str = "20260105083000",
        profile: str = PROFILE) -> str:
    # MSH-1 is the field separator itself: MSH-2 is the first value after "MSH|"
    fields = {2: "^~\\&", 3: "SIH-DPI", 4: "CHU-BESANCON", 5: "PARCOURS", 6: "CPTS-DOUBS",
              7: at, 9: kind, 10: control, 11: "P", 12: "2.5^FRA^2.11", 17: "FRA",
              18: charset, 19: "FR", 21: profile}
    return "MSH|" + "|".join(fields.get(i, "") for i in range(2, 22))


def pid(*, ins: str | None = INS, status: str = "QUAL", ipp: str | None = IPP,
        family: str = "DURAND", given: str = "MARIE") -> str:
    ids = []
    if ipp:
        ids.append(f"{ipp}^^^CHU-BESANCON&{FACILITY_OID}&ISO^PI")
    if ins:
        ids.append(f"{ins}^^^ASIP-SANTE-INS-NIR&{INS_NIR_OID}&ISO^INS")
    return segment("PID", {1: "1", 3: "~".join(ids), 5: f"{family}^{given}^^^^^L",
                           7: "19400312", 8: "F", 32: status})


def adt(trigger: str, control: str, *, at: str = "20260105083000", stay: str = "SEJ001",
        movement: str = "MVT001", action: str = "INSERT", original: str = "",
        admission_type: str = "U", discharge_mode: str = "", charset: str = "8859/1",
        patient: str | None = None, extra: list[str] | None = None) -> str:
    structure = {"A01": "ADT_A01", "A02": "ADT_A02", "A03": "ADT_A03", "A08": "ADT_A01",
                 "A11": "ADT_A09", "A13": "ADT_A01"}.get(trigger, "ADT_A01")
    segments = [
        msh(f"ADT^{trigger}^{structure}", control, charset=charset, at=at),
        segment("EVN", {2: at, 6: at, 7: "CHU-BESANCON"}),
        patient if patient is not None else pid(),
        segment("PV1", {1: "1", 2: "I", 3: "CARDIO^^^CHU-BESANCON", 4: admission_type,
                        19: f"{stay}^^^CHU-BESANCON&{FACILITY_OID}&ISO^VN",
                        36: discharge_mode, 44: at}),
        segment("ZBE", {1: f"{movement}^CHU-BESANCON^{FACILITY_OID}^ISO", 2: at, 4: action,
                        5: "N", 6: original, 7: "CARDIOLOGIE^^^^^^UF^^^4001", 9: "HMS"}),
        *(extra or []),
    ]
    return "\r".join(segments) + "\r"


def oru(control: str, results: list[tuple[str, str, str, str, str]], *, status: str = "F",
        at: str = "20260106101500", order: str = "CMD-001", charset: str = "8859/1",
        patient: str | None = None) -> str:
    """results: (LOINC, label, value, unit, abnormal flag)."""
    segments = [msh("ORU^R01^ORU_R01", control, charset=charset, at=at),
                patient if patient is not None else pid(),
                segment("OBR", {1: "1", 2: order, 3: order, 4: "HBA1C^HbA1c^L", 7: at,
                                25: status})]
    for n, (code, label, value, unit, flag) in enumerate(results, start=1):
        segments.append(segment("OBX", {1: str(n), 2: "NM", 3: f"{code}^{label}^LN",
                                        5: value, 6: unit, 8: flag, 11: status, 14: at}))
    return "\r".join(segments) + "\r"
