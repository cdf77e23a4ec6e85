"""Bad input on every form → the form again (400, or 409 when the task closed meanwhile)
with a French message next to the field, and nothing written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.store.db import transaction
from engine.store.tables import TASK_STATUS_TITLES, CaseEvent, ObservationRow, OutboxRow, TaskRow
from tests.web.conftest import COORDINATOR, MARIE, NURSE, Web, csrf_of, key_of, post_form

FORM = Path(__file__).with_name("data") / "formulaire.yaml"
GOOD = {"resultat_poids": "72,5", "resultat_traite": "oui", "resultat_niveau": "severe",
        "resultat_rendez_vous": "2026-02-10"}


def _writes(web: Web) -> tuple[int, ...]:
    with transaction(web.engine) as db:
        return tuple(db.scalar(select(func.count()).select_from(t)) or 0
                     for t in (CaseEvent, ObservationRow, OutboxRow, TaskRow))


@pytest.fixture
def measure(web: Web) -> int:
    web.service.publish(FORM.read_text(encoding="utf-8"), str(FORM), web.clock.now())
    web.service.enroll("195031234567890", "test-formulaire", web.clock.now())
    return web.task("mesurer")


def _complete(client: TestClient, task: int, data: dict[str, str]) -> object:
    return post_form(client, f"/tasks/{task}", f"/tasks/{task}/terminer", data, key=True)


def test_result_form_is_generated_from_the_declaration(web: Web, measure: int) -> None:
    html = web.signed_in(NURSE).get(f"/tasks/{measure}").text
    assert 'type="radio" id="champ-resultat_traite-oui" name="resultat_traite" value="oui"' \
        in html
    assert '<label for="champ-resultat_poids">Poids (kg)</label>' in html
    assert "De 20 à 300 kg ; virgule acceptée (7,5)" in html
    assert '<option value="severe">severe</option>' in html
    assert 'type="date" id="champ-resultat_rendez_vous"' in html
    assert 'Remarque <span class="optional">(facultatif)</span>' in html


@pytest.mark.parametrize("field,value,message", [
    ("resultat_poids", "abc", "Poids : &#39;abc&#39; n&#39;est pas un nombre"),
    ("resultat_poids", "500", "Poids : 500.0 kg est impossible ; valeurs admises entre 20 et"),
    ("resultat_poids", "", "Poids : champ obligatoire"),
    ("resultat_traite", "peut-être", "Sous traitement : attendu oui ou non"),
    ("resultat_niveau", "moyen", "Niveau : &#39;moyen&#39; n&#39;est pas admis ; choisir parmi"),
    ("resultat_rendez_vous", "31/02/2026", "Prochain rendez-vous : date attendue"),
    ("resultat_note", "x" * 1001, "Remarque : 1001 caractères ; au plus 1000"),
], ids=["not-a-number", "out-of-bounds", "empty-required", "not-boolean", "not-a-choice",
        "bad-date", "too-long"])
def test_bad_result_is_refused_next_to_its_field(web: Web, measure: int, field: str,
                                                 value: str, message: str) -> None:
    client = web.signed_in(NURSE)
    before = _writes(web)
    response = _complete(client, measure, {**GOOD, field: value})
    assert response.status_code == 400  # type: ignore[attr-defined]
    html = response.text  # type: ignore[attr-defined]
    error_id = f'id="champ-{field}-erreur"'
    assert error_id in html and message in html
    assert f'aria-describedby="champ-{field}-erreur' in html
    assert _writes(web) == before and web.row(measure).status == "requested"


def test_french_decimal_comma_is_accepted(web: Web, measure: int) -> None:
    response = _complete(web.signed_in(NURSE), measure, {**GOOD, "resultat_note": "RAS"})
    assert response.status_code == 200  # type: ignore[attr-defined]
    row = web.row(measure)
    assert row.status == "completed"
    assert row.result == {"poids": 72.5, "traite": True, "niveau": "severe",
                          "rendez_vous": "2026-02-10", "note": "RAS"}


def test_integer_with_a_decimal_part_is_refused(web: Web) -> None:
    task = web.marie_in_follow_up()
    response = _complete(web.signed_in(NURSE), task, {"resultat_grade": "1,5"})
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "attendu un nombre entier entre 0 et 3" in response.text  # type: ignore[attr-defined]
    ok = _complete(web.signed_in(NURSE), task, {"resultat_grade": "2,0"})
    assert ok.status_code == 200 and web.row(task).result == {"grade": 2}  # type: ignore[attr-defined]


@pytest.mark.parametrize("closing", ["completed", "cancelled"])
def test_task_closed_meanwhile_shows_the_form_again(web: Web, closing: str) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(NURSE)
    page = client.get(f"/tasks/{task}").text
    now = web.clock.now()
    if closing == "completed":
        web.service.complete_task(task, {"grade": 1}, now, now)
    else:
        web.service.close_case(web.row(task).case_id, "déménagement", now)
    before = _writes(web)
    response = client.post(f"/tasks/{task}/terminer", data={
        "csrf": csrf_of(page), "cle": key_of(page), "resultat_grade": "2"})
    assert response.status_code == 409
    assert "Rien n'a été enregistré" in response.text
    assert f"la tâche {task} est {TASK_STATUS_TITLES[closing]}" in response.text
    assert _writes(web) == before
    taken = post_form(client, f"/tasks/{task}", f"/tasks/{task}/prendre")
    assert taken.status_code in (404, 409)  # type: ignore[attr-defined]
    assert _writes(web) == before


def test_double_submission_completes_once(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(NURSE)
    page = client.get(f"/tasks/{task}").text
    form = {"csrf": csrf_of(page), "cle": key_of(page), "resultat_grade": "1"}
    first = client.post(f"/tasks/{task}/terminer", data=form)
    after_first = _writes(web)
    second = client.post(f"/tasks/{task}/terminer", data=form)
    assert first.status_code == 200 and "Tâche terminée" in first.text
    assert second.status_code == 200 and "appliqué qu" in second.text
    assert _writes(web) == after_first


@pytest.mark.parametrize("value,day,message", [
    ("", "", "Valeur : champ obligatoire"),
    ("beaucoup", "", "n&#39;est pas un nombre"),
    ("45", "", "45.0 % est impossible"),
    ("6,5", "2026-03-01", "est dans le futur"),
    ("6,5", "hier", "date attendue"),
])
def test_bad_observation_is_refused(web: Web, value: str, day: str, message: str) -> None:
    web.marie_in_follow_up()
    client = web.signed_in(NURSE)
    before = _writes(web)
    response = post_form(client, f"/patients/{MARIE}", f"/patients/{MARIE}/observation",
                         {"code": "4548-4", "valeur": value, "date": day}, key=True)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert message in response.text and 'id="erreur-observation"' in response.text  # type: ignore[attr-defined]
    assert _writes(web) == before


def test_unknown_observation_code_is_refused(web: Web) -> None:
    task = web.marie_in_follow_up()
    before = _writes(web)
    response = post_form(web.signed_in(NURSE), f"/tasks/{task}", f"/tasks/{task}/observation",
                         {"code": "0000-0", "valeur": "1"}, key=True)
    assert response.status_code == 400 and "code d&#39;observation inconnu" in response.text  # type: ignore[attr-defined]
    assert _writes(web) == before


def test_observation_with_decimal_comma_is_recorded(web: Web) -> None:
    web.marie_in_follow_up()
    response = post_form(web.signed_in(NURSE), f"/patients/{MARIE}",
                         f"/patients/{MARIE}/observation",
                         {"code": "4548-4", "valeur": "6,5", "date": "2026-01-07"}, key=True)
    assert response.status_code == 200  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        obs = db.scalars(select(ObservationRow)).one()
    assert obs.value == 6.5 and obs.unit == "%" and obs.source == "web"


@pytest.mark.parametrize("reason,message", [
    ("", "motif du refus : obligatoire"), ("   ", "motif du refus : obligatoire"),
    ("x" * 501, "motif du refus : 501 caractères ; au plus 500")])
def test_bad_decline_is_refused(web: Web, reason: str, message: str) -> None:
    task = web.marie_in_follow_up()
    before = _writes(web)
    response = post_form(web.signed_in(NURSE), f"/tasks/{task}", f"/tasks/{task}/refuser",
                         {"motif": reason})
    assert response.status_code == 400 and message in response.text  # type: ignore[attr-defined]
    assert 'id="motif-erreur"' in response.text  # type: ignore[attr-defined]
    assert _writes(web) == before and web.row(task).status == "requested"


@pytest.mark.parametrize("target,message", [
    ("", "Professionnel : choisissez"), ("abc", "Professionnel : choisissez"),
    ("999", "professionnel inconnu(e) : 999")])
def test_bad_reassignment_is_refused(web: Web, target: str, message: str) -> None:
    task = web.marie_in_follow_up()
    before = _writes(web)
    response = post_form(web.signed_in(COORDINATOR), "/coordination",
                         f"/tasks/{task}/reattribuer", {"professionnel": target})
    assert response.status_code == 400 and message in response.text  # type: ignore[attr-defined]
    assert _writes(web) == before


@pytest.mark.parametrize("address", ["", "pas-une-adresse", "a@" + "b" * 260])
def test_bad_sign_in_address_is_refused(web: Web, address: str) -> None:
    client = web.client()
    response = client.post("/connexion", data={
        "csrf": csrf_of(client.get("/connexion").text), "adresse": address})
    assert response.status_code == 400 and "Adresse : saisissez" in response.text
    assert web.channel.sent == []


def test_missing_idempotency_key_is_refused(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(NURSE)
    before = _writes(web)
    response = client.post(f"/tasks/{task}/terminer", data={
        "csrf": csrf_of(client.get("/tasks").text), "resultat_grade": "1",
        "cle": uuid.uuid4().hex[:8]})
    assert response.status_code == 400 and "rechargez la page" in response.text
    assert _writes(web) == before
