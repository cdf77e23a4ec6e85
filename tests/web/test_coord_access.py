"""Every coordinator page, download and action: a professional gets the same 404 as for a
thing that does not exist (nothing written), a signed-out visitor is sent to sign in, the
coordinator gets the page. SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.store.db import transaction
from engine.store.tables import CareTeamMember, CaseEvent, TaskRow
from tests.web.conftest import COORDINATOR, GP, NURSE, OUTSIDER, Web, csrf_of

PAGES = ["/coordination/tableau-de-bord", "/coordination/tableau-de-bord?parcours=exemple-suivi",
         "/coordination/a-traiter", "/coordination/exports", "/coordination/rapport",
         "/coordination/rapport?mois=2026-01", "/coordination/journal"]
DOWNLOADS = ["/coordination/tableau-de-bord/etats.csv", "/coordination/graphiques/roles.svg",
             "/coordination/graphiques/mois.svg", "/coordination/rapport.csv",
             "/coordination/journal.csv", *(f"/coordination/a-traiter/{name}.csv" for name in (
                 "retards", "roles-vacants", "refusees", "evenements", "messages",
                 "minuteries"))]
ACTIONS = ["/coordination/a-traiter/taches/{task}/role",
           "/coordination/a-traiter/taches/{task}/reattribuer",
           "/coordination/a-traiter/evenements/1/corriger",
           "/coordination/a-traiter/evenements/1/ecarter",
           "/coordination/a-traiter/messages/1/renvoyer",
           "/coordination/a-traiter/dossiers/1/relancer"]
PROFESSIONALS = {"gp": GP, "nurse": NURSE, "outsider": OUTSIDER}


def _written(web: Web) -> tuple[int, int]:
    with transaction(web.engine) as db:
        return (db.scalar(select(func.count()).select_from(CaseEvent)) or 0,
                db.scalar(select(func.count()).select_from(CareTeamMember)) or 0)


@pytest.mark.parametrize("who", PROFESSIONALS)
def test_a_professional_gets_404_everywhere(web: Web, who: str) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(PROFESSIONALS[who])
    for path in PAGES + DOWNLOADS:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Page introuvable" in response.text and "DURAND" not in response.text, path
    before = _written(web)
    csrf = csrf_of(client.get("/tasks").text)
    for action in ACTIONS:
        response = client.post(action.format(task=task), data={
            "csrf": csrf, "professionnel": str(PROFESSIONALS[who]), "motif": "x",
            "valeur": "7", "adresse": "a@b.fr"})
        assert response.status_code == 404, action
    assert _written(web) == before


def test_signed_out_visitors_are_sent_to_sign_in(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.client()
    for path in PAGES + DOWNLOADS:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/connexion?suite=/coordination/"), path
    csrf = csrf_of(client.get("/connexion").text)
    for action in ACTIONS:
        response = client.post(action.format(task=task), data={"csrf": csrf})
        assert response.status_code == 303, action
        assert response.headers["location"].startswith("/connexion?suite="), action


def test_the_coordinator_gets_every_page_and_download(web: Web) -> None:
    web.marie_in_follow_up()
    client: TestClient = web.signed_in(COORDINATOR)
    for path in PAGES + DOWNLOADS:
        response = client.get(path)
        assert response.status_code == 200, path
    assert client.get("/coordination/a-traiter/inconnue.csv").status_code == 404
    with transaction(web.engine) as db:
        assert db.scalar(select(func.count()).select_from(TaskRow)) == 2


def test_the_access_log_filters_by_professional_patient_and_dates(web: Web) -> None:
    task = web.marie_in_follow_up()
    web.signed_in(NURSE).get(f"/tasks/{task}")
    web.signed_in(GP).get("/patients/1")
    coordinator = web.signed_in(COORDINATOR)
    everything = coordinator.get("/coordination/journal").text
    assert everything.count("<tr><td>") == 2
    by_nurse = coordinator.get(f"/coordination/journal?professionnel={NURSE}").text
    assert by_nurse.count("<tr><td>") == 1 and "Anne Bernard" in by_nurse
    today = web.clock.now().date().isoformat()
    assert coordinator.get(f"/coordination/journal?du={today}&au={today}&patient=1"
                           ).text.count("<tr><td>") == 2
    assert "Aucun accès enregistré pour ce filtre" in coordinator.get(
        "/coordination/journal?du=2020-01-01&au=2020-01-31").text
    bad = coordinator.get("/coordination/journal?du=2026-02-01&au=2026-01-01")
    assert bad.status_code == 400 and "la date de fin précède" in bad.text
    csv = coordinator.get(f"/coordination/journal.csv?professionnel={GP}").text
    assert csv.startswith("\ufeffQuand;Professionnel;N° professionnel;Action;Patient")
    assert len(csv.strip().splitlines()) == 2 and "Paul Martin" in csv
