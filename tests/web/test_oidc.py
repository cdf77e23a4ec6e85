"""OpenID Connect sign-in end to end, on SQLite and PostgreSQL: the real workspace
(``web.app.create_app``) and a real OpenID provider (``oidc_provider.py``), both served by
uvicorn on loopback, a browser played by an httpx client that keeps cookies. The
professional is found by RPPS in the ``professional`` table of ``tests/db/world.py``'s
territory (Paul Martin, GP, RPPS 10000000001); "signed in" means ``/tasks`` opens,
"no session" means it sends back to the sign-in page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import RSAKey
from pydantic import SecretStr
from sqlalchemy import Engine

from engine.clock import SystemClock
from engine.settings import Settings
from engine.store.db import transaction
from engine.store.tables import Professional
from tests.db.world import build
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, LoopbackProvider, psc_user
from tests.web.servers import serving
from web.app import create_app
from web.exceptions import (
    OidcCancelledError,
    OidcProviderError,
    OidcReplayError,
    OidcStateError,
    OidcTokenError,
    RppsClaimError,
    SignInError,
    UnknownProfessionalError,
)
from web.oidc import OidcSettings
from web.oidc.transaction import COOKIE_NAME
from web.settings import WebSettings

SESSION = "parcours_session"
SECRET = "o" * 48
GP, RETIRED, STRANGER = "10000000001", "10000000005", "19999999999"


@pytest.fixture(scope="session")
def provider_keys() -> tuple[RSAKey, RSAKey]:
    """Two RSA keys made once (the provider's, and an impostor's under the same kid)."""
    provider = LoopbackProvider()
    return provider.key, provider.other_key


@pytest.fixture
def provider(provider_keys: tuple[RSAKey, RSAKey]) -> Iterator[LoopbackProvider]:
    """A fresh provider on its own port, behaving until a test says otherwise."""
    key, other = provider_keys
    oidc = LoopbackProvider(key=key, other_key=other)

    def make(base_url: str) -> FastAPI:
        oidc.issuer = base_url
        return oidc.app()

    with serving(make):
        yield oidc


def settings_for(provider: LoopbackProvider, **changes: object) -> OidcSettings:
    values: dict[str, object] = {"issuer": provider.issuer, "client_id": CLIENT_ID,
                                 "client_secret": SecretStr(CLIENT_SECRET)}
    values.update(changes)
    return OidcSettings.model_validate(values)


@contextmanager
def workspace(db_url: str, oidc: OidcSettings) -> Iterator[str]:
    """The real workspace app on loopback with OIDC on; yields its base URL."""
    apps: list[FastAPI] = []

    def make(base_url: str) -> FastAPI:
        app = create_app(WebSettings(base_url=base_url, secret_key=SecretStr(SECRET)),
                         Settings(database_url=db_url), clock=SystemClock(), oidc=oidc)
        apps.append(app)
        return app

    try:
        with serving(make) as url:
            yield url
    finally:
        for app in apps:
            app.state.web.engine.dispose()


@dataclass
class World:
    provider: LoopbackProvider
    app_url: str


@pytest.fixture
def world(provider: LoopbackProvider, engine: Engine, db_url: str,
          tmp_path: Path) -> Iterator[World]:
    build(engine, tmp_path)
    with transaction(engine) as session:
        session.add(Professional(rpps=RETIRED, family_name="Lambert", given_names="Jean",
                                 profession="pharmacien", active=False))
    with workspace(db_url, settings_for(provider)) as app_url:
        yield World(provider, app_url)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


@dataclass
class Visit:
    response: httpx.Response
    callback: str
    tx_cookie: str | None


def sign_in(browser: httpx.Client, app_url: str, suite: str = "/tasks?patient=1") -> Visit:
    """Click « Se connecter avec Pro Santé Connect », authenticate, come back."""
    start = browser.get(app_url + "/connexion/oidc", params={"suite": suite})
    assert start.status_code == 303, start.text
    tx_cookie = browser.cookies.get(COOKIE_NAME)
    at_provider = browser.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    callback = at_provider.headers["location"]
    assert callback.startswith(app_url + "/connexion/oidc/retour?")
    return Visit(browser.get(callback), callback, tx_cookie)


def signed_in_as(browser: httpx.Client, app_url: str) -> str | None:
    """The name in « Se déconnecter (…) » on the inbox, or None if sent to sign in."""
    inbox = browser.get(app_url + "/tasks")
    if inbox.status_code == 303:
        assert inbox.headers["location"].startswith("/connexion")
        return None
    assert inbox.status_code == 200, inbox.text
    start = inbox.text.index("Se déconnecter (") + len("Se déconnecter (")
    return unescape(inbox.text[start:inbox.text.index(")", start)])


def assert_refused(visit: Visit, browser: httpx.Client, app_url: str,
                   error: type[SignInError]) -> None:
    response = visit.response
    assert response.status_code == 403
    page = unescape(response.text)
    assert '<html lang="fr">' in page and "<h1>Connexion</h1>" in page
    assert error.public_message in page
    assert "Se connecter avec Pro Santé Connect" in page  # one click to try again
    assert browser.cookies.get(COOKIE_NAME) is None  # the transaction is gone too
    assert signed_in_as(browser, app_url) is None


def test_the_sign_in_page_offers_pro_sante_connect(world: World,
                                                   browser: httpx.Client) -> None:
    page = browser.get(world.app_url + "/connexion", params={"suite": "/tasks/7"})
    assert page.status_code == 200
    assert 'href="/connexion/oidc?suite=/tasks/7"' in page.text
    assert "Se connecter avec Pro Santé Connect" in page.text
    assert "Recevoir un lien de connexion" in page.text  # the one-time link stays


def test_a_professional_known_by_rpps_signs_in(world: World, browser: httpx.Client) -> None:
    visit = sign_in(browser, world.app_url)
    assert visit.response.status_code == 303
    assert visit.response.headers["location"] == "/tasks?patient=1"
    session_cookie = visit.response.headers["set-cookie"].lower()
    assert session_cookie.startswith(SESSION) and "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert browser.cookies.get(COOKIE_NAME) is None
    assert signed_in_as(browser, world.app_url) == "Paul Martin"
    asked = world.provider.authorize_params[-1]
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert asked["scope"].split() == ["openid", "scope_all"]
    assert asked["acr_values"] == "eidas1"
    assert len(asked["nonce"]) >= 32 and len(asked["state"]) >= 32
    assert asked["redirect_uri"] == world.app_url + "/connexion/oidc/retour"


def test_the_transaction_cookie_is_httponly_lax_and_scoped(world: World,
                                                           browser: httpx.Client) -> None:
    start = browser.get(world.app_url + "/connexion/oidc")
    cookie = start.headers["set-cookie"].lower()
    assert cookie.startswith(COOKIE_NAME) and "httponly" in cookie
    assert "samesite=lax" in cookie and "path=/connexion/oidc" in cookie
    assert "max-age=600" in cookie
    assert "secure" not in cookie  # http base URL; https → Secure (test_oidc_units)


def test_the_page_asked_for_must_be_local(world: World, browser: httpx.Client) -> None:
    visit = sign_in(browser, world.app_url, suite="//evil.example/phish")
    assert visit.response.headers["location"] == "/"  # this site's home, not evil.example


def test_a_signed_userinfo_is_verified_and_used(world: World, browser: httpx.Client) -> None:
    world.provider.signed_userinfo = True
    assert sign_in(browser, world.app_url).response.status_code == 303
    assert signed_in_as(browser, world.app_url) == "Paul Martin"


@pytest.mark.parametrize("misbehaviour", ["wrong_audience", "extra_audience", "foreign_key",
                                          "unknown_key", "expired", "wrong_issuer", "low_acr"])
def test_an_invalid_id_token_is_refused(world: World, browser: httpx.Client,
                                        misbehaviour: str) -> None:
    world.provider.misbehave.add(misbehaviour)
    assert_refused(sign_in(browser, world.app_url), browser, world.app_url, OidcTokenError)


def test_a_replayed_state_is_refused_before_the_code_is_spent(world: World,
                                                              browser: httpx.Client) -> None:
    first = sign_in(browser, world.app_url)
    assert first.response.status_code == 303
    calls = world.provider.token_calls
    with httpx.Client(follow_redirects=False) as attacker:
        attacker.cookies.set(COOKIE_NAME, first.tx_cookie or "", domain="127.0.0.1",
                             path="/connexion/oidc")
        replay = Visit(attacker.get(first.callback), first.callback, first.tx_cookie)
        assert_refused(replay, attacker, world.app_url, OidcReplayError)
    assert world.provider.token_calls == calls  # refused by us, not by the provider


def test_a_replayed_nonce_is_refused(world: World, browser: httpx.Client) -> None:
    assert sign_in(browser, world.app_url).response.status_code == 303
    world.provider.misbehave.add("replay_tokens")  # the previous ID token, nonce and all
    with httpx.Client(follow_redirects=False) as other:
        assert_refused(sign_in(other, world.app_url), other, world.app_url, OidcReplayError)


def test_an_unknown_rpps_is_refused(world: World, browser: httpx.Client) -> None:
    world.provider.user = psc_user(STRANGER)
    assert_refused(sign_in(browser, world.app_url), browser, world.app_url,
                   UnknownProfessionalError)


def test_a_professional_no_longer_active_is_refused(world: World,
                                                    browser: httpx.Client) -> None:
    world.provider.user = psc_user(RETIRED)
    assert_refused(sign_in(browser, world.app_url), browser, world.app_url,
                   UnknownProfessionalError)


def test_a_national_id_that_is_not_an_rpps_is_refused(world: World,
                                                      browser: httpx.Client) -> None:
    world.provider.user = {**psc_user(GP), "SubjectNameID": "ANS20231122132732"}
    assert_refused(sign_in(browser, world.app_url), browser, world.app_url, RppsClaimError)


def test_a_sign_in_cancelled_at_the_provider_is_refused(world: World,
                                                        browser: httpx.Client) -> None:
    world.provider.deny = "access_denied"
    assert_refused(sign_in(browser, world.app_url), browser, world.app_url,
                   OidcCancelledError)
    assert world.provider.token_calls == 0


def test_a_return_without_the_transaction_cookie_is_refused(world: World,
                                                            browser: httpx.Client) -> None:
    """Login CSRF: a response started in another browser is not accepted here."""
    start = browser.get(world.app_url + "/connexion/oidc")
    callback = browser.get(start.headers["location"]).headers["location"]
    with httpx.Client(follow_redirects=False) as victim:
        assert_refused(Visit(victim.get(callback), callback, None), victim, world.app_url,
                       OidcStateError)


def test_a_tampered_state_is_refused(world: World, browser: httpx.Client) -> None:
    start = browser.get(world.app_url + "/connexion/oidc")
    callback = browser.get(start.headers["location"]).headers["location"]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    forged = f"{world.app_url}/connexion/oidc/retour?code={code}&state=autre"
    assert_refused(Visit(browser.get(forged), forged, None), browser, world.app_url,
                   OidcStateError)


@pytest.mark.parametrize("path,prefix", [("otherIds.0.identifiant", ""),
                                         ("SubjectNameID", "8")])
def test_the_rpps_claim_path_is_a_setting(provider: LoopbackProvider, engine: Engine,
                                          db_url: str, tmp_path: Path, browser: httpx.Client,
                                          path: str, prefix: str) -> None:
    build(engine, tmp_path)
    oidc = settings_for(provider, rpps_claim=path, rpps_prefix=prefix, acr_values="",
                        token_auth_method="client_secret_post",
                        provider_name="Connexion CPTS")
    with workspace(db_url, oidc) as app_url:
        assert "Se connecter avec Connexion CPTS" in browser.get(app_url + "/connexion").text
        assert sign_in(browser, app_url).response.status_code == 303
        assert signed_in_as(browser, app_url) == "Paul Martin"
    assert "acr_values" not in provider.authorize_params[-1]


def test_a_provider_that_does_not_answer_is_refused_politely(engine: Engine, db_url: str,
                                                             tmp_path: Path,
                                                             browser: httpx.Client) -> None:
    build(engine, tmp_path)
    oidc = OidcSettings(issuer="http://127.0.0.1:9", client_id=CLIENT_ID)
    with workspace(db_url, oidc) as app_url:
        response = browser.get(app_url + "/connexion/oidc")
        assert response.status_code == 403
        assert OidcProviderError.public_message in unescape(response.text)
        assert browser.cookies.get(COOKIE_NAME) is None


def test_without_an_issuer_there_is_no_oidc(engine: Engine, db_url: str, tmp_path: Path,
                                            browser: httpx.Client) -> None:
    build(engine, tmp_path)
    with workspace(db_url, OidcSettings(issuer=None)) as app_url:
        assert "Pro Santé Connect" not in browser.get(app_url + "/connexion").text
        assert browser.get(app_url + "/connexion/oidc").status_code == 404
