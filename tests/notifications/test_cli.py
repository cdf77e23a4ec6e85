"""``parcours notify`` and ``parcours outbox`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine.store.service import CaseService
from flows.cli import main
from tests.notifications.conftest import PAUL, set_preferences
from tests.notifications.servers import SmtpSink


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture
def env(cli_env: str, world: CaseService, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EMAIL_URL", "MSSANTE_URL", "SMS_URL", "WEBHOOK_URL", "CONSOLE", "CONSOLE_DIR"):
        monkeypatch.delenv(f"PARCOURS_NOTIFY_{name}", raising=False)
    monkeypatch.setenv("PARCOURS_BASE_URL", "https://parcours.cpts.example")
    monkeypatch.setenv("PARCOURS_NOTIFY_NEW_TASKS", "immediate")  # see conftest.settings


def test_notify_drains_once_to_the_console_by_default(env: None, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PARCOURS_NOTIFY_CONSOLE_DIR", str(tmp_path / "out"))
    code, out, _ = cli(capsys, "outbox")
    assert code == 0 and out.count("en attente") == 2
    code, out, _ = cli(capsys, "notify", "--now", "2026-01-05T10:00")
    assert code == 0, out
    assert "2 message(s) traité(s) en 1 lot(s)" in out and "envoyé(s) : 2" in out
    assert "par canal : console 2" in out
    files = sorted((tmp_path / "out").glob("*.txt"))
    assert len(files) == 2
    text = files[0].read_text(encoding="utf-8")
    assert "Subject: Parcours : une nouvelle tâche vous attend" in text
    assert "https://parcours.cpts.example/tasks/" in text and "DURAND" not in text
    code, out, _ = cli(capsys, "notify", "--now", "2026-01-05T10:05", "--json")
    assert json.loads(out)["claimed"] == 0
    code, out, _ = cli(capsys, "outbox", "--json", "--status", "sent")
    rows = json.loads(out)
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert rows[0]["channel"] == "console" and rows[0]["recipient"] == "Paul Martin"


def test_notify_sends_through_the_configured_smtp_server(env: None, smtp: SmtpSink,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    monkeypatch.setenv("PARCOURS_NOTIFY_MSSANTE_URL", smtp.url)
    code, out, _ = cli(capsys, "notify", "--now", "2026-01-05T10:00")
    assert code == 0 and "par canal : mssante 2" in out
    assert len(smtp.to("paul.martin@medecin.mssante.fr")) == 2


def test_a_wrong_channel_url_is_an_error_not_a_traceback(env: None,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    monkeypatch.setenv("PARCOURS_NOTIFY_EMAIL_URL", "smtp://nowhere")
    code, _, err = cli(capsys, "notify", "--now", "2026-01-05T10:00")
    assert code == 1 and "canal 'email' mal configuré" in err and "mailtos://" in err


def test_preview_renders_without_sending(env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "notify", "preview", "task_assigned", "--task", "1",
                       "--now", "2026-01-05T10:00")
    assert code == 0
    assert "canal mssante (sécurisé" in out
    assert "Objet : Nouvelle tâche : Réaliser le bilan initial – Mme Marie DURAND" in out
    assert "À faire au plus tard le mardi 20 janvier 2026." in out
    code, out, _ = cli(capsys, "notify", "preview", "task_reminder", "--task", "1",
                       "--channel", "sms")
    assert code == 0 and "DURAND" not in out and "Parcours, rappel" in out
    code, out, _ = cli(capsys, "notify", "preview", "task_overdue", "--task", "1", "--html")
    assert code == 0 and "<!DOCTYPE html>" in out and "Confiée à" in out
    code, out, _ = cli(capsys, "outbox", "--status", "sent")
    assert out.strip() == "aucun message"


@pytest.mark.parametrize(("args", "message"), [
    (["nothing", "--task", "1"], "modèle inconnu 'nothing'"),
    (["task_assigned", "--task", "999"], "tâche inconnu(e) : 999"),
])
def test_preview_refuses_what_it_does_not_know(env: None, capsys: pytest.CaptureFixture[str],
                                               args: list[str], message: str) -> None:
    code, _, err = cli(capsys, "notify", "preview", *args)
    assert code == 1 and message in err


def test_digest_command_groups_held_messages(env: None, engine: Engine, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PARCOURS_NOTIFY_CONSOLE_DIR", str(tmp_path / "out"))
    set_preferences(engine, PAUL, {"mode": "digest"})
    code, out, _ = cli(capsys, "notify", "--now", "2026-01-05T10:00")
    assert "gardé(s) pour le récapitulatif : 2" in out
    code, out, _ = cli(capsys, "notify", "digest", "--now", "2026-01-06T08:00")
    assert code == 0 and "1 récapitulatif(s) préparé(s) regroupant 2 message(s)" in out
    code, out, _ = cli(capsys, "notify", "--now", "2026-01-06T08:00")
    assert "envoyé(s) : 1" in out
    (digest,) = (tmp_path / "out").glob("*.txt")
    assert "récapitulatif du 06/01/2026 (2 notifications)" in digest.read_text(encoding="utf-8")
