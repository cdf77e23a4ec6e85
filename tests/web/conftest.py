"""The web workspace against the real app on SQLite and PostgreSQL (``db_url``).

The territory is ``tests/db/world.py``'s: Marie DURAND (patient 1) has Paul MARTIN as GP
(professional 1) and Anne BERNARD as nurse (2); Luc PETIT (3, podiatrist) is outside her
care team; Claire ROUX (4) is the CPTS coordinator. ``Web.marie_in_follow_up()`` enrols
Marie and completes the initial assessment, which opens the nurse's foot examination.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from engine.clock import FixedClock
from engine.settings import Settings
from engine.store import signin
from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import TaskRow
from notifications.channels import MemoryChannel
from notifications.settings import NotificationSettings
from tests.db.world import ROOT, T0, build
from web.app import create_app
from web.settings import WebSettings

GP, NURSE, OUTSIDER, COORDINATOR = 1, 2, 3, 4
__all__ = ["ROOT", "T0"]
MARIE = 1
NOW = T0 + timedelta(days=3)
SECRET = "s" * 48


@dataclass
class Web:
    engine: Engine
    service: CaseService
    clock: FixedClock
    channel: MemoryChannel
    db_url: str
    apps: dict[str, FastAPI]

    def client(self, *, raise_errors: bool = True, **settings: object) -> TestClient:
        """A new browser (its own cookies) on this test's app (one app per settings)."""
        key = repr(sorted(settings.items()))
        if key not in self.apps:
            web = WebSettings(secret_key=SECRET, **settings)  # type: ignore[arg-type]
            self.apps[key] = create_app(web, Settings(database_url=self.db_url),
                                        notify=NotificationSettings(base_url=web.base_url),
                                        clock=self.clock, channels={"email": self.channel})
        return TestClient(self.apps[key], follow_redirects=False,
                          raise_server_exceptions=raise_errors)

    def signed_in(self, professional_id: int | None) -> TestClient:
        client = self.client()
        if professional_id is not None:
            sign_in(client, self, professional_id)
        return client

    def marie_in_follow_up(self) -> int:
        """Marie enrolled, initial assessment done: the nurse's foot exam is open."""
        self.service.enroll("195031234567890", "exemple-suivi", T0)
        self.service.complete_task(self.task("bilan_initial"), {}, T0, T0)
        return self.task("examen_pieds")

    def task(self, key: str) -> int:
        with transaction(self.engine) as db:
            return db.scalars(select(TaskRow.id).where(TaskRow.key == key)
                              .order_by(TaskRow.id.desc())).first() or 0  # type: ignore[union-attr]

    def row(self, task_id: int) -> TaskRow:
        with transaction(self.engine) as db:
            row = db.get(TaskRow, task_id)
            assert row is not None
            return row


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def key_of(html: str) -> str:
    found = re.search(r'name="cle" value="([0-9a-f]{32})"', html)
    assert found, "no idempotency key in the page"
    return found.group(1)


def sign_in(client: TestClient, web: Web, professional_id: int, next_path: str = "/tasks"
            ) -> None:
    with transaction(web.engine) as db:
        token = signin.issue(db, professional_id, web.clock.now(), timedelta(minutes=15))
    page = client.get(f"/connexion/lien?p={professional_id}&t={token}")
    response = client.post("/connexion/lien", data={
        "csrf": csrf_of(page.text), "p": str(professional_id), "t": token,
        "suite": next_path})
    assert response.status_code == 303, response.text


def post_form(client: TestClient, page_path: str, action: str,
              data: dict[str, str] | None = None, *, key: bool = False) -> object:
    page = client.get(page_path)
    form = {"csrf": csrf_of(page.text), **(data or {})}
    if key:
        form["cle"] = key_of(page.text)
    return client.post(action, data=form)


@pytest.fixture
def web(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[Web]:
    service = build(engine, tmp_path)
    world = Web(engine, service, FixedClock(NOW), MemoryChannel("email"), db_url, {})
    yield world
    for app in world.apps.values():
        app.state.web.engine.dispose()
