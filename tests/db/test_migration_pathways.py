"""The three CPTS pathways: running cases of version 1 (before issue 10) migrated to
today's version 2 with the committed mapping files, on a small demo territory."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from engine.case import Migrated
from engine.pathway.loader import load_file
from engine.store import migration
from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import CaseEvent, CaseRow, Patient, TaskRow
from tests.db import drive
from tests.db.migration_world import dump_tables

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
MAPPINGS = drive.ROOT / "pathways" / "migrations"


@pytest.mark.parametrize("key", drive.KEYS)
def test_the_committed_mapping_files_check_against_both_versions(key: str) -> None:
    from engine.migration import load_mapping

    old = load_file(str(drive.ROOT / "pathways" / "history" / f"{key}.v1.yaml"))
    new = load_file(str(drive.ROOT / "pathways" / f"{key}.yaml"))
    assert (old.version, new.version) == (1, 2)
    mapping = load_mapping(str(MAPPINGS / f"{key}.v1-v2.mapping.yaml"), old, new)
    assert mapping.unmapped(old, new) == []


def test_running_cases_of_the_three_pathways_move_to_version_2(engine: Engine,
                                                                 tmp_path: Path) -> None:
    rng = random.Random(2026)
    service = CaseService(engine)
    refs = drive.territory(engine, tmp_path, 24, START)
    drive.publish_v1(service, START)
    with transaction(engine) as s:
        patient_ids = list(s.scalars(select(Patient.id)))  # type: ignore[call-overload]
    for key in drive.KEYS:
        service.enroll_many(patient_ids, key, START)
    now = drive.drive(service, rng, refs, START, steps=8)
    before_counts = drive.check_cases(engine)
    assert set(before_counts) == {f"{k}@1" for k in drive.KEYS}
    drive.publish_v2(service, now)

    reports = {}
    for key in drive.KEYS:
        mapping = str(MAPPINGS / f"{key}.v1-v2.mapping.yaml")
        tables = dump_tables(engine)
        plan = migration.plan(engine, key, 2, now, mapping_path=mapping)
        assert dump_tables(engine) == tables, "a plan writes nothing"
        assert plan.refused == [], plan.refused
        assert plan.cases == before_counts[f"{key}@1"]
        applied = migration.apply(engine, key, 2, now, mapping_path=mapping, batch_size=7)
        assert applied.counts() == plan.counts()
        reports[key] = applied
    after = drive.check_cases(engine)
    assert set(after) == {f"{k}@2" for k in drive.KEYS}
    with transaction(engine) as s:
        lines = dict(s.execute(select(CaseEvent.case_id, func.count()).where(
            CaseEvent.kind == Migrated.kind).group_by(CaseEvent.case_id)).all())
        open_ids = set(s.scalars(select(CaseRow.id).where(
            CaseRow.closed_at.is_(None))))  # type: ignore[union-attr]
    assert set(lines) == open_ids and set(lines.values()) == {1}
    # diabetes: the two regions version 2 adds were entered by every case in follow-up
    diabetes = reports["diabete-type2"]
    assert diabetes.entered["suivi.arteres"] == diabetes.entered["suivi.sophia"] > 0
    # the cases keep living on version 2: months pass, tasks are done, nothing fails
    drive.drive(service, rng, refs, now, steps=6)
    assert set(drive.check_cases(engine)) <= {f"{k}@2" for k in drive.KEYS}
    with transaction(engine) as s:
        refs_per_case = s.execute(select(TaskRow.case_id, TaskRow.ref, func.count())
                                  .group_by(TaskRow.case_id, TaskRow.ref)
                                  .having(func.count() > 1)).all()
    assert refs_per_case == []
