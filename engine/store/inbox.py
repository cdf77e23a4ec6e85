"""The durable inbox: inbound events are received first, applied in order afterwards.

Observations, admissions, discharges, task completions and pathway events
arrive from the CLI, imports and (later) the web and interfaces. ``enqueue``
records each one in the ``inbox`` table and returns at once; the same event
id received twice is kept once. ``drain`` applies pending events in the order
they were received, idempotent by their event id (an ``event_receipt`` row),
and records each outcome on its inbox row. Events are applied in slices of
``SLICE``, one transaction each, with the result of one transaction per event:
consecutive observations and hospital events are applied in memory over one
batch load and written in bulk (``engine.store.runs``), the others through the
case service, each in a savepoint; a refused event writes nothing. The
outcomes of a slice are recorded in one statement:

``applied``     the event changed its cases
``duplicate``   its id had already been applied (a resend, or a crash between
                applying and recording): nothing changed
``failed``      refused (unknown patient, impossible value, closed case…) or a
                bug: the row keeps the error for the coordinator, who can fix
                the data and ``retry`` it. Nothing is ever dropped.

A *transient* database error inside a slice commits the events before it;
that event is then applied alone in its own transaction, with the service's
retries (as is a slice that could not commit, event by event). A transient
error there (after the retries) leaves the row pending and stops the drain,
so that no later event of the same patient overtakes it. Order across
processes: on PostgreSQL one drainer at a time holds an advisory lock
(``drain_lock``); others return at once. On SQLite (one process) a drain is
simply sequential.

Error texts stay in the application database; reports carry ids and error
types only (they end up in Prefect).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import events
from engine.store import runs
from engine.store.bulk import collector_paused, update_from_values
from engine.store.db import is_id, is_transient, transaction
from engine.store.exceptions import InputError
from engine.store.service import Applied, CaseService, observation_catalogue
from engine.store.tables import INBOX_TABLE, InboxRow
from engine.store.writer import SYSTEM, Actor

KINDS = events.INBOUND_KINDS
STATUSES = ("pending", "applied", "duplicate", "failed", "discarded")
#: advisory lock key of the inbox drainer (PostgreSQL), "parcours-inbox" as a number
DRAIN_LOCK_KEY = 0x7061_7263_696E_6278 & 0x7FFF_FFFF_FFFF_FFFF
_INBOX = INBOX_TABLE


@dataclass(frozen=True)
class Received:
    id: int
    event_id: str
    created: bool


@dataclass(frozen=True)
class FailedEvent:
    inbox_id: int
    kind: str
    case_id: int | None
    task_id: int | None
    error_type: str


@dataclass
class DrainReport:
    """What a drain did (ids, counts and error types only)."""

    applied: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    failed: list[FailedEvent] = field(default_factory=list)
    case_ids: set[int] = field(default_factory=set)
    stopped: str | None = None   # error type of a transient failure that stopped the drain
    seen: int = 0

    def merge(self, other: DrainReport) -> None:
        self.applied.update(other.applied)
        self.duplicates += other.duplicates
        self.failed.extend(other.failed)
        self.case_ids |= other.case_ids
        self.stopped = other.stopped or self.stopped
        self.seen += other.seen


# -- receiving ---------------------------------------------------------------------------------


def _require(kind: str, **values: Any) -> None:
    missing = [name for name, value in values.items() if value in (None, "")]
    if missing:
        raise InputError(f"événement {kind} : {', '.join(missing)} manquant(s)")


def validate(kind: str, patient_ref: str | None, case_id: int | None, task_id: int | None,
             payload: Mapping[str, Any]) -> None:
    """Check the shape of an inbound event (its content is checked when it is applied)."""
    if kind not in KINDS:
        raise InputError(f"type d'événement inconnu {kind!r} ; possibles : {', '.join(KINDS)}")
    for what, value in (("dossier", case_id), ("tâche", task_id)):
        if value is not None and not is_id(value):  # beyond the id columns: unknown
            raise InputError(f"{what} {value} inconnu(e)")
    if kind == events.OBSERVATION:
        _require(kind, patient=patient_ref, code=payload.get("code"),
                 value=payload.get("value"))
    elif events.is_hospital(kind):
        _require(kind, patient=patient_ref)
    elif kind == events.TASK_COMPLETED:
        _require(kind, task=task_id)
    elif kind == events.MESSAGE:
        return
    else:
        _require(kind, case=case_id, name=payload.get("name"))


def enqueue(session: Session, kind: str, *, effective_at: datetime, received_at: datetime,
            event_id: str | None = None, patient_ref: str | int | None = None,
            case_id: int | None = None, task_id: int | None = None,
            payload: Mapping[str, Any] | None = None, source: str | None = None,
            actor: Actor = SYSTEM, status: str = "pending", error: str | None = None,
            processed_at: datetime | None = None) -> Received:
    """Record an inbound event (idempotent by ``event_id``) in the caller's transaction.

    An interface's message is recorded as received with the status it already has
    (``applied``: its events are rows of their own; ``failed``: refused, with ``error``)."""
    values = row_of(kind, effective_at=effective_at, received_at=received_at,
                    event_id=event_id, patient_ref=patient_ref, case_id=case_id,
                    task_id=task_id, payload=payload, source=source, actor=actor,
                    status=status, error=error, processed_at=processed_at)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_INBOX).values(**values).on_conflict_do_nothing(
        index_elements=["event_id"]).returning(_INBOX.c.id)
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        return Received(new_id, values["event_id"], True)
    existing = session.scalar(select(col(InboxRow.id)).where(
        col(InboxRow.event_id) == values["event_id"]))
    return Received(existing or 0, values["event_id"], False)


def row_of(kind: str, *, effective_at: datetime, received_at: datetime,
           event_id: str | None = None, patient_ref: str | int | None = None,
           case_id: int | None = None, task_id: int | None = None,
           payload: Mapping[str, Any] | None = None, source: str | None = None,
           actor: Actor = SYSTEM, status: str = "pending", error: str | None = None,
           processed_at: datetime | None = None) -> dict[str, Any]:
    """The inbox row of an inbound event, checked (``InputError`` when it is malformed)."""
    ref = None if patient_ref is None else str(patient_ref).strip()
    data = dict(payload or {})
    validate(kind, ref, case_id, task_id, data)
    return {"event_id": event_id or f"inbox:{uuid.uuid4()}", "kind": kind, "patient_ref": ref,
            "case_id": case_id, "task_id": task_id, "payload": data,
            "effective_at": effective_at, "received_at": received_at, "source": source,
            "actor_kind": actor.kind, "actor_id": actor.id, "status": status, "attempts": 0,
            "error": None if error is None else error[:2000], "processed_at": processed_at}


def enqueue_many(session: Session | Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rows of ``row_of`` in one statement, in their order (idempotent by event id), in a
    session's or a Core connection's transaction; returns the ids of those it created, by
    event id (a row already received is left out)."""
    if not rows:
        return {}
    bind = session if isinstance(session, Connection) else session.get_bind()
    # rows as parameters, not in the statement: compiled once and cached, sent as one
    # multi-row INSERT (SQLAlchemy's "insertmanyvalues"); a row whose event id is already
    # there, or earlier in ``rows``, is left out
    stmt = _ENQUEUE[bind.dialect.name == "postgresql"]
    return {event_id: row_id for row_id, event_id in session.execute(stmt, rows)}


#: the statement of ``enqueue_many``, built once (by "is PostgreSQL")
_ENQUEUE = {pg: dialect.insert(_INBOX).on_conflict_do_nothing(index_elements=["event_id"])
            .returning(_INBOX.c.id, _INBOX.c.event_id)
            for pg, dialect in ((True, postgresql), (False, sqlite))}


# -- applying ----------------------------------------------------------------------------------


def apply_row(service: CaseService, row: InboxRow, now: datetime) -> Applied:
    """Apply one inbox row through the case service (its own transaction)."""
    actor = Actor(row.actor_kind, row.actor_id)
    p = row.payload
    common: dict[str, Any] = {"actor": actor, "event_id": row.event_id}
    if row.kind == events.OBSERVATION:
        return service.observe(row.patient_ref or "", p["code"], p["value"], p.get("unit"),
                               row.effective_at, now, source=row.source,
                               interpretation=p.get("interpretation"),
                               correction=bool(p.get("correction")),
                               keep_unknown=bool(p.get("keep_unknown")), **common)
    if row.kind == events.MESSAGE:
        from engine.store.intake import reread  # the intake store imports this module

        return reread(service, row, now)
    if events.is_hospital(row.kind):
        return service.hospital_event(row.patient_ref or "", row.kind, row.effective_at, now,
                                      data=p.get("data"), **common)
    if row.kind == events.TASK_COMPLETED:
        return service.complete_task(row.task_id or 0, p.get("result") or {},
                                     row.effective_at, now, **common)
    if row.kind == events.PATHWAY_EVENT:
        return service.pathway_event(row.case_id or 0, p["name"], row.effective_at, now,
                                     data=p.get("data"), **common)
    raise InputError(f"type d'événement inconnu {row.kind!r} ; possibles : {', '.join(KINDS)}")


def pending(engine: Engine, now: datetime, limit: int) -> list[InboxRow]:
    """The oldest pending rows received by ``now``, in the order they were received."""
    with transaction(engine) as session:
        return list(session.scalars(select(InboxRow).where(
            col(InboxRow.status) == "pending", col(InboxRow.received_at) <= now)
            .order_by(col(InboxRow.id)).limit(limit)))


def _record(engine: Engine, row_id: int, now: datetime, status: str,
            error: str | None) -> None:
    with transaction(engine) as session:
        session.execute(update(_INBOX).where(_INBOX.c.id == row_id,
                                             _INBOX.c.status == "pending").values(
            status=status, error=error, processed_at=now, attempts=_INBOX.c.attempts + 1))


def _count_attempt(engine: Engine, row_id: int, error: str) -> None:
    with transaction(engine) as session:
        session.execute(update(_INBOX).where(_INBOX.c.id == row_id).values(
            attempts=_INBOX.c.attempts + 1, error=error))


def drain(service: CaseService, now: datetime, limit: int, *,
          batched: bool = True) -> DrainReport:
    """Apply up to ``limit`` pending events in order; see the module docstring.

    ``batched`` (the default): the events are applied in slices, each slice one
    transaction with a savepoint per event (``_apply_slice``); the results are the
    same as one transaction per event (``batched=False``), which remains the path of
    messages read again and of an event whose slice could not be committed."""
    rows = pending(service.engine, now, limit)
    if not batched:
        return _drain_one_by_one(service, rows, now)
    report = DrainReport()
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and end - start < SLICE and rows[end].kind != events.MESSAGE:
            end += 1
        done = _apply_slice(service, rows[start:end], now, report) if end > start else 0
        if end > start and done == end - start:
            start = end
            continue
        # a message to read again, an event that failed transiently inside the slice (its
        # savepoint rolled back, the events before it committed) or a slice that could not
        # commit: the next event alone, in its own transaction with the service's retries
        start += done
        alone = _drain_one_by_one(service, rows[start:start + 1], now)
        report.merge(alone)
        if alone.stopped is not None:
            return report
        start += 1
    return report


#: events applied in one transaction (each in its own savepoint)
SLICE = 200


def _apply_slice(service: CaseService, rows: list[InboxRow], now: datetime,
                 report: DrainReport) -> int:
    """Apply ``rows`` in one transaction; returns how many were handled.

    Consecutive observations and hospital events are applied together in memory
    (``engine.store.runs``) and written in bulk in a savepoint; should that write
    fail, they are applied again one per savepoint. Other events go through the case
    service, each in its own savepoint. Stops before a row that failed transiently (the
    caller retries it alone). If the transaction itself cannot commit, nothing of the
    slice is kept and the caller applies its rows one by one: the outcome is the same
    as one transaction each."""
    part = DrainReport()
    outcomes: list[dict[str, Any]] = []
    try:
        with collector_paused(), transaction(service.engine) as session, \
                service.shared(session):
            session.info["now"] = now
            catalogue = session.info["catalogue"] = observation_catalogue(session)
            i, stopped = 0, False
            while i < len(rows) and not stopped:
                j = i
                while j < len(rows) and runs.fast(rows[j], catalogue):
                    j += 1
                if j > i and _run(service, session, rows[i:j], now, catalogue, part,
                                  outcomes):
                    i = j
                    continue
                for row in rows[i:max(j, i + 1)]:
                    if not _one(service, session, row, now, part, outcomes):
                        stopped = True   # commit what came before it, stop there
                        break
                i = max(j, i + 1)
            _record_many(session, outcomes, now)
    except Exception:  # nothing of the slice was kept: the caller goes on event by event
        return 0
    report.merge(part)
    return len(outcomes)


def _run(service: CaseService, session: Session, rows: list[InboxRow], now: datetime,
         catalogue: dict[str, dict[str, Any]], part: DrainReport,
         outcomes: list[dict[str, Any]]) -> bool:
    """Rows applied in memory and written in bulk; False (nothing kept) if the write failed."""
    mine = DrainReport()
    results: list[dict[str, Any]] = []
    try:
        with session.begin_nested():
            run = runs.Run(service, session, rows, now, catalogue)
            for row in rows:
                try:
                    result = run.apply(row)
                except Exception as exc:
                    _refused(row, exc, mine, results)
                else:
                    _done(row, result, mine, results)
            run.flush()
    except Exception:
        session.expunge_all()
        return False
    part.merge(mine)
    outcomes.extend(results)
    return True


def _one(service: CaseService, session: Session, row: InboxRow, now: datetime,
         part: DrainReport, outcomes: list[dict[str, Any]]) -> bool:
    """One row through the case service, in its own savepoint; False if transient."""
    try:
        result = apply_row(service, row, now)
    except Exception as exc:
        if is_transient(exc):
            return False
        _refused(row, exc, part, outcomes)
    else:
        _done(row, result, part, outcomes)
    finally:
        session.expunge_all()   # no stale objects for the next event; flat memory
    return True


def _refused(row: InboxRow, exc: Exception, report: DrainReport,
             outcomes: list[dict[str, Any]]) -> None:
    report.seen += 1
    outcomes.append({"b_id": row.id, "status": "failed",
                     "error": f"{type(exc).__name__}: {exc}"[:2000]})
    report.failed.append(FailedEvent(row.id or 0, row.kind, row.case_id, row.task_id,
                                     type(exc).__name__))


def _done(row: InboxRow, result: Applied, report: DrainReport,
          outcomes: list[dict[str, Any]]) -> None:
    report.seen += 1
    if result.duplicate:
        report.duplicates += 1
        outcomes.append({"b_id": row.id, "status": "duplicate", "error": None})
    else:
        report.applied[row.kind] += 1
        report.case_ids.update(result.case_ids)
        outcomes.append({"b_id": row.id, "status": "applied", "error": None})


def _record_many(session: Session, outcomes: list[dict[str, Any]], now: datetime) -> None:
    """The outcomes of a slice, in one statement."""
    if not outcomes:
        return
    if session.get_bind().dialect.name == "postgresql":
        update_from_values(session, _INBOX, [{**o, "processed_at": now} for o in outcomes],
                           {"b_id": "id"}, {"b_id": "int", "status": "text", "error": "text",
                                            "processed_at": "timestamptz"},
                           extra_set='"attempts" = t."attempts" + 1',
                           extra_where="t.\"status\" = 'pending'")
        return
    session.execute(update(_INBOX).where(_INBOX.c.id == bindparam("b_id"),
                                         _INBOX.c.status == "pending").values(
        processed_at=now, attempts=_INBOX.c.attempts + 1), outcomes)


def _drain_one_by_one(service: CaseService, rows: list[InboxRow],
                      now: datetime) -> DrainReport:
    """One transaction per event, and one for its outcome."""
    report = DrainReport()
    for row in rows:
        report.seen += 1
        try:
            result = apply_row(service, row, now)
        except Exception as exc:
            if is_transient(exc):
                _count_attempt(service.engine, row.id or 0, f"{type(exc).__name__}: {exc}")
                report.stopped = type(exc).__name__
                return report
            _record(service.engine, row.id or 0, now, "failed",
                    f"{type(exc).__name__}: {exc}"[:2000])
            report.failed.append(FailedEvent(row.id or 0, row.kind, row.case_id, row.task_id,
                                             type(exc).__name__))
            continue
        if result.duplicate:
            report.duplicates += 1
            _record(service.engine, row.id or 0, now, "duplicate", None)
        else:
            report.applied[row.kind] = report.applied.get(row.kind, 0) + 1
            report.case_ids.update(result.case_ids)
            _record(service.engine, row.id or 0, now, "applied", None)
    return report


@contextmanager
def drain_lock(engine: Engine) -> Iterator[bool]:
    """True when this process may drain (PostgreSQL: a session advisory lock; else always)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                      {"k": DRAIN_LOCK_KEY}).scalar())
        connection.commit()
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": DRAIN_LOCK_KEY})
                connection.commit()


# -- coordinators ------------------------------------------------------------------------------


def list_rows(session: Session, status: str | None = None, limit: int = 200) -> list[InboxRow]:
    query = select(InboxRow)
    if status:
        if status not in STATUSES:
            raise InputError(f"statut inconnu {status!r} ; possibles : {', '.join(STATUSES)}")
        query = query.where(col(InboxRow.status) == status)
    return list(session.scalars(query.order_by(col(InboxRow.id).desc()).limit(limit)))


def retry(session: Session, ids: list[int] | None = None) -> int:
    """Put failed rows back to pending (the given ones, or every failed one)."""
    stmt = update(_INBOX).where(_INBOX.c.status == "failed")
    if ids is not None:
        stmt = stmt.where(_INBOX.c.id.in_([i for i in ids if is_id(i)]))
    result = session.execute(stmt.values(status="pending", processed_at=None))
    return int(result.rowcount)  # type: ignore[attr-defined]


def counts(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    return {status: n for status, n in session.execute(
        select(col(InboxRow.status), func.count()).group_by(col(InboxRow.status))).all()}
