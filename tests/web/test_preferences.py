"""« Mes préférences »: a signed-in professional reads and changes their own notification
preferences; wrong input is shown next to its field (400) and nothing is written."""

from __future__ import annotations

import html
import re

import pytest

from notifications.profile import read_preferences
from notifications.settings import NotificationSettings
from tests.web.conftest import GP, NURSE, Web, csrf_of

SETTINGS = NotificationSettings()


def _stored(web: Web, professional_id: int) -> dict[str, object]:
    return read_preferences(web.engine, professional_id, SETTINGS).stored


def _form(**changes: str) -> dict[str, str]:
    """The GP's form as a browser sends it (every field), with some values changed."""
    form = {"canal_1": "mssante", "canal_2": "email", "canal_3": "sms", "canal_4": "",
            "mode": "immediate", "nouvelles_taches": "digest", "heure_recapitulatif": "07:30",
            "silence_sms_debut": "20:00", "silence_sms_fin": "08:00",
            "silence_sms_jours": "dimanche"}
    form.update(changes)
    return form


def test_signed_out_is_sent_to_sign_in(web: Web) -> None:
    client = web.client()
    response = client.get("/preferences")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suite=/preferences"
    page = client.get("/connexion")
    response = client.post("/preferences", data={"csrf": csrf_of(page.text), **_form()})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion?suite=")


def test_a_professional_reads_their_preferences(web: Web) -> None:
    page = web.signed_in(GP).get("/preferences")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "<h1>Mes préférences</h1>" in text
    assert '<a href="/preferences">Mes préférences</a>' in text
    for field in ("canal_1", "canal_2", "mode-digest", "nouvelles_taches-immediate",
                  "heure_recapitulatif", "silence_sms_debut", "silence_sms_fin"):
        assert f'<label for="{field}"' in text, field
        assert f'id="{field}"' in text, field
    assert 'value="07:30"' in text
    assert re.search(r'<option value="mssante" selected>', text)


def test_only_reachable_channels_are_offered(web: Web) -> None:
    text = html.unescape(web.signed_in(NURSE).get("/preferences").text)
    assert '<option value="email"' in text
    assert '<option value="sms"' not in text
    assert "Sans adresse enregistrée" in text


def test_changes_are_saved(web: Web) -> None:
    client = web.signed_in(GP)
    page = client.get("/preferences")
    response = client.post("/preferences", data={
        "csrf": csrf_of(page.text),
        **_form(canal_1="sms", canal_2="mssante", canal_3="", heure_recapitulatif="18:15",
                mode="digest")})
    assert response.status_code == 200, response.text
    assert "Préférences enregistrées" in response.text
    prefs = read_preferences(web.engine, GP, SETTINGS).preferences
    assert prefs.channels == ("sms", "mssante")
    assert prefs.digest_time.strftime("%H:%M") == "18:15"
    assert prefs.mode == "digest"
    assert 'value="18:15"' in response.text
    stored = _stored(web, GP)
    assert stored["quiet_hours"] == {"mssante": None, "email": None, "webhook": None,
                                     "sms": {"start": "20:00", "end": "08:00",
                                             "days": ["dimanche"]}}


def test_quiet_hours_are_saved(web: Web) -> None:
    client = web.signed_in(NURSE)
    page = client.get("/preferences")
    response = client.post("/preferences", data={
        "csrf": csrf_of(page.text), "canal_1": "email", "mode": "immediate",
        "nouvelles_taches": "immediate", "heure_recapitulatif": "07:00",
        "silence_email_debut": "21:00", "silence_email_fin": "07:00",
        "silence_email_jours": ["samedi", "dimanche"]})
    assert response.status_code == 200, response.text
    assert _stored(web, NURSE)["quiet_hours"]["email"] == {  # type: ignore[index]
        "start": "21:00", "end": "07:00", "days": ["samedi", "dimanche"]}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"canal_1": "fax"}, "canaux", "canal inconnu « fax »"),
    ({"canal_1": "", "canal_2": "", "canal_3": ""}, "canaux", "choisissez au moins un canal"),
    ({"canal_2": "sms"}, "canaux", "est choisi deux fois"),
    ({"heure_recapitulatif": "25:00"}, "heure_recapitulatif",
     "l'heure du récapitulatif « 25:00 » n'est pas une heure"),
    ({"heure_recapitulatif": ""}, "heure_recapitulatif", "n'est pas une heure"),
    ({"mode": ""}, "mode", "choix inconnu"),
    ({"silence_sms_debut": "8h"}, "silence_sms", "n'est pas une heure"),
])
def test_bad_input_is_refused_next_to_its_field(web: Web, changes: dict[str, str], field: str,
                                                message: str) -> None:
    client = web.signed_in(GP)
    first = client.post("/preferences", data={"csrf": csrf_of(client.get("/preferences").text),
                                              **_form(heure_recapitulatif="06:45")})
    assert first.status_code == 200
    before = _stored(web, GP)
    response = client.post("/preferences", data={
        "csrf": csrf_of(client.get("/preferences").text),
        **_form(**{"canal_1": "sms", "canal_2": "email", "canal_3": "",
                   "heure_recapitulatif": "19:00", **changes})})
    assert response.status_code == 400, response.text
    text = html.unescape(response.text)
    error = re.search(rf'<p class="field-error" id="{field}-erreur">([^<]*)</p>', text)
    assert error, text
    assert message in error.group(1)
    assert "Préférences enregistrées" not in text
    assert "Rien n'a été enregistré" in text
    assert _stored(web, GP) == before


def test_without_csrf_token_nothing_is_written(web: Web) -> None:
    client = web.signed_in(GP)
    before = _stored(web, GP)
    response = client.post("/preferences", data=_form(heure_recapitulatif="12:00"))
    assert response.status_code == 403
    response = client.post("/preferences", data={"csrf": "faux",
                                                 **_form(heure_recapitulatif="12:00")})
    assert response.status_code == 403
    other = web.signed_in(NURSE)  # another session's token is refused too
    response = client.post("/preferences", data={
        "csrf": csrf_of(other.get("/preferences").text),
        **_form(heure_recapitulatif="12:00")})
    assert response.status_code == 403
    assert _stored(web, GP) == before


def test_each_professional_changes_only_their_own(web: Web) -> None:
    client = web.signed_in(GP)
    nurse_before = _stored(web, NURSE)
    response = client.post("/preferences", data={
        "csrf": csrf_of(client.get("/preferences").text),
        **_form(heure_recapitulatif="09:00", professional="2", professional_id="2")})
    assert response.status_code == 200
    assert _stored(web, GP)["digest_time"] == "09:00"
    assert _stored(web, NURSE) == nurse_before
