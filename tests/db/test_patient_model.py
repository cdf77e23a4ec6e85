"""ALD status and condition onset dates: imported, stored, read by guards (both databases)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from engine.case import Subject
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.imports import import_patients
from engine.store.tables import Patient

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CSV = """\
local_id,family_name,given_names,birth_date,sex,conditions,ald
P-1,Durand,Marie,1950-03-12,F,44054006@2004-05-01;38341003,oui
P-2,Petit,Jean,1948-07-01,M,44054006,
"""


def _import(engine: Engine, tmp_path: Path, text: str) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(text, encoding="utf-8")
    with transaction(engine) as session:
        import_patients(session, str(path), NOW)


def test_onsets_and_ald_are_imported_and_stored(engine: Engine, tmp_path: Path) -> None:
    _import(engine, tmp_path, CSV)
    with transaction(engine) as session:
        rows = {p.local_id: p for p in session.scalars(select(Patient))}
        assert rows["P-1"].conditions == ["44054006", "38341003"]
        assert rows["P-1"].condition_onsets == {"44054006": "2004-05-01"}
        assert rows["P-1"].ald is True
        assert rows["P-2"].ald is None and rows["P-2"].condition_onsets == {}


@pytest.mark.parametrize(("cell", "ald", "message"), [
    ("44054006@2004-13-01", "oui", "date de début '2004-13-01' de 44054006 invalide"),
    ("44054006@2030-01-01", "oui", "date de début 2030-01-01 de 44054006 dans le futur"),
    ("44054006", "peut-être", "ald 'peut-être' invalide"),
])
def test_bad_onsets_and_ald_are_refused_and_nothing_is_written(
        engine: Engine, tmp_path: Path, cell: str, ald: str, message: str) -> None:
    text = f"local_id,family_name,given_names,birth_date,sex,conditions,ald\n" \
           f"P-9,Roux,Lea,1950-01-01,F,{cell},{ald}\n"
    with pytest.raises(InputError, match=message):
        _import(engine, tmp_path, text)
    with transaction(engine) as session:
        assert session.scalars(select(Patient)).first() is None


def test_condition_years_count_whole_years_on_the_calendar() -> None:
    subject = Subject(date(1950, 1, 1), "F", ("44054006",), onsets={"44054006": date(2006, 3, 2)})
    assert subject.condition_years(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) == {"44054006": 19}
    assert subject.condition_years(datetime(2026, 3, 2, 12, 0, tzinfo=UTC)) == {"44054006": 20}
