"""Units through the case service and the inbox: converted, recorded, or refused (issue 10)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.inbox import drain, enqueue
from engine.store.tables import CaseEvent, InboxRow, ObservationRow
from engine.units import HBA1C_SOURCE
from tests.db.world import T0, build

MARIE = "195031234567890"


def _observations(engine) -> list[tuple[float | None, str | None]]:  # type: ignore[no-untyped-def]
    with transaction(engine) as s:
        return [(o.value, o.unit) for o in s.scalars(select(ObservationRow)
                                                       .order_by(ObservationRow.id))]


def _conversions(engine) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    with transaction(engine) as s:
        return [e.data.get("conversion") for e in s.scalars(
            select(CaseEvent).where(CaseEvent.kind == "observation").order_by(CaseEvent.id))]


def test_hba1c_in_mmol_per_mol_is_stored_in_percent_with_its_origin(engine,
                                                                    tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    svc.observe(MARIE, "4548-4", "64", "mmol/mol", T0, T0)
    assert _observations(engine) == [(8.0, "%")]
    assert _conversions(engine) == [{"original_value": 64, "original_unit": "mmol/mol",
                                     "value": 8.0, "unit": "%", "method": HBA1C_SOURCE}]
    svc.observe(MARIE, "4548-4", "6.5", "%", T0 + timedelta(hours=1), T0 + timedelta(hours=1))
    assert _conversions(engine)[1] is None  # the declared unit: nothing converted


def test_unconvertible_unit_is_refused_in_french_and_nothing_written(engine,
                                                                     tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    with pytest.raises(InputError, match=r"unité 'kg' non convertible en '%' ; unités "
                                         r"acceptées : %, mmol/mol"):
        svc.observe(MARIE, "4548-4", "7", "kg", T0, T0)
    # the range is checked on the converted value: 20 mmol/mol is 4.0 %, allowed
    svc.observe(MARIE, "4548-4", "20", "mmol/mol", T0, T0)
    with pytest.raises(InputError, match="HbA1c"):
        svc.observe(MARIE, "4548-4", "400", "mmol/mol", T0, T0)  # 38.7 %: impossible
    assert _observations(engine) == [(4.0, "%")]


def test_the_inbox_converts_too(engine, tmp_path: Path) -> None:
    svc = build(engine, tmp_path)
    svc.enroll(MARIE, "exemple-suivi", T0)
    with transaction(engine) as s:
        enqueue(s, "observation", patient_ref=MARIE, effective_at=T0, received_at=T0,
                payload={"code": "4548-4", "value": 53, "unit": "mmol/mol"})
        enqueue(s, "observation", patient_ref=MARIE, effective_at=T0, received_at=T0,
                payload={"code": "4548-4", "value": 7, "unit": "g"})
    drain(svc, T0, 10)
    assert _observations(engine) == [(7.0, "%")]
    with transaction(engine) as s:
        failed = s.scalars(select(InboxRow).where(InboxRow.status == "failed")).one()
        assert failed.error is not None and "unités acceptées" in failed.error
