"""Reads of ``/fhir``: Patient (INS, OID, identity reliability), CarePlan, CareTeam, Task;
each validates against ``fhir.resources.R4B`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.task import Task
from sqlalchemy import update

from engine.store.db import transaction
from engine.store.tables import Patient
from tests.web.conftest import MARIE, NURSE, Web
from tests.web.fhir_helpers import bearer, outcome, register, token

READ_ALL = "system/*.read"


def _get(web: Web, path: str) -> dict[str, Any]:
    client = web.client(raise_errors=False)
    system = register(web.engine, READ_ALL, name=f"lecteur-{uuid.uuid4().hex[:8]}")
    answer = client.get(path, headers=bearer(token(client, system)))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = answer.json()
    return body


def test_patient_carries_the_ins_with_its_oid_and_identity_status(web: Web) -> None:
    with transaction(web.engine) as db:
        db.execute(update(Patient).where(Patient.id == MARIE).values(  # type: ignore[arg-type]
            ins_oid="1.2.250.1.213.1.4.10", identity_status="QUAL"))
    body = _get(web, f"/fhir/Patient/{MARIE}")
    FhirPatient.model_validate(body)
    ins = body["identifier"][0]
    assert ins["system"] == "urn:oid:1.2.250.1.213.1.4.10" and ins["value"] == "195031234567890"
    status = body["extension"][0]["extension"][0]["valueCoding"]
    assert status["code"] == "QUAL" and status["display"] == "identité qualifiée"
    assert body["birthDate"] == "1950-03-12" and body["gender"] == "female"
    # what we send, our own intake reads back: the same identity
    from engine.intake.fhir import identity

    who = identity(FhirPatient.model_validate(body))
    assert who.qualified_ins is not None and who.qualified_ins.value == "195031234567890"


def test_care_plan_care_team_and_tasks_read_back_and_validate(web: Web) -> None:
    foot_exam = web.marie_in_follow_up()
    plans = _get(web, f"/fhir/CarePlan?patient={MARIE}")
    Bundle.model_validate(plans)
    assert plans["type"] == "searchset" and plans["total"] == 1
    plan = plans["entry"][0]["resource"]
    CarePlan.model_validate(plan)
    assert plan["status"] == "active" and plan["subject"]["reference"] == f"Patient/{MARIE}"
    assert plan["category"][0]["coding"][0]["code"] == "exemple-suivi"
    assert plan["description"].startswith("Étape(s) en cours : ")
    assert {"reference": f"Task/{foot_exam}"} in [a["reference"] for a in plan["activity"]]
    assert _get(web, f"/fhir/CarePlan/{plan['id']}") == plan

    team = _get(web, f"/fhir/CareTeam?patient=Patient/{MARIE}")["entry"][0]["resource"]
    CareTeam.model_validate(team)
    members = {p["role"][0]["coding"][0]["code"]: p["member"] for p in team["participant"]}
    assert members["infirmier"]["identifier"] == {
        "type": {"coding": [{"system": "https://hl7.fr/ig/fhir/core/CodeSystem/"
                                       "fr-core-cs-v2-0203", "code": "RPPS"}]},
        "system": "urn:oid:1.2.250.1.71.4.2.1", "value": "10000000002"}
    assert members["medecin_traitant"]["identifier"]["value"] == "10000000001"

    tasks = _get(web, f"/fhir/Task?patient={MARIE}")
    Bundle.model_validate(tasks)
    by_id = {e["resource"]["id"]: e["resource"] for e in tasks["entry"]}
    task = by_id[str(foot_exam)]
    Task.model_validate(task)
    row = web.row(foot_exam)
    assert task["status"] == "requested" and task["for"] == {"reference": f"Patient/{MARIE}"}
    assert task["basedOn"] == [{"reference": f"CarePlan/{plan['id']}"}]
    assert task["businessStatus"]["coding"][0]["code"] == row.state
    assert task["restriction"]["period"]["end"] == row.due_at.isoformat()
    assert task["owner"]["identifier"]["value"] == "10000000002"
    assert _get(web, f"/fhir/Task/{foot_exam}") == task
    done = by_id[str(web.task("bilan_initial"))]
    assert done["status"] == "completed" and "executionPeriod" in done


def test_a_declined_task_is_rejected_with_its_reason(web: Web) -> None:
    foot_exam = web.marie_in_follow_up()
    web.service.decline_task(foot_exam, NURSE, "patiente suivie ailleurs", web.clock.now())
    task = _get(web, f"/fhir/Task/{foot_exam}")
    Task.model_validate(task)
    assert task["status"] == "rejected"
    assert "patiente suivie ailleurs" in task["statusReason"]["text"]
    assert task["owner"]["identifier"]["value"] == "10000000002"


def test_reads_of_what_does_not_exist_are_404(web: Web) -> None:
    client = web.client(raise_errors=False)
    value = token(client, register(web.engine, READ_ALL))
    for path in ("/fhir/Patient/999", "/fhir/Patient/abc", "/fhir/Task/999",
                 "/fhir/CarePlan/12x", "/fhir/Task?patient=999"):
        assert outcome(client.get(path, headers=bearer(value)), 404)["issue"][0][
            "code"] == "not-found", path
    missing = outcome(client.get("/fhir/Task", headers=bearer(value)), 400)
    assert "patient" in missing["issue"][0]["diagnostics"]
    other = outcome(client.get("/fhir/Task?status=requested&patient=1", headers=bearer(value)),
                    400)
    assert "status" in other["issue"][0]["diagnostics"]


def test_fhir_json_has_no_empty_arrays_objects_or_nulls(web: Web) -> None:
    """Moreau (patient 2) has no INS, no identity status; Lefebvre (3) no care team."""
    body = _get(web, "/fhir/Patient/3")
    assert "extension" not in body and "identifier" not in body
    team = _get(web, "/fhir/CareTeam?patient=3")["entry"][0]["resource"]
    assert "participant" not in team
    CareTeam.model_validate(team)

    def walk(value: Any) -> None:
        assert value not in (None, [], {}, ""), body
        for child in (value.values() if isinstance(value, dict) else
                      value if isinstance(value, list) else []):
            walk(child)

    walk(body)
    walk(team)
