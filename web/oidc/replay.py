"""Single use of sign-in secrets (OIDC ``state`` and ``nonce``) across every worker.

A ``ReplayGuard`` answers "first time?" for a secret and remembers it until it could not
be accepted anyway (the transaction cookie or the ID token has expired). The secrets are
stored as SHA-256 hashes. ``SqlReplayGuard`` keeps them in the shared database (table
``web_used_sign_in_key``); the primary key makes two concurrent uses of the same secret
race-free: exactly one insert wins. ``MemoryReplayGuard`` is the in-process stand-in for
tests of a single process.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from engine.store.db import transaction
from engine.store.tables import USED_SIGN_IN_KEY_TABLE

STATE = "oidc_state"
NONCE = "oidc_nonce"


def key_hash(purpose: str, secret: str) -> str:
    return hashlib.sha256(f"{purpose}\0{secret}".encode()).hexdigest()


class ReplayGuard(Protocol):
    def first_use(self, purpose: str, secret: str, *, now: datetime,
                  keep_until: datetime) -> bool:
        """True the first time ``secret`` is presented for ``purpose``, False afterwards."""
        ...


class MemoryReplayGuard:
    def __init__(self) -> None:
        self._used: dict[str, datetime] = {}

    def first_use(self, purpose: str, secret: str, *, now: datetime,
                  keep_until: datetime) -> bool:
        self._used = {k: until for k, until in self._used.items() if until > now}
        key = key_hash(purpose, secret)
        if key in self._used:
            return False
        self._used[key] = keep_until
        return True


class SqlReplayGuard:
    """Used secrets in the ``web_used_sign_in_key`` table; expired rows are purged on the way."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def first_use(self, purpose: str, secret: str, *, now: datetime,
                  keep_until: datetime) -> bool:
        table = USED_SIGN_IN_KEY_TABLE
        try:
            with transaction(self._engine) as session:
                session.execute(delete(table).where(table.c.expires_at < now))
                session.execute(insert(table).values(
                    key_hash=key_hash(purpose, secret), purpose=purpose, used_at=now,
                    expires_at=keep_until))
        except IntegrityError:
            return False
        return True
