"""A database error never quotes the statement's parameters (names, birth dates, values)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from engine.store.db import transaction
from engine.store.tables import PATIENT_TABLE
from tests.db.world import T0


def test_an_integrity_error_does_not_quote_the_row(engine: Engine) -> None:
    row = {"id": 7, "ins": None, "local_id": "P-7", "family_name": "Dürrenmatt",
           "given_names": "Friedrich", "birth_date": date(1921, 1, 5), "sex": "M",
           "commune": "25056", "conditions": ["44054006"], "created_at": T0}
    with transaction(engine) as session:
        session.execute(insert(PATIENT_TABLE), [row])
    with pytest.raises(IntegrityError) as caught, transaction(engine) as session:
        session.execute(insert(PATIENT_TABLE), [row])
    text = str(caught.value)
    assert "parameters hidden" in text
    for secret in ("Dürrenmatt", "Friedrich", "1921", "44054006"):
        assert secret not in text
