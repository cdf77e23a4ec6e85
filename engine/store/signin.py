"""One-time sign-in links and the rate limit of sign-in requests, in the database.

Nothing lives in a process's memory, so several web workers (or machines) share the same
links and the same limits. A link's token is random (256 bits); only its SHA-256 is
stored. A token is used at most once: ``consume`` marks it used in the same UPDATE that
checks it is unused, unexpired and bound to the professional the link names, so two
concurrent uses cannot both succeed. Addresses and client IPs are stored hashed too.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.store.tables import Professional, SignInAttempt, SignInToken


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_by_address(session: Session, address: str) -> Professional | None:
    """The active professional whose e-mail or MSSanté address this is (any case)."""
    address = address.strip().lower()
    if not address:
        return None
    return session.scalars(select(Professional).where(
        col(Professional.active),
        (func.lower(col(Professional.email)) == address)
        | (func.lower(col(Professional.mssante)) == address))
        .order_by(col(Professional.id)).limit(1)).first()


def issue(session: Session, professional_id: int, now: datetime, lifetime: timedelta) -> str:
    """A new one-time token for the professional; the caller puts it in a link."""
    token = secrets.token_urlsafe(32)
    session.add(SignInToken(token_hash=digest(token), professional_id=professional_id,
                            created_at=now, expires_at=now + lifetime))
    session.flush()
    return token


def consume(session: Session, token: str, professional_id: int, now: datetime) -> bool:
    """Use the token once: True only if it is this professional's, unused and unexpired."""
    result = session.execute(
        update(SignInToken)
        .where(col(SignInToken.token_hash) == digest(token),
               col(SignInToken.professional_id) == professional_id,
               col(SignInToken.used_at).is_(None), col(SignInToken.expires_at) > now)
        .values(used_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def allow_attempt(session: Session, keys: dict[str, int], now: datetime,
                  window: timedelta) -> bool:
    """Record one request under each key; False if any key is over its limit in ``window``.

    ``keys`` maps a raw key (``address:…``, ``ip:…``; hashed here) to its limit. Old
    attempts are pruned as we go.
    """
    since = now - window
    session.execute(delete(SignInAttempt).where(col(SignInAttempt.at) < since))
    allowed = True
    for raw, limit in keys.items():
        key = raw.split(":", 1)[0] + ":" + digest(raw)[:64]
        count = session.scalar(select(func.count()).select_from(SignInAttempt).where(
            col(SignInAttempt.key) == key, col(SignInAttempt.at) >= since)) or 0
        if count >= limit:
            allowed = False
        session.add(SignInAttempt(key=key, at=now))
    session.flush()
    return allowed
