"""« Mes préférences »: reading and changing a professional's preferences, on both databases."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from sqlalchemy import Engine, select

from engine.store.db import transaction
from engine.store.exceptions import NotFoundError
from engine.store.service import CaseService
from engine.store.tables import Professional
from notifications.exceptions import InvalidPreferencesError, PreferencesError
from notifications.preferences import QuietHours
from notifications.profile import read_preferences, update_preferences
from tests.notifications.conftest import ANNE, PAUL, pro_id, set_preferences, settings


def stored(engine: Engine, rpps: str) -> dict[str, Any]:
    with transaction(engine) as s:
        return dict(s.scalar(select(Professional.preferences)
                             .where(Professional.rpps == rpps)) or {})


def test_the_page_shows_the_defaults_and_where_each_professional_can_be_reached(
        engine: Engine, world: CaseService) -> None:
    page = read_preferences(engine, pro_id(engine, PAUL), settings())
    assert page.preferences.channels == ("mssante", "email", "sms")
    assert page.preferences.new_tasks == "immediate"  # the test settings' default
    assert page.preferences.digest_time == time(7, 30) and page.stored == {}
    assert {c.name: c.reachable for c in page.channels} == {
        "mssante": True, "email": True, "sms": True, "webhook": True}
    anne = read_preferences(engine, pro_id(engine, ANNE), settings(new_tasks="digest"))
    assert {c.name for c in anne.channels if not c.reachable} == {"mssante", "sms"}
    assert anne.preferences.new_tasks == "digest"
    assert anne.channels[0].label.startswith("MSSanté")


def test_a_professional_changes_order_digest_hour_and_quiet_hours(
        engine: Engine, world: CaseService) -> None:
    paul = pro_id(engine, PAUL)
    page = update_preferences(engine, paul, {
        "channels": ["sms", "mssante"], "digest_time": "18:15", "new_tasks": "digest",
        "quiet_hours": {"sms": {"start": "21:00", "end": "07:30",
                                "days": ["Dimanche", "samedi", "samedi"]},
                        "email": None}}, settings())
    prefs = page.preferences
    assert prefs.channels == ("sms", "mssante") and prefs.digest_time == time(18, 15)
    assert prefs.quiet_hours["sms"] == QuietHours(start=time(21), end=time(7, 30), days=(6, 7))
    assert prefs.quiet_hours["email"] is None and prefs.new_tasks == "digest"
    assert stored(engine, PAUL) == {
        "channels": ["sms", "mssante"], "digest_time": "18:15", "new_tasks": "digest",
        "quiet_hours": {"sms": {"start": "21:00", "end": "07:30",
                                "days": ["samedi", "dimanche"]}, "email": None}}
    again = update_preferences(engine, paul, {"mode": "digest"}, settings())
    assert again.preferences.digest and again.preferences.channels == ("sms", "mssante")
    assert read_preferences(engine, paul, settings()).stored["mode"] == "digest"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"channels": []}, "channels", "au moins un canal"),
    ({"channels": "sms"}, "channels", "liste de canaux"),
    ({"channels": ["fax"]}, "channels", "canal inconnu « fax » ; canaux possibles"),
    ({"channels": ["sms", "sms"]}, "channels", "« SMS » est choisi deux fois"),
    ({"channels": ["mssante"]}, "channels", "aucune adresse pour le canal « MSSanté"),
    ({"mode": "sometimes"}, "mode", "choix inconnu « sometimes »"),
    ({"new_tasks": ""}, "new_tasks", "choix possibles : « digest »"),
    ({"digest_time": "25:00"}, "digest_time", "n'est pas une heure : écrire HH:MM"),
    ({"digest_time": "7h30"}, "digest_time", "par exemple 07:30"),
    ({"quiet_hours": {"sms": {"start": "20:00", "end": "8:00"}}}, "quiet_hours.sms",
     "SMS : la fin du silence « 8:00 »"),
    ({"quiet_hours": {"sms": {"start": "20:00", "end": "08:00", "days": ["funday"]}}},
     "quiet_hours.sms", "jour inconnu « funday »"),
    ({"quiet_hours": {"email": {"start": "00:00", "end": "00:00",
                               "days": ["lundi", "mardi", "mercredi", "jeudi", "vendredi",
                                        "samedi", "dimanche"]}}},
     "quiet_hours.email", "silence toute la semaine"),
    ({"quiet_hours": {"email": {"start": "09:00", "end": "09:00"}}}, "quiet_hours.email",
     "choisir « à toute heure »"),
    ({"quiet_hours": {"pigeon": None}}, "quiet_hours.pigeon", "canal inconnu"),
    ({"quiet_hours": {"sms": {"from": "20:00"}}}, "quiet_hours.sms", "attendu début, fin"),
    ({"colour": "bleu"}, "colour", "réglage inconnu « colour »"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_refused_in_french_and_nothing_is_written(
        engine: Engine, world: CaseService, changes: dict[str, Any], field: str,
        message: str) -> None:
    set_preferences(engine, ANNE, {"channels": ["email"]})
    with pytest.raises(InvalidPreferencesError) as caught:
        update_preferences(engine, pro_id(engine, ANNE),
                           {**changes, "digest_time": changes.get("digest_time", "06:45")},
                           settings())
    assert message in caught.value.problems[field], caught.value.problems
    assert isinstance(caught.value, PreferencesError)
    assert stored(engine, ANNE) == {"channels": ["email"]}  # not even the valid digest_time


def test_every_problem_is_reported_at_once(engine: Engine, world: CaseService) -> None:
    with pytest.raises(InvalidPreferencesError, match=r"au moins un canal.*HH:MM") as caught:
        update_preferences(engine, pro_id(engine, PAUL),
                           {"channels": [], "digest_time": "midi"}, settings())
    assert set(caught.value.problems) == {"channels", "digest_time"}


def test_an_unknown_professional_is_refused(engine: Engine, world: CaseService) -> None:
    with pytest.raises(NotFoundError, match="professionnel inconnu"):
        read_preferences(engine, 999, settings())
    with pytest.raises(NotFoundError, match="professionnel inconnu"):
        update_preferences(engine, 999, {"mode": "digest"}, settings())


def test_broken_stored_preferences_show_the_defaults_and_can_be_repaired(
        engine: Engine, world: CaseService) -> None:
    set_preferences(engine, PAUL, {"channels": ["pigeon"]})
    paul = pro_id(engine, PAUL)
    assert read_preferences(engine, paul, settings()).preferences.channels == (
        "mssante", "email", "sms")
    page = update_preferences(engine, paul, {"channels": ["email"]}, settings())
    assert page.preferences.channels == ("email",)
