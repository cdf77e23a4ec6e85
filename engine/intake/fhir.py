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
``IMP``: an admission at its start, a discharge at its end). The REST interface also
takes a single ``Observation`` or ``Encounter`` (``read_resource``), about a patient we
know (``subject``: ``Patient/<our id>`` or an identifier). Every resource
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
    """A resource that does not validate; ``path`` locates the (first) error, FHIRPath-like;
    ``issues`` lists every error found as (path, problem)."""

    def __init__(self, path: str, problem: str,
                 more: list[tuple[str, str]] | None = None) -> None:
        self.path = path
        self.issues = [(path, problem), *(more or [])]
        extra = f" (et {len(more)} autre(s) erreur(s))" if more else ""
        super().__init__(f"{path} : {problem}{extra}", "", None)


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
        issues = [(_path(prefix, tuple(error["loc"])),
                   f"{error['msg']} (reçu {str(error.get('input'))[:60]!r})")
                  for error in exc.errors()]
        raise InvalidResource(*issues[0], issues[1:]) from exc


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


# -- single resources (the REST interface's POST /Observation, /Encounter) ------------------

SINGLE = ("Observation", "Encounter")


def business_id(resource: dict[str, Any]) -> str:
    """What makes a posted resource the same one when it comes again: its id, else its first
    identifier, else (hashed) its whole content: posting it twice changes nothing."""
    import hashlib
    import json

    if resource.get("id"):
        return str(resource["id"])[:64]
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") and ident.get("value"):
            text = f"{ident['system']}|{ident['value']}"
            return "id-" + hashlib.sha256(text.encode()).hexdigest()[:40]
    content = json.dumps(resource, sort_keys=True, separators=(",", ":"))
    return "content-" + hashlib.sha256(content.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Subject:
    """Whom a posted resource is about: our id (``Patient/12``) or an identifier."""

    patient_id: int | None = None
    identifier: Identifier | None = None


def subject(model: Any, kind: str) -> Subject:
    ref = model.subject
    if ref is None:
        raise InvalidResource(f"{kind}.subject", "le patient (subject) est obligatoire")
    if ref.reference:
        tail = str(ref.reference).rstrip("/").split("/")
        if len(tail) >= 2 and tail[-2] == "Patient" and tail[-1].isdigit():
            return Subject(patient_id=int(tail[-1]))
        raise InvalidResource(f"{kind}.subject.reference",
                              f"référence {ref.reference!r} : attendu Patient/<id Parcours>, "
                              "ou subject.identifier (INS ou identifiant de l'établissement)")
    ident = ref.identifier
    if ident is not None and ident.system and ident.value:
        return Subject(identifier=Identifier(str(ident.value),
                                             str(ident.system).removeprefix("urn:oid:")))
    raise InvalidResource(f"{kind}.subject", "attendu subject.reference (Patient/<id>) ou "
                                             "subject.identifier (system et value)")


def read_resource(resource: dict[str, Any], kind: str) -> tuple[Any, Subject]:
    """A posted Observation or Encounter, validated (R4B), and whom it is about."""
    if resource.get("resourceType") != kind:
        raise InvalidResource("resourceType", f"une ressource {kind} est attendue à cette "
                                              f"adresse, reçu {resource.get('resourceType')!r}")
    model = validated(resource, kind)
    return model, subject(model, kind)


def resource_events(model: Any, patient_id: int, ident: str) -> list[Inbound]:
    """The inbox events of a posted Observation or Encounter (none: not read)."""
    model.id = ident
    key = f"patient-{patient_id}"
    if model.get_resource_type() == "Observation":
        event = observation(model, key)
        return [event] if event else []
    return stay(model, key)
