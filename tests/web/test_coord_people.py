"""The coordinator's Patients and Professionals pages against the real app, on SQLite and
PostgreSQL: who may see them, every action (CSRF, French answers, nothing written on bad
input), the timeline on the patient's file, the CSV exports, and deactivation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.store import signin
from engine.store.db import transaction
from engine.store.tables import (
    AccessLogRow,
    CareTeamMember,
    CaseEvent,
    CaseRow,
    Professional,
    TaskRow,
)
from tests.web.conftest import (
    COORDINATOR,
    GP,
    MARIE,
    NURSE,
    OUTSIDER,
    T0,
    Web,
    csrf_of,
    sign_in,
)

PAGES = ["/coordination/patients", "/coordination/patients?q=durand",
         "/coordination/patients.csv", "/coordination/patients/{patient}",
         "/coordination/patients/{patient}/inscription?parcours=exemple-suivi",
         "/coordination/professionals", "/coordination/professionals.csv",
         "/coordination/professionals/nouveau", "/coordination/professionals/{pro}"]
ACTIONS = {"/coordination/patients/{patient}/equipe": {"role": "infirmier",
                                                       "professionnel": "retirer"},
           "/coordination/patients/{patient}/inscription": {"parcours": "exemple-suivi"},
           "/coordination/cases/{case}/cloture": {"motif": "déménagement"},
           "/coordination/professionals": {"rpps": "10000000077", "nom": "Noël",
                                           "prenoms": "Élise", "profession": "pharmacien",
                                           "email": "elise@example.fr"},
           "/coordination/professionals/{pro}/desactiver": {},
           "/coordination/professionals/{pro}/reactiver": {}}


def _url(path: str, web: Web) -> str:
    with transaction(web.engine) as db:
        case = db.scalar(select(func.min(CaseRow.id)))
    return path.format(patient=MARIE, pro=GP, case=case)


def _counts(web: Web) -> tuple[int, ...]:
    with transaction(web.engine) as db:
        return tuple(db.scalar(select(func.count()).select_from(t)) or 0
                     for t in (CaseEvent, CareTeamMember, CaseRow, Professional, AccessLogRow))


def test_only_the_coordinator_sees_the_pages(web: Web) -> None:
    web.marie_in_follow_up()
    for pid in (GP, NURSE, OUTSIDER):
        client = web.signed_in(pid)
        for path in PAGES:
            response = client.get(_url(path, web))
            assert response.status_code == 404, (pid, path)
            assert "DURAND" not in response.text and "Durand" not in response.text
    anonymous = web.client()
    for path in PAGES:
        response = anonymous.get(_url(path, web))
        assert response.status_code == 303 and response.headers["location"].startswith(
            "/connexion?suite=/coordination/"), path
    coordinator = web.signed_in(COORDINATOR)
    for path in PAGES:
        assert coordinator.get(_url(path, web)).status_code == 200, path


def test_refused_actions_write_nothing(web: Web) -> None:
    web.marie_in_follow_up()
    before = _counts(web)
    for pid in (GP, NURSE, OUTSIDER, None):
        client = web.signed_in(pid)
        csrf = csrf_of(client.get("/connexion").text)
        for path, data in ACTIONS.items():
            response = client.post(_url(path, web), data={"csrf": csrf, **data})
            assert response.status_code in (303, 404), (pid, path)
        assert _counts(web) == before
    coordinator = web.signed_in(COORDINATOR)
    for path, data in ACTIONS.items():  # without the CSRF token
        assert coordinator.post(_url(path, web), data=data).status_code in (400, 403), path
    assert _counts(web) == before


def test_search_without_accents_and_the_file_with_its_timeline(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(COORDINATOR)
    for query in ("durand", "DURAND", "12/03/1950", "195031234567890", "marie dur"):
        page = client.get("/coordination/patients", params={"q": query})
        assert f'href="/coordination/patients/{MARIE}"' in page.text, query
    assert "Aucun patient" in client.get("/coordination/patients?q=zzz").text
    before = _counts(web)[4]
    page = client.get(f"/coordination/patients/{MARIE}").text
    assert _counts(web)[4] == before + 1  # the access log
    with transaction(web.engine) as db:
        row = db.scalars(select(AccessLogRow).order_by(AccessLogRow.id.desc())).first()
        assert row is not None and (row.professional_id, row.action, row.patient_id) == \
            (COORDINATOR, "read_patient", MARIE)
        title = db.get(TaskRow, task).title  # type: ignore[union-attr]
    assert "Historique" in page and "Inscription dans le parcours « Suivi d&#39;exemple »" \
        in page
    assert f"« {title} » demandée à Anne Bernard (Infirmier)" in page
    assert "Réaliser le bilan initial » terminée" in page
    assert "Aucune observation enregistrée." in page
    web.service.observe(MARIE, "4548-4", "7,9", "%", T0, T0)
    page = client.get(f"/coordination/patients/{MARIE}").text
    assert "Aucune observation enregistrée." not in page
    assert "<tr><td>HbA1c</td><td>7,9 %</td>" in page  # French decimal comma


def test_care_team_enrolment_and_closing(web: Web) -> None:
    web.marie_in_follow_up()
    client = web.signed_in(COORDINATOR)
    path = f"/coordination/patients/{MARIE}"
    csrf = csrf_of(client.get(path).text)
    bad = client.post(f"{path}/equipe", data={"csrf": csrf, "role": "infirmier",
                                              "professionnel": ""})
    assert bad.status_code == 400 and "Professionnel : choisissez" in bad.text
    done = client.post(f"{path}/equipe", data={"csrf": csrf, "role": "infirmier",
                                               "professionnel": str(OUTSIDER)})
    assert done.status_code == 200 and "Équipe de soins modifiée : Luc Petit — Infirmier" \
        in done.text
    assert "Luc Petit devient « Infirmier » à la place de Anne Bernard" in done.text
    # Jean (P-002, adult): eligible; Julie (P-003, a child): not, unless forced
    eligible = client.get("/coordination/patients/2/inscription?parcours=exemple-suivi")
    assert "Éligible" in eligible.text
    child = client.get("/coordination/patients/3/inscription?parcours=exemple-suivi")
    assert "Non éligible" in child.text and "malgre_criteres" in child.text
    refused = client.post("/coordination/patients/3/inscription",
                          data={"csrf": csrf, "parcours": "exemple-suivi"})
    assert refused.status_code == 409 and "pas éligible" in refused.text
    forced = client.post("/coordination/patients/3/inscription",
                         data={"csrf": csrf, "parcours": "exemple-suivi",
                               "malgre_criteres": "oui"})
    assert forced.status_code == 200 and "Patient inscrit : dossier" in forced.text
    again = client.get(f"{path}/inscription?parcours=exemple-suivi")
    assert "déjà le dossier ouvert" in again.text
    with transaction(web.engine) as db:
        case = db.scalar(select(CaseRow.id).where(CaseRow.patient_id == MARIE))
    empty = client.post(f"/coordination/cases/{case}/cloture", data={"csrf": csrf,
                                                                    "motif": " "})
    assert empty.status_code == 400 and "Motif : obligatoire" in empty.text
    closed = client.post(f"/coordination/cases/{case}/cloture",
                         data={"csrf": csrf, "motif": "déménagement hors du territoire"})
    assert closed.status_code == 200 and f"Dossier {case} clos" in closed.text
    assert "dossier clos par Claire Roux, coordination" in closed.text
    twice = client.post(f"/coordination/cases/{case}/cloture",
                        data={"csrf": csrf, "motif": "encore"})
    assert twice.status_code == 409 and "est clos depuis" in twice.text


def test_professionals_add_deactivate_reactivate(web: Web) -> None:
    web.marie_in_follow_up()
    client = web.signed_in(COORDINATOR)
    listing = client.get("/coordination/professionals?q=bernárd").text
    assert "Anne BERNARD" in listing and "Paul MARTIN" not in listing
    csrf = csrf_of(client.get("/coordination/professionals/nouveau").text)
    bad = client.post("/coordination/professionals", data={
        "csrf": csrf, "rpps": "123", "nom": "", "prenoms": "X", "profession": "?",
        "email": "non", "telephone": "12"})
    assert bad.status_code == 400
    for message in ("11 chiffres", "nom : obligatoire", "choisissez une profession",
                    "adresse invalide", "téléphone : 10 chiffres"):
        assert message in bad.text
    added = client.post("/coordination/professionals", data={
        "csrf": csrf, "rpps": "100 000 000 77", "nom": "Noël", "prenoms": "Élise",
        "profession": "pharmacien", "email": "elise@example.fr", "telephone": "06 11 22 33 44"})
    assert added.status_code == 200 and "Élise Noël est enregistré(e)" in added.text
    nurse_page = client.get(f"/coordination/professionals/{NURSE}").text
    assert "Tâches ouvertes (1, dont 0 en retard)" in nurse_page
    assert "Canaux, dans l&#39;ordre" in nurse_page and "ceux du territoire" in nurse_page
    assert "Silence : SMS" in nurse_page
    nurse_session = web.signed_in(NURSE)
    assert nurse_session.get("/tasks").status_code == 200
    link = web.client()
    with transaction(web.engine) as db:
        token = signin.issue(db, NURSE, web.clock.now(), timedelta(minutes=15))
    off = client.post(f"/coordination/professionals/{NURSE}/desactiver", data={"csrf": csrf})
    assert off.status_code == 200 and "1 tâche(s) ouverte(s) reviennent" in off.text
    # deactivated: the open session ends, the link sent before is spent, no new link
    assert nurse_session.get("/tasks").status_code == 303
    page = link.get(f"/connexion/lien?p={NURSE}&t={token}")
    used = link.post("/connexion/lien", data={"csrf": csrf_of(page.text), "p": str(NURSE),
                                              "t": token, "suite": "/tasks"})
    assert used.status_code == 400 and "plus valable" in used.text
    sent = len(web.channel.sent)
    form = link.get("/connexion")
    link.post("/connexion", data={"csrf": csrf_of(form.text),
                                  "adresse": "anne.bernard@example.fr"})
    assert len(web.channel.sent) == sent
    self_off = client.post(f"/coordination/professionals/{COORDINATOR}/desactiver",
                           data={"csrf": csrf})
    assert self_off.status_code == 409 and "vous-même" in self_off.text
    on = client.post(f"/coordination/professionals/{NURSE}/reactiver", data={"csrf": csrf})
    assert on.status_code == 200 and "réactivé" in on.text
    again = web.client()
    sign_in(again, web, NURSE)
    assert again.get("/tasks").status_code == 200
    form = link.get("/connexion")  # active again: the same request sends a link
    link.post("/connexion", data={"csrf": csrf_of(form.text),
                                  "adresse": "anne.bernard@example.fr"})
    assert len(web.channel.sent) == sent + 1


@pytest.mark.parametrize("path,header", [
    ("/coordination/patients.csv", "n°;nom;prénoms;date de naissance;INS;identifiant local"),
    ("/coordination/professionals.csv", "n°;RPPS;nom;prénoms;profession")])
def test_csv_exports_open_in_french_spreadsheets(web: Web, path: str, header: str) -> None:
    client = web.signed_in(COORDINATOR)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    body = response.content.decode("utf-8-sig")
    assert body.startswith(header)
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert len(rows) > 3
    if "patients" in path:
        assert ["1", "Durand", "Marie", "12/03/1950", "195031234567890", ""] in rows
