"""``parcours import fhir``: every Synthea bundle of the shared folder, idempotent, driving
the pathways (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import CaseEvent, CaseRow, InboxRow, ObservationRow, Patient, TaskRow
from flows.cli import main

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "data" / "synthea-r4"
if not SYNTHEA.is_dir():  # CI lays shared/ beside the clone
    SYNTHEA = ROOT.parent.parent / "shared" / "data" / "synthea-r4"
PATHWAYS = sorted((ROOT / "pathways").glob("*.yaml"))
NOW = "2026-06-01T10:00"

# in CI the shared bundles are always beside the clone: there a missing folder fails the tests
pytestmark = pytest.mark.skipif(not SYNTHEA.is_dir() and os.environ.get("CI") != "true",
                                reason="shared Synthea bundles absent")


@pytest.fixture
def territory(cli_env: str, engine: Engine) -> Engine:
    service = CaseService(engine)
    from datetime import UTC, datetime

    for path in PATHWAYS:
        service.publish(path.read_text(encoding="utf-8"), str(path),
                        datetime(2026, 1, 1, tzinfo=UTC))
    return engine


def counts(engine: Engine) -> tuple[int, ...]:
    with transaction(engine) as s:
        return tuple(s.scalar(select(func.count()).select_from(table)) or 0 for table in
                     (Patient, InboxRow, CaseRow, CaseEvent, ObservationRow, TaskRow))


def cases_of(engine: Engine, family: str) -> dict[str, CaseRow]:
    with transaction(engine) as s:
        rows = s.scalars(select(CaseRow).join(Patient, Patient.id == CaseRow.patient_id)  # type: ignore[arg-type]
                         .where(Patient.family_name == family))
        return {r.pathway_key: r for r in rows}


def test_every_synthea_bundle_imports_drives_the_pathways_and_is_idempotent(
        territory: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    bundles = sorted(SYNTHEA.glob("*.json"))
    assert len(bundles) == 12
    assert main(["import", "fhir", str(SYNTHEA), "--apply", "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "12 bundle(s) importé(s), 0 refusé(s)" in out and "0 refusé(s) (parcours" in out
    assert out.count("créé,") == 12
    first = counts(territory)

    # a type-2 diabetic: a diabetes case whose HbA1c history is there
    renato = cases_of(territory, "Dare")
    assert set(renato) == {"diabete-type2"}
    with transaction(territory) as s:
        hba1c = s.scalars(select(ObservationRow.value).where(
            ObservationRow.code == "4548-4", ObservationRow.patient_id == renato[
                "diabete-type2"].patient_id)).all()
        seen = s.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == renato["diabete-type2"].id, CaseEvent.kind == "observation"))
    assert len(hba1c) == 5 and seen
    # a living heart-failure patient 65+: the heart-failure pathway
    assert "insuffisance-cardiaque-65" in cases_of(territory, "Murazik")
    # a 75+ patient's inpatient stay, replayed: admitted, discharged, follow-up under way
    lavelle = cases_of(territory, "Kuvalis")["hospitalisation-sujet-age"]
    assert "parcours.retour_domicile.veille.en_veille" in lavelle.active_states
    with transaction(territory) as s:
        tasks = set(s.scalars(select(TaskRow.key).where(TaskRow.case_id == lavelle.id)))
    assert {"visite_medecin_sortie", "conciliation_medicamenteuse"} <= tasks
    # the deceased are imported (their history) but enrolled nowhere
    assert cases_of(territory, "Beer") == {}

    # the same files again: nothing new anywhere
    assert main(["import", "fhir", *map(str, bundles), "--apply", "--now", NOW]) == 0
    again = capsys.readouterr().out
    assert again.count("déjà connu") == 12 and " 0 événement(s) reçu(s)" in again
    assert counts(territory) == first


def test_an_invalid_bundle_is_refused_whole_with_the_path_of_the_error(
        territory: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = next(SYNTHEA.glob("Louis_Maggio_*.json"))
    data = json.loads(source.read_text(encoding="utf-8"))
    where = next(i for i, e in enumerate(data["entry"])
                 if e["resource"]["resourceType"] == "Observation")
    data["entry"][where]["resource"]["effectiveDateTime"] = "2020-13-45"
    (tmp_path / "bad.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    shutil.copy(next(SYNTHEA.glob("Chet_Thompson_*.json")), tmp_path / "good.json")
    assert main(["import", "fhir", str(tmp_path), "--now", NOW]) == 1
    err = capsys.readouterr().err
    assert f"bad.json : Bundle.entry[{where}].resource.effectiveDateTime" in err
    assert "broken.json : fichier JSON illisible" in err
    with transaction(territory) as s:
        assert s.scalars(select(Patient.family_name)).all() == ["Thompson"]


# -- the same bundles through the REST interface (POST /fhir) --------------------------------


def _rest_client(engine: Engine, db_url: str) -> tuple[TestClient, dict[str, str]]:
    from engine.clock import FixedClock
    from engine.settings import Settings
    from engine.store.fhir_clients import add_client
    from flows.commands.common import moment
    from web.app import create_app
    from web.settings import WebSettings

    now = moment(NOW)
    app = create_app(WebSettings(secret_key="s" * 48), Settings(database_url=db_url),
                     clock=FixedClock(now))
    client = TestClient(app, raise_server_exceptions=False)
    with transaction(engine) as s:
        system = add_client(s, "plateforme", ["system/Bundle.write"], now)
    answer = client.post("/fhir/auth/token", data={"grant_type": "client_credentials"},
                         auth=(system.client_id, system.secret))
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}",
               "Content-Type": "application/fhir+json"}
    return client, headers


def test_every_synthea_bundle_posted_to_the_rest_interface_drives_the_pathways(
        territory: Engine, db_url: str) -> None:
    from engine.store.fhir_import import BundleReport, apply_imported
    from flows.commands.common import moment

    client, headers = _rest_client(territory, db_url)
    bundles = sorted(SYNTHEA.glob("*.json"))
    assert len(bundles) == 12
    reports = []
    for path in bundles:
        answer = client.post("/fhir", content=path.read_bytes(), headers=headers)
        assert answer.status_code == 200, (path.name, answer.text)
        body = answer.json()
        assert body["type"] == "transaction-response"
        data = json.loads(path.read_bytes())
        assert len(body["entry"]) == len(data["entry"])
        first = body["entry"][0]["response"]
        assert first["status"] == "201 Created", path.name
        patient = next(d["resource"] for d in data["entry"]
                       if d["resource"]["resourceType"] == "Patient")
        reports.append(BundleReport(path.name, int(first["location"].split("/")[1]),
                                    deceased="deceasedDateTime" in patient))
    # what --apply does after a file import: enrol where eligible, apply the inbox in order
    summary = apply_imported(CaseService(territory), reports, moment(NOW))
    assert " 0 refusé(s)" in summary
    first_counts = counts(territory)

    renato = cases_of(territory, "Dare")
    assert set(renato) == {"diabete-type2"}
    with transaction(territory) as s:
        hba1c = s.scalars(select(ObservationRow.value).where(
            ObservationRow.code == "4548-4", ObservationRow.patient_id == renato[
                "diabete-type2"].patient_id)).all()
    assert len(hba1c) == 5
    assert "insuffisance-cardiaque-65" in cases_of(territory, "Murazik")
    lavelle = cases_of(territory, "Kuvalis")["hospitalisation-sujet-age"]
    assert "parcours.retour_domicile.veille.en_veille" in lavelle.active_states
    with transaction(territory) as s:
        tasks = set(s.scalars(select(TaskRow.key).where(TaskRow.case_id == lavelle.id)))
    assert {"visite_medecin_sortie", "conciliation_medicamenteuse"} <= tasks
    assert cases_of(territory, "Beer") == {}

    # posted again: 200 OK, nothing new anywhere
    for path in bundles:
        answer = client.post("/fhir", content=path.read_bytes(), headers=headers)
        first = answer.json()["entry"][0]["response"]
        assert first["status"] == "200 OK" and " 0 événement(s) reçu(s)" in first[
            "outcome"]["issue"][0]["diagnostics"]
    assert counts(territory) == first_counts
    app = client.app
    assert isinstance(app, FastAPI)
    app.state.web.engine.dispose()
