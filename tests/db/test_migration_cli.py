"""``parcours migrate plan|apply|rollback|runs`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

from tests.db.migration_world import write
from tests.db.test_cli import MARIE, cli
from tests.db.test_cli import territory as territory
from tests.db.test_migration import REMOVED, REMOVED_MAPPING


def test_migration_0012_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    ours = [d for d in diffs if any(name in repr(d) for name in
                                    ("migration_run", "migration_case", "'format'"))]
    assert ours == []


def test_plan_apply_rollback(territory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = ("--now", "2026-01-06T09:00")
    assert cli(capsys, "enroll", "--patient", MARIE, "--pathway", "exemple-suivi", *now)[0] == 0
    v2 = write(territory, "v2.yaml", REMOVED)
    assert cli(capsys, "pathways", "publish", v2, *now)[0] == 0
    mapping = write(territory, "m.mapping.yaml", REMOVED_MAPPING)
    code, out, _ = cli(capsys, "migrate", "plan", "exemple-suivi", "--to", "2",
                       "--mapping", mapping, *now)
    assert code == 0, out
    assert "1 dossier(s) ouvert(s) concerné(s) : 1 migrable(s)" in out
    assert "rien n'a été écrit" in out
    code, out, _ = cli(capsys, "migrate", "plan", "exemple-suivi", "--to", "2", "--json",
                       "--mapping", mapping, *now)
    plan = json.loads(out)
    assert plan["migrated"] == 1 and plan["moves"] == [
        {"from": "inclusion", "to": "inclusion", "cases": 1}]
    code, out, err = cli(capsys, "migrate", "apply", "exemple-suivi", "--to", "2",
                         "--mapping", mapping, *now)
    assert code == 0 and "Migration 1 terminée" in out
    assert "migration : 1/1 dossier(s)" in err                  # progress on stderr
    code, out, _ = cli(capsys, "case", "show", "1", "--json")
    assert any(line.get("kind") == "migrated" for line in json.loads(out)["history"])
    code, out, _ = cli(capsys, "migrate", "runs", "--json")
    assert json.loads(out)[0]["status"] == "done"
    code, out, _ = cli(capsys, "migrate", "rollback", "1", *now)
    assert code == 0 and "1 dossier(s) revenu(s)" in out
    code, out, err = cli(capsys, "migrate", "plan", "exemple-suivi", "--to", "9", *now)
    assert code == 1 and "versions publiées : 1, 2" in err
    bad = write(territory, "bad.mapping.yaml", REMOVED_MAPPING.replace("attente", "atente"))
    code, out, err = cli(capsys, "migrate", "apply", "exemple-suivi", "--to", "2",
                         "--mapping", bad, *now)
    assert code == 1 and f"{bad}:5:" in err and "rien n'a été écrit" in err
