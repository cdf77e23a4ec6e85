"""The demo's summary shows one new task rendered for MSSanté and for SMS."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from engine.store.service import CaseService
from flows.commands.demo_messages import sample_task, show
from tests.notifications.conftest import MORNING


def test_both_renderings_of_one_message_are_shown(engine: Engine, world: CaseService,
                                                  tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    show(engine, MORNING, tmp_path / "demo.db", console)
    text = console.export_text()
    secure, _, plain = text.partition("SMS, non sécurisé")
    assert "Un même message, deux rendus" in secure and "MSSanté, sécurisé" in secure
    assert "Mme Marie DURAND" in secure and "Réaliser le bilan initial" in secure
    assert plain and "DURAND" not in plain and "bilan" not in plain
    assert "Parcours : une nouvelle tâche vous attend" in plain
    assert f"/tasks/{sample_task(engine)}" in plain
    assert "notify preview task_assigned --task 1 --channel sms" in plain
    assert "Récapitulatifs quotidiens envoyés : 0" in text
