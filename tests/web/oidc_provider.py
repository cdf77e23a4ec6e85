"""A small, real OpenID provider for the tests, served over HTTP on loopback.

It implements what a relying party meets with Pro Santé Connect: discovery, a JWKS with
an RSA key, the authorization endpoint (the signed-in professional is ``provider.user``;
consent is implicit), the token endpoint (client authentication, single-use codes with a
lifetime, ``redirect_uri`` match, PKCE S256), and a userinfo endpoint in the shape of
Pro Santé Connect's (``SubjectNameID`` = ``8`` + RPPS, ``SubjectRefPro``), as JSON or as a
signed JWT. ID tokens are signed with joserfc (RS256) and carry ``at_hash``.

For the negative tests it misbehaves on demand (``provider.misbehave``):
``wrong_audience``, ``extra_audience``, ``foreign_key`` (signed by another key under the
same ``kid``), ``unknown_key`` (another key, another ``kid``), ``expired``,
``replay_tokens`` (the previous token response again), ``wrong_issuer``, ``low_acr``;
and ``provider.deny`` sends the user back with an OAuth error.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core.util import create_half_hash
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "parcours-cpts-test"
CLIENT_SECRET = "secret-de-test-0123456789"


def psc_user(rpps: str, family: str = "Martin", given: str = "Claire") -> dict[str, Any]:
    """Userinfo claims shaped like Pro Santé Connect's for a doctor (profession 10)."""
    return {"sub": f"f:{secrets.token_hex(8)}:8{rpps}", "SubjectNameID": f"8{rpps}",
            "preferred_username": f"8{rpps}", "family_name": family, "given_name": given,
            "SubjectRefPro": {"codeCivilite": "DR", "exercices": [
                {"codeProfession": "10", "nomDexercice": family, "prenomDexercice": given}]},
            "otherIds": [{"identifiant": rpps, "origine": "RPPS", "qualite": 1}]}


@dataclass
class Grant:
    user: dict[str, Any]
    redirect_uri: str
    nonce: str | None
    challenge: str
    acr: str | None
    expires: float
    used: bool = False


@dataclass
class LoopbackProvider:
    issuer: str = ""
    user: dict[str, Any] = field(default_factory=lambda: psc_user("10000000001"))
    misbehave: set[str] = field(default_factory=set)
    deny: str | None = None
    signed_userinfo: bool = False
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "psc-1", "use": "sig", "alg": "RS256"}))
    other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, parameters={"kid": "psc-1", "use": "sig", "alg": "RS256"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_calls: int = 0
    last_token_response: dict[str, Any] | None = None
    authorize_params: list[dict[str, str]] = field(default_factory=list)

    # -- tokens ----------------------------------------------------------------------------
    def _id_token(self, grant: Grant, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": grant.user["sub"], "aud": CLIENT_ID, "iat": now,
            "exp": now + 300, "auth_time": now, "nonce": grant.nonce,
            "acr": grant.acr or "eidas1",
            "at_hash": create_half_hash(access_token, "RS256").decode()}
        if "wrong_audience" in self.misbehave:  # azp set, so only an audience check sees it
            claims.update(aud="un-autre-logiciel", azp=CLIENT_ID)
        if "extra_audience" in self.misbehave:
            claims.update(aud=[CLIENT_ID, "un-autre-logiciel"], azp=CLIENT_ID)
        if "expired" in self.misbehave:
            claims.update(iat=now - 900, exp=now - 600, auth_time=now - 900)
        if "wrong_issuer" in self.misbehave:
            claims["iss"] = "https://faux-fournisseur.example"
        if "low_acr" in self.misbehave:
            claims["acr"] = "eidas0"
        key = self.key
        if "foreign_key" in self.misbehave:
            key = self.other_key
        if "unknown_key" in self.misbehave:
            key = RSAKey.generate_key(2048, parameters={"kid": "inconnue", "alg": "RS256"})
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key, algorithms=["RS256"])

    def issue(self, grant: Grant) -> dict[str, Any]:
        if "replay_tokens" in self.misbehave and self.last_token_response is not None:
            return self.last_token_response
        access_token = secrets.token_urlsafe(32)
        self.tokens[access_token] = grant.user
        response = {"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                    "id_token": self._id_token(grant, access_token), "scope": "openid"}
        self.last_token_response = response
        return response

    # -- the HTTP app ----------------------------------------------------------------------
    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                    "token_endpoint": self.issuer + "/token",
                    "userinfo_endpoint": self.issuer + "/userinfo",
                    "jwks_uri": self.issuer + "/jwks", "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                              "client_secret_post"]}

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> Response:
            return self._authorize(dict(request.query_params))

        @app.post("/token")
        async def token(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))
            return self._token(form, request.headers.get("authorization", ""))

        @app.get("/userinfo")
        def userinfo(request: Request) -> Response:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            user = self.tokens.get(bearer)
            if user is None:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            if self.signed_userinfo:
                claims = {**user, "iss": self.issuer, "aud": CLIENT_ID}
                body = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key,
                                  algorithms=["RS256"])
                return Response(body, media_type="application/jwt")
            return JSONResponse(user)

        return app

    def _authorize(self, params: dict[str, str]) -> Response:
        self.authorize_params.append(params)
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != CLIENT_ID or not redirect_uri.startswith("http"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        back: dict[str, str] = {"state": params.get("state", "")}
        if self.deny:
            back["error"] = self.deny
        elif params.get("response_type") != "code" or \
                params.get("code_challenge_method") != "S256" or "openid" not in \
                params.get("scope", "").split():
            back["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(user=self.user, redirect_uri=redirect_uri,
                                      nonce=params.get("nonce"),
                                      challenge=params.get("code_challenge", ""),
                                      acr=params.get("acr_values"), expires=time.time() + 60)
            back["code"] = code
        return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

    def _token(self, form: dict[str, str], authorization: str) -> Response:
        self.token_calls += 1
        if not _client_ok(form, authorization):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or grant is None or grant.used \
                or grant.expires < time.time() or grant.redirect_uri != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        grant.used = True
        verifier = form.get("code_verifier", "")
        if not verifier or create_s256_code_challenge(verifier) != grant.challenge:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        return JSONResponse(self.issue(grant), headers={"Cache-Control": "no-store"})


def _client_ok(form: dict[str, str], authorization: str) -> bool:
    if authorization.startswith("Basic "):
        decoded = base64.b64decode(authorization[6:]).decode()
        return decoded == f"{CLIENT_ID}:{CLIENT_SECRET}"
    return secrets.compare_digest(
        hashlib.sha256(f"{form.get('client_id')}:{form.get('client_secret')}".encode()).digest(),
        hashlib.sha256(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).digest())
