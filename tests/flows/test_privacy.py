"""No patient data reaches Prefect: its database (runs, parameters, states, logs, artifacts,
events) and its result storage are scanned after the demo flows ran with injected failures
whose messages quote a patient."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from engine.clock import PARIS
from engine.store.db import make_engine, transaction
from engine.store.inbox import enqueue
from engine.store.service import CaseService
from engine.store.tables import InboxRow, ObservationRow, Patient, Professional
from flows.commands.demo import pathway_sources
from flows.cycle import cpts_cycle
from flows.territory import create_territory
from tests.flows.conftest import HOME

START = datetime(2031, 3, 3, 8, 0, tzinfo=PARIS)
FAMILY, GIVEN, PRO = "Zqwxlebrunovsky", "Ysolde-Pervenche", "Quokkabergstein"
BORN = date(1933, 4, 17)
HBA1C, NTPROBNP, IMPOSSIBLE = 13.579, 24681.357, 88.642
#: as they would be written; a value is matched only standing alone (a timestamp such as
#: 12:37:13.579123 is not a leak of 13.579)
SECRETS = [FAMILY, GIVEN, PRO, BORN.isoformat(), BORN.strftime("%d/%m/%Y")]
VALUES = ["13.579", "13,579", "24681.357", "24681,357", "88.642", "88,642"]


def plant(engine: Any) -> list[int]:
    """Three patients get the distinctive identity and values; returns their ids."""
    with transaction(engine) as s:
        old = list(s.scalars(select(Patient.id).where(Patient.birth_date < date(1950, 1, 1))
                             .order_by(Patient.id).limit(3)))
        s.execute(update(Patient).where(Patient.id.in_(old)).values(  # type: ignore[union-attr]
            family_name=FAMILY, given_names=GIVEN, birth_date=BORN,
            conditions=["44054006", "84114007"]))
        s.execute(update(Professional).values(family_name=PRO))
        for pid in old:
            s.add(ObservationRow(patient_id=pid, code="4548-4", value=HBA1C, unit="%",
                                 effective_at=START - timedelta(days=20),
                                 recorded_at=START - timedelta(days=20)))
            s.add(ObservationRow(patient_id=pid, code="33762-6", value=NTPROBNP, unit="pg/mL",
                                 effective_at=START - timedelta(days=20),
                                 recorded_at=START - timedelta(days=20)))
    return old


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every step fails once, with an error quoting the planted patient."""
    quote = f"{FAMILY} {GIVEN} né le {BORN:%d/%m/%Y}, HbA1c {HBA1C} %, NT-proBNP {NTPROBNP}"
    left = {"advance": 1, "enrol": 1, "escalate": 1, "dispatch": 1, "flow body": 1}

    def once(key: str) -> None:
        if left[key]:
            left[key] -= 1
            raise RuntimeError(quote)
    import engine.store.service

    original_claim = engine.store.service.claim_due

    def claim_due(*args: Any, **kwargs: Any) -> Any:  # inside the batch, after the claim
        claimed = original_claim(*args, **kwargs)
        if claimed:
            once("advance")
        return claimed
    monkeypatch.setattr(engine.store.service, "claim_due", claim_due)
    import flows.advance

    original_due = flows.advance.due_pathways

    def due_pathways(*args: Any, **kwargs: Any) -> Any:  # in a flow body, outside any task
        once("flow body")
        return original_due(*args, **kwargs)
    monkeypatch.setattr(flows.advance, "due_pathways", due_pathways)
    original_enrol = CaseService.enroll_many

    def enroll_many(self: CaseService, *args: Any, **kwargs: Any) -> Any:
        once("enrol")
        return original_enrol(self, *args, **kwargs)
    monkeypatch.setattr(CaseService, "enroll_many", enroll_many)
    import flows.escalation

    original_escalate = flows.escalation.escalate_one

    def escalate_one(*args: Any, **kwargs: Any) -> Any:
        once("escalate")
        return original_escalate(*args, **kwargs)
    monkeypatch.setattr(flows.escalation, "escalate_one", escalate_one)
    import notifications.dispatch

    original_dispatch = notifications.dispatch.dispatch_pending

    def dispatch_pending(*args: Any, **kwargs: Any) -> Any:
        once("dispatch")
        return original_dispatch(*args, **kwargs)
    monkeypatch.setattr(notifications.dispatch, "dispatch_pending", dispatch_pending)
    yield
    assert not any(left.values()), f"a fault was not triggered: {left}"


def prefect_files() -> list[Path]:
    """The harness database (and its WAL), result storage and the whole PREFECT_HOME."""
    from prefect.settings import get_current_settings

    url = str(get_current_settings().server.database.connection_url.get_secret_value())
    database = Path(url.split("///", 1)[1])
    files = [p for p in database.parent.glob(database.name + "*")]
    files += [p for p in HOME.rglob("*") if p.is_file()]
    return files


def readable(path: Path) -> bytes:
    """A file's bytes, plus their base64 decoding when they are base64: Prefect writes the
    exception of a failed run to result storage as a base64 pickle, whatever
    ``persist_result`` says, and a pickle keeps its strings as UTF-8."""
    data = path.read_bytes()
    try:
        return data + b"\n" + base64.b64decode(data, validate=False)
    except (ValueError, binascii.Error):
        return data


def flush() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_prefect_never_sees_names_birth_dates_or_values(
        app_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faults: None) -> None:
    monkeypatch.setenv("PARCOURS_NOTIFY_CONSOLE_DIR", str(tmp_path / "messages"))
    engine = make_engine(app_db)
    service = CaseService(engine)
    roles: set[str] = set()
    for file in pathway_sources():
        service.publish(file.read_text(encoding="utf-8"), str(file), START - timedelta(days=30))
    from engine.store import registry

    with transaction(engine) as s:
        for key in ("diabete-type2", "insuffisance-cardiaque-65", "hospitalisation-sujet-age",
                    "exemple-suivi"):
            try:
                roles |= set(registry.compiled(registry.latest(s, key)).definition.roles)
            except Exception:
                continue
    create_territory(engine, START - timedelta(days=30), roles, patients=40, seed=11)
    planted = plant(engine)
    with transaction(engine) as s:  # refused events whose errors quote values and a name
        enqueue(s, "observation", patient_ref=planted[0], effective_at=START,
                received_at=START, payload={"code": "4548-4", "value": IMPOSSIBLE, "unit": "%"})
        enqueue(s, "admission", patient_ref=FAMILY, effective_at=START, received_at=START)
    states = []
    for day in (0, 30, 95, 130, 131):  # the first timers fire after three months
        states.append(cpts_cycle(now=START + timedelta(days=day), return_state=True))
    assert states[0].is_failed() and states[-1].is_completed()
    with transaction(engine) as s:  # the secrets were there, in the application database
        errors = " ".join(s.scalars(select(InboxRow.error).where(InboxRow.error.is_not(None))))
    assert "88.642" in errors and FAMILY in errors
    engine.dispose()

    # the failures happened and were recorded in Prefect: wait until they are all persisted
    controls = [b"cycle 2031-03-03 08:00", b"advance-failures", "annulé(s) en bloc".encode(),
                b"FlowInterrupted", b"prefect.flow-run.Failed", b"RuntimeError",
                b"NotFoundError"]
    deadline = time.monotonic() + 60
    while True:
        flush()
        blob = b"".join(readable(p) for p in prefect_files())
        missing = [c for c in controls if c not in blob]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not missing, f"Prefect has not recorded the runs yet: {missing}"
    # result storage (under HOME, scanned above) held the exception of each failed subflow;
    # the cycle's steps now run in its own flow run and end as states, so it may stay empty
    for secret in SECRETS:
        assert secret.encode() not in blob, f"{secret!r} reached Prefect"
    for value in VALUES:
        alone = re.compile(rb"(?<![\d:.])" + re.escape(value.encode()) + rb"(?!\d)")
        assert not alone.search(blob), f"{value!r} reached Prefect"
