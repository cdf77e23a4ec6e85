"""The authorization-code flow with PKCE, from the redirect to a verified RPPS number.

``begin`` makes a fresh transaction (state, nonce, PKCE verifier) and the provider's
authorization URL; ``complete`` checks the provider's answer in this order, stopping at
the first failure (each raises a ``SignInError`` subclass, see ``web/exceptions.py``):

1. the provider did not send back an error (``OidcCancelledError``);
2. the transaction cookie is ours, unexpired, and its state is the one returned
   (``OidcStateError``), used for the first time (``OidcReplayError``);
3. the code is exchanged with PKCE and client authentication (``OidcProviderError``);
4. the ID token: signature, issuer, audience, expiry, ``azp``, ``at_hash``
   (``OidcTokenError``), nonce used for the first time (``OidcReplayError``) and equal to
   ours, ``acr`` as requested;
5. the userinfo (signed or not) is about the same subject; the RPPS number is read at the
   configured claim path (``RppsClaimError``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
from anyio import to_thread
from authlib.common.errors import AuthlibBaseError
from joserfc.jwk import KeySet

from engine.clock import Clock
from web.exceptions import (
    OidcCancelledError,
    OidcProviderError,
    OidcReplayError,
    OidcStateError,
    OidcTokenError,
)
from web.oidc.client import OidcClient
from web.oidc.replay import NONCE, STATE, ReplayGuard
from web.oidc.settings import OidcSettings
from web.oidc.tokens import check_acr, check_id_token, decode_signed, rpps_from, userinfo_claims
from web.oidc.transaction import LoginTransaction, TransactionSigner


@dataclass(frozen=True)
class Verified:
    """A professional authenticated by the provider: their RPPS number and where to go."""

    rpps: str
    next_path: str


class OidcFlow:
    def __init__(self, settings: OidcSettings, *, redirect_uri: str, secret: str,
                 guard: ReplayGuard, clock: Clock,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.client = OidcClient(settings, clock=clock, transport=transport)
        self.signer = TransactionSigner(secret)
        self.guard = guard
        self.clock = clock

    async def begin(self, next_path: str | None) -> tuple[str, str]:
        """The provider's authorization URL and the transaction cookie's value."""
        tx = LoginTransaction.start(next_path or "/", self.clock.now(),
                                    self.settings.login_minutes)
        try:
            url = await self.client.authorization_url(tx, self.redirect_uri)
        except AuthlibBaseError as exc:
            raise OidcProviderError(f"authorization request: {exc.error}") from exc
        return url, self.signer.seal(tx)

    async def complete(self, params: Mapping[str, str], cookie: str | None) -> Verified:
        if "error" in params:
            raise OidcCancelledError(params["error"][:60])
        tx = self.signer.open(cookie, self.clock.now())
        await self._check_state(params.get("state"), tx)
        code = params.get("code")
        if not code:
            raise OidcProviderError("the provider's answer has no code")
        try:
            token = await self.client.exchange_code(code, tx, self.redirect_uri)
        except AuthlibBaseError as exc:
            raise OidcProviderError(f"token request: {exc.error}") from exc
        claims = await self._id_token(token, tx)
        sources = [claims]
        access_token = token.get("access_token")
        metadata = await self.client.metadata()
        if self.settings.use_userinfo and metadata.userinfo_endpoint and \
                isinstance(access_token, str):
            kind, body = await self.client.userinfo(access_token)
            sources.insert(0, await userinfo_claims(
                kind, body, id_claims=claims, keys=self._keys, algorithms=metadata.algorithms,
                issuer=metadata.issuer, client_id=self.settings.client_id))
        rpps = rpps_from(sources, self.settings.rpps_claim, self.settings.rpps_prefix)
        return Verified(rpps=rpps, next_path=tx.next_path)

    async def _keys(self, refresh: bool) -> KeySet:
        return await self.client.key_set(refresh=refresh)

    async def _first_use(self, purpose: str, secret: str, keep: timedelta) -> bool:
        now = self.clock.now()
        return await to_thread.run_sync(
            lambda: self.guard.first_use(purpose, secret, now=now, keep_until=now + keep))

    async def _check_state(self, state: str | None, tx: LoginTransaction) -> None:
        if not state or not hmac.compare_digest(state.encode(), tx.state.encode()):
            raise OidcStateError("the returned state is not the one sent")
        if not await self._first_use(STATE, tx.state, tx.expires_at - self.clock.now()):
            raise OidcReplayError("state")

    async def _id_token(self, token: dict[str, object], tx: LoginTransaction) -> dict[str, object]:
        metadata = await self.client.metadata()
        decoded = await decode_signed(str(token["id_token"]), self._keys, metadata.algorithms,
                                      "ID token")
        access_token = token.get("access_token")
        claims = check_id_token(decoded, issuer=metadata.issuer,
                                client_id=self.settings.client_id,
                                access_token=access_token if isinstance(access_token, str)
                                else None,
                                now=self.clock.now(), leeway=self.settings.leeway_seconds)
        nonce = str(claims["nonce"])
        lifetime = int(str(claims["exp"])) - int(self.clock.now().timestamp())
        keep = timedelta(seconds=max(lifetime, 0) + self.settings.leeway_seconds)
        if not await self._first_use(NONCE, nonce, keep):
            raise OidcReplayError("nonce")
        if not hmac.compare_digest(nonce.encode(), tx.nonce.encode()):
            raise OidcTokenError("the ID token's nonce is not the one sent")
        check_acr(claims, self.settings.acr_list)
        return claims
