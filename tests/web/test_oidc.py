"""OpenID Connect sign-in end to end: the workspace and a real provider, both served by
uvicorn on loopback, a browser played by an httpx client that keeps cookies, and the
professional looked up by RPPS in the ``professional`` table (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import SecretStr
from sqlalchemy import Engine

from engine.store.db import transaction
from engine.store.tables import Professional
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, LoopbackProvider, psc_user
from tests.web.servers import serving
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
from web.oidc import OidcSettings, SqlReplayGuard, oidc_router
from web.oidc.professionals import active_professional_id
from web.oidc.transaction import COOKIE_NAME

SESSION = "parcours_session"
KNOWN, RETIRED, STRANGER = "10000000001", "10000000002", "19999999999"


def add_professionals(engine: Engine) -> dict[str, int]:
    rows = [Professional(rpps=KNOWN, family_name="Martin", given_names="Claire",
                         profession="medecin"),
            Professional(rpps=RETIRED, family_name="Bernard", given_names="Anne",
                         profession="infirmier", active=False)]
    with transaction(engine) as session:
        session.add_all(rows)
        session.flush()
        return {row.rpps: int(row.id or 0) for row in rows}


def minimal_app(settings: OidcSettings, engine: Engine, base_url: str) -> FastAPI:
    """The router in a bare app; ``sign_in`` sets a cookie, ``refuse`` shows a French page."""

    def sign_in(request: Request, professional_id: int, next_path: str) -> Response:
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(SESSION, f"pro-{professional_id}", httponly=True, samesite="lax")
        return response

    def refuse(request: Request, message: str) -> Response:
        return HTMLResponse(f'<!doctype html><html lang="fr"><title>Connexion refusée</title>'
                            f"<h1>Connexion refusée</h1><p>{escape(message)}</p></html>",
                            status_code=403)

    app = FastAPI()
    app.include_router(oidc_router(
        settings, base_url=base_url, secret="un-secret-de-test-assez-long",
        guard=SqlReplayGuard(engine),
        find_professional_by_rpps=lambda rpps: active_professional_id(engine, rpps),
        sign_in=sign_in, refuse=refuse))
    return app


@dataclass
class World:
    provider: LoopbackProvider
    app_url: str
    ids: dict[str, int]


def settings_for(provider: LoopbackProvider, **changes: object) -> OidcSettings:
    values: dict[str, object] = {"issuer": provider.issuer, "client_id": CLIENT_ID,
                                 "client_secret": SecretStr(CLIENT_SECRET)}
    values.update(changes)
    return OidcSettings.model_validate(values)


@pytest.fixture
def world(provider: LoopbackProvider, engine: Engine) -> Iterator[World]:
    ids = add_professionals(engine)
    settings = settings_for(provider)
    with serving(lambda url: minimal_app(settings, engine, url)) as app_url:
        yield World(provider, app_url, ids)


@dataclass
class Visit:
    response: httpx.Response
    callback: str
    tx_cookie: str | None


def sign_in(browser: httpx.Client, app_url: str, next_path: str = "/taches/12") -> Visit:
    """Click "Se connecter avec …", let the provider authenticate, come back."""
    start = browser.get(app_url + "/connexion/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text
    tx_cookie = browser.cookies.get(COOKIE_NAME)
    at_provider = browser.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    callback = at_provider.headers["location"]
    assert callback.startswith(app_url + "/connexion/oidc/retour?")
    return Visit(browser.get(callback), callback, tx_cookie)


def assert_refused(visit: Visit, browser: httpx.Client, error: type[SignInError]) -> None:
    response = visit.response
    assert response.status_code == 403
    assert "Connexion refusée" in response.text
    assert escape(error.public_message) in response.text
    assert SESSION not in response.headers.get("set-cookie", "")
    assert browser.cookies.get(SESSION) is None
    assert browser.cookies.get(COOKIE_NAME) is None  # the transaction is gone too


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        yield client


def test_a_professional_known_by_rpps_signs_in(world: World, browser: httpx.Client) -> None:
    visit = sign_in(browser, world.app_url)
    assert visit.response.status_code == 303
    assert visit.response.headers["location"] == "/taches/12"
    assert browser.cookies.get(SESSION) == f"pro-{world.ids[KNOWN]}"
    assert browser.cookies.get(COOKIE_NAME) is None
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
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "path=/connexion/oidc" in cookie and "max-age=600" in cookie
    assert "secure" not in cookie  # http base URL; https → Secure (see test_oidc_units)


def test_the_page_asked_for_must_be_local(world: World, browser: httpx.Client) -> None:
    visit = sign_in(browser, world.app_url, next_path="//evil.example/phish")
    assert visit.response.headers["location"] == "/"


def test_a_signed_userinfo_is_verified_and_used(world: World, browser: httpx.Client) -> None:
    world.provider.signed_userinfo = True
    visit = sign_in(browser, world.app_url)
    assert visit.response.status_code == 303
    assert browser.cookies.get(SESSION) == f"pro-{world.ids[KNOWN]}"


@pytest.mark.parametrize("misbehaviour", ["wrong_audience", "extra_audience", "foreign_key",
                                          "unknown_key", "expired", "wrong_issuer", "low_acr"])
def test_an_invalid_id_token_is_refused(world: World, browser: httpx.Client,
                                        misbehaviour: str) -> None:
    world.provider.misbehave.add(misbehaviour)
    assert_refused(sign_in(browser, world.app_url), browser, OidcTokenError)


def test_a_replayed_state_is_refused_before_the_code_is_spent(world: World,
                                                              browser: httpx.Client) -> None:
    first = sign_in(browser, world.app_url)
    assert first.response.status_code == 303
    calls = world.provider.token_calls
    with httpx.Client(follow_redirects=False) as attacker:
        attacker.cookies.set(COOKIE_NAME, first.tx_cookie or "", domain="127.0.0.1",
                             path="/connexion/oidc")
        replay = Visit(attacker.get(first.callback), first.callback, first.tx_cookie)
        assert_refused(replay, attacker, OidcReplayError)
    assert world.provider.token_calls == calls  # refused by us, not by the provider


def test_a_replayed_nonce_is_refused(world: World, browser: httpx.Client) -> None:
    assert sign_in(browser, world.app_url).response.status_code == 303
    world.provider.misbehave.add("replay_tokens")  # the previous ID token, nonce and all
    with httpx.Client(follow_redirects=False) as other:
        assert_refused(sign_in(other, world.app_url), other, OidcReplayError)


def test_an_unknown_rpps_is_refused(world: World, browser: httpx.Client) -> None:
    world.provider.user = psc_user(STRANGER)
    assert_refused(sign_in(browser, world.app_url), browser, UnknownProfessionalError)


def test_a_professional_no_longer_active_is_refused(world: World,
                                                    browser: httpx.Client) -> None:
    world.provider.user = psc_user(RETIRED)
    assert_refused(sign_in(browser, world.app_url), browser, UnknownProfessionalError)


def test_a_national_id_that_is_not_an_rpps_is_refused(world: World,
                                                      browser: httpx.Client) -> None:
    world.provider.user = {**psc_user(KNOWN), "SubjectNameID": "ANS20231122132732"}
    assert_refused(sign_in(browser, world.app_url), browser, RppsClaimError)


def test_a_sign_in_cancelled_at_the_provider_is_refused(world: World,
                                                        browser: httpx.Client) -> None:
    world.provider.deny = "access_denied"
    assert_refused(sign_in(browser, world.app_url), browser, OidcCancelledError)
    assert world.provider.token_calls == 0


def test_a_return_without_the_transaction_cookie_is_refused(world: World,
                                                            browser: httpx.Client) -> None:
    """Login CSRF: a response started in another browser is not accepted here."""
    start = browser.get(world.app_url + "/connexion/oidc")
    callback = browser.get(start.headers["location"]).headers["location"]
    with httpx.Client(follow_redirects=False) as victim:
        assert_refused(Visit(victim.get(callback), callback, None), victim, OidcStateError)


def test_a_tampered_state_is_refused(world: World, browser: httpx.Client) -> None:
    start = browser.get(world.app_url + "/connexion/oidc")
    callback = browser.get(start.headers["location"]).headers["location"]
    parts = urlsplit(callback)
    code = parse_qs(parts.query)["code"][0]
    forged = f"{world.app_url}/connexion/oidc/retour?code={code}&state=autre"
    assert_refused(Visit(browser.get(forged), forged, None), browser, OidcStateError)


@pytest.mark.parametrize("path,prefix", [("otherIds.0.identifiant", ""),
                                         ("SubjectNameID", "8")])
def test_the_rpps_claim_path_is_a_setting(provider: LoopbackProvider, engine: Engine,
                                          browser: httpx.Client, path: str,
                                          prefix: str) -> None:
    ids = add_professionals(engine)
    settings = settings_for(provider, rpps_claim=path, rpps_prefix=prefix,
                            token_auth_method="client_secret_post", acr_values="")
    with serving(lambda url: minimal_app(settings, engine, url)) as app_url:
        visit = sign_in(browser, app_url)
    assert visit.response.status_code == 303
    assert browser.cookies.get(SESSION) == f"pro-{ids[KNOWN]}"
    assert "acr_values" not in provider.authorize_params[-1]


def test_a_provider_that_does_not_answer_is_refused_politely(engine: Engine,
                                                             browser: httpx.Client) -> None:
    settings = OidcSettings(issuer="http://127.0.0.1:9", client_id=CLIENT_ID)
    with serving(lambda url: minimal_app(settings, engine, url)) as app_url:
        response = browser.get(app_url + "/connexion/oidc")
    assert response.status_code == 403
    assert escape(OidcProviderError.public_message) in response.text
    assert browser.cookies.get(COOKIE_NAME) is None

