"""``parcours web``: settings, the secret key of the embedded default, the demo's links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.cli import main
from tests.web.conftest import COORDINATOR, GP, NURSE, Web, csrf_of
from web.exceptions import WebConfigError
from web.settings import WebSettings, resolve_secret, secret_file

#: ``parcours web`` writes its options to the environment (for uvicorn's workers)
WRITTEN = ("PARCOURS_DATABASE_URL", "PARCOURS_WEB_NOW", "PARCOURS_WEB_HOST", "PARCOURS_WEB_PORT",
           "PARCOURS_WEB_WORKERS", "PARCOURS_WEB_BASE_URL", "PARCOURS_NOTIFY_CONSOLE_DIR")


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WRITTEN:
        monkeypatch.delenv(name, raising=False)



def test_demo_links_sign_in_a_sample_of_each_profession(
        web: Web, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    web.marie_in_follow_up()
    monkeypatch.setenv("PARCOURS_WEB_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("PARCOURS_WEB_BASE_URL", "http://testserver")
    assert main(["web", "--database", web.db_url, "--now", "2026-01-08T09:00",
                 "--demo-links", "--links-only"]) == 0
    out = capsys.readouterr().out
    assert "médecin généraliste · Paul Martin" in out and "coordination de la CPTS" in out
    assert "infirmier(ère) · Anne Bernard (1 tâche(s) ouverte(s))" in out
    links = re.findall(r"http://testserver(/connexion/lien\?p=(\d+)&t=([^&\s]+)&\S+)", out)
    assert [int(p) for _, p, _ in links] == [GP, NURSE, COORDINATOR]
    client = web.client()
    path, p, t = links[1]
    page = client.get(path)
    signed = client.post("/connexion/lien", data={"csrf": csrf_of(page.text), "p": p, "t": t,
                                                  "suite": "/tasks"})
    assert signed.status_code == 303 and client.get("/tasks").status_code == 200


def test_secret_key_is_generated_next_to_sqlite_and_required_elsewhere(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'parcours.db'}"
    first = resolve_secret(WebSettings(), url)
    assert len(first) >= 32 and resolve_secret(WebSettings(), url) == first
    path = secret_file(url)
    assert path == tmp_path / "parcours.web-secret" and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(WebConfigError, match="obligatoire en production"):
        resolve_secret(WebSettings(), "postgresql+psycopg://root@127.0.0.1/x")
    with pytest.raises(WebConfigError, match="au moins 32"):
        resolve_secret(WebSettings(secret_key="court"), url)  # type: ignore[arg-type]


def test_web_refuses_to_start_without_a_key_in_production(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PARCOURS_WEB_SECRET_KEY", raising=False)
    assert main(["web", "--database", "postgresql://root@127.0.0.1/nope", "--links-only"]) == 1
    assert "PARCOURS_WEB_SECRET_KEY est obligatoire" in capsys.readouterr().err
