"""The sign-in transaction: what the callback needs, kept in a short-lived signed cookie.

The app keeps no state in memory between the redirect to the provider and the return
(several workers or machines serve it), so ``state``, ``nonce``, the PKCE
``code_verifier`` and the page asked for travel in an HS256-signed JWT (joserfc, the
JOSE library Authlib itself uses) in an HttpOnly, SameSite=Lax cookie limited to
``/connexion/oidc``: Lax lets the browser send it on the provider's top-level redirect
back, and nowhere else. The signature key is derived from the app's secret key for this
purpose only. Single use is enforced separately, in the database (``replay.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from web.exceptions import OidcStateError

COOKIE_NAME = "parcours_oidc"
COOKIE_PATH = "/connexion/oidc"
_ALGORITHM = "HS256"


@dataclass(frozen=True)
class LoginTransaction:
    state: str
    nonce: str
    code_verifier: str
    next_path: str
    expires_at: datetime

    @classmethod
    def start(cls, next_path: str, now: datetime, minutes: int) -> LoginTransaction:
        return cls(state=generate_token(43), nonce=generate_token(43),
                   code_verifier=generate_token(64), next_path=safe_next_path(next_path),
                   expires_at=now + timedelta(minutes=minutes))

    @property
    def code_challenge(self) -> str:
        return create_s256_code_challenge(self.code_verifier)


def safe_next_path(value: str | None) -> str:
    """A local path to go back to after sign-in; anything else (another site) becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


class TransactionSigner:
    """Seals a ``LoginTransaction`` into a cookie value and opens it again."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the web secret key must be at least 16 characters long")
        derived = hashlib.sha256(b"parcours-oidc-transaction\0" + secret.encode()).digest()
        self._key = OctKey.import_key(derived)

    def seal(self, tx: LoginTransaction) -> str:
        claims = {"state": tx.state, "nonce": tx.nonce, "cv": tx.code_verifier,
                  "next": tx.next_path, "exp": int(tx.expires_at.timestamp())}
        return jwt.encode({"alg": _ALGORITHM}, claims, self._key, algorithms=[_ALGORITHM])

    def open(self, value: str | None, now: datetime) -> LoginTransaction:
        """The transaction in ``value``; ``OidcStateError`` if absent, forged or expired."""
        if not value:
            raise OidcStateError("no sign-in transaction cookie")
        try:
            token = jwt.decode(value, self._key, algorithms=[_ALGORITHM])
            claims = token.claims
            expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            tx = LoginTransaction(state=str(claims["state"]), nonce=str(claims["nonce"]),
                                  code_verifier=str(claims["cv"]),
                                  next_path=safe_next_path(str(claims["next"])),
                                  expires_at=expires)
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise OidcStateError(f"unreadable sign-in transaction cookie "
                                 f"({type(exc).__name__})") from exc
        if now >= tx.expires_at:
            raise OidcStateError("the sign-in transaction has expired")
        return tx
