"""The main job end to end (small), the cycle's order, the territory, start-up costs."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.clock import PARIS
from engine.store.db import make_engine, transaction
from engine.store.migrate import upgrade
from engine.store.tables import CareTeamMember, CaseRow, InboxRow, OutboxRow, Patient
from flows.cli import main
from flows.territory import DIABETES_T2, create_territory
from tests.flows.helpers import ROOT


def test_demo_runs_the_territory_and_ends_with_a_french_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("PARCOURS_NOTIFY_CONSOLE_DIR", raising=False)
    out = tmp_path / "out"
    assert main(["demo", "--out", str(out), "--weeks", "1", "--patients", "60"]) == 0
    text = capsys.readouterr().out
    for heading in ("Dossiers par parcours et état", "Tâches par rôle", "Tâches en retard",
                    "Notifications envoyées", "Récapitulatifs quotidiens envoyés",
                    "Un même message, deux rendus", "MSSanté, sécurisé", "SMS, non sécurisé",
                    "Les exécutions sont dans Prefect : ouvrir",
                    f"export PARCOURS_DATABASE_URL={out / 'demo.db'}", "cases --now",
                    "--demo-links"):
        assert heading in text, heading
    engine = make_engine(f"sqlite:///{out / 'demo.db'}")
    with transaction(engine) as s:
        assert s.scalar(select(func.count()).select_from(CaseRow)) > 20
        assert s.scalar(select(func.count()).select_from(InboxRow).where(
            InboxRow.status == "applied")) > 10
        sent = s.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.status == "sent"))
    engine.dispose()
    assert sent and len(list((out / "messages").iterdir())) == sent


def test_territory_is_deterministic_and_plausible(tmp_path: Path) -> None:
    now = datetime(2026, 1, 4, 8, tzinfo=PARIS)
    roles = {"medecin_traitant", "infirmier", "pharmacien", "cardiologue", "coordinateur"}
    names = []
    for run in range(2):
        engine = make_engine(f"sqlite:///{tmp_path / f't{run}.db'}")
        upgrade(engine)
        territory = create_territory(engine, now, roles, patients=200, seed=7)
        with transaction(engine) as s:
            patients = list(s.scalars(select(Patient).order_by(Patient.id)))
            team = s.scalar(select(func.count()).select_from(CareTeamMember))
        names.append([(p.family_name, p.given_names, p.birth_date) for p in patients])
        engine.dispose()
    assert names[0] == names[1]
    assert len(territory.professionals["coordinateur"]) == 1
    assert {"medecin", "infirmier", "pharmacien", "cardiologue", "dac"} <= set(
        territory.professionals)
    ages = [(date(2026, 1, 4) - p.birth_date).days // 365 for p in patients]
    assert min(ages) >= 18 and max(ages) <= 99 and sum(a >= 65 for a in ages) > 60
    diabetic = sum(DIABETES_T2 in p.conditions for p in patients)
    assert 20 < diabetic < 80
    assert team and territory.observations > diabetic


def test_validate_and_the_cli_never_import_prefect() -> None:
    code = ("import sys, flows.cli; flows.cli._parser(); "
            "sys.exit(flows.cli.main(['validate', 'pathways/examples/exemple-suivi.yaml']) or "
            "('prefect' in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_large_territory_has_unique_ins(tmp_path: Path) -> None:
    """``parcours demo --patients 10000`` used to crash: the INS order number was n % 1000."""
    now = datetime(2026, 1, 4, 8, tzinfo=PARIS)
    engine = make_engine(f"sqlite:///{tmp_path / 'big.db'}")
    upgrade(engine)
    create_territory(engine, now, {"medecin_traitant"}, patients=10_000, seed=3)
    with transaction(engine) as s:
        ins = [i for i in s.scalars(select(Patient.ins)) if i is not None]
    engine.dispose()
    assert len(ins) > 8_000 and len(set(ins)) == len(ins)
    assert all(len(i) == 15 and i.isdigit() and 97 - int(i[:13]) % 97 == int(i[13:])
               for i in ins)
