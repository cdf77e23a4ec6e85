"""Two processes advance the same 2 000 due cases on PostgreSQL: each timer fires once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engine.store.db import make_engine, transaction
from engine.store.service import CaseService
from engine.store.tables import CareTeamMember, CaseEvent, Patient, Professional, TaskRow
from tests.db.world import T0

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "pathways" / "bench-suivi.yaml"
CASES = 2000


def populate(url: str, count: int) -> None:
    engine = make_engine(url)
    svc = CaseService(engine)
    svc.publish(BENCH.read_text(encoding="utf-8"), str(BENCH), T0)
    with transaction(engine) as s:
        gp = s.execute(insert(Professional).returning(Professional.id), [{  # type: ignore[arg-type]
            "rpps": "10000000001", "family_name": "X", "given_names": "Y",
            "profession": "medecin", "active": True, "preferences": {}}]).scalar_one()
        ids = s.execute(insert(Patient).returning(Patient.id, sort_by_parameter_order=True), [  # type: ignore[arg-type]
            {"local_id": f"C{n}", "family_name": "P", "given_names": "Q",
             "birth_date": date(1950, 1, 1), "sex": "F", "conditions": [], "created_at": T0}
            for n in range(count)]).scalars().all()
        s.execute(insert(CareTeamMember), [{"patient_id": i, "professional_id": gp,
                                            "role": "medecin_traitant",
                                            "start_date": date(2020, 1, 1)} for i in ids])
    assert svc.enroll_many(list(ids), "bench-suivi", T0).enrolled == count
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_processes_fire_each_timer_once(db_url: str) -> None:
    populate(db_url, CASES)
    now = (T0 + timedelta(days=40)).isoformat()
    env = {**os.environ, "PARCOURS_DATABASE_URL": db_url}
    command = [sys.executable, "-m", "flows.cli", "advance", "--now", now, "--batch-size", "50",
               "--json"]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    import json

    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        reports.append(json.loads(out[out.index("{"):]))
    assert sum(r["cases"] for r in reports) == CASES
    assert all(r["cases"] > 0 for r in reports), "one process did all the work: no overlap"
    engine = make_engine(db_url)
    with transaction(engine) as s:
        fired = Counter(s.scalars(select(CaseEvent.case_id).where(
            CaseEvent.kind == "timer_fired")))
        assert len(fired) == CASES and set(fired.values()) == {1}
        tasks = Counter(s.scalars(select(TaskRow.case_id)))
        assert len(tasks) == CASES and set(tasks.values()) == {1}
    engine.dispose()
