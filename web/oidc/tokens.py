"""Validating what the provider returned: the ID token, the userinfo, the RPPS number.

The ID token is checked with joserfc (signature against the provider's JWKS, only the
asymmetric algorithms the provider announces) and Authlib's ``CodeIDToken`` claims
rules (issuer, audience, expiry, issued-at, ``azp``, ``at_hash``), with the current time
passed in. The audience is stricter than Authlib's default: exactly our client id, no
other audience. The nonce is compared by the caller after its single-use check.
Every joserfc / Authlib failure becomes an ``OidcTokenError`` naming what failed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet

from web.exceptions import OidcTokenError, RppsClaimError

KeySource = Callable[[bool], Awaitable[KeySet]]
_RPPS = re.compile(r"\d{11}")


def _translate(exc: JoseError, what: str) -> OidcTokenError:
    if isinstance(exc, ExpiredTokenError):
        return OidcTokenError(f"the {what} has expired")
    if isinstance(exc, BadSignatureError):
        return OidcTokenError(f"the {what} signature does not match the provider's keys")
    if isinstance(exc, InvalidKeyIdError):
        return OidcTokenError(f"the {what} is signed by a key the provider does not publish")
    if isinstance(exc, ClaimError):
        return OidcTokenError(f"the {what} claim {exc.claim!r} is wrong ({exc.error})")
    return OidcTokenError(f"the {what} is unreadable ({exc.error or type(exc).__name__})")


async def decode_signed(value: str, keys: KeySource, algorithms: list[str],
                        what: str) -> jwt.Token:
    """Verify a compact JWS against the provider's keys, fetching them again once if the
    token names a key we do not have (key rotation)."""
    try:
        try:
            return jwt.decode(value, await keys(False), algorithms=algorithms)
        except InvalidKeyIdError:
            return jwt.decode(value, await keys(True), algorithms=algorithms)
    except JoseError as exc:
        raise _translate(exc, what) from exc
    except ValueError as exc:  # not a compact JWS at all
        raise OidcTokenError(f"the {what} is not a signed JWT") from exc


def check_id_token(token: jwt.Token, *, issuer: str, client_id: str, access_token: str | None,
                   now: datetime, leeway: int) -> dict[str, Any]:
    """The ID token's claims, once issuer, audience, times, azp and at_hash are right."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True},
    }
    params: dict[str, Any] = {"client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(now.timestamp()), leeway=leeway)
    except JoseError as exc:
        raise _translate(exc, "ID token") from exc
    audience = claims["aud"]
    if isinstance(audience, list) and audience != [client_id]:
        raise OidcTokenError("the ID token is also meant for other audiences")
    return dict(claims)


def check_acr(claims: dict[str, Any], accepted: list[str]) -> None:
    if accepted and claims.get("acr") not in accepted:
        raise OidcTokenError(f"the ID token's acr {claims.get('acr')!r} is not one of "
                             f"{accepted}")


async def userinfo_claims(kind: str, body: Any, *, id_claims: dict[str, Any], keys: KeySource,
                          algorithms: list[str], issuer: str, client_id: str) -> dict[str, Any]:
    """The userinfo as a dict (a signed userinfo is verified first); its ``sub`` must be
    the ID token's (OpenID Connect Core 5.3.2)."""
    if kind == "application/jwt":
        token = await decode_signed(str(body), keys, algorithms, "userinfo")
        if token.claims.get("iss", issuer) != issuer or \
                token.claims.get("aud", client_id) not in (client_id, [client_id]):
            raise OidcTokenError("the signed userinfo names another issuer or audience")
        body = token.claims
    if not isinstance(body, dict):
        raise OidcTokenError("the userinfo is not a JSON object")
    if body.get("sub") != id_claims.get("sub"):
        raise OidcTokenError("the userinfo is about another subject than the ID token")
    return body


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``SubjectNameID``, ``otherIds.0.identifiant``), or None."""
    value: Any = claims
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def rpps_from(sources: list[dict[str, Any]], path: str, prefix: str) -> str:
    """The 11-digit RPPS number at ``path`` in the first source that has it; a national
    identifier of ``prefix`` + RPPS (Pro Santé Connect: ``8`` + RPPS) is accepted."""
    for claims in sources:
        value = claim_at(claims, path)
        if value is None:
            continue
        text = str(value).strip()
        if prefix and len(text) == 11 + len(prefix) and text.startswith(prefix):
            text = text[len(prefix):]
        if _RPPS.fullmatch(text):
            return text
        raise RppsClaimError(f"claim {path!r} is not an RPPS number (11 digits, or "
                             f"{prefix!r} + 11 digits)")
    raise RppsClaimError(f"no claim {path!r} in the provider's answer")
