"""Sign-in, sessions and the defences of the workspace.

CSRF token missing or wrong → refused; a one-time link used twice, expired or for another
account → refused; session cookie flags; security headers; the sign-in rate limit; no
account enumeration; no patient data in addresses, server logs or error pages.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.store.db import transaction
from engine.store.tables import CaseEvent, SignInToken, TaskRow
from tests.web.conftest import (
    COORDINATOR,
    GP,
    MARIE,
    NURSE,
    Web,
    csrf_of,
    post_form,
    sign_in,
)
from web.logs import RedactTokens, redact

NURSE_ADDRESS = "anne.bernard@example.fr"
PATIENT_DATA = ("Durand", "DURAND", "195031234567890", "12/03/1950", "1950-03-12")


def _ask(client: TestClient, address: str) -> object:
    csrf = csrf_of(client.get("/connexion?suite=/tasks/1").text)
    return client.post("/connexion", data={"csrf": csrf, "adresse": address,
                                           "suite": "/tasks/1"})


def _link(web: Web) -> tuple[str, str, str]:
    """(path and query, professional id, token) of the last sign-in message."""
    message = web.channel.sent[-1]
    url = re.search(r"https?://\S+/connexion/lien\?\S+", message.text)
    assert url, message.text
    parts = urlsplit(url.group(0))
    query = parse_qs(parts.query)
    return f"{parts.path}?{parts.query}", query["p"][0], query["t"][0]


def _follow(client: TestClient, link: str, p: str, t: str, suite: str = "/tasks") -> object:
    page = client.get(link)
    assert page.status_code == 200 and "Se connecter" in page.text
    return client.post("/connexion/lien", data={"csrf": csrf_of(page.text), "p": p, "t": t,
                                                "suite": suite})


# -- the one-time link ------------------------------------------------------------------------

def test_link_by_message_signs_in_once_and_returns_to_the_page_asked_for(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.client()
    first = client.get(f"/tasks/{task}")
    assert first.status_code == 303 and first.headers["location"] == \
        f"/connexion?suite=/tasks/{task}"
    csrf = csrf_of(client.get(first.headers["location"]).text)
    asked = client.post("/connexion", data={"csrf": csrf, "adresse": NURSE_ADDRESS.upper(),
                                            "suite": f"/tasks/{task}"})
    assert "Si cette adresse est connue, un lien a été envoyé" in asked.text
    assert len(web.channel.sent) == 1
    message = web.channel.sent[0]
    assert message.kind == "sign_in_link" and message.address == NURSE_ADDRESS
    link, p, t = _link(web)
    assert p == str(NURSE)
    with transaction(web.engine) as db:  # stored hashed, never in clear
        stored = db.scalars(select(SignInToken)).one()
    assert stored.token_hash == hashlib.sha256(t.encode()).hexdigest() and t not in str(
        stored.token_hash)
    signed = _follow(client, link, p, t, suite=f"/tasks/{task}")
    assert signed.status_code == 303 and signed.headers["location"] == f"/tasks/{task}"
    assert client.get(f"/tasks/{task}").status_code == 200
    again = _follow(web.client(), link, p, t)
    assert again.status_code == 400 and "plus valable" in again.text
    assert "set-cookie" not in again.headers or "parcours_session" not in "".join(
        again.headers.get_list("set-cookie")) or _signed_out(web, again)


def _signed_out(web: Web, response: object) -> bool:
    client = web.client()
    client.cookies.update(response.cookies)  # type: ignore[attr-defined]
    return client.get("/tasks").status_code == 303


def test_expired_link_and_link_of_another_account_are_refused(web: Web) -> None:
    client = web.client()
    _ask(client, NURSE_ADDRESS)
    link, p, t = _link(web)
    other = _follow(web.client(), link, str(GP), t)
    assert other.status_code == 400 and "plus valable" in other.text
    web.clock.advance(timedelta(minutes=16))
    late = _follow(client, link, p, t)
    assert late.status_code == 400
    assert client.get("/tasks").status_code == 303


def test_unknown_and_known_addresses_get_the_same_answer(web: Web) -> None:
    known = _ask(web.client(), NURSE_ADDRESS)
    unknown = _ask(web.client(), "personne@example.fr")
    strip = re.compile(r'value="[^"]*"')
    assert known.status_code == unknown.status_code == 200  # type: ignore[attr-defined]
    assert strip.sub("", known.text) == strip.sub("", unknown.text)  # type: ignore[attr-defined]
    assert len(web.channel.sent) == 1


def test_sign_in_only_redirects_to_local_paths(web: Web) -> None:
    for target, expected in (("https://evil.example/x", "/tasks"), ("//evil.example", "/tasks"),
                             ("/patients/1", "/patients/1"), ("/\\evil", "/tasks")):
        client = web.client()
        _ask(client, NURSE_ADDRESS)
        link, p, t = _link(web)
        response = _follow(client, link, p, t, suite=target)
        assert response.headers["location"] == expected  # type: ignore[attr-defined]


# -- sessions and CSRF ------------------------------------------------------------------------

def test_csrf_missing_or_wrong_is_refused_and_nothing_is_written(web: Web) -> None:
    task = web.marie_in_follow_up()
    nurse = web.signed_in(NURSE)
    other = web.signed_in(GP)
    foreign = csrf_of(other.get("/tasks").text)
    with transaction(web.engine) as db:
        events = db.scalar(select(func.count()).select_from(CaseEvent))
    for csrf in (None, "", "x" * 32, foreign):
        data = {"resultat_grade": "1", "cle": uuid.uuid4().hex}
        if csrf is not None:
            data["csrf"] = csrf
        response = nurse.post(f"/tasks/{task}/terminer", data=data)
        assert response.status_code == 403 and "formulaire expiré" in response.text.lower()
    for path in ("/connexion", "/deconnexion", f"/tasks/{task}/prendre"):
        assert nurse.post(path, data={"adresse": NURSE_ADDRESS}).status_code == 403
    with transaction(web.engine) as db:
        assert db.scalar(select(func.count()).select_from(CaseEvent)) == events
        assert db.get(TaskRow, task).status == "requested"  # type: ignore[union-attr]
    assert web.channel.sent == []


def test_session_cookie_flags(web: Web) -> None:
    for base, secure in (("http://127.0.0.1:8000", False), ("https://parcours.example", True)):
        client = web.client(base_url=base)
        _ask(client, NURSE_ADDRESS)
        link, p, t = _link(web)
        cookie = _follow(client, link, p, t).headers["set-cookie"]  # type: ignore[attr-defined]
        assert cookie.startswith("parcours_session=")
        flags = [f.strip().lower() for f in cookie.split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        assert ("secure" in flags) is secure
        assert any(f.startswith("max-age=") for f in flags)


def test_session_expires_can_be_signed_out_and_cannot_be_forged(web: Web) -> None:
    client = web.signed_in(NURSE)
    assert client.get("/tasks").status_code == 200
    post_form(client, "/tasks", "/deconnexion")
    assert client.get("/tasks").status_code == 303
    client = web.signed_in(NURSE)
    web.clock.advance(timedelta(hours=12, minutes=1))
    assert client.get("/tasks").status_code == 303
    forged = web.client()
    forged.cookies.set("parcours_session", client.cookies["parcours_session"][:-3] + "abc")
    assert forged.get("/tasks").status_code == 303


def test_security_headers_and_no_inline_script_or_style(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(COORDINATOR)
    for path in ("/connexion", "/tasks", f"/tasks/{task}", f"/patients/{MARIE}",
                 "/coordination", "/coordination/journal", "/tasks/999999"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert "<script" not in response.text and "style=" not in response.text
        assert '<html lang="fr">' in response.text


# -- rate limit -------------------------------------------------------------------------------

def test_sign_in_requests_are_rate_limited_per_address_and_per_ip(web: Web) -> None:
    client = web.client(sign_in_per_address=3, sign_in_per_ip=5)
    answers = [_ask(client, NURSE_ADDRESS).status_code for _ in range(4)]  # type: ignore[attr-defined]
    assert answers == [200, 200, 200, 429]
    assert len(web.channel.sent) == 3
    unknown = [_ask(client, "x@example.fr").status_code for _ in range(2)]  # type: ignore[attr-defined]
    assert unknown == [200, 429]  # the IP's 5 requests are then used up
    limited = _ask(client, "y@example.fr")
    assert "trop de demandes" in limited.text.lower()  # type: ignore[attr-defined]
    web.clock.advance(timedelta(minutes=16))
    assert _ask(client, NURSE_ADDRESS).status_code == 200  # type: ignore[attr-defined]


# -- no patient data in addresses, logs or error pages ----------------------------------------

def test_no_patient_data_in_addresses(web: Web) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(COORDINATOR)
    seen: set[str] = set()
    for path in ("/tasks", f"/tasks/{task}", f"/patients/{MARIE}", "/coordination/journal"):
        html = client.get(path).text
        assert "DURAND" in html or not path.startswith(("/tasks/", "/patients/"))
        seen |= set(re.findall(r'(?:href|action)="([^"]+)"', html))
    for url in seen:
        if url.startswith(("tel:", "mailto:")):
            continue
        assert not any(d.lower() in url.lower() for d in PATIENT_DATA), url
        assert re.fullmatch(r"[/a-z0-9_\-.?=&#]*", url), url


def test_no_patient_data_in_logs_or_error_pages(web: Web, caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    task = web.marie_in_follow_up()
    client = web.signed_in(NURSE)
    client.get(f"/tasks/{task}")
    post_form(client, f"/tasks/{task}", f"/tasks/{task}/terminer",
              {"resultat_grade": "9"}, key=True)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Marie DURAND 195031234567890")

    monkeypatch.setattr("web.routes.tasks.task_page", crash)
    crashing = web.client(raise_errors=False)
    sign_in(crashing, web, NURSE)
    with caplog.at_level(logging.DEBUG):
        response = crashing.get(f"/tasks/{task}")
    assert response.status_code == 500 and "erreur interne" in response.text.lower()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    for text in (response.text, logged):
        assert not any(d in text for d in PATIENT_DATA)


def test_access_log_filter_hides_sign_in_tokens() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d', ("1.2.3.4", "GET",
                               "/connexion/lien?p=2&t=SECRET123&suite=/tasks/5", "1.1", 200),
                               None)
    RedactTokens().filter(record)
    assert "SECRET123" not in record.getMessage()
    assert "p=2" in record.getMessage() and "/tasks/5" in record.getMessage()
    assert redact("/tasks/5?patient=1") == "/tasks/5?patient=1"
