"""enroll_eligible: every eligible patient once; a closed case is not reopened behind anyone."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from engine.store.db import make_engine, transaction
from engine.store.tables import CaseRow
from flows.eligibility import enroll_eligible
from tests.db.world import T0, build
from tests.flows.helpers import BENCH, artifacts


def test_enrols_the_eligible_once_and_never_reenrols(app_db: str, tmp_path: Path) -> None:
    engine = make_engine(app_db)
    service = build(engine, tmp_path)          # example pathway: adults (18+); 3 patients
    service.publish(BENCH.read_text(encoding="utf-8"), str(BENCH), T0)  # no eligibility
    state = enroll_eligible(now=T0, return_state=True)
    assert state.is_completed(), state.message
    assert state.result() == [{"parcours": "exemple-suivi", "inscrits": 2,
                               "non éligibles": 1, "déjà inscrits": 0}]
    table = json.loads(artifacts("enrolments", state)[0]["data"])
    assert table[0]["inscrits"] == 2
    with transaction(engine) as s:
        first = s.scalars(select(CaseRow.id).order_by(CaseRow.id)).first()
    service.close_case(first, "demenagement", T0 + timedelta(days=1))
    state = enroll_eligible(now=T0 + timedelta(days=2), return_state=True)
    assert state.result()[0]["inscrits"] == 0
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(CaseRow)) == 2
        assert s.scalar(select(func.count()).select_from(CaseRow).where(
            CaseRow.closed_at.is_(None))) == 1
    assert enroll_eligible(now=T0, pathways=["bench-suivi"], return_state=True).result() == []
    engine.dispose()
