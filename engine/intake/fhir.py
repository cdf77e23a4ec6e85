"""FHIR R4 resources → the engine's events (``fhir.resources``, its ``R4B`` models).

``fhir.resources`` ≥ 8 defaults to R5; R4B is the R4-compatible release, so
every model here comes from ``fhir.resources.R4B``. This module has no
database code: the file import (``parcours import fhir``) and a REST endpoint
both call ``read_bundle``, then store what it returns.

Read: the ``Patient`` (identifiers, INS with its OID
``urn:oid:1.2.250.1.213.1.4.8``…, identity reliability extension of FR Core,
name, birth date, sex), active ``Condition`` codes (SNOMED CT), final,
amended or corrected ``Observation`` with a LOINC code the pathways read
(``codes.RESULTS``) and a quantity, and inpatient ``Encounter`` (class
``IMP``: an admission at its start, a discharge at its end). Every resource
used is validated against its R4B model; an invalid one refuses the whole
bundle with the path of the error (``entry[3].resource.birthDate``). Other
resources are counted, not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from engine import events
from engine.intake.adt import short_id
from engine.intake.codes import RESULTS, convert
from engine.intake.exceptions import RefusedMessage
from engine.intake.model import Identifier, Identity, Inbound, Intake

USED = ("Patient", "Condition", "Observation", "Encounter")
OBSERVATION_STATUSES = ("final", "amended", "corrected")
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
INPATIENT = "IMP"
SEXES = {"female": "F", "male": "M"}


class InvalidResource(RefusedMessage):
    """A resource that does not validate; ``path`` locates the error (FHIRPath-like)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(f"{path} : {problem}", "", None)


@dataclass
class BundleContent:
    """What a bundle carries for us, and what it carries that we do not read."""

    intake: Intake
    deceased_at: datetime | None = None
    ignored: dict[str, int] = field(default_factory=dict)


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def validated(resource: dict[str, Any], prefix: str) -> Any:
    kind = resource.get("resourceType")
    try:
        model = get_fhir_model_class(str(kind))
    except KeyError as exc:
        raise InvalidResource(f"{prefix}.resourceType", f"type de ressource inconnu {kind!r}"
                              ) from exc
    try:
        return model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidResource(_path(prefix, tuple(first["loc"])),
                              f"{first['msg']} (reçu {str(first.get('input'))[:60]!r})"
                              ) from exc


def _aware(moment: datetime | date | None) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def identity(patient: Any) -> Identity:
    identifiers = []
    for ident in patient.identifier or []:
        if ident.system and ident.value:
            system = ident.system.removeprefix("urn:oid:")
            kind = ident.type.coding[0].code if ident.type and ident.type.coding else ""
            identifiers.append(Identifier(ident.value, system, kind or ""))
    status = None
    for ext in patient.extension or []:
        if "identity-reliability" in ext.url or "identityReliability" in ext.url:
            for sub in [ext, *(ext.extension or [])]:
                coding = getattr(sub, "valueCoding", None)
                if coding is not None and coding.code:
                    status = coding.code.upper()
    name = (patient.name or [None])[0]
    return Identity(identifiers=identifiers, status=status,
                    family_name=(name.family or "") if name else "",
                    given_names=" ".join(name.given or []) if name else "",
                    birth_date=patient.birthDate, sex=SEXES.get(patient.gender or "", "U"))


def _code(concept: Any, system: str) -> str | None:
    for coding in (concept.coding if concept else None) or []:
        if coding.system == system and coding.code:
            return str(coding.code)
    return None


def observation(obs: Any, key: str) -> Inbound | None:
    code = _code(obs.code, LOINC)
    quantity = obs.valueQuantity
    at = _aware(obs.effectiveDateTime or obs.issued)
    if code is None or code not in RESULTS or quantity is None or quantity.value is None \
            or at is None or obs.status not in OBSERVATION_STATUSES:
        return None
    unit = quantity.code or quantity.unit or ""
    target, value, target_unit = convert(code, float(quantity.value), unit)
    payload: dict[str, Any] = {"code": target, "value": value, "unit": target_unit,
                               "name": obs.code.text or code}
    if target != code or target_unit != unit:
        payload["original"] = {"code": code, "value": float(quantity.value), "unit": unit}
    flags = [c.code for concept in obs.interpretation or [] for c in concept.coding or []
             if c.code]
    if flags:
        payload["interpretation"] = ",".join(flags)[:20]
    return Inbound(events.OBSERVATION.value, short_id("fhir", key, "Observation", obs.id or ""),
                   at, payload)


def stay(encounter: Any, key: str) -> list[Inbound]:
    if encounter.class_fhir is None or encounter.class_fhir.code != INPATIENT or \
            encounter.period is None or encounter.status in ("cancelled", "entered-in-error"):
        return []
    data = {events.STAY: encounter.id[:64]} if encounter.id else {}
    start, end = _aware(encounter.period.start), _aware(encounter.period.end)
    out = []
    if start is not None:
        out.append(Inbound(events.ADMISSION, short_id("fhir", key, "Encounter",
                                                      encounter.id or "", events.ADMISSION),
                           start, {"data": data}))
    if end is not None and encounter.status == "finished":
        out.append(Inbound(events.DISCHARGE, short_id("fhir", key, "Encounter",
                                                      encounter.id or "", events.DISCHARGE),
                           end, {"data": data}))
    return out


def read_bundle(data: Any, source: str) -> BundleContent:
    """A bundle (dict from JSON) as one patient's identity, conditions and events."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise InvalidResource("resourceType", "un Bundle FHIR est attendu")
    entries = data.get("entry") or []
    patients: list[Any] = []
    resources: list[Any] = []
    ignored: dict[str, int] = {}
    for i, entry in enumerate(entries):
        resource = (entry or {}).get("resource") or {}
        kind = str(resource.get("resourceType"))
        if kind not in USED:
            ignored[kind] = ignored.get(kind, 0) + 1
            continue
        model = validated(resource, f"Bundle.entry[{i}].resource")
        (patients if kind == "Patient" else resources).append(model)
    if len(patients) != 1:
        raise InvalidResource("Bundle.entry", f"un seul Patient attendu par Bundle, "
                                              f"{len(patients)} trouvé(s)")
    patient = patients[0]
    who = identity(patient)
    if not who.identifiers:
        raise InvalidResource("Bundle.entry.resource.identifier",
                              "le Patient n'a aucun identifiant (system et value)")
    key = short_id(who.identifiers[0].system, who.identifiers[0].value)[:60]
    intake = Intake(message_id=short_id("fhir", key, "Bundle", str(data.get("id") or "")),
                    source=source[:120], identity=who)
    for model in resources:
        kind = model.get_resource_type()
        if kind == "Condition":
            code = _code(model.code, SNOMED)
            status = _code(model.clinicalStatus, "http://terminology.hl7.org/CodeSystem/"
                                                 "condition-clinical")
            if code and status in (None, "active", "recurrence", "relapse") and \
                    model.abatementDateTime is None and code not in who.conditions:
                who.conditions.append(code)
        elif kind == "Observation":
            event = observation(model, key)
            intake.events.extend([event] if event else [])
        elif kind == "Encounter":
            intake.events.extend(stay(model, key))
    intake.events.sort(key=lambda e: e.effective_at)
    return BundleContent(intake, _aware(patient.deceasedDateTime), ignored)
