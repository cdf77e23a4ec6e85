"""``parcours event admission|discharge --stay … --planned/--unplanned --reason …
--destination …`` and the cancellations, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine import events
from engine.store.db import make_engine, transaction
from engine.store.tables import CaseRow
from flows.cli import main
from tests.db.test_cli import MARIE, cli, territory  # noqa: F401  (fixture)

HOSPITAL = Path(__file__).resolve().parents[1] / "data" / "runtime" / "hospital.yaml"
NOW = "2026-01-06T09:00"


def case_row(url: str) -> tuple[list[str], dict[str, object]]:
    engine = make_engine(url)
    with transaction(engine) as s:
        row = s.scalars(select(CaseRow).where(CaseRow.pathway_key == "test-hopital")).one()
        out = (list(row.active_states), dict(row.facts))
    engine.dispose()
    return out


def test_typed_stay_options(territory: Path, cli_env: str,  # noqa: F811
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "pathways", "publish", str(HOSPITAL), "--now", NOW)[0] == 0
    assert cli(capsys, "enroll", "--patient", MARIE, "--pathway", "test-hopital",
               "--now", NOW)[0] == 0
    code, out, _ = cli(capsys, "event", events.ADMISSION, "--patient", MARIE, "--stay", "S-7",
                       "--unplanned", "--reason", "chute", "--now", NOW)
    assert code == 0, out
    states, facts = case_row(cli_env)
    assert states == ["hospitalise"] and facts["sejours"] == 1 and facts["programme"] is False
    code, out, _ = cli(capsys, "event", events.DISCHARGE, "--patient", MARIE, "--stay", "S-7",
                       "--reason", "chute", "--destination", "domicile",
                       "--now", "2026-01-07T09:00")
    assert code == 0, out
    assert case_row(cli_env)[0] == ["sorti"]
    code, out, _ = cli(capsys, "event", events.DISCHARGE_CANCELLED, "--patient", MARIE,
                       "--stay", "S-7", "--now", "2026-01-07T10:00")
    assert code == 0, out
    assert case_row(cli_env)[0] == ["hospitalise"]
    code, out, err = cli(capsys, "event", events.DISCHARGE_CANCELLED, "--patient", MARIE,
                         "--now", "2026-01-07T10:00")
    assert code == 1 and "obligatoire pour une annulation" in out + err
    with pytest.raises(SystemExit):
        main(["event", events.DISCHARGE, "--patient", MARIE, "--destination", "plage"])
