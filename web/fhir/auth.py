"""Who calls the FHIR interface: a system with an OAuth2 token, or a signed-in person.

Systems use the OAuth2 *client credentials* grant (RFC 6749 §4.4) at
``POST /fhir/auth/token`` (client authentication ``client_secret_basic`` or
``client_secret_post``), served by Authlib's ``AuthorizationServer`` and
``ClientCredentialsGrant``; their ``Authorization: Bearer`` tokens are checked by
Authlib's ``ResourceProtector`` and ``BearerTokenValidator``. Scopes are SMART backend
services' ``system/<Resource>.<read|write|*>`` (``engine.store.fhir_clients``): a
request needs ``system/Patient.read`` (or ``system/*.read``, ``system/Patient.*``…) to
read patients, ``system/Bundle.write`` (or ``system/*.write``) to post a bundle. A
token request asking for more than the client holds is given what it holds of it; for
nothing it holds, ``invalid_scope``.

People use their workspace session (the signed cookie): the CPTS coordinator reads every
patient, a professional only the patients whose care team they are in (the workspace's
rules, ``engine.store.worklist``), anything else is the same 404 as an unknown id; each
read of a patient's data is written to the access log. People only read: writing needs
a system's token.

No credentials: 401 with ``WWW-Authenticate: Bearer``; an unknown, expired or revoked
token: 401 ``invalid_token``; a scope that does not allow the request: 403
``insufficient_scope``; all as OperationOutcome. Authlib's errors are translated here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Error, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from engine.store import access, fhir_clients, worklist
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.tables import FhirClient, FhirToken, Patient
from engine.store.worklist import Viewer
from web.auth.sessions import read_session
from web.context import WebContext, client_ip, context_of
from web.fhir.errors import FhirError
from web.fhir.settings import FhirSettings

REALM = "parcours-fhir"
TOKEN_PATH = "/fhir/auth/token"
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


# -- the authorization server (token endpoint) ------------------------------------------------


class _Client(ClientMixin):
    def __init__(self, row: FhirClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """What it asks for and holds (a wildcard it holds covers a narrower scope); all it
        holds when it asks for nothing; None (``invalid_scope``) when it holds none of it."""
        if not scope:
            return " ".join(self.row.scopes)
        kept = [s for s in dict.fromkeys(scope.split()) if _held(self.row.scopes, s)]
        return " ".join(kept) or None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return fhir_clients.secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


def _held(granted: list[str], scope: str) -> bool:
    try:
        fhir_clients.check_scope(scope)
    except InputError:  # not a scope we serve: simply not granted
        return False
    resource, action = scope.removeprefix("system/").split(".")
    actions = ("read", "write") if action == "*" else (action,)
    resources = fhir_clients.SCOPE_RESOURCES if resource == "*" else (resource,)
    return all(fhir_clients.grants(granted, r, a) for r in resources for a in actions)


class _ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS


@dataclass(frozen=True)
class _TokenRequest:
    uri: str
    headers: Any
    form: dict[str, str]


class _FormRequest(OAuth2Request):
    """Authlib's request with the form (``client_secret_post`` reads ``request.form``)."""

    def __init__(self, request: _TokenRequest) -> None:
        super().__init__("POST", request.uri, headers=request.headers)
        self.payload = BasicOAuth2Payload(request.form)
        self._form = request.form

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _TokenServer(AuthorizationServer):
    """One per token request, bound to its database session and clock."""

    def __init__(self, session: Session, now: datetime, lifetime: timedelta) -> None:
        super().__init__()
        self.session, self.now, self.lifetime = session, now, lifetime
        self.register_grant(_ClientCredentials)
        self.register_token_generator("default", BearerTokenGenerator(
            lambda **_: secrets.token_urlsafe(32),
            expires_generator=int(lifetime.total_seconds())).generate)

    def query_client(self, client_id: str) -> _Client | None:
        row = fhir_clients.find_client(self.session, client_id)
        return _Client(row) if row is not None else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        fhir_clients.save_token(self.session, request.client.row, token["access_token"],
                                token.get("scope", ""), self.now, self.lifetime)

    def create_oauth2_request(self, request: _TokenRequest) -> OAuth2Request:
        return _FormRequest(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return JSONResponse(body, status_code=status, headers=dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


def token_response(ctx: WebContext, settings: FhirSettings, request: Request,
                   form: dict[str, str]) -> Response:
    """The token endpoint: an access token, or an OAuth2 error (RFC 6749 §5.2)."""
    # Authlib refuses plain http unless on loopback: the public address (https behind the
    # proxy) is what the client called
    uri = ctx.settings.base_url.rstrip("/") + TOKEN_PATH
    with transaction(ctx.engine) as session:
        server = _TokenServer(session, ctx.now(), timedelta(minutes=settings.token_minutes))
        response: Response = server.create_token_response(
            _TokenRequest(uri, request.headers, form))
    return response


# -- protecting the resources -----------------------------------------------------------------


class _Token(TokenMixin):
    def __init__(self, row: FhirToken, client: FhirClient, now: datetime) -> None:
        self.row, self.client, self.now = row, client, now

    def check_client(self, client: Any) -> bool:
        return bool(client.get_client_id() == self.client.client_id)

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.client.revoked_at is not None


class _Validator(BearerTokenValidator):
    def __init__(self, session: Session, now: datetime) -> None:
        super().__init__(realm=REALM)
        self.session, self.now = session, now

    def authenticate_token(self, token_string: str) -> _Token | None:
        found = fhir_clients.find_token(self.session, token_string)
        return _Token(*found, self.now) if found is not None else None

    def scope_insufficient(self, token_scopes: str | None, required: list[str]) -> bool:
        granted = (token_scopes or "").split()
        return not all(_held(granted, scope) for scope in required)


@dataclass(frozen=True)
class Caller:
    """A system (``client``: its name; its scopes were checked) or a person (``viewer``)."""

    client: str | None = None
    viewer: Viewer | None = None

    def may_see(self, db: Session, patient_id: int, day: date) -> bool:
        if self.viewer is None:
            return db.get(Patient, patient_id) is not None
        return worklist.can_see_patient(db, self.viewer, patient_id, day)


def authorize(request: Request, resource: str, action: str) -> Caller:
    """The caller, allowed ``action`` (read, write) on ``resource``; FhirError otherwise."""
    ctx = context_of(request)
    if request.headers.get("authorization"):
        protector = ResourceProtector()
        with transaction(ctx.engine) as session:
            protector.register_token_validator(_Validator(session, ctx.now()))
            try:
                token = protector.validate_request([f"system/{resource}.{action}"], request)
            except OAuth2Error as exc:
                raise _translated(exc, resource, action) from exc
            return Caller(client=token.client.name)
    cookie = read_session(request)
    viewer = None
    if cookie is not None and cookie.professional_id is not None:
        with transaction(ctx.engine) as db:
            viewer = worklist.viewer(db, cookie.professional_id)
    if viewer is None:
        raise FhirError(401, "login", "authentification requise : un jeton OAuth2 (client "
                        f"credentials, {TOKEN_PATH}) ou une session de l'espace Parcours",
                        headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})
    if action != "read":
        raise FhirError(403, "forbidden", "une session de l'espace Parcours ne permet que la "
                        "lecture ; l'écriture demande le jeton d'un système")
    return Caller(viewer=viewer)


def _translated(exc: OAuth2Error, resource: str, action: str) -> FhirError:
    headers = {k: v for k, v in exc.get_headers() if k.lower() == "www-authenticate"}
    status = exc.status_code or 401
    if status == 403:
        headers["WWW-Authenticate"] = (f'Bearer realm="{REALM}", error="insufficient_scope", '
                                       f'scope="system/{resource}.{action}"')
        return FhirError(403, "forbidden", f"portée insuffisante : system/{resource}.{action} "
                         "(ou un joker qui la couvre) est nécessaire", headers=headers)
    headers.setdefault("WWW-Authenticate", f'Bearer realm="{REALM}", error="invalid_token"')
    return FhirError(401, "login", "jeton d'accès inconnu, expiré ou révoqué : demandez-en "
                     f"un nouveau ({TOKEN_PATH})", headers=headers)


def log_read(request: Request, caller: Caller, db: Session, patient_id: int) -> None:
    """A person's read of a patient's data goes to the access log."""
    if caller.viewer is not None:
        access.log_access(db, caller.viewer.id, access.READ_PATIENT, context_of(request).now(),
                          patient_id=patient_id, client=client_ip(request))
