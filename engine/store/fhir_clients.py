"""The systems allowed to call the FHIR REST interface, and their access tokens.

A client (``parcours fhir clients add``) is an interface engine or a regional platform
that authenticates with OAuth2 *client credentials*: a client id and a secret, 256 random
bits shown once and stored as their SHA-256 only (a hash of a high-entropy secret cannot
be brute-forced, so a slow password hash would only slow every token request down). Its
scopes follow SMART backend services: ``system/<Resource>.<read|write|*>``, the resource
possibly ``*``. Access tokens are opaque random strings, also stored hashed, valid a few
minutes; revoking a client makes its tokens invalid at once.

The OAuth2 protocol itself (token endpoint, Bearer validation) is Authlib's, in
``web/fhir/auth.py``; this module only keeps the rows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import FhirClient, FhirToken

#: Resources a scope may name (besides ``*``): what the REST interface serves.
SCOPE_RESOURCES = ("Bundle", "Patient", "Observation", "Encounter", "CarePlan", "CareTeam",
                   "Task")
ACTIONS = ("read", "write", "*")
_SCOPE = re.compile(r"system/(?P<resource>\*|[A-Za-z]+)\.(?P<action>read|write|\*)")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scope(scope: str) -> str:
    """The scope if it is a SMART ``system/…`` scope we serve; InputError otherwise."""
    found = _SCOPE.fullmatch(scope)
    if found is None or (found["resource"] != "*" and found["resource"] not in SCOPE_RESOURCES):
        raise InputError(f"portée inconnue {scope!r} : attendu system/RESSOURCE.ACTION avec "
                         f"RESSOURCE parmi * {' '.join(SCOPE_RESOURCES)} et ACTION parmi "
                         "read, write, * (par exemple system/*.write system/Patient.read)")
    return scope


def grants(granted: list[str], resource: str, action: str) -> bool:
    """Whether ``granted`` scopes allow ``action`` (read, write) on ``resource``."""
    for scope in granted:
        found = _SCOPE.fullmatch(scope)
        if found is not None and found["resource"] in ("*", resource) and \
                found["action"] in ("*", action):
            return True
    return False


@dataclass(frozen=True)
class NewClient:
    name: str
    client_id: str
    secret: str
    scopes: list[str]


def add_client(session: Session, name: str, scopes: list[str], now: datetime) -> NewClient:
    if not _NAME.fullmatch(name):
        raise InputError(f"nom de client {name!r} refusé : 1 à 80 caractères, lettres, "
                         "chiffres, espace, point, tiret ou souligné")
    if not scopes:
        raise InputError("au moins une portée (--scope system/*.write …) est nécessaire")
    scopes = list(dict.fromkeys(check_scope(s) for s in scopes))
    if session.scalar(select(col(FhirClient.id)).where(col(FhirClient.name) == name)):
        raise InputError(f"un client FHIR s'appelle déjà {name!r} : choisissez un autre nom "
                         "ou révoquez l'ancien")
    client_id, secret = f"fhir-{secrets.token_hex(12)}", secrets.token_urlsafe(32)
    session.add(FhirClient(name=name, client_id=client_id, secret_hash=digest(secret),
                           scopes=scopes, created_at=now))
    session.flush()
    return NewClient(name, client_id, secret, scopes)


def list_clients(session: Session) -> list[FhirClient]:
    return list(session.scalars(select(FhirClient).order_by(col(FhirClient.id))))


def revoke_client(session: Session, name_or_id: str, now: datetime) -> FhirClient:
    client = session.scalar(select(FhirClient).where(
        (col(FhirClient.name) == name_or_id) | (col(FhirClient.client_id) == name_or_id)))
    if client is None:
        raise NotFoundError("client FHIR", name_or_id, " (parcours fhir clients list)")
    if client.revoked_at is None:
        client.revoked_at = now
        session.execute(delete(FhirToken).where(col(FhirToken.client_id) == client.id))
    return client


def find_client(session: Session, client_id: str) -> FhirClient | None:
    """The active client with this client id, else None."""
    client = session.scalar(select(FhirClient).where(col(FhirClient.client_id) == client_id))
    return client if client is not None and client.revoked_at is None else None


def secret_matches(client: FhirClient, secret: str) -> bool:
    return hmac.compare_digest(client.secret_hash, digest(secret))


def save_token(session: Session, client: FhirClient, token: str, scope: str, now: datetime,
               lifetime: timedelta) -> None:
    """Keep a new token's hash; the client's expired tokens are purged at the same time."""
    session.execute(delete(FhirToken).where(col(FhirToken.client_id) == client.id,
                                            col(FhirToken.expires_at) <= now))
    session.add(FhirToken(token_hash=digest(token), client_id=client.id or 0, scope=scope,
                          issued_at=now, expires_at=now + lifetime))
    session.flush()


def find_token(session: Session, token: str) -> tuple[FhirToken, FhirClient] | None:
    """A token and its client (revoked or not: the caller decides), else None."""
    row = session.execute(select(FhirToken, FhirClient)
                          .join(FhirClient, col(FhirClient.id) == col(FhirToken.client_id))
                          .where(col(FhirToken.token_hash) == digest(token))).first()
    return None if row is None else (row[0], row[1])
