"""Published pathway versions: publish a file, get back the compiled pathway of a version.

A case stays on the version it was enrolled with. Publishing a file whose
content is already recorded changes nothing; a changed content becomes the
next version of its key. Compiled pathways are cached per content hash, so a
process compiles each version once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.exceptions import PathwayDefinitionError
from engine.pathway.compiler import CompiledPathway
from engine.pathway.loader import load_text
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import PathwayVersion

_CACHE: dict[str, CompiledPathway] = {}


@dataclass(frozen=True)
class Published:
    key: str
    version: int
    created: bool
    id: int


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compiled(row: PathwayVersion) -> CompiledPathway:
    pathway = _CACHE.get(row.content_hash)
    if pathway is None:
        pathway = _CACHE[row.content_hash] = load_text(row.source, f"{row.key}@v{row.version}")
    return pathway


def publish(session: Session, text: str, file: str, now: datetime) -> Published:
    """Record ``text`` as a new version unless that exact content is already published."""
    try:
        pathway = load_text(text, file)
    except PathwayDefinitionError as exc:
        raise InputError(f"{file} est invalide, non publié :\n{exc}") from exc
    digest = content_hash(text)
    existing = session.scalars(select(PathwayVersion).where(
        col(PathwayVersion.key) == pathway.key, col(PathwayVersion.content_hash) == digest)).first()
    if existing is not None:
        return Published(existing.key, existing.version, False, existing.id or 0)
    last = session.scalar(select(func.max(col(PathwayVersion.version)))
                          .where(col(PathwayVersion.key) == pathway.key)) or 0
    row = PathwayVersion(key=pathway.key, version=last + 1,
                         declared_version=pathway.version, title=pathway.definition.title,
                         source=text, content_hash=digest, published_at=now)
    session.add(row)
    session.flush()
    _CACHE[digest] = pathway
    return Published(row.key, row.version, True, row.id or 0)


def latest(session: Session, key: str) -> PathwayVersion:
    row = session.scalars(select(PathwayVersion).where(col(PathwayVersion.key) == key)
                          .order_by(col(PathwayVersion.version).desc())).first()
    if row is None:
        known = session.scalars(select(col(PathwayVersion.key)).distinct()).all()
        raise NotFoundError("pathway", key, f" ; parcours publiés : {', '.join(known) or 'aucun'}"
                            " (parcours pathways publish FICHIER)")
    return row


def by_id(session: Session, version_id: int) -> PathwayVersion:
    row = session.get(PathwayVersion, version_id)
    if row is None:
        raise NotFoundError("pathway version", version_id)
    return row


def by_version(session: Session, key: str, version: int) -> PathwayVersion:
    """A published version of a pathway (``KEY@N``)."""
    row = session.scalars(select(PathwayVersion).where(
        col(PathwayVersion.key) == key, col(PathwayVersion.version) == version)).first()
    if row is None:
        known = [str(v) for v in session.scalars(select(col(PathwayVersion.version)).where(
            col(PathwayVersion.key) == key).order_by(col(PathwayVersion.version)))]
        raise NotFoundError("pathway version", f"{key}@{version}",
                            f" ; versions publiées : {', '.join(known) or 'aucune'}")
    return row


def keys(session: Session) -> list[str]:
    """The keys of the published pathways, in alphabetical order."""
    return list(session.scalars(select(col(PathwayVersion.key)).distinct()
                                .order_by(col(PathwayVersion.key))))
