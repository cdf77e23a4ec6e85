"""``GET /fhir/metadata``: the CapabilityStatement, exactly what ``web/fhir`` implements.

The resources are served as FHIR R4 JSON (``fhirVersion`` 4.0.1, what interface engines
and Synthea speak); they are validated with ``fhir.resources``' R4B models, which are
wire-compatible with R4 for every resource listed here. The OAuth2 token URL is in
``rest.security`` under the SMART ``oauth-uris`` extension.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from web.fhir.auth import TOKEN_PATH
from web.fhir.errors import MEDIA_TYPE

SMART = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
PATIENT_PARAM = [{"name": "patient", "type": "reference",
                  "documentation": "Patient/<id> : obligatoire"}]


def _resource(kind: str, interactions: list[str], search: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "interaction": [{"code": i} for i in interactions]}
    if search:
        out["searchParam"] = PATIENT_PARAM
    return out


def capability_statement(base_url: str, published: datetime) -> dict[str, Any]:
    base = base_url.rstrip("/")
    return {
        "resourceType": "CapabilityStatement", "id": "parcours", "status": "active",
        "date": published.isoformat(), "kind": "instance", "publisher": "Parcours",
        "name": "ParcoursFhir", "title": "Parcours : interface FHIR R4",
        "software": {"name": "Parcours"},
        "implementation": {"description": "Parcours : parcours de soins de la CPTS",
                           "url": f"{base}/fhir"},
        "fhirVersion": "4.0.1", "format": ["json"], "patchFormat": [],
        "rest": [{
            "mode": "server",
            "documentation": "Systèmes : OAuth2 client credentials (portées SMART system/…) ; "
                             "personnes : session de l'espace Parcours (lecture seule).",
            "security": {
                "cors": False,
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"}]}],
                "extension": [{"url": SMART, "extension": [
                    {"url": "token", "valueUri": f"{base}{TOKEN_PATH}"}]}]},
            "resource": [
                _resource("Patient", ["read", "create"]),
                _resource("Observation", ["create"]),
                _resource("Encounter", ["create"]),
                _resource("CarePlan", ["read", "search-type"], search=True),
                _resource("CareTeam", ["search-type"], search=True),
                _resource("Task", ["read", "search-type"], search=True)],
            "interaction": [{"code": "transaction",
                             "documentation": "Bundle transaction ou collection, un patient "
                                              "par Bundle, tout ou rien"}]}],
    }


__all__ = ["MEDIA_TYPE", "capability_statement"]
