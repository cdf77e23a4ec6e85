"""Shared benchmark helpers: machine description, databases, a synthetic territory."""

from __future__ import annotations

import os
import platform
import resource
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("PARCOURS_BENCH_PG", "postgresql+psycopg://root@127.0.0.1:5432/test")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def now_utc() -> datetime:
    return datetime.now(UTC)  # benchmarks time themselves; the engine never reads this


def fresh_pg_database() -> tuple[str, str]:
    import psycopg

    name = f"parcours_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def add_patients(engine: Engine, count: int, created: datetime) -> list[int]:
    """Bulk-insert synthetic patients (no real names) and one GP; returns patient ids."""
    from engine.store.tables import CareTeamMember, Patient, Professional

    ids: list[int] = []
    with engine.begin() as conn:
        gp = conn.execute(insert(Professional).returning(Professional.id), [{  # type: ignore[arg-type]
            "rpps": "10000000001", "family_name": "Bench", "given_names": "GP",
            "profession": "medecin", "email": "gp@example.fr", "active": True,
            "preferences": {}}]).scalar_one()
        for start in range(0, count, 5000):
            rows = [{"local_id": f"B{n:07d}", "family_name": "Patient", "given_names": f"N{n}",
                     "birth_date": date(1940 + n % 40, 1 + n % 12, 1 + n % 28),
                     "sex": "FM"[n % 2], "conditions": [], "created_at": created}
                    for n in range(start, min(count, start + 5000))]
            chunk = conn.execute(insert(Patient).returning(Patient.id,  # type: ignore[arg-type]
                                                           sort_by_parameter_order=True),
                                 rows).scalars().all()
            ids.extend(chunk)
            conn.execute(insert(CareTeamMember), [
                {"patient_id": pid, "professional_id": gp, "role": "medecin_traitant",
                 "start_date": date(2020, 1, 1)} for pid in chunk])
    return ids


#: the benchmark pathway: every case gets a timer due one month after enrolment
BENCH_PATHWAY = ROOT / "benchmarks" / "pathways" / "bench-suivi.yaml"
BENCH_T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def bench_territory(url: str, count: int) -> tuple[Any, Any]:
    """A migrated database with ``count`` patients enrolled in the benchmark pathway at
    ``BENCH_T0``; returns (engine, case service)."""
    from engine.store.db import make_engine
    from engine.store.migrate import upgrade
    from engine.store.service import CaseService

    engine = make_engine(url)
    upgrade(engine)
    service = CaseService(engine)
    service.publish(BENCH_PATHWAY.read_text(encoding="utf-8"), str(BENCH_PATHWAY), BENCH_T0)
    patients = add_patients(engine, count, BENCH_T0)
    enrolled = service.enroll_many(patients, "bench-suivi", BENCH_T0, batch_size=2000)
    assert enrolled.enrolled == count, enrolled
    return engine, service
