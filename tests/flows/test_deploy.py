"""Deployments: schedules from settings, prefect.yaml in step, a real server on PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.commands.orchestration import DEPLOYMENTS
from flows.config import FlowSettings
from flows.deploy import NAMES, PLANS, deployments, start_server, stop_server
from tests.conftest import PG_ADMIN_URL
from tests.db.world import T0
from tests.flows.helpers import ROOT, fired, populate

DUE = T0 + timedelta(days=40)


def test_deployments_carry_the_configured_schedules() -> None:
    settings = FlowSettings(advance_every_minutes=5, escalation_cron="0 7 * * 1-5")
    found = {d.name: d for d in deployments(settings)}
    assert tuple(found) == NAMES == DEPLOYMENTS
    assert found["advance"].schedules[0].schedule.interval == timedelta(minutes=5)
    assert found["inbound"].schedules[0].schedule.interval == timedelta(minutes=1)
    escalation = found["escalation"].schedules[0].schedule
    assert (escalation.cron, escalation.timezone) == ("0 7 * * 1-5", "Europe/Paris")
    assert found["eligibility"].schedules[0].schedule.cron == "30 2 * * *"
    assert found["cycle"].schedules == []
    for deployment in found.values():
        assert deployment.entrypoint.startswith("flows.")
        assert deployment.concurrency_limit == 1
        assert deployment.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert all(d.paused for d in deployments(settings, ["advance"], paused=True))


def test_prefect_yaml_declares_the_same_deployments() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    declared = {d["name"]: d for d in config["deployments"]}
    assert tuple(declared) == NAMES
    defaults = FlowSettings()
    for plan in PLANS:
        entry = declared[plan.name]
        path, function = entry["entrypoint"].split(":")
        assert path == plan.module.replace(".", "/") + ".py" and function == plan.flow
        schedules = entry.get("schedules", [])
        every, cron = plan.every(defaults), plan.cron(defaults)
        if every:
            assert schedules[0]["interval"] == every.total_seconds()
        elif cron:
            assert schedules[0]["cron"] == cron
        else:
            assert not schedules
        assert entry["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prefect_pg_database() -> Any:
    import psycopg

    admin = PG_ADMIN_URL.replace("+psycopg", "")
    name = f"prefect_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("+psycopg", "+asyncpg") + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_real_prefect_server_on_postgresql_runs_a_served_deployment(
        app_db: str, prefect_pg_database: str, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import temporary_settings

    cases = populate(app_db, 300)
    env = {"PREFECT_HOME": str(tmp_path / "server-home"),
           "PREFECT_API_DATABASE_CONNECTION_URL": prefect_pg_database}
    server, url = start_server("127.0.0.1", _free_port(), env=env, ui=False,
                               log=tmp_path / "server.log")
    serve_log = (tmp_path / "serve.log").open("wb")
    serving = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--only", "advance", "--paused"], cwd=ROOT,
        env={**os.environ, "PREFECT_API_URL": url, "PARCOURS_DATABASE_URL": app_db,
             "PREFECT_HOME": str(tmp_path / "runner-home"),
             "PREFECT_RUNNER_POLL_FREQUENCY": "1"},
        stdout=serve_log, stderr=subprocess.STDOUT)
    try:
        with temporary_settings(updates={"api.url": url}):
            with get_client(sync_client=True) as client:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        client.read_deployment_by_name("advance-due-cases/advance")
                        break
                    except Exception:
                        assert time.monotonic() < deadline and serving.poll() is None, \
                            (tmp_path / "serve.log").read_text(errors="replace")[-3000:]
                        time.sleep(0.5)
            run = run_deployment("advance-due-cases/advance",
                                 parameters={"now": DUE.isoformat(), "batch_size": 100},
                                 timeout=240)
        assert run.state is not None and run.state.is_completed(), (
            run.state, (tmp_path / "serve.log").read_text(errors="replace")[-3000:])
        assert run.name == "advance 2026-02-14 09:00"
        assert fired(app_db) == {case: 1 for case in cases}
        import psycopg

        with psycopg.connect(prefect_pg_database.replace("+asyncpg", "")) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM flow_run")]
        assert "advance 2026-02-14 09:00" in names  # the server keeps its runs in PostgreSQL
    finally:
        serving.terminate()
        try:
            serving.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serving.kill()
        serve_log.close()
        stop_server(server)
