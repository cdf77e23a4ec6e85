"""The OIDC parts one by one: settings, transaction cookie, replay guard (SQLite and
PostgreSQL), RPPS claim, and the translation of httpx / joserfc failures into ours."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from pydantic import ValidationError
from sqlalchemy import Engine, MetaData
from sqlmodel import SQLModel

from engine.clock import FixedClock
from engine.exceptions import ParcoursError
from tests.web.servers import serving
from web import exceptions
from web.exceptions import (
    OidcConfigurationError,
    OidcProviderError,
    OidcStateError,
    OidcTokenError,
    RppsClaimError,
    WebError,
)
from web.oidc import MemoryReplayGuard, OidcSettings, SqlReplayGuard, oidc_router
from web.oidc.client import OidcClient
from web.oidc.replay import NONCE, STATE, ReplayGuard
from web.oidc.tokens import _translate, claim_at, rpps_from
from web.oidc.transaction import LoginTransaction, TransactionSigner, safe_next_path

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ISSUER = "https://psc.example.fr/auth/realms/esante-wallet"
SECRET = "un-secret-de-test-assez-long"


def _run(coroutine: Any) -> Any:
    """``asyncio.run`` in a thread of its own: a browser test of the same worker may hold a
    running event loop in this thread (Playwright's sync API)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def discovery(**changes: Any) -> dict[str, Any]:
    doc = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "/auth",
           "token_endpoint": ISSUER + "/token", "jwks_uri": ISSUER + "/certs",
           "userinfo_endpoint": ISSUER + "/userinfo",
           "id_token_signing_alg_values_supported": ["RS256"]}
    doc.update(changes)
    return doc


def settings(**changes: Any) -> OidcSettings:
    return OidcSettings.model_validate({"issuer": ISSUER, "client_id": "parcours", **changes})


# -- settings ------------------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARCOURS_WEB_OIDC_ISSUER", ISSUER + "/")
    monkeypatch.setenv("PARCOURS_WEB_OIDC_CLIENT_ID", "cpts-doubs")
    monkeypatch.setenv("PARCOURS_WEB_OIDC_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("PARCOURS_WEB_OIDC_SCOPES", "scope_all")
    monkeypatch.setenv("PARCOURS_WEB_OIDC_RPPS_CLAIM", "otherIds.0.identifiant")
    loaded = OidcSettings()
    assert loaded.enabled and loaded.issuer == ISSUER
    assert loaded.client_secret.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(loaded)
    assert loaded.scope_list == ["openid", "scope_all"]
    assert loaded.acr_list == ["eidas1"]
    assert loaded.rpps_claim == "otherIds.0.identifiant"
    assert loaded.callback_url("https://parcours.cpts.fr/") == \
        "https://parcours.cpts.fr/connexion/oidc/retour"


def test_oidc_is_off_without_an_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARCOURS_WEB_OIDC_ISSUER", raising=False)
    assert not OidcSettings().enabled


@pytest.mark.parametrize("values,message", [
    ({"issuer": ISSUER}, "CLIENT_ID is required"),
    ({"issuer": "psc.example.fr", "client_id": "x"}, "must be an http"),
    ({"issuer": ISSUER, "client_id": "x", "token_auth_method": "private_key_jwt"},
     "client_secret_basic"),
])
def test_bad_settings_say_what_is_allowed(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OidcSettings.model_validate(values)


# -- the transaction cookie ------------------------------------------------------------------


def test_a_transaction_survives_its_cookie() -> None:
    signer = TransactionSigner(SECRET)
    tx = LoginTransaction.start("/taches/12", T0, minutes=10)
    opened = signer.open(signer.seal(tx), T0 + timedelta(minutes=9))
    assert opened == tx
    assert opened.code_challenge != opened.code_verifier and len(opened.code_challenge) == 43


@pytest.mark.parametrize("tamper", ["other-secret", "flip", "expired", "empty", "garbage"])
def test_a_bad_transaction_cookie_is_refused(tamper: str) -> None:
    signer = TransactionSigner(SECRET)
    value = signer.seal(LoginTransaction.start("/", T0, minutes=10))
    now = T0
    if tamper == "other-secret":
        value = TransactionSigner("un-autre-secret-de-test").seal(
            LoginTransaction.start("/", T0, minutes=10))
    elif tamper == "flip":
        head, body, sig = value.split(".")
        value = f"{head}.{body[:-2]}{'AA' if body[-2:] != 'AA' else 'BB'}.{sig}"
    elif tamper == "expired":
        now = T0 + timedelta(minutes=10)
    elif tamper == "empty":
        value = ""
    else:
        value = "pas-un-jeton"
    with pytest.raises(OidcStateError):
        signer.open(value, now)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        TransactionSigner("court")


@pytest.mark.parametrize("asked,kept", [("/taches/12?x=1", "/taches/12?x=1"), (None, "/"),
                                        ("https://evil.example/", "/"), ("//evil.example", "/"),
                                        ("/\\evil.example", "/"), ("taches", "/")])
def test_only_local_pages_are_returned_to(asked: str | None, kept: str) -> None:
    assert safe_next_path(asked) == kept


# -- single use ------------------------------------------------------------------------------


def _guards(engine: Engine) -> list[ReplayGuard]:
    return [MemoryReplayGuard(), SqlReplayGuard(engine)]


def test_a_secret_is_accepted_once(engine: Engine) -> None:
    for guard in _guards(engine):
        keep = T0 + timedelta(minutes=10)
        assert guard.first_use(STATE, "abc", now=T0, keep_until=keep)
        assert not guard.first_use(STATE, "abc", now=T0 + timedelta(minutes=1), keep_until=keep)
        assert guard.first_use(NONCE, "abc", now=T0, keep_until=keep)  # another purpose


def test_used_secrets_are_purged_once_expired(engine: Engine) -> None:
    from sqlalchemy import func, select

    from engine.store.tables import USED_SIGN_IN_KEY_TABLE

    guard = SqlReplayGuard(engine)
    assert guard.first_use(STATE, "old", now=T0, keep_until=T0 + timedelta(minutes=10))
    assert guard.first_use(STATE, "new", now=T0 + timedelta(hours=1),
                           keep_until=T0 + timedelta(hours=2))
    with engine.connect() as conn:
        keys = conn.execute(select(func.count()).select_from(USED_SIGN_IN_KEY_TABLE)).scalar()
        stored = conn.execute(select(USED_SIGN_IN_KEY_TABLE.c.key_hash)).scalars().all()
    assert keys == 1
    assert all(len(k) == 64 and "new" not in k for k in stored)  # hashed, not the secret


def test_two_workers_using_the_same_state_at_once_let_one_through(engine: Engine) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def use() -> None:
        guard = SqlReplayGuard(engine)
        barrier.wait()
        try:
            results.append(guard.first_use(STATE, "course", now=T0,
                                           keep_until=T0 + timedelta(minutes=5)))
        except Exception:  # a lock timeout would be a failure too: count it as refused
            results.append(False)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]


def test_the_migration_creates_the_table_the_model_declares(engine: Engine) -> None:
    from engine.store.tables import USED_SIGN_IN_KEY_TABLE

    only = MetaData()
    USED_SIGN_IN_KEY_TABLE.to_metadata(only)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": _only_ours})
        diffs = compare_metadata(context, only)
    assert diffs == []
    assert SQLModel.metadata.tables["web_used_sign_in_key"] is USED_SIGN_IN_KEY_TABLE


def _only_ours(name: str | None, kind: str, _parents: object) -> bool:
    return kind != "table" or name == "web_used_sign_in_key"


# -- RPPS claim ------------------------------------------------------------------------------

PSC = {"sub": "f:1:810000000001", "SubjectNameID": "810000000001",
       "otherIds": [{"identifiant": "10000000001", "origine": "RPPS"}]}


@pytest.mark.parametrize("sources,path,prefix,rpps", [
    ([PSC], "SubjectNameID", "8", "10000000001"),
    ([PSC], "otherIds.0.identifiant", "", "10000000001"),
    ([{"rpps": 10000000002}], "rpps", "8", "10000000002"),
    ([{}, {"SubjectNameID": "810000000003"}], "SubjectNameID", "8", "10000000003"),
])
def test_the_rpps_is_read_at_the_configured_path(sources: list[dict[str, Any]], path: str,
                                                 prefix: str, rpps: str) -> None:
    assert rpps_from(sources, path, prefix) == rpps


@pytest.mark.parametrize("sources,path,prefix,message", [
    ([PSC], "SubjectNameID", "", "not an RPPS number"),
    ([{"SubjectNameID": "ANS20231122132732"}], "SubjectNameID", "8", "not an RPPS number"),
    ([PSC], "otherIds.3.identifiant", "", "no claim"),
    ([{"SubjectNameID": None}], "SubjectNameID", "8", "no claim"),
])
def test_a_missing_or_malformed_rpps_is_refused(sources: list[dict[str, Any]], path: str,
                                                prefix: str, message: str) -> None:
    with pytest.raises(RppsClaimError, match=message):
        rpps_from(sources, path, prefix)


def test_claim_paths_stop_at_scalars() -> None:
    assert claim_at({"a": "x"}, "a.b") is None
    assert claim_at({"a": [{"b": 1}]}, "a.0.b") == 1


# -- translation of third-party errors -------------------------------------------------------


@pytest.mark.parametrize("error,words", [
    (ExpiredTokenError("exp"), "has expired"),
    (BadSignatureError(), "signature does not match"),
    (InvalidKeyIdError(), "key the provider does not publish"),
    (InvalidClaimError("aud"), "claim 'aud' is wrong"),
    (MissingClaimError("nonce"), "claim 'nonce' is wrong (missing_claim)"),
    (DecodeError(), "is unreadable"),
])
def test_each_joserfc_error_is_mapped(error: JoseError, words: str) -> None:
    mapped = _translate(error, "ID token")
    assert isinstance(mapped, OidcTokenError)
    assert words in mapped.reason


def client_answering(handler: Any, clock: FixedClock | None = None) -> OidcClient:
    return OidcClient(settings(), clock=clock or FixedClock(T0),
                      transport=httpx.MockTransport(handler))


def test_a_network_failure_is_a_retryable_provider_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connexion refusée", request=request)

    with pytest.raises(OidcProviderError, match="ConnectError") as caught:
        _run(client_answering(refuse).metadata())
    assert caught.value.retryable and isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("answer,error,message", [
    (httpx.Response(503, text="maintenance"), OidcProviderError, "HTTP 503"),
    (httpx.Response(200, text="<html>"), OidcProviderError, "did not answer JSON"),
    (httpx.Response(200, json=[1]), OidcConfigurationError, "not a JSON object"),
    (httpx.Response(200, json=discovery(issuer="https://autre.example")),
     OidcConfigurationError, "names issuer"),
    (httpx.Response(200, json=discovery(token_endpoint=None)), OidcConfigurationError,
     "lacks token_endpoint"),
    (httpx.Response(200, json=discovery(id_token_signing_alg_values_supported=["HS256"])),
     OidcConfigurationError, "allowed: RS256"),
])
def test_an_unusable_discovery_document_is_refused(
        answer: httpx.Response, error: type[WebError], message: str) -> None:
    with pytest.raises(error, match=message):
        _run(client_answering(lambda request: answer).metadata())


def test_discovery_is_cached_then_read_again() -> None:
    seen: list[str] = []
    clock = FixedClock(T0)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=discovery())

    client = client_answering(answer, clock)
    _run(client.metadata())
    _run(client.metadata())
    assert seen == ["/auth/realms/esante-wallet/.well-known/openid-configuration"]
    clock.advance(timedelta(hours=2))
    _run(client.metadata())
    assert len(seen) == 2


def test_token_and_key_set_errors_are_translated() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=discovery())
        if request.url.path.endswith("/token"):
            return httpx.Response(400, json={"error": "invalid_grant",
                                             "error_description": "libre <script>"})
        return httpx.Response(200, json={"keys": [{"kty": "RSA"}]})

    client = client_answering(answer)
    tx = LoginTransaction.start("/", T0, 10)
    with pytest.raises(OidcProviderError, match=r"HTTP 400 \(error=invalid_grant\)$"):
        _run(client.exchange_code("code", tx, "https://parcours.example/retour"))
    with pytest.raises(OidcProviderError, match="key set is unusable"):
        _run(client.key_set())


def test_the_exception_tree_has_one_root_and_french_pages() -> None:
    classes = [c for c in vars(exceptions).values()
               if isinstance(c, type) and issubclass(c, Exception)
               and c.__module__ == "web.exceptions"]
    assert len(classes) == 16
    for cls in classes:
        assert cls.__name__ in (exceptions.__doc__ or "")  # the tree drawn is the tree
        assert issubclass(cls, WebError) and issubclass(cls, ParcoursError)
    refusals = [c for c in classes if issubclass(c, exceptions.SignInError)
                and c not in (exceptions.SignInError, exceptions.OidcError)]
    pages = {c.public_message for c in refusals}
    assert len(pages) == len(refusals) == 8  # each refusal says its own thing
    assert all(p.endswith(".") and " the " not in p for p in pages)


# -- the router's cookie on https ------------------------------------------------------------


def test_on_https_the_transaction_cookie_is_secure(engine: Engine) -> None:
    def refuse(request: Request, message: str) -> Response:
        return PlainTextResponse(message, status_code=403)

    def never(request: Request, professional_id: int, next_path: str) -> Response:
        raise AssertionError("no sign-in here")

    def make(_url: str) -> FastAPI:
        app = FastAPI()
        app.include_router(oidc_router(
            settings(), base_url="https://parcours.cpts.example", secret=SECRET,
            guard=SqlReplayGuard(engine), find_professional_by_rpps=lambda rpps: None,
            sign_in=never, refuse=refuse, clock=FixedClock(T0),
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json=discovery()))))
        return app

    with serving(make) as url:
        response = httpx.get(url + "/connexion/oidc", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith(ISSUER + "/auth?response_type=code")
    assert "redirect_uri=https%3A%2F%2Fparcours.cpts.example%2Fconnexion%2Foidc%2Fretour" in \
        response.headers["location"]
    assert "secure" in response.headers["set-cookie"].lower()


def test_the_oidc_package_exports_what_the_workspace_needs() -> None:
    import subprocess
    import sys

    import web.oidc

    assert sorted(web.oidc.__all__) == ["MemoryReplayGuard", "OidcSettings", "RETURN_PATH",
                                        "ReplayGuard", "START_PATH", "SqlReplayGuard",
                                        "oidc_router"]
    code = ("import sys, web.oidc, web.auth.oidc; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
