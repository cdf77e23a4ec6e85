"""Talking to the OpenID provider: discovery, keys, the code exchange, the userinfo.

Requests go through ``httpx`` (installed with Prefect); the OAuth 2.0 messages are built
by Authlib (``prepare_grant_uri``, ``prepare_token_request``, ``ClientAuth`` for
``client_secret_basic`` / ``client_secret_post``). The discovery document and the key set
are cached in memory for ``metadata_cache_seconds`` (a cache, not state: every worker
fetches its own), and the key set is fetched again once when a token names a key we do
not know (the provider rotated its keys). Network failures and error answers become
``OidcProviderError`` (retryable); an unusable discovery document, ``OidcConfigurationError``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from engine.clock import Clock
from web.exceptions import OidcConfigurationError, OidcProviderError
from web.oidc.settings import ASYMMETRIC_ALGORITHMS, OidcSettings
from web.oidc.transaction import LoginTransaction

_REQUIRED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    algorithms: list[str]

    @classmethod
    def parse(cls, doc: Any, expected_issuer: str) -> ProviderMetadata:
        if not isinstance(doc, dict):
            raise OidcConfigurationError("the discovery document is not a JSON object")
        missing = [k for k in _REQUIRED if not isinstance(doc.get(k), str)]
        if missing:
            raise OidcConfigurationError(f"the discovery document lacks {', '.join(missing)}")
        if doc["issuer"].rstrip("/") != expected_issuer:
            raise OidcConfigurationError(
                f"the discovery document names issuer {doc['issuer']!r}, "
                f"not the configured {expected_issuer!r}")
        offered = doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ASYMMETRIC_ALGORITHMS]
        if not algorithms:
            raise OidcConfigurationError(
                f"the provider signs ID tokens with {offered}; allowed: "
                f"{', '.join(ASYMMETRIC_ALGORITHMS)}")
        userinfo = doc.get("userinfo_endpoint")
        return cls(issuer=doc["issuer"], authorization_endpoint=doc["authorization_endpoint"],
                   token_endpoint=doc["token_endpoint"], jwks_uri=doc["jwks_uri"],
                   userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
                   algorithms=algorithms)


class OidcClient:
    """One relying party of one provider, as configured by ``OidcSettings``."""

    def __init__(self, settings: OidcSettings, *, clock: Clock,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if settings.issuer is None:
            raise OidcConfigurationError("PARCOURS_WEB_OIDC_ISSUER is not set")
        self.settings = settings
        self.issuer: str = settings.issuer
        self._clock = clock
        self._transport = transport
        self._tls: ssl.SSLContext | None = None
        self._metadata: tuple[datetime, ProviderMetadata] | None = None
        self._keys: tuple[datetime, KeySet] | None = None

    # -- HTTP ------------------------------------------------------------------------------
    def _tls_context(self) -> ssl.SSLContext:
        """Made once: loading the CA bundle costs ~0.1 s, a client per request is then free
        (a client is bound to its event loop, so none is kept between requests)."""
        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        return self._tls

    async def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        try:
            async with httpx.AsyncClient(transport=self._transport, verify=self._tls_context(),
                                         timeout=self.settings.http_timeout_seconds,
                                         follow_redirects=False) as http:
                response = await http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise OidcProviderError(f"{method} {url} failed: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise OidcProviderError(f"{method} {url} answered HTTP {response.status_code}"
                                    f"{_oauth_error(response)}")
        return response

    async def _json(self, method: str, url: str, **kw: Any) -> Any:
        response = await self._request(method, url, **kw)
        try:
            return response.json()
        except ValueError as exc:
            raise OidcProviderError(f"{method} {url} did not answer JSON") from exc

    def _fresh(self, fetched_at: datetime) -> bool:
        age = self._clock.now() - fetched_at
        return age < timedelta(seconds=self.settings.metadata_cache_seconds)

    # -- discovery and keys ----------------------------------------------------------------
    async def metadata(self) -> ProviderMetadata:
        if self._metadata is not None and self._fresh(self._metadata[0]):
            return self._metadata[1]
        doc = await self._json("GET", self.issuer + "/.well-known/openid-configuration")
        metadata = ProviderMetadata.parse(doc, self.issuer)
        self._metadata = (self._clock.now(), metadata)
        return metadata

    async def key_set(self, *, refresh: bool = False) -> KeySet:
        if not refresh and self._keys is not None and self._fresh(self._keys[0]):
            return self._keys[1]
        metadata = await self.metadata()
        jwks = await self._json("GET", metadata.jwks_uri)
        try:
            keys = KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcProviderError(f"the provider's key set is unusable: {exc}") from exc
        self._keys = (self._clock.now(), keys)
        return keys

    # -- the flow --------------------------------------------------------------------------
    async def authorization_url(self, tx: LoginTransaction, redirect_uri: str) -> str:
        metadata = await self.metadata()
        acr = " ".join(self.settings.acr_list) or None
        return str(prepare_grant_uri(
            metadata.authorization_endpoint, self.settings.client_id, "code",
            redirect_uri=redirect_uri, scope=self.settings.scope_list, state=tx.state,
            nonce=tx.nonce, code_challenge=tx.code_challenge, code_challenge_method="S256",
            acr_values=acr))

    async def exchange_code(self, code: str, tx: LoginTransaction,
                            redirect_uri: str) -> dict[str, Any]:
        metadata = await self.metadata()
        body = prepare_token_request("authorization_code", redirect_uri=redirect_uri,
                                     code=code, code_verifier=tx.code_verifier)
        auth = ClientAuth(self.settings.client_id,
                          self.settings.client_secret.get_secret_value(),
                          self.settings.token_auth_method)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}
        url, headers, body = auth.prepare("POST", metadata.token_endpoint, headers, body)
        token = await self._json("POST", url, headers=headers, content=body)
        if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
            raise OidcProviderError("the token response has no id_token")
        return token

    async def userinfo(self, access_token: str) -> tuple[str, Any]:
        """The userinfo response as (content type, JSON value or compact JWT text)."""
        metadata = await self.metadata()
        if metadata.userinfo_endpoint is None:
            raise OidcConfigurationError("the provider publishes no userinfo_endpoint")
        response = await self._request("GET", metadata.userinfo_endpoint,
                                       headers={"Authorization": f"Bearer {access_token}"})
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if kind == "application/jwt":
            return kind, response.text.strip()
        try:
            return kind, response.json()
        except ValueError as exc:
            raise OidcProviderError("the userinfo endpoint did not answer JSON") from exc


def _oauth_error(response: httpx.Response) -> str:
    """`` (error=invalid_grant)`` from an OAuth error body, without its free text."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" (error={error})" if isinstance(error, str) and error.isascii() else ""
