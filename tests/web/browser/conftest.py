"""A real Chromium (Debian's package, driven by Playwright) against the real app.

- One browser per test session (``browser``); one fresh browser context per test
  (``page``), on a desktop or a phone-sized viewport (``viewport``).
- One server per module and database (``site``): the app of ``web.app.create_app``
  served by uvicorn in a thread on 127.0.0.1 and a free port, over a seeded SQLite file
  or this session's PostgreSQL database, with the world's fixed clock and in-memory
  channels (so the test reads the messages professionals receive).
- When a test fails, a screenshot of its page is saved under the session's temporary
  folder (``…/screenshots/<test>.png``) and its path printed in the report.

Where Chromium or Playwright is missing the tests are skipped with the reason, except in
CI (``CI=true``), where they fail: ``scripts/test.sh`` installs the chromium package.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from tests.web.browser.world import World

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("PARCOURS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SECRET = "browser-tests-" + "s" * 40
#: (width, height, is_mobile): a desktop screen and an iPhone 12/13/14-sized phone
VIEWPORTS = {"bureau": (1280, 900, False), "telephone": (390, 844, True)}
TIMEOUT_MS = 10_000


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[dev]')"
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which(CHROMIUM)):
        return (f"Chromium not found at {CHROMIUM} (apt-get install chromium, or "
                "PARCOURS_CHROMIUM=/path/to/chromium)")
    return None


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    problem = _browser_missing()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests are required in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Site:
    world: World
    url: str
    database: str

    def at(self, path: str) -> str:
        return self.url + path


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _database(request: pytest.FixtureRequest, folder: Path) -> str:
    from engine.store.db import make_engine
    from engine.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'parcours.db'}"
        engine = make_engine(url)
        upgrade(engine)
    else:
        url = request.getfixturevalue("pg_database")
        engine = make_engine(url)
        from engine.store.tables import ALL_TABLES

        names = ", ".join(t.__tablename__ for t in ALL_TABLES)  # type: ignore[attr-defined]
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    import uvicorn

    from engine.settings import Settings
    from engine.store.db import make_engine
    from web.app import create_app
    from web.settings import WebSettings

    url = _database(request, tmp_path_factory.mktemp("site"))
    sock = _free_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    world = World(make_engine(url), base).build()
    web = WebSettings(secret_key=SECRET, base_url=base)
    app = create_app(web, Settings(database_url=url), notify=world.notify_settings,
                     clock=world.clock, channels=world.channels)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Site(world, base, request.param)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.web.engine.dispose()
        world.engine.dispose()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, viewport: str, request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    width, height, mobile = VIEWPORTS[viewport]
    context = browser.new_context(viewport={"width": width, "height": height},
                                  is_mobile=mobile, has_touch=mobile, locale="fr-FR",
                                  timezone_id="Europe/Paris")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        folder = tmp_path_factory.getbasetemp() / "screenshots"
        folder.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
        shot = folder / f"{name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            report.sections.append(("screenshot", f"{shot} (page {page.url})"))
            print(f"\nscreenshot of the failed page: {shot}")
        except Exception as exc:  # the page may be gone with the failure
            print(f"\nno screenshot ({type(exc).__name__}: {exc})")
    context.close()
