"""Published territory settings: versions of a CPTS's parameter overrides, per pathway.

Publishing a settings file checks it against the pathway's latest published
version (``engine.pathway.settings``) and records it as the next version of the
pathway's settings, with who published it and when; the same values as the
latest version change nothing (a comment or a reordering is not a new version;
going back to older values is, since the latest version is the one that applies).

A new case runs with the latest settings of its pathway and keeps that version
(``pathway_case.settings_version_id``) until a migration moves it, like its
pathway version. A case's *effective parameters* are its pathway version's
defaults with its settings version's values laid over them
(``effective_parameters``), computed once per (pathway version, settings
version) in a process and cached, like compiled pathways: applying an event
reads no settings from the database beyond the batch's one query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.exceptions import SettingsDefinitionError
from engine.pathway import settings as checks
from engine.pathway.compiler import CompiledPathway
from engine.store import registry
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import SettingsVersion

_CACHE: dict[tuple[str, str], dict[str, Any]] = {}


@dataclass(frozen=True)
class Published:
    key: str
    version: int
    created: bool
    id: int
    #: the parameters whose value differs from the previous version (all, for the first)
    changed: tuple[str, ...] = ()


def publish(session: Session, text: str, file: str, pathway_key: str, by: str,
            now: datetime) -> Published:
    """Record ``text`` as the next settings version of ``pathway_key`` unless its values are
    those of the latest version. Refused (``InputError``, nothing written) when invalid."""
    version = registry.latest(session, pathway_key)
    pathway = registry.compiled(version)
    try:
        checked = checks.load_settings_text(text, pathway, file)
    except SettingsDefinitionError as exc:
        raise InputError(f"{file} est invalide, non publié :\n{exc}") from exc
    by = by.strip()[:120] or "inconnu"
    last = latest(session, pathway_key)
    if last is not None and last.content_hash == checked.content_hash:
        return Published(last.pathway_key, last.version, False, last.id or 0)
    before = dict(last.values) if last is not None else {}
    names = sorted(set(before) | set(checked.values))
    changed = tuple(n for n in names if before.get(n) != checked.values.get(n))
    number = (session.scalar(select(func.max(col(SettingsVersion.version))).where(
        col(SettingsVersion.pathway_key) == pathway_key)) or 0) + 1
    row = SettingsVersion(pathway_key=pathway_key, version=number, values=dict(checked.values),
                          source=text, file=file[-255:], content_hash=checked.content_hash,
                          pathway_version_id=version.id or 0, published_by=by,
                          published_at=now)
    session.add(row)
    session.flush()
    return Published(pathway_key, number, True, row.id or 0, changed)


def latest(session: Session, pathway_key: str) -> SettingsVersion | None:
    """The settings new cases of ``pathway_key`` get, or None (the pathway's defaults)."""
    return session.scalars(select(SettingsVersion)
                           .where(col(SettingsVersion.pathway_key) == pathway_key)
                           .order_by(col(SettingsVersion.version).desc())).first()


def by_version(session: Session, pathway_key: str, version: int) -> SettingsVersion:
    row = session.scalars(select(SettingsVersion).where(
        col(SettingsVersion.pathway_key) == pathway_key,
        col(SettingsVersion.version) == version)).first()
    if row is None:
        known = [str(v) for v in session.scalars(select(col(SettingsVersion.version)).where(
            col(SettingsVersion.pathway_key) == pathway_key).order_by(
            col(SettingsVersion.version)))]
        raise NotFoundError("settings", f"{pathway_key} v{version}",
                            f" ; versions publiées : {', '.join(known) or 'aucune'}")
    return row


def by_id(session: Session, settings_id: int) -> SettingsVersion:
    row = session.get(SettingsVersion, settings_id)
    if row is None:
        raise NotFoundError("settings", settings_id)
    return row


def history(session: Session, pathway_key: str) -> list[SettingsVersion]:
    """Every published settings version of a pathway, oldest first."""
    return list(session.scalars(select(SettingsVersion)
                                .where(col(SettingsVersion.pathway_key) == pathway_key)
                                .order_by(col(SettingsVersion.version))))


def effective_parameters(pathway: CompiledPathway,
                         settings: SettingsVersion | None) -> Mapping[str, Any]:
    """The parameters a case of ``pathway`` runs with under ``settings`` (None: defaults).

    Cached per (pathway content, settings values). ``InputError`` when the settings do not
    fit this pathway version (a parameter it no longer declares, a value out of its bounds).
    """
    digest = settings.content_hash if settings is not None else ""
    key = (pathway.content_hash or f"{pathway.key}@{pathway.version}", digest)
    found = _CACHE.get(key)
    if found is None:
        try:
            found = checks.effective_parameters(pathway, settings.values if settings else None)
        except SettingsDefinitionError as exc:
            assert settings is not None  # the defaults always fit their own pathway
            raise InputError(
                f"les réglages v{settings.version} de {settings.pathway_key} ne conviennent pas "
                f"à cette version du parcours (version {pathway.version} du fichier) : "
                f"{'; '.join(d.message for d in exc.diagnostics)} ; publiez des réglages "
                "corrigés (parcours settings publish FICHIER --pathway "
                f"{settings.pathway_key})") from exc
        _CACHE[key] = found
    return found


@dataclass(frozen=True)
class ParameterView:
    """One parameter as ``parcours pathways show`` tells it."""

    name: str
    type: str
    unit: str | None
    description: str
    default: Any
    value: Any
    #: ``pathway`` or ``settings``
    source: str
    settings_version: int | None = None
    overridden_by: str | None = None
    overridden_at: datetime | None = None


def parameter_views(pathway: CompiledPathway,
                    versions: list[SettingsVersion]) -> list[ParameterView]:
    """Each parameter of ``pathway`` under the latest of ``versions`` (oldest first): its
    effective value, default, source, and who set it to that value and when (the first
    version of the unbroken run of versions, up to the latest, that holds it)."""
    current = versions[-1] if versions else None
    values = effective_parameters(pathway, current)
    out = []
    for name, declared in pathway.definition.parameters.items():
        view = ParameterView(name, declared.type, declared.unit, declared.description,
                             declared.default, values[name], "pathway")
        if current is not None and name in current.values:
            since = current
            for older in reversed(versions[:-1]):
                if older.values.get(name, _MISSING) != current.values[name]:
                    break
                since = older
            view = ParameterView(name, declared.type, declared.unit, declared.description,
                                 declared.default, values[name], "settings", current.version,
                                 since.published_by, since.published_at)
        out.append(view)
    return out


_MISSING = object()
