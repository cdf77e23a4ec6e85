"""A professional's notification preferences, read and changed: « Mes préférences ».

The web workspace calls these two functions; so may a script or the CLI.

``read_preferences(engine, professional_id, settings)`` returns a
``PreferencesPage``: the preferences in force (defaults filled in), what the
professional wrote themselves, and for each channel they may choose its
French name and whether they can be reached on it (they have that address).

``update_preferences(engine, professional_id, changes, settings)`` changes
some of them. ``changes`` holds only the keys to change, as a form gives them:

=================  ================================================================
``channels``       the channels in order of preference, e.g. ``["mssante", "sms"]``
``mode``           ``"immediate"`` or ``"digest"`` (everything once a day)
``new_tasks``      ``"digest"`` (new tasks that are not urgent: in the daily digest)
                   or ``"immediate"``
``digest_time``    ``"HH:MM"`` (Europe/Paris): when the daily digest is made
``quiet_hours``    ``{channel: {"start": "HH:MM", "end": "HH:MM", "days": [...]}``
                   ``| None}``: ``None`` means « à toute heure »
=================  ================================================================

Every field is checked; if any is wrong, ``InvalidPreferencesError`` carries
one French message per field (``problems``) and nothing is written. A valid
change is written in one transaction and stored in canonical form (times as
``HH:MM``, days as French names), next to the keys it does not touch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import Engine, Row, select, update
from sqlalchemy.orm import Session

from engine.store.db import transaction
from engine.store.exceptions import NotFoundError
from engine.store.tables import PROFESSIONAL_TABLE
from notifications.channels.registry import ADDRESS_FIELDS, CHOOSABLE
from notifications.channels.registry import LABELS as CHANNEL_LABELS
from notifications.exceptions import InvalidPreferencesError, PreferencesError
from notifications.preferences import Preferences, parse_preferences
from notifications.settings import NotificationSettings

DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MODES = {"immediate": "chaque message tout de suite",
         "digest": "tout dans le récapitulatif quotidien (sauf les urgences)"}
NEW_TASKS = {"digest": "dans le récapitulatif quotidien, sauf les urgences",
             "immediate": "tout de suite"}
KEYS = ("channels", "mode", "new_tasks", "digest_time", "quiet_hours")


@dataclass(frozen=True)
class ChannelChoice:
    name: str
    label: str
    reachable: bool


@dataclass(frozen=True)
class PreferencesPage:
    """What « Mes préférences » shows: the preferences in force and the choices."""

    professional_id: int
    preferences: Preferences
    stored: dict[str, Any]
    channels: tuple[ChannelChoice, ...]


def read_preferences(engine: Engine, professional_id: int,
                     settings: NotificationSettings) -> PreferencesPage:
    """The professional's preferences (NotFoundError if unknown)."""
    with transaction(engine) as session:
        row = _professional(session, professional_id)
    return _page(row, settings)


def update_preferences(engine: Engine, professional_id: int, changes: Mapping[str, Any],
                       settings: NotificationSettings) -> PreferencesPage:
    """Change some preferences; InvalidPreferencesError (nothing written) if any is wrong."""
    with transaction(engine) as session:
        row = _professional(session, professional_id, lock=True)
        stored = dict(row.preferences or {})
        stored.update(_checked(changes, row, settings))
        try:
            parse_preferences(stored, settings)
        except PreferencesError as exc:
            raise InvalidPreferencesError({"preferences": exc.problem}) from exc
        session.execute(update(PROFESSIONAL_TABLE)
                        .where(PROFESSIONAL_TABLE.c.id == professional_id)
                        .values(preferences=stored))
        row = _professional(session, professional_id)
    return _page(row, settings)


def _professional(session: Session, professional_id: int, lock: bool = False) -> Row[Any]:
    query = select(PROFESSIONAL_TABLE).where(PROFESSIONAL_TABLE.c.id == professional_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.execute(query).first()
    if row is None:
        raise NotFoundError("professional", professional_id)
    return row


def _page(row: Row[Any], settings: NotificationSettings) -> PreferencesPage:
    stored = dict(row.preferences or {})
    try:
        prefs = parse_preferences(stored, settings)
    except PreferencesError:
        prefs = parse_preferences({}, settings)
    choices = tuple(ChannelChoice(name, CHANNEL_LABELS[name], _reachable(row, name))
                    for name in CHOOSABLE)
    return PreferencesPage(row.id, prefs, stored, choices)


def _reachable(row: Row[Any], channel: str) -> bool:
    column = ADDRESS_FIELDS.get(channel)
    return column is None or bool(getattr(row, column, None))


# -- checking what was entered ----------------------------------------------------------------


def _checked(changes: Mapping[str, Any], row: Row[Any],
             settings: NotificationSettings) -> dict[str, Any]:
    """The canonical stored form of ``changes``; InvalidPreferencesError listing every
    problem."""
    problems: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key in changes:
        if key not in KEYS:
            problems[str(key)] = f"réglage inconnu « {key} » ; réglages : {', '.join(KEYS)}"
    checks: dict[str, Callable[[Any], Any]] = {
        "channels": lambda v: _channels(v, row), "mode": lambda v: _choice(v, MODES),
        "new_tasks": lambda v: _choice(v, NEW_TASKS),
        "digest_time": lambda v: _hhmm(v, "l'heure du récapitulatif"),
        "quiet_hours": lambda v: _quiet_hours(v, problems)}
    for key, check in checks.items():
        if key in changes:
            try:
                out[key] = check(changes[key])
            except ValueError as exc:
                problems[key] = str(exc)
    if problems:
        raise InvalidPreferencesError(problems)
    return out


def _channels(value: Any, row: Row[Any]) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("une liste de canaux est attendue, dans l'ordre de préférence")
    names = [str(v) for v in value]
    if not names:
        raise ValueError("choisissez au moins un canal")
    for name in names:
        if name not in CHOOSABLE:
            raise ValueError(f"canal inconnu « {name} » ; canaux possibles : "
                             f"{', '.join(CHOOSABLE)}")
        if names.count(name) > 1:
            raise ValueError(f"le canal « {CHANNEL_LABELS[name]} » est choisi deux fois")
        if not _reachable(row, name):
            raise ValueError(f"aucune adresse pour le canal « {CHANNEL_LABELS[name]} » : "
                             "demandez à la coordination de l'enregistrer")
    return names


def _choice(value: Any, allowed: dict[str, str]) -> str:
    if value not in allowed:
        options = " ; ".join(f"« {k} » ({label})" for k, label in allowed.items())
        raise ValueError(f"choix inconnu « {value} » ; choix possibles : {options}")
    return str(value)


def _hhmm(value: Any, what: str) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    text = str(value).strip()
    parts = text.split(":")
    if len(parts) == 2 and all(p.isdigit() and len(p) == 2 for p in parts) \
            and int(parts[0]) < 24 and int(parts[1]) < 60:
        return text
    raise ValueError(f"{what} « {value} » n'est pas une heure : écrire HH:MM, par exemple 07:30")


def _quiet_hours(value: Any, problems: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("un réglage par canal est attendu")
    out: dict[str, Any] = {}
    for channel, window in value.items():
        where = f"quiet_hours.{channel}"
        if channel not in CHOOSABLE:
            problems[where] = f"canal inconnu « {channel} »"
        elif window is None:
            out[channel] = None
        else:
            try:
                out[channel] = _window(channel, window)
            except ValueError as exc:
                problems[where] = str(exc)
    return out


def _window(channel: str, window: Any) -> dict[str, Any]:
    label = CHANNEL_LABELS[channel]
    if not isinstance(window, Mapping) or set(window) - {"start", "end", "days"}:
        raise ValueError(f"{label} : attendu début, fin (HH:MM) et jours de silence")
    start = _hhmm(window.get("start", "00:00"), f"{label} : le début du silence")
    end = _hhmm(window.get("end", "00:00"), f"{label} : la fin du silence")
    days = _days(window.get("days", []), label)
    if len(days) == 7 or (start == end and not days):
        raise ValueError(f"{label} : " + ("silence toute la semaine, ce canal ne servirait "
                                          "jamais" if days else "le début et la fin du "
                                          "silence sont égaux : choisir « à toute heure »"))
    return {"start": start, "end": end, "days": days}


def _days(value: Any, label: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"{label} : une liste de jours est attendue")
    days: list[str] = []
    for day in value:
        name = str(day).strip().lower()
        if name not in DAYS_FR:
            raise ValueError(f"{label} : jour inconnu « {day} » ; jours : {', '.join(DAYS_FR)}")
        if name not in days:
            days.append(name)
    return sorted(days, key=DAYS_FR.index)
