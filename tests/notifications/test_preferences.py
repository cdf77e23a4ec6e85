"""Preferences and quiet hours, with explicit moments (Europe/Paris)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

import pytest

from engine.clock import PARIS
from notifications.exceptions import PreferencesError
from notifications.preferences import QuietHours, parse_preferences, usable_now
from notifications.settings import NotificationSettings

SETTINGS = NotificationSettings(console=False)


def paris(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS)


def test_defaults_secure_first_immediate_no_sms_at_night_nor_on_sunday() -> None:
    prefs = parse_preferences({}, SETTINGS)
    assert prefs.channels == ("mssante", "email", "sms")
    assert prefs.mode == "immediate" and not prefs.digest
    assert prefs.quiet_hours["sms"] == QuietHours(start=time(20), end=time(8), days=(7,))
    assert prefs.quiet_until("email", paris(4, 23), PARIS) is None  # e-mail any time


@pytest.mark.parametrize(("moment", "opens"), [
    (paris(5, 9), None),                       # Monday 09:00: open
    (paris(5, 19, 59), None),                  # Monday 19:59: still open
    (paris(5, 20), paris(6, 8)),               # Monday 20:00 → Tuesday 08:00
    (paris(6, 3, 15), paris(6, 8)),            # Tuesday 03:15 → 08:00 the same day
    (paris(3, 22), paris(5, 8)),               # Saturday 22:00 → Sunday off → Monday 08:00
    (paris(4, 12), paris(5, 8)),               # Sunday noon → Monday 08:00
    (paris(5, 7, 59), paris(5, 8)),            # Monday 07:59 → 08:00
    (paris(28, 21, month=3), paris(30, 8, month=3)),  # Saturday before the DST change
])
def test_sms_quiet_hours(moment: datetime, opens: datetime | None) -> None:
    prefs = parse_preferences({}, SETTINGS)
    assert prefs.quiet_until("sms", moment, PARIS) == opens


def test_a_professional_sets_their_own_order_mode_and_quiet_hours() -> None:
    prefs = parse_preferences({"channels": ["sms", "email"], "mode": "digest",
                               "quiet_hours": {"sms": {"start": "21:30", "end": "07:00",
                                                       "days": ["samedi", "sunday", 1]},
                                               "email": {"start": "22:00", "end": "06:00"}}},
                              SETTINGS)
    assert prefs.channels == ("sms", "email") and prefs.digest
    assert prefs.quiet_until("sms", paris(5, 9), PARIS) == paris(6, 7)   # Monday off (1)
    assert prefs.quiet_until("email", paris(5, 23), PARIS) == paris(6, 6)
    assert prefs.quiet_until("sms", paris(6, 21, 29), PARIS) is None


def test_quiet_hours_can_be_switched_off() -> None:
    prefs = parse_preferences({"quiet_hours": {"sms": None}}, SETTINGS)
    assert prefs.quiet_until("sms", paris(4, 3), PARIS) is None


def test_the_first_open_channel_is_used_else_the_earliest_opening_is_awaited() -> None:
    prefs = parse_preferences({"channels": ["sms", "email"],
                               "quiet_hours": {"email": {"start": "20:00", "end": "07:00"}}},
                              SETTINGS)
    assert usable_now(prefs, ["sms", "email"], paris(5, 10), PARIS) == (["sms", "email"], None)
    assert usable_now(prefs, ["sms", "email"], paris(5, 21), PARIS) == ([], paris(6, 7))
    assert usable_now(prefs, ["sms"], paris(5, 21), PARIS) == ([], paris(6, 8))
    assert usable_now(prefs, ["email"], paris(4, 10), PARIS) == (["email"], None)


@pytest.mark.parametrize(("raw", "problem"), [
    ({"channels": ["pigeon"]}, r"canal inconnu 'pigeon'"),
    ({"mode": "weekly"}, r"mode"),
    ({"quiet_hours": {"sms": {"start": "25:00"}}}, r"quiet_hours.sms.start"),
    ({"quiet_hours": {"sms": {"days": ["lundy"]}}}, r"jour inconnu 'lundy'"),
    ({"quiet_hours": {"fax": None}}, r"canal inconnu 'fax'"),
    ({"quiet_hours": "la nuit"}, r"quiet_hours n'est pas un objet"),
    ({"chanels": ["sms"]}, r"chanels"),
])
def test_invalid_preferences_say_what_is_allowed(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(PreferencesError, match=problem) as caught:
        parse_preferences(raw, SETTINGS)
    assert "attendu" in str(caught.value) and not caught.value.retryable


def test_a_week_without_any_open_moment_is_refused() -> None:
    prefs = parse_preferences({"quiet_hours": {"sms": {"days": list(range(1, 8))}}}, SETTINGS)
    with pytest.raises(PreferencesError, match="toute la semaine"):
        prefs.quiet_until("sms", paris(5, 10), PARIS)


def test_defaults_come_from_settings() -> None:
    custom = NotificationSettings(console=False, default_channels=["email"],
                                  sms_quiet_start=time(21), sms_quiet_end=time(7),
                                  sms_quiet_days=["samedi", "dimanche"])
    prefs = parse_preferences(None, custom)
    assert prefs.channels == ("email",)
    assert prefs.quiet_hours["sms"] == QuietHours(start=time(21), end=time(7), days=(6, 7))


@pytest.mark.parametrize(("moment", "slot"), [
    (paris(5, 7, 29), paris(4, 7, 30)),
    (paris(5, 7, 30), paris(5, 7, 30)),
    (paris(5, 23), paris(5, 7, 30)),
    (paris(29, 8, month=3), paris(29, 7, 30, month=3)),   # the morning clocks go forward
])
def test_the_digest_slot_is_the_latest_digest_time(moment: datetime, slot: datetime) -> None:
    from notifications.digest import digest_slot

    assert digest_slot(moment, time(7, 30), PARIS) == slot
