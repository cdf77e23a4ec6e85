"""Flow tests run against one Prefect test harness per test session, with its own PREFECT_HOME.

Prefect reads its environment when it is first imported, so the home, the
result storage and the fast-server settings are set here, at collection,
before any test module imports a flow. The harness (a temporary server on
SQLite) starts once per session; the settings below make its task-run
recorder write in batches (about 4× faster) and flush events quickly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HOME = Path(tempfile.mkdtemp(prefix="parcours-prefect-home-"))
os.environ["PREFECT_HOME"] = str(HOME)
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(HOME / "storage")
os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE"] = "100"
os.environ["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE"] = "100"
os.environ["PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL"] = "0.5"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
os.environ["PARCOURS_FLOWS_RETRY_DELAY_SECONDS"] = "0"


@pytest.fixture(scope="session", autouse=True)
def prefect_harness() -> Iterator[None]:
    from prefect.settings import temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with temporary_settings(updates={"flows.heartbeat_frequency": None}), \
            prefect_test_harness(server_startup_timeout=90):
        yield
    from flows.workspace import close_all

    close_all()
    shutil.rmtree(HOME, ignore_errors=True)


@pytest.fixture
def app_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The flows (which read their settings when they start) use the test database."""
    monkeypatch.setenv("PARCOURS_DATABASE_URL", db_url)
    return db_url
