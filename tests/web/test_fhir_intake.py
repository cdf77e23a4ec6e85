"""Posting to ``/fhir`` and the errors of the interface: single resources into the inbox,
invalid input located, every error an OperationOutcome; the CapabilityStatement
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from sqlalchemy import select

from engine.settings import Settings
from engine.store import inbox
from engine.store.db import transaction
from engine.store.tables import InboxRow, ObservationRow, Patient, PatientIdentifier
from tests.web.conftest import MARIE, SECRET, Web
from tests.web.fhir_helpers import FHIR_JSON, bearer, outcome, register, token
from web.app import create_app
from web.fhir.settings import FhirSettings
from web.settings import WebSettings

WRITE = "system/*.write"


def hba1c(value: Any = 8.1, subject: str = f"Patient/{MARIE}") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:oid:1.2.250.1.999.1", "value": "LAB-42"}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "subject": {"reference": subject}, "effectiveDateTime": "2026-01-07T09:00:00+01:00",
            "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org",
                              "code": "%"}}


@pytest.fixture
def system(web: Web) -> tuple[TestClient, dict[str, str]]:
    client = web.client(raise_errors=False)
    value = token(client, register(web.engine, WRITE, "system/*.read"))
    return client, {**bearer(value), **FHIR_JSON}


def test_metadata_is_an_r4_capability_statement_of_what_is_served(web: Web) -> None:
    answer = web.client().get("/fhir/metadata")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/fhir+json")
    body = answer.json()
    CapabilityStatement.model_validate(body)
    rest = body["rest"][0]
    assert {r["type"] for r in rest["resource"]} == {"Patient", "Observation", "Encounter",
                                                      "CarePlan", "CareTeam", "Task"}
    token_url = rest["security"]["extension"][0]["extension"][0]["valueUri"]
    assert token_url == "http://127.0.0.1:8000/fhir/auth/token"
    task = next(r for r in rest["resource"] if r["type"] == "Task")
    assert {i["code"] for i in task["interaction"]} == {"read", "search-type"}


def test_an_observation_goes_to_the_inbox_once_and_drives_the_case(
        web: Web, system: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = system
    web.marie_in_follow_up()
    first = client.post("/fhir/Observation", json=hba1c(), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["issue"][0]["severity"] == "information"
    again = client.post("/fhir/Observation", json=hba1c(), headers=headers)
    assert again.status_code == 200 and "1 déjà reçu" in again.text
    with transaction(web.engine) as db:
        rows = db.scalars(select(InboxRow)).all()
        assert [(r.kind, r.patient_ref, r.status) for r in rows] == [
            ("observation", str(MARIE), "pending")]
        assert rows[0].payload["code"] == "4548-4" and rows[0].payload["value"] == 8.1
    report = inbox.drain(web.service, web.clock.now(), 100)
    assert sum(report.applied.values()) == 1 and not report.failed
    with transaction(web.engine) as db:
        assert db.scalars(select(ObservationRow.value)).all() == [8.1]
    # a result the pathways do not read: valid, nothing written
    other = {**hba1c(), "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}}
    assert "non lue" in client.post("/fhir/Observation", json=other, headers=headers).text


def test_invalid_resources_answer_the_location_of_each_error(
        web: Web, system: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = system
    bad = hba1c("beaucoup")
    bad["effectiveDateTime"] = "2026-13-45"
    body = outcome(client.post("/fhir/Observation", json=bad, headers=headers), 400)
    where = {e for issue in body["issue"] for e in issue.get("expression", [])}
    assert where == {"Observation.valueQuantity.value", "Observation.effectiveDateTime"}
    unknown = outcome(client.post("/fhir/Observation", json=hba1c(subject="Patient/999"),
                                  headers=headers), 422)
    assert unknown["issue"][0]["expression"] == ["Observation.subject.reference"]
    by_ident = hba1c()
    by_ident["subject"] = {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8",
                                          "value": "195031234567890"}}
    assert client.post("/fhir/Observation", json=by_ident, headers=headers).status_code == 201
    patient = {"resourceType": "Patient", "birthDate": "1950-02-30",
               "identifier": [{"system": "urn:oid:1.2.250.1.999", "value": "P1"}]}
    assert outcome(client.post("/fhir/Patient", json=patient, headers=headers), 400)[
        "issue"][0]["expression"] == ["Patient.birthDate"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**patient, "birthDate": "1950-02-03"}}, {"resource": bad}]}
    body = outcome(client.post("/fhir", json=bundle, headers=headers), 400)
    assert "Bundle.entry[1].resource.valueQuantity.value" in {
        e for issue in body["issue"] for e in issue.get("expression", [])}
    assert outcome(client.post("/fhir", json={**bundle, "type": "history"}, headers=headers),
                   422)["issue"][0]["expression"] == ["Bundle.type"]
    deleting = {**bundle, "entry": [{**bundle["entry"][0],
                                     "request": {"method": "DELETE", "url": "Patient/1"}}]}
    assert outcome(client.post("/fhir", json=deleting, headers=headers), 422)["issue"][0][
        "expression"] == ["Bundle.entry[0].request.method"]
    nameless = {"resourceType": "Patient", "birthDate": "1950-02-03"}
    assert outcome(client.post("/fhir/Patient", json=nameless, headers=headers), 422)[
        "issue"][0]["expression"] == ["Patient.identifier"]
    with transaction(web.engine) as db:  # all or nothing: nothing of the refused bundle
        assert sorted(db.scalars(select(Patient.id))) == [1, 2, 3]
        assert len(db.scalars(select(InboxRow)).all()) == 1


def test_a_patient_is_created_once_and_an_encounter_becomes_a_stay(
        web: Web, system: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = system
    patient = {"resourceType": "Patient", "birthDate": "1941-05-06", "gender": "male",
               "name": [{"family": "Nouveau", "given": ["Pierre"]}],
               "identifier": [{"system": "urn:oid:1.2.250.1.999", "value": "IPP-9"}]}
    created = client.post("/fhir/Patient", json=patient, headers=headers)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert client.post("/fhir/Patient", json=patient, headers=headers).status_code == 200
    stay = {"resourceType": "Encounter", "id": "SEJ-1", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "IMP"},
            "subject": {"identifier": {"system": "urn:oid:1.2.250.1.999", "value": "IPP-9"}},
            "period": {"start": "2026-01-06T10:00:00+01:00", "end": "2026-01-07T16:00:00+01:00"}}
    assert client.post("/fhir/Encounter", json=stay, headers=headers).status_code == 201
    assert client.post("/fhir/Encounter", json=stay, headers=headers).status_code == 200
    with transaction(web.engine) as db:
        kinds = [(r.kind, r.patient_ref) for r in db.scalars(
            select(InboxRow).where(InboxRow.kind != "message"))]
    assert kinds == [("admission", location.split("/")[1]), ("discharge", location.split("/")[1])]


def test_every_error_is_an_operation_outcome(
        web: Web, system: tuple[TestClient, dict[str, str]],
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    client, headers = system
    assert outcome(client.get("/fhir/Medication/1", headers=headers), 404)
    assert outcome(client.delete(f"/fhir/Patient/{MARIE}", headers=headers), 405)
    assert outcome(client.post("/fhir", content=b"{oops", headers=headers), 400)
    assert outcome(client.post("/fhir", content=b"<Bundle/>", headers={
        **headers, "Content-Type": "application/fhir+xml"}), 415)
    assert outcome(client.get("/fhir/metadata?_format=xml"), 406)
    assert outcome(client.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"}),
                   406)
    assert client.get("/fhir/metadata?_format=json", headers={
        "Accept": "application/fhir+json; fhirVersion=4.0"}).status_code == 200

    def crash(*args: object) -> None:
        raise RuntimeError("Durand 195031234567890")

    monkeypatch.setattr("web.fhir.read.patient", crash)
    with caplog.at_level(logging.ERROR):
        answer = client.get(f"/fhir/Patient/{MARIE}", headers=headers)
    body = outcome(answer, 500)
    assert body["issue"][0]["code"] == "exception" and "Durand" not in answer.text
    assert "Durand" not in caplog.text and "RuntimeError" in caplog.text


def test_a_body_over_the_limit_is_413(web: Web) -> None:
    app = create_app(WebSettings(secret_key=SECRET), Settings(database_url=web.db_url),
                     clock=web.clock, fhir=FhirSettings(max_body_mb=0.01))
    try:
        client = TestClient(app, raise_server_exceptions=False)
        headers = {**bearer(token(client, register(web.engine, WRITE))), **FHIR_JSON}
        big = json.dumps({"resourceType": "Bundle", "type": "collection",
                          "entry": [{"resource": {"resourceType": "Basic", "id": "x" * 60}}
                                    for _ in range(200)]})
        assert outcome(client.post("/fhir", content=big, headers=headers), 413)[
            "issue"][0]["code"] == "too-costly"

        def chunks() -> Any:  # no Content-Length: counted while read
            yield big.encode()

        assert outcome(client.post("/fhir", content=chunks(), headers=headers), 413)
    finally:
        app.state.web.engine.dispose()


def test_a_patient_created_meanwhile_by_a_concurrent_request_is_matched(
        web: Web, system: tuple[TestClient, dict[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two systems post the same new patient at once: the second transaction hits the
    unique identifier the first one just wrote; it is run again and matches that patient."""
    from engine.store import fhir_import

    client, headers = system
    patient = {"resourceType": "Patient", "birthDate": "1941-05-06",
               "identifier": [{"system": "urn:oid:1.2.250.1.999", "value": "IPP-10"}]}
    real = fhir_import.import_bundle
    calls: list[int] = []

    def racing(session: Any, *args: Any) -> Any:
        if not calls:  # the other request commits the same patient, our insert then fails
            calls.append(1)
            with transaction(web.engine) as other:
                real(other, *args)
            session.add(PatientIdentifier(patient_id=MARIE, system="1.2.250.1.999",
                                          value="IPP-10", created_at=web.clock.now()))
            session.flush()
        return real(session, *args)

    monkeypatch.setattr("web.fhir.intake.import_bundle", racing)
    answer = client.post("/fhir/Patient", json=patient, headers=headers)
    assert answer.status_code == 200, answer.text  # matched: created by the other one
    with transaction(web.engine) as db:
        assert len(db.scalars(select(Patient).where(Patient.birth_date == date(1941, 5, 6))
                              ).all()) == 1
    assert calls == [1]
