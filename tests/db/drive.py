"""A small demo territory driven at random (seeded): cases at various states of their
pathways, and the invariants every stored case must keep (before and after migration)."""

from __future__ import annotations

import contextlib
import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from engine import events
from engine.pathway.compiler import CompiledPathway
from engine.store import registry
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.imports import import_patients, import_professionals
from engine.store.service import CaseService
from engine.store.tables import (
    OPEN_TASK_STATUSES,
    CaseRow,
    PathwayVersion,
    Patient,
    TaskRow,
    TimerRow,
)
from tests.db.world import PROFESSIONALS

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("diabete-type2", "insuffisance-cardiaque-65", "hospitalisation-sujet-age")
DIABETES = "44054006"


def territory(engine: Engine, tmp: Path, patients: int, start: datetime,
              seed: int = 7) -> list[str]:
    """Professionals and ``patients`` people aged 66–95, most of them diabetic."""
    rng = random.Random(seed)
    lines = ["ins,local_id,family_name,given_names,birth_date,sex,commune,conditions"]
    refs = []
    for i in range(patients):
        born = date(1931 + rng.randint(0, 28), rng.randint(1, 12), rng.randint(1, 28))
        ref = f"D-{i:04d}"
        refs.append(ref)
        lines.append(f",{ref},Nom{i},Prénom,{born.isoformat()},{rng.choice('FM')},25056,"
                     f"{DIABETES if rng.random() < 0.8 else ''}")
    (tmp / "pros.csv").write_text(PROFESSIONALS, encoding="utf-8")
    (tmp / "patients.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with transaction(engine) as session:
        import_professionals(session, str(tmp / "pros.csv"))
        import_patients(session, str(tmp / "patients.csv"), start)
    return refs


def publish_v1(service: CaseService, at: datetime) -> None:
    for key in KEYS:
        path = ROOT / "pathways" / "history" / f"{key}.v1.yaml"
        service.publish(path.read_text(encoding="utf-8"), str(path), at)


def publish_v2(service: CaseService, at: datetime) -> None:
    for key in KEYS:
        path = ROOT / "pathways" / f"{key}.yaml"
        service.publish(path.read_text(encoding="utf-8"), str(path), at)


def random_result(rng: random.Random, expected: dict[str, Any], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in expected.items():
        kind = spec.get("type")
        if kind == "boolean":
            out[name] = rng.random() < 0.5
        elif kind == "integer":
            out[name] = rng.randint(int(spec.get("minimum", 0)), int(spec.get("maximum", 10)))
        elif kind == "number":
            low, high = float(spec.get("minimum", 0)), float(spec.get("maximum", 20))
            out[name] = round(rng.uniform(low, high), 1)
        elif kind == "choice":
            out[name] = rng.choice(spec["choices"])
        elif kind == "date":
            out[name] = now.date().isoformat()
        elif spec.get("required", True):
            out[name] = "fait"
    return out


def drive(service: CaseService, rng: random.Random, refs: list[str], start: datetime,
          steps: int, max_days: int = 45) -> datetime:
    """``steps`` rounds: time passes (timers fire), tasks are done, patients go to hospital."""
    now = start
    engine = service.engine
    for _ in range(steps):
        now += timedelta(days=rng.randint(1, max_days), hours=rng.randint(0, 8))
        report = service.advance(now)
        assert not report.failures, report.failures
        with transaction(engine) as s:
            open_tasks = s.execute(select(TaskRow.id, TaskRow.expected_result).where(
                TaskRow.status.in_(OPEN_TASK_STATUSES))).all()  # type: ignore[attr-defined]
        for task_id, expected in rng.sample(open_tasks, k=min(len(open_tasks),
                                                               rng.randint(0, 12))):
            with contextlib.suppress(InputError):   # a result the pathway refuses: nothing
                service.complete_task(task_id, random_result(rng, expected or {}, now), now, now)
        for ref in rng.sample(refs, k=min(len(refs), 2)):
            kind = rng.choice((events.ADMISSION, events.DISCHARGE))
            stay = f"S-{ref}-{now:%Y%m%d}" if kind == events.ADMISSION else None
            data = {"stay": stay} if stay else {}
            with contextlib.suppress(InputError):
                service.hospital_event(ref, kind, now - timedelta(hours=1), now, data=data)
    return now


def check_cases(engine: Engine) -> dict[str, int]:
    """Every open case is a coherent configuration of its own version; returns counts."""
    counts: dict[str, int] = {}
    with transaction(engine) as s:
        versions = {v.id: registry.compiled(v) for v in s.scalars(select(PathwayVersion))}
        cases = s.scalars(select(CaseRow).where(CaseRow.closed_at.is_(None))).all()  # type: ignore[union-attr]
        timers: dict[int, list[TimerRow]] = {}
        for t in s.scalars(select(TimerRow)):
            timers.setdefault(t.case_id, []).append(t)
        tasks: dict[int, list[TaskRow]] = {}
        for t in s.scalars(select(TaskRow).where(TaskRow.status.in_(OPEN_TASK_STATUSES))):  # type: ignore[attr-defined]
            tasks.setdefault(t.case_id, []).append(t)
        for case in cases:
            pathway = versions[case.pathway_version_id]
            _check_case(pathway, case, timers.get(case.id or 0, []),
                        tasks.get(case.id or 0, []))
            label = f"{pathway.key}@{pathway.version}"
            counts[label] = counts.get(label, 0) + 1
        assert all(s.get(Patient, c.patient_id) for c in cases)
    return counts


def _check_case(pathway: CompiledPathway, case: CaseRow, timers: list[TimerRow],
                tasks: list[TaskRow]) -> None:
    tree = pathway.tree
    leaves = list(case.active_states)
    assert leaves and all(leaf in pathway.states for leaf in leaves), (case.id, leaves)
    assert all(not tree.nodes[leaf].children for leaf in leaves), (case.id, leaves)
    for i, first in enumerate(leaves):
        for second in leaves[i + 1:]:
            assert tree.compatible(first, second), (case.id, first, second)
    active = {s for leaf in leaves for s in (leaf, *pathway.states[leaf].ancestors)}
    for sid in active:
        node = tree.nodes[sid]
        if node.state.parallel:
            for child in node.children:
                assert any(tree.is_descendant(leaf, child) for leaf in leaves), (case.id, child)
    for timer in timers:
        assert timer.state in active, (case.id, timer.name, timer.state)
        assert any(t.name == timer.name for t in pathway.states[timer.state].timers)
    for task in tasks:
        assert task.key in pathway.tasks, (case.id, task.key)
        assert task.state in active or pathway.tasks[task.key].outlives_state or \
            task.state == "", (case.id, task.key, task.state)
    refs = [t.ref for t in tasks]
    assert len(refs) == len(set(refs))
