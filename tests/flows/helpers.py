"""Worlds for the flow tests: due cases in bulk, counts from the database, Prefect reads."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from engine.store.db import make_engine, transaction
from engine.store.service import CaseService
from engine.store.tables import CareTeamMember, CaseEvent, Patient, Professional, TaskRow
from tests.db.world import T0

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks" / "pathways" / "bench-suivi.yaml"
EXAMPLE = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"


def populate(url: str, count: int, *, coordinator: bool = True,
             names: tuple[str, str] = ("Patient", "Test")) -> list[int]:
    """``count`` patients enrolled in the bench pathway at T0 (a timer due at T0 + 1 month)."""
    engine = make_engine(url)
    svc = CaseService(engine)
    svc.publish(BENCH.read_text(encoding="utf-8"), str(BENCH), T0)
    with transaction(engine) as s:
        pros = [{"rpps": "10000000001", "family_name": "Généraliste", "given_names": "A",
                 "profession": "medecin", "active": True, "preferences": {}}]
        if coordinator:
            pros.append({"rpps": "10000000009", "family_name": "Coordination",
                         "given_names": "C", "profession": "coordinateur", "active": True,
                         "preferences": {}})
        gp = s.execute(insert(Professional).returning(Professional.id,  # type: ignore[arg-type]
                                                      sort_by_parameter_order=True),
                       pros).scalars().first()
        ids = []
        for start in range(0, count, 5000):
            ids += s.execute(insert(Patient).returning(Patient.id, sort_by_parameter_order=True), [  # type: ignore[arg-type]
                {"local_id": f"F{n}", "family_name": names[0], "given_names": names[1],
                 "birth_date": date(1950, 1, 1), "sex": "F", "conditions": [],
                 "created_at": T0} for n in range(start, min(count, start + 5000))]
            ).scalars().all()
        s.execute(insert(CareTeamMember), [{"patient_id": i, "professional_id": gp,
                                            "role": "medecin_traitant",
                                            "start_date": date(2020, 1, 1)} for i in ids])
    report = svc.enroll_many(list(ids), "bench-suivi", T0, batch_size=2000)
    assert report.enrolled == count
    engine.dispose()
    return report.case_ids


def fired(url: str) -> Counter[int]:
    """case id → how many timers fired."""
    engine = make_engine(url)
    with transaction(engine) as s:
        out = Counter(s.scalars(select(CaseEvent.case_id).where(
            CaseEvent.kind == "timer_fired")))
    engine.dispose()
    return out


def tasks_per_case(url: str) -> Counter[int]:
    engine = make_engine(url)
    with transaction(engine) as s:
        out = Counter(s.scalars(select(TaskRow.case_id)))
    engine.dispose()
    return out


def artifacts(key: str, state: Any = None) -> list[dict[str, Any]]:
    """Artifacts with this key (of the flow run of ``state`` if given), newest first."""
    from prefect.client.orchestration import get_client

    body: dict[str, Any] = {"artifacts": {"key": {"any_": [key]}}, "limit": 50, "offset": 0,
                            "sort": "CREATED_DESC"}
    if state is not None:
        body["flow_runs"] = {"id": {"any_": [str(state.state_details.flow_run_id)]}}
    with get_client(sync_client=True) as client:  # its read_artifacts cannot omit filters
        return list(client.request("POST", "/artifacts/filter", json=body).json())


def flow_run(state: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)
