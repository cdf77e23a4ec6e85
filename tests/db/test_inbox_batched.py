"""The batched inbox drain writes exactly what the one-event-per-transaction drain writes.

Two identical territories (two databases of the same backend, SQLite or
PostgreSQL) receive the same random mix of inbound events: valid and impossible
results, units to convert, unknown codes (refused, or kept when an interface
says so), corrections, results for unknown patients, admissions and discharges
(some with unknown fields), task completions (some of tasks already closed),
pathway events (one closing a case, then events for that case), events already
applied (duplicates), several patients interleaved. One is drained one event at
a time, the other in slices (small, so that slices start and end anywhere);
the inbox outcomes (status, French error, attempts), the drain reports, the
cases, tasks, timers, history, outbox, observations and receipts must be equal.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from engine import events
from engine.store import inbox
from engine.store.db import make_engine, transaction
from engine.store.service import CaseService
from engine.store.tables import (
    CASE_TABLE,
    EVENT_TABLE,
    INBOX_TABLE,
    OBSERVATION_TABLE,
    OUTBOX_TABLE,
    TASK_TABLE,
    TIMER_TABLE,
    EventReceipt,
)
from tests.conftest import PG_ADMIN_URL
from tests.db.world import ROOT, T0, build

HOSPITAL = ROOT / "pathways" / "hospitalisation-sujet-age.yaml"
PATIENTS = ["195031234567890", "P-002", "P-003"]
NOW = T0 + timedelta(days=60)


@pytest.fixture
def two_urls(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The test's database and a second, empty and migrated one of the same backend."""
    from engine.store.migrate import upgrade

    if db_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / 'other.db'}"
        engine = make_engine(other)
        upgrade(engine)
        engine.dispose()
        yield db_url, other
        return
    import psycopg

    name = f"parcours_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    other = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(other)
        upgrade(engine)
        engine.dispose()
        yield db_url, other
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def territory(url: str, tmp: Path) -> tuple[Engine, CaseService]:
    engine = make_engine(url)
    tmp.mkdir(exist_ok=True)
    service = build(engine, tmp)
    service.publish(HOSPITAL.read_text(encoding="utf-8"), str(HOSPITAL), T0)
    for patient in PATIENTS[:2]:
        service.enroll(patient, "exemple-suivi", T0, event_id=f"suivi-{patient}")
    for patient in PATIENTS:
        service.enroll(patient, "hospitalisation-sujet-age", T0, check_eligibility=False,
                       event_id=f"hospitalisation-{patient}")
    # already applied by hand: the same ids through the inbox are duplicates
    service.observe(PATIENTS[0], "4548-4", 7.5, "%", T0 + timedelta(hours=1),
                    T0 + timedelta(hours=1), event_id="pre-0")
    service.hospital_event(PATIENTS[1], events.ADMISSION, T0 + timedelta(hours=2),
                           T0 + timedelta(hours=2), event_id="pre-1")
    return engine, service


def mix(seed: int, count: int) -> list[dict[str, Any]]:
    """``count`` inbound events (enqueue arguments), in time order."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(count):
        at = T0 + timedelta(days=1, hours=n)
        patient = rng.choice(PATIENTS + ["inconnu"] * (rng.random() < 0.1))
        choice = rng.random()
        event: dict[str, Any] = {"kind": events.OBSERVATION, "effective_at": at,
                                 "event_id": f"e{n}", "patient_ref": patient}
        if choice < 0.35:
            event["payload"] = {"code": "4548-4", "unit": "%",
                                "value": rng.choice([5.5, 6.9, 7.1, 8.4, 11.0, 45, "7,3"])}
        elif choice < 0.42:
            event["payload"] = {"code": "4548-4", "unit": "mmol/mol",
                                "value": rng.choice([48, 64, 90])}
        elif choice < 0.47:
            event["payload"] = {"code": rng.choice(["4548-4", "2345-7"]), "value": 6.1,
                                "unit": "%", "keep_unknown": rng.random() < 0.5,
                                "correction": rng.random() < 0.5}
            event["effective_at"] = T0 + timedelta(days=1, hours=rng.randrange(n + 1))
        elif choice < 0.52:
            event["payload"] = {"code": "4548-4", "value": 7.0, "unit": "%"}
            event["effective_at"] = NOW + timedelta(days=3)        # in the future: refused
        elif choice < 0.70:
            kind = rng.choice([events.ADMISSION, events.DISCHARGE, events.DISCHARGE_CANCELLED])
            data: dict[str, Any] = {"stay": f"S{rng.randrange(3)}"}
            if kind == events.DISCHARGE:
                data["destination"] = rng.choice(["domicile", "ehpad"])
            if rng.random() < 0.1:
                data["lit"] = "12"                                   # unknown field
            event.update(kind=kind, payload={"data": data})
        elif choice < 0.80:
            event.update(kind=events.TASK_COMPLETED, patient_ref=None,
                         task_id=rng.randrange(1, 12), payload={"result": {}})
        elif choice < 0.86:
            name = rng.choice(["sortie_parcours", "inconnu"])
            event.update(kind=events.PATHWAY_EVENT, patient_ref=None,
                         case_id=rng.randrange(1, 6),
                         payload={"name": name, "data": {"motif": "retrait"}})
        else:
            event.update(event_id=rng.choice(["pre-0", "pre-1"]) if rng.random() < 0.5
                         else f"e{rng.randrange(n + 1)}x",
                         payload={"code": "4548-4", "value": 6.6, "unit": "%"})
        out.append(event)
    return out


def receive(engine: Engine, stream: list[dict[str, Any]]) -> None:
    for event in stream:
        with transaction(engine) as session:
            inbox.enqueue(session, received_at=T0 + timedelta(days=1), **event)


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything the drain may write, without columns that depend on insertion order."""
    def rows(table: Any, order: tuple[str, ...], drop: tuple[str, ...] = ()) -> list[Any]:
        keep = [c for c in table.c if c.name not in drop]
        query = select(*keep).order_by(*(table.c[o] for o in order))
        return [tuple(r) for r in session.execute(query)]

    with transaction(engine) as session:
        return {
            "inbox": rows(INBOX_TABLE, ("id",)),
            # row_version counts the transactions that changed a case (its optimistic
            # lock), not the events: a slice is one
            "cases": rows(CASE_TABLE, ("id",), ("row_version",)),
            "tasks": rows(TASK_TABLE, ("id",)),
            "timers": rows(TIMER_TABLE, ("case_id", "name", "fire_at"), ("id",)),
            "history": rows(EVENT_TABLE, ("case_id", "id"), ("id",)),
            "outbox": rows(OUTBOX_TABLE, ("idempotency_key",), ("id",)),
            "observations": rows(OBSERVATION_TABLE, ("patient_id", "code", "effective_at",
                                                     "value", "recorded_at"), ("id",)),
            "receipts": sorted(session.execute(select(EventReceipt.event_id,  # type: ignore[call-overload]
                                                      EventReceipt.kind)).all()),
        }


def report_of(report: inbox.DrainReport) -> tuple[Any, ...]:
    return (dict(report.applied), report.duplicates,
            sorted((f.inbox_id, f.kind, f.error_type) for f in report.failed),
            sorted(report.case_ids), report.stopped, report.seen)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batched_drain_equals_one_by_one(two_urls: tuple[str, str], tmp_path: Path,
                                         seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = mix(seed, 90)
    (one, one_service), (many, many_service) = (territory(url, tmp_path / name) for url, name
                                                in zip(two_urls, ("a", "b"), strict=True))
    try:
        for engine in (one, many):
            receive(engine, stream)
        assert snapshot(one) == snapshot(many)
        expected = inbox.drain(one_service, NOW, 1000, batched=False)
        monkeypatch.setattr(inbox, "SLICE", 7)
        got = inbox.DrainReport()
        while (part := inbox.drain(many_service, NOW, 11)).seen:
            got.merge(part)
        assert report_of(got) == report_of(expected)
        statuses = [r.status for r in _inbox(one)]
        assert {"applied", "failed", "duplicate"} <= set(statuses), statuses
        a, b = snapshot(one), snapshot(many)
        for key in a:
            assert a[key] == b[key], key
    finally:
        one.dispose()
        many.dispose()


def _inbox(engine: Engine) -> list[Any]:
    with transaction(engine) as session:
        return list(session.execute(select(INBOX_TABLE.c.status)))


def test_a_slice_that_cannot_be_written_is_applied_event_by_event(
        engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk write that fails is rolled back to its savepoint: the events are applied
    again one per savepoint, and nothing is lost or doubled."""
    from engine.store import runs

    service = build(engine, tmp_path)
    service.enroll(PATIENTS[0], "exemple-suivi", T0)
    receive(engine, [{"kind": events.OBSERVATION, "effective_at": T0 + timedelta(hours=n),
                      "event_id": f"r{n}", "patient_ref": PATIENTS[0],
                      "payload": {"code": "4548-4", "value": 6 + n, "unit": "%"}}
                     for n in range(1, 4)])
    calls = []

    def broken(self: runs.Run) -> None:
        calls.append(1)
        raise RuntimeError("bulk write failed")

    monkeypatch.setattr(runs.Run, "flush", broken)
    report = inbox.drain(service, NOW, 100)
    assert calls and report.applied == {events.OBSERVATION: 3} and not report.failed
    with transaction(engine) as session:
        assert session.scalar(select(OBSERVATION_TABLE.c.id).where(
            OBSERVATION_TABLE.c.value == 9.0)) is not None
        assert len(session.execute(select(OBSERVATION_TABLE.c.id)).all()) == 3
        assert [r.status for r in session.execute(select(INBOX_TABLE.c.status))] == \
            ["applied"] * 3
        assert len(session.execute(select(EVENT_TABLE.c.id).where(
            EVENT_TABLE.c.kind == events.OBSERVATION)).all()) == 3
