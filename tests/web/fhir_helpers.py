"""Helpers of the FHIR REST tests: register a system, get a token, call with it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from engine.store.db import transaction
from engine.store.fhir_clients import NewClient, add_client
from tests.web.conftest import NOW

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def register(engine: Engine, *scopes: str, name: str = "moteur-interfaces") -> NewClient:
    with transaction(engine) as session:
        return add_client(session, name, list(scopes), NOW)


def token(client: TestClient, system: NewClient, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = client.post("/fhir/auth/token", data=form,
                         auth=(system.client_id, system.secret))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    return str(body["access_token"])


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def outcome(answer: Any, status: int) -> dict[str, Any]:
    """The answer is an OperationOutcome in application/fhir+json with this status."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["resourceType"] == "OperationOutcome", body
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    OperationOutcome.model_validate(body)
    assert "Traceback" not in answer.text and "<html" not in answer.text.lower()
    return body
