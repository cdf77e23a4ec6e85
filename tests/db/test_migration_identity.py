"""Property, in the database: random cases of version 1 migrated by the identity mapping to
a copy of version 1 keep every stored byte (case rows, tasks, timers, outbox, history)
except their version and one history line each; plan and apply agree on every count."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from engine.case import Migrated
from engine.store import migration
from engine.store.db import make_engine
from engine.store.service import CaseService
from tests.db import drive
from tests.db.migration_world import KEY, V1
from tests.db.world import T0

#: columns a migration changes by design
MOVED = {"pathway_version_id", "row_version"}


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(SQLModel.metadata.sorted_tables):
            conn.execute(table.delete())


def _rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY id'))
        return [dict(row._mapping) for row in result]


def _snapshot(engine: Engine) -> dict[str, Any]:
    cases = [{k: v for k, v in r.items() if k not in MOVED} for r in _rows(engine, "pathway_case")]
    # the writer replaces a case's timer rows: their surrogate ids change, nothing else
    timers = sorted(({k: v for k, v in r.items() if k != "id"} for r in _rows(engine, "timer")),
                    key=lambda r: (r["case_id"], r["state"], r["name"]))
    return {"cases": cases, "timer": timers,
            **{t: _rows(engine, t) for t in ("task", "outbox", "case_event")}}


@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), steps=st.integers(0, 6), batch=st.integers(1, 6))
def test_identity_migration_keeps_every_byte(db_url: str, tmp_path: Path, seed: int,
                                             steps: int, batch: int) -> None:
    engine = make_engine(db_url)
    try:
        _empty(engine)
        rng = random.Random(seed)
        service = CaseService(engine)
        refs = drive.territory(engine, tmp_path, 8, T0, seed)
        service.publish(V1, "exemple-suivi.yaml", T0)
        for ref in refs:
            service.enroll(ref, KEY, T0)
        now = drive.drive(service, rng, refs, T0, steps)
        before = _snapshot(engine)
        open_cases = [c["id"] for c in before["cases"] if c["closed_at"] is None]
        service.publish(V1 + "\n# the same pathway, published again\n", "copie.yaml", now)
        plan = migration.plan(engine, KEY, 2, now)
        applied = migration.apply(engine, KEY, 2, now, batch_size=batch)
        assert applied.counts() == plan.counts()
        assert plan.migrated == len(open_cases) and not plan.refused
        after = _snapshot(engine)
        for table in ("cases", "task", "timer", "outbox"):
            assert after[table] == before[table], table
        added = after["case_event"][len(before["case_event"]):]
        assert after["case_event"][:len(before["case_event"])] == before["case_event"]
        assert sorted(e["case_id"] for e in added) == sorted(open_cases)
        assert {e["kind"] for e in added} <= {Migrated.kind}
        notes = [json.loads(e["data"]) if isinstance(e["data"], str) else e["data"]
                 for e in added]
        assert all(n["note"] == "passé de la version 1 à la version 2" for n in notes)
    finally:
        engine.dispose()
