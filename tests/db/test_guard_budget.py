"""A guard over its evaluation budget refuses the event, on both databases: nothing is
written by the service, and through the inbox the event stays refused with its French
error for the coordinator (issue "Hostile and messy input": bounded guards)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.inbox import drain, enqueue
from engine.store.tables import ALL_TABLES, CaseRow, InboxRow
from tests.db.world import T0, build
from tests.test_hostile_pathways import COSTLY_GUARD, GUARDED

MARIE = "195031234567890"


def _dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with transaction(engine) as session:
        return {t.__tablename__: [tuple(r) for r in session.execute(  # type: ignore[attr-defined]
            select(t.__table__).order_by(*t.__table__.primary_key.columns)).all()]  # type: ignore[attr-defined]
            for t in ALL_TABLES}


def _territory(engine: Engine, tmp_path: Path, guard: str):  # type: ignore[no-untyped-def]
    svc = build(engine, tmp_path)
    svc.publish(GUARDED.replace("GUARD", guard), "cout-garde.yaml", T0)
    svc.enroll(MARIE, "cout-garde", T0)
    return svc


def test_the_service_refuses_the_event_and_writes_nothing(engine: Engine,
                                                          tmp_path: Path) -> None:
    svc = _territory(engine, tmp_path, COSTLY_GUARD)
    before = _dump(engine)
    later = T0 + timedelta(hours=1)
    with pytest.raises(InputError, match="dépasse le coût autorisé"):
        svc.observe(MARIE, "4548-4", "8,1", "%", later, later)
    assert _dump(engine) == before


def test_the_inbox_keeps_the_refused_event_and_the_case_stays(engine: Engine,
                                                              tmp_path: Path) -> None:
    svc = _territory(engine, tmp_path, COSTLY_GUARD)
    later = T0 + timedelta(hours=1)
    with transaction(engine) as s:
        enqueue(s, "observation", patient_ref=MARIE, effective_at=later, received_at=later,
                payload={"code": "4548-4", "value": 8.1, "unit": "%"})
    drain(svc, later, 10)
    with transaction(engine) as s:
        row = s.scalars(select(InboxRow)).one()
        assert row.status == "failed" and row.error is not None
        assert "événement refusé, dossier inchangé" in row.error
        case = s.scalars(select(CaseRow).where(CaseRow.pathway_key == "cout-garde")).one()
        assert case.closed_at is None  # neither 'haut' nor the 'else' branch 'bas'


def test_a_cheap_guard_on_the_same_pathway_moves_the_case(engine: Engine,
                                                          tmp_path: Path) -> None:
    svc = _territory(engine, tmp_path, "true")
    later = T0 + timedelta(hours=1)
    svc.observe(MARIE, "4548-4", "8,1", "%", later, later)
    with transaction(engine) as s:
        case = s.scalars(select(CaseRow).where(CaseRow.pathway_key == "cout-garde")).one()
        assert case.closed_at is not None
