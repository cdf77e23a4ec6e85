"""A case whose timers cannot be applied does not block the others, nor fail every run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from engine.store.db import transaction
from engine.store.service import CaseService
from engine.store.tables import CaseEvent, CaseRow, Patient

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PATHWAY = """\
key: fragile
version: 1
title: Parcours fragile
facts:
  compteur: {type: integer}
  ok: {type: boolean, default: false}
initial: attente
states:
  attente:
    timers:
      echeance: {after: P1D}
    transitions:
      - on: timer:echeance
        guard: "facts.ok"
        to: fin
      - on: timer:echeance
        to: fin
        set: {compteur: "facts.compteur + 1"}
  fin:
    final: true
"""


def test_failing_case_is_logged_and_postponed(engine) -> None:  # type: ignore[no-untyped-def]
    service = CaseService(engine)
    service.publish(PATHWAY, "fragile.yaml", T0)
    with transaction(engine) as session:
        for n in range(3):
            session.add(Patient(local_id=f"F{n}", family_name="X", given_names="Y",
                                birth_date=date(1950, 1, 1), sex="F", created_at=T0))
    for n in range(3):
        service.enroll(f"F{n}", "fragile", T0)
    with transaction(engine) as session:  # case 2 can go through: its guard holds
        case = session.get(CaseRow, 2)
        case.facts = {"compteur": None, "ok": True}
    now = T0 + timedelta(days=2)
    report = service.advance(now)
    assert report.cases == 3 and sorted(report.failures) == [1, 3]
    assert "compteur" in report.failures[1]
    with transaction(engine) as session:
        assert session.get(CaseRow, 2).closed_at is not None
        failed = session.scalars(select(CaseEvent).where(
            CaseEvent.kind == "advance_failed")).all()
        assert sorted(e.case_id for e in failed) == [1, 3]
        assert session.get(CaseRow, 1).next_due_at == now + timedelta(minutes=60)
        assert session.get(CaseRow, 1).active_states == ["attente"]  # nothing half-applied
    assert service.advance(now + timedelta(minutes=30)).cases == 0  # not retried every run
    assert sorted(service.advance(now + timedelta(minutes=61)).failures) == [1, 3]
