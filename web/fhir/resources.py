"""Our rows as FHIR R4 resources: Patient, CarePlan (one per case), CareTeam, Task.

Identifiers follow the French profiles (FR Core): the INS under its OID
(``urn:oid:1.2.250.1.213.1.4.8`` NIR, ``…4.9`` NIA, ``…4.10``/``…4.11`` their test ranges)
with the identity reliability status (``PROV``, ``RECUP``, ``VALI``, ``QUAL``) in the FR
Core ``identity-reliability`` extension; a professional is referenced by their RPPS number
(``urn:oid:1.2.250.1.71.4.2.1``). A Task's status is ours, which already is FHIR's, except
``declined``: the professional refused it (FHIR ``rejected`` by that performer), so it is
``rejected`` here, owned by the professional who refused it, with the refusal in
``statusReason``; in Parcours it stays open with the
coordinator until reassigned (``engine/store/tables.py``). ``businessStatus`` is the pathway
step (the state that owns the task, with its title), ``restriction.period.end`` the due
date. Every resource built here validates against ``fhir.resources.R4B`` (tested).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from engine.intake.model import IDENTITY_STATUSES, INS_OIDS
from engine.store.tables import (
    CaseRow,
    PathwayVersion,
    Patient,
    PatientIdentifier,
    Professional,
    TaskRow,
)

NIR = "1.2.250.1.213.1.4.8"
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
FR_CORE = "https://hl7.fr/ig/fhir/core"
IDENTIFIER_TYPES = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0203"
RELIABILITY = f"{FR_CORE}/StructureDefinition/fr-core-identity-reliability"
RELIABILITY_CODES = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0445"
PARCOURS = "https://parcours.example/fhir"  # our own code systems (pathways, states, roles)
GENDERS = {"F": "female", "M": "male", "U": "unknown"}
TASK_STATUS = {"declined": "rejected"}
_OID = re.compile(r"[0-2](\.\d+)+")


def instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _system(system: str) -> str:
    return f"urn:oid:{system}" if _OID.fullmatch(system) else system


def practitioner(pro: Professional) -> dict[str, Any]:
    """A reference to a professional by RPPS number (and our id)."""
    return {"reference": f"Practitioner/{pro.id}", "type": "Practitioner",
            "identifier": {"type": {"coding": [{"system": IDENTIFIER_TYPES, "code": "RPPS"}]},
                           "system": RPPS, "value": pro.rpps},
            "display": f"{pro.given_names} {pro.family_name}"}


def patient(row: Patient, identifiers: list[PatientIdentifier]) -> dict[str, Any]:
    ids: list[dict[str, Any]] = []
    if row.ins:
        oid = row.ins_oid or NIR
        ids.append({"use": "official",
                    "type": {"coding": [{"system": IDENTIFIER_TYPES,
                                         "code": INS_OIDS.get(oid, "INS-NIR")}]},
                    "system": f"urn:oid:{oid}", "value": row.ins})
    for ident in identifiers:
        ids.append({"use": "usual", "system": _system(ident.system), "value": ident.value,
                    **({"type": {"coding": [{"system": "http://terminology.hl7.org/"
                                             "CodeSystem/v2-0203", "code": ident.type_code}]}}
                       if ident.type_code else {})})
    out: dict[str, Any] = {
        "resourceType": "Patient", "id": str(row.id), "identifier": ids,
        "name": [{"use": "official", "family": row.family_name,
                  "given": row.given_names.split()}],
        "gender": GENDERS.get(row.sex, "unknown"), "birthDate": row.birth_date.isoformat()}
    if row.identity_status:
        out["extension"] = [{"url": RELIABILITY, "extension": [
            {"url": "identityStatus", "valueCoding": {
                "system": RELIABILITY_CODES, "code": row.identity_status,
                "display": IDENTITY_STATUSES.get(row.identity_status, row.identity_status)}}]}]
    return out


def care_plan(case: CaseRow, version: PathwayVersion, titles: list[str],
              task_ids: list[int]) -> dict[str, Any]:
    if case.closed_at is None:
        status = "active"
    else:
        status = "completed" if case.close_reason == "final state" else "revoked"
    out: dict[str, Any] = {
        "resourceType": "CarePlan", "id": str(case.id), "status": status, "intent": "plan",
        "instantiatesUri": [f"{PARCOURS}/pathway/{version.key}/v{version.version}"],
        "category": [{"coding": [{"system": f"{PARCOURS}/pathway", "code": version.key,
                                  "display": version.title}]}],
        "title": version.title,
        "description": "Étape(s) en cours : " + (" ; ".join(titles) if titles else "aucune"),
        "subject": {"reference": f"Patient/{case.patient_id}"},
        "period": {"start": instant(case.opened_at),
                   **({"end": instant(case.closed_at)} if case.closed_at else {})},
        "created": instant(case.opened_at)}
    if task_ids:
        out["activity"] = [{"reference": {"reference": f"Task/{t}"}} for t in task_ids]
    return out


def care_team(patient_id: int, members: list[tuple[str, str, Professional, date,
                                                      date | None]]) -> dict[str, Any]:
    """``members``: (role key, role title, professional, start, end)."""
    return {"resourceType": "CareTeam", "id": str(patient_id), "status": "active",
            "name": "Équipe de soins",
            "subject": {"reference": f"Patient/{patient_id}"},
            "participant": [{"role": [{"coding": [{"system": f"{PARCOURS}/role", "code": key,
                                                   "display": title}], "text": title}],
                             "member": practitioner(pro),
                             "period": {"start": start.isoformat(),
                                        **({"end": end.isoformat()} if end else {})}}
                            for key, title, pro, start, end in members]}


def task(row: TaskRow, case: CaseRow, version: PathwayVersion, state_title: str,
         owner: Professional | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Task", "id": str(row.id),
        "identifier": [{"system": f"{PARCOURS}/task", "value": f"{row.case_id}:{row.ref}"}],
        "basedOn": [{"reference": f"CarePlan/{case.id}"}],
        "status": TASK_STATUS.get(row.status, row.status),
        "businessStatus": {"coding": [{"system": f"{PARCOURS}/pathway/{version.key}/state",
                                       "code": row.state, "display": state_title}],
                           "text": state_title},
        "intent": "order", "priority": "routine",
        "code": {"coding": [{"system": f"{PARCOURS}/pathway/{version.key}/task",
                             "code": row.key, "display": row.title}], "text": row.title},
        "description": row.title,
        "for": {"reference": f"Patient/{case.patient_id}"},
        "authoredOn": instant(row.created_at),
        "lastModified": instant(row.closed_at or row.declined_at or row.accepted_at
                                or row.created_at),
        "performerType": [{"coding": [{"system": f"{PARCOURS}/role", "code": row.role}],
                           "text": row.role}],
        "restriction": {"period": {"end": instant(row.due_at)}}}
    if owner is not None:
        out["owner"] = practitioner(owner)
    if row.status == "declined":
        out["statusReason"] = {"text": "refusée par le professionnel"
                               + (f" : {row.decline_reason}" if row.decline_reason else "")
                               + " ; à réattribuer par la coordination de la CPTS"}
    if row.closed_at is not None:
        out["executionPeriod"] = {"end": instant(row.closed_at)}
    return out


def searchset(base: str, query: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "link": [{"relation": "self", "url": f"{base}?{query}"}],
            "entry": [{"fullUrl": f"{base.rsplit('/', 1)[0]}/{r['resourceType']}/{r['id']}",
                       "resource": r, "search": {"mode": "match"}} for r in resources]}
