"""A small territory for database tests: the example pathway, a few people."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from engine.store.db import transaction
from engine.store.imports import import_patients, import_professionals
from engine.store.service import CaseService

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

PROFESSIONALS = """\
rpps,family_name,given_names,profession,email,mssante,phone,active
10000000001,Martin,Paul,medecin,paul.martin@example.fr,paul.martin@medecin.mssante.fr,0611223344,oui
10000000002,Bernard,Anne,infirmier,anne.bernard@example.fr,,,oui
10000000003,Petit,Luc,pedicure_podologue,luc.petit@example.fr,,,oui
10000000009,Roux,Claire,coordinateur,coordination@cpts.example.fr,,,oui
"""

PATIENTS = """\
ins,local_id,family_name,given_names,birth_date,sex,commune,conditions
195031234567890,,Durand,Marie,1950-03-12,F,25056,44054006
,P-002,Moreau,Jean,1962-07-01,M,25388,44054006
,P-003,Lefebvre,Julie,2015-01-01,F,25056,
"""


def build(engine: Engine, tmp: Path) -> CaseService:
    (tmp / "pros.csv").write_text(PROFESSIONALS, encoding="utf-8")
    (tmp / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    service = CaseService(engine)
    service.publish(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE), T0)
    with transaction(engine) as session:
        import_professionals(session, str(tmp / "pros.csv"))
        import_patients(session, str(tmp / "patients.csv"), T0)
    from engine.store.careteam import set_member

    with transaction(engine) as session:
        set_member(session, "195031234567890", "medecin_traitant", "10000000001", T0.date())
        set_member(session, "195031234567890", "infirmier", "10000000002", T0.date())
        set_member(session, "P-002", "medecin_traitant", "10000000001", T0.date())
    return service
