"""Who may call ``/fhir``: OAuth2 client credentials (Authlib) for systems, the workspace
session for people; 401/403 as OperationOutcome (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.store.db import transaction
from engine.store.fhir_clients import digest
from engine.store.tables import AccessLogRow, FhirClient, FhirToken
from flows.cli import main
from tests.web.conftest import COORDINATOR, GP, MARIE, NURSE, OUTSIDER, Web
from tests.web.fhir_helpers import FHIR_JSON, bearer, outcome, register, token


def test_a_client_gets_a_short_lived_token_and_reads_with_it(web: Web) -> None:
    system = register(web.engine, "system/Patient.read", "system/Task.read")
    client = web.client(raise_errors=False)
    value = token(client, system)
    assert client.get(f"/fhir/Patient/{MARIE}", headers=bearer(value)).status_code == 200
    with transaction(web.engine) as db:  # stored hashed: neither secret nor token in clear
        row = db.scalars(select(FhirClient)).one()
        assert row.secret_hash == digest(system.secret) and system.secret not in str(
            row.model_dump())
        stored = db.scalars(select(FhirToken)).one()
        assert stored.token_hash == digest(value)
    # client_secret_post works too
    answer = client.post("/fhir/auth/token", data={
        "grant_type": "client_credentials", "client_id": system.client_id,
        "client_secret": system.secret, "scope": "system/Task.read"})
    assert answer.status_code == 200 and answer.json()["scope"] == "system/Task.read"
    # five minutes later the token is refused
    web.clock.advance(timedelta(minutes=5, seconds=1))
    refused = outcome(client.get(f"/fhir/Patient/{MARIE}", headers=bearer(value)), 401)
    assert "expiré" in refused["issue"][0]["diagnostics"]


def test_a_wrong_secret_or_an_unknown_client_gets_no_token(web: Web) -> None:
    system = register(web.engine, "system/*.read")
    client = web.client(raise_errors=False)
    for auth in ((system.client_id, "not-the-secret"), ("fhir-unknown", system.secret)):
        answer = client.post("/fhir/auth/token", data={"grant_type": "client_credentials"},
                             auth=auth)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    answer = client.post("/fhir/auth/token", data={"grant_type": "password"},
                         auth=(system.client_id, system.secret))
    assert answer.json()["error"] == "unsupported_grant_type"
    # asking for a scope it does not hold: refused, not widened
    answer = client.post("/fhir/auth/token", data={
        "grant_type": "client_credentials", "scope": "system/*.write"},
        auth=(system.client_id, system.secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"
    with transaction(web.engine) as db:
        assert db.scalar(select(func.count()).select_from(FhirToken)) == 0


def test_unauthenticated_wrong_scope_and_revoked_are_refused(web: Web, cli_env: str) -> None:
    client = web.client(raise_errors=False)
    refused = client.get(f"/fhir/Patient/{MARIE}")
    outcome(refused, 401)
    assert refused.headers["www-authenticate"].startswith("Bearer realm=")
    assert outcome(client.get("/fhir/Task/1", headers=bearer("forged")), 401)
    reader = register(web.engine, "system/Task.read")
    value = token(client, reader)
    forbidden = client.get(f"/fhir/Patient/{MARIE}", headers=bearer(value))
    assert outcome(forbidden, 403)["issue"][0]["code"] == "forbidden"
    assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
    assert outcome(client.post("/fhir/Patient", json={"resourceType": "Patient"},
                               headers={**bearer(value), **FHIR_JSON}), 403)
    assert client.get(f"/fhir/Task?patient={MARIE}", headers=bearer(value)).status_code == 200
    assert main(["fhir", "clients", "revoke", reader.name]) == 0
    outcome(client.get(f"/fhir/Task?patient={MARIE}", headers=bearer(value)), 401)
    answer = client.post("/fhir/auth/token", data={"grant_type": "client_credentials"},
                         auth=(reader.client_id, reader.secret))
    assert answer.status_code == 401


@pytest.mark.parametrize(("who", "expected"), [(COORDINATOR, 200), (GP, 200), (NURSE, 200),
                                               (OUTSIDER, 404)])
def test_people_read_what_the_workspace_shows_them(web: Web, who: int, expected: int) -> None:
    web.marie_in_follow_up()
    client = web.signed_in(who)
    for path in (f"/fhir/Patient/{MARIE}", f"/fhir/Task?patient={MARIE}",
                 f"/fhir/CareTeam?patient=Patient/{MARIE}", f"/fhir/CarePlan?patient={MARIE}"):
        answer = client.get(path)
        if expected == 404:
            body = outcome(answer, 404)
            assert "Durand" not in answer.text and body["issue"][0]["code"] == "not-found"
        else:
            assert answer.status_code == 200, (path, answer.text)
    with transaction(web.engine) as db:
        logged = db.scalar(select(func.count()).select_from(AccessLogRow).where(
            AccessLogRow.professional_id == who))
    assert logged == (4 if expected == 200 else 0)
    # people only read
    outcome(client.post("/fhir", json={"resourceType": "Bundle"}, headers=FHIR_JSON), 403)


def test_clients_command_prints_the_secret_once_lists_and_revokes(
        web: Web, cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "clients", "add", "plateforme-regionale", "--scope",
                 "system/*.write system/Patient.read", "--scope", "system/Task.read"]) == 0
    out = capsys.readouterr().out
    secret = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                  if line.startswith("client_secret"))
    assert len(secret) >= 40 and "ne sera plus jamais affiché" in out
    assert main(["fhir", "clients", "list"]) == 0
    listed = capsys.readouterr().out
    assert "plateforme-regionale" in listed and secret not in listed and "actif" in listed
    assert main(["fhir", "clients", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["scopes"] == ["system/*.write", "system/Patient.read", "system/Task.read"]
    assert row["revoked_at"] is None and "secret_hash" not in row
    assert main(["fhir", "clients", "add", "x", "--scope", "system/Claim.read"]) == 1
    assert "portée inconnue 'system/Claim.read'" in capsys.readouterr().err
    assert main(["fhir", "clients", "add", "plateforme-regionale", "--scope",
                 "system/*.read"]) == 1
    assert "déjà" in capsys.readouterr().err
    assert main(["fhir", "clients", "revoke", "plateforme-regionale"]) == 0
    assert main(["fhir", "clients", "list"]) == 0
    assert "révoqué le" in capsys.readouterr().out
    assert main(["fhir", "clients", "revoke", "inconnu"]) == 1
