"""A batch of known cases is claimed by key, whatever the planner believes is due.

The flow lists due case ids, then each batch claims its ids (``claim_due(…, case_ids)``). When
the statistics were taken while the timers were still in the future (the usual case: a
nightly sweep after a quiet day), PostgreSQL estimates that almost nothing is due and used to
read the due-cases index (``ix_case_due_open``) filtering every due case by id: each batch
then walked every due case of the territory. The batch's claim now locks its rows by primary
key first and checks that they are due after.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from engine.store.claims import claim_due
from engine.store.db import make_engine, transaction
from tests.db.test_queue_indexes import _plans
from tests.db.world import T0
from tests.flows.helpers import populate

DUE = T0 + timedelta(days=40)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_batch_is_claimed_by_key_with_stale_statistics(app_db: str) -> None:
    cases = populate(app_db, 4_000, coordinator=False)
    engine = make_engine(app_db)
    with engine.begin() as conn:   # statistics of a quiet day: every timer in the future
        conn.execute(text("UPDATE pathway_case SET next_due_at = :t"),
                     {"t": DUE + timedelta(days=60)})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE pathway_case"))
    with engine.begin() as conn:   # then the night: every case is due
        conn.execute(text("UPDATE pathway_case SET next_due_at = :t"),
                     {"t": T0 + timedelta(days=30)})
    batch = cases[1_000:1_100]
    plans = _plans(engine, lambda db: claim_due(db, DUE, 100, batch))
    assert "pathway_case_pkey" in plans[0] and "ix_case_due" not in plans[0], plans[0]
    with transaction(engine) as db:
        assert claim_due(db, DUE, 100, batch) == batch
        assert claim_due(db, DUE, 100, [*batch, 10**9]) == batch    # unknown ids: ignored
        assert claim_due(db, T0, 100, batch) == []                  # not due yet
    engine.dispose()
