"""A run of inbound events applied together: loaded once, computed in memory, written in bulk.

The inbox drain (``engine.store.inbox``) hands consecutive observations and
hospital events here. For the whole run: the patients, the receipts of the
event ids, the open cases and everything the runtime needs about them (the
sweep's ``load_batch``) are read in a fixed number of queries; each event is
then checked and applied in memory, in order, exactly as ``CaseService.observe``
and ``CaseService.hospital_event`` do one by one (same checks, same French
errors, same effects), each case carrying its new state to the next event of
the same patient; one ``Writer`` flushes the rows of the whole run.

An event is all or nothing here too: a refused one (unknown patient, impossible
value, a case whose pathway refuses it) contributes no row and no state change,
like a rolled-back savepoint. Corrections and results of unknown codes kept
without driving a pathway read and rewrite earlier rows: they are not in a run
(``fast``) and go through the service, each in its own savepoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import events
from engine.case import Case, Event, Outcome
from engine.exceptions import ParcoursError
from engine.store.batch import Batch, as_of, load_batch
from engine.store.bulk import in_ids, insert_rows
from engine.store.exceptions import InputError
from engine.store.results import row_values
from engine.store.service import (
    Applied,
    CaseService,
    _obs_key,
    check_event_id,
    check_hospital_event,
    check_observation,
    check_within_life,
    in_declared_unit,
    spec_of,
    unknown_code,
    unknown_patient,
)
from engine.store.tables import (
    CASE_TABLE,
    OBSERVATION_TABLE,
    PATIENT_TABLE,
    EventReceipt,
    InboxRow,
)
from engine.store.writer import Actor, Writer


@dataclass
class _Latest:
    """A result of this run as the subjects of later events see it (``ObservationRow``'s
    fields that ``batch.subject_of`` reads)."""

    value: float | None
    value_text: str | None
    effective_at: datetime
    unit: str | None


def fast(row: InboxRow, catalogue: Mapping[str, dict[str, Any]]) -> bool:
    """Whether an inbox row can be applied in a run (see the module docstring)."""
    if events.is_hospital(row.kind):
        return True
    if row.kind != events.OBSERVATION:
        return False
    p = row.payload
    if p.get("correction"):
        return False
    return not (p.get("keep_unknown") and spec_of(catalogue, str(p.get("code"))) is None)


class Run:
    """Apply fast inbox rows in memory; ``flush`` writes what the applied ones changed."""

    def __init__(self, service: CaseService, session: Session, rows: list[InboxRow],
                 now: datetime, catalogue: Mapping[str, dict[str, Any]]) -> None:
        self.service, self.session, self.now = service, session, now
        self.catalogue = catalogue
        self.patients = _patients(session, {(r.patient_ref or "").strip() for r in rows})
        ids = [r.event_id for r in rows]
        table = EventReceipt.__table__  # type: ignore[attr-defined]
        self.receipts: set[str] = set(session.scalars(
            select(table.c.event_id).where(table.c.event_id.in_(ids)))) if ids else set()
        self.open: dict[int, list[int]] = {}
        pids = sorted({p.id for p in self.patients.values()})
        if pids:
            for case_id, patient_id in session.execute(
                    select(CASE_TABLE.c.id, CASE_TABLE.c.patient_id).where(
                        in_ids(CASE_TABLE.c.patient_id, pids, session),
                        CASE_TABLE.c.closed_at.is_(None)).order_by(CASE_TABLE.c.id)):
                self.open.setdefault(patient_id, []).append(case_id)
        self.batch: Batch = load_batch(session, [c for cs in self.open.values() for c in cs],
                                       as_of(now))
        self.cases: dict[int, Case] = {}
        self.writer = Writer(session, self.batch, now)
        self.observations: list[dict[str, Any]] = []
        self.new_receipts: list[dict[str, Any]] = []

    def apply(self, row: InboxRow) -> Applied:
        """Apply one row in memory (raises, having changed nothing, when it is refused)."""
        p = row.payload
        if row.kind == events.OBSERVATION:
            check_observation(row.effective_at, self.now, p["code"], p.get("unit"), row.source)
            check_event_id(row.event_id)
            if row.event_id in self.receipts:
                return _duplicate(row.event_id)
            result = self._observe(row)
        else:
            data = check_hospital_event(row.kind, row.effective_at, self.now, p.get("data"))
            check_event_id(row.event_id)
            if row.event_id in self.receipts:
                return _duplicate(row.event_id)
            result = self._hospital(row, data)
        self.receipts.add(row.event_id)
        self.new_receipts.append({"event_id": row.event_id, "kind": row.kind,
                                  "recorded_at": self.now})
        return result

    def _patient(self, ref: str | None) -> _Patient:
        patient = self.patients.get((ref or "").strip())
        if patient is None:
            raise unknown_patient(ref or "")
        return patient

    def _open_cases(self, patient_id: int) -> list[int]:
        return [c for c in self.open.get(patient_id, [])
                if self._case(c).closed_at is None]

    def _case(self, case_id: int) -> Case:
        case = self.cases.get(case_id)
        return case if case is not None else self.batch.case(case_id)

    def _observe(self, row: InboxRow) -> Applied:
        p, at = row.payload, row.effective_at
        patient = self._patient(row.patient_ref)
        check_within_life(patient, at, "l'observation")
        spec = spec_of(self.catalogue, p["code"])
        if spec is None:
            raise unknown_code(p["code"], self.catalogue)
        parsed, conversion = in_declared_unit(spec, p["value"], p.get("unit"))
        stored_unit = spec["unit"] or p.get("unit")
        values = row_values(parsed)
        cases = self._open_cases(patient.id)
        slot = (patient.id, spec["code"])
        before = self.batch.observations.get(slot)
        if before is None or at >= before.effective_at:   # the latest, as the loader orders
            self.batch.observations[slot] = _Latest(  # type: ignore[assignment]
                values["value"], values["value_text"], at, stored_unit)
        by_case = {}
        for case_id in cases:
            key = _obs_key(self.batch.pathway(case_id), spec["code"])
            if key is not None:
                by_case[case_id] = Event(events.observation(key), at, value=parsed,
                                         unit=stored_unit, id=row.event_id)
        logged: dict[str, Any] = {"code": spec["code"], "value": parsed, "unit": stored_unit}
        if conversion is not None:
            logged["conversion"] = conversion.record()
        try:
            outcomes = self._outcomes(by_case)
        except Exception:
            if before is None:
                self.batch.observations.pop(slot, None)
            else:
                self.batch.observations[slot] = before
            raise
        self.observations.append({
            "patient_id": patient.id, "code": spec["code"], "system": spec["system"],
            "unit": stored_unit, "effective_at": at, "recorded_at": self.now,
            "source": row.source, "interpretation": p.get("interpretation"), **values})
        self._record(outcomes, events.OBSERVATION, at, _actor(row), logged)
        return Applied(case_ids=list(by_case))

    def _hospital(self, row: InboxRow, data: dict[str, Any]) -> Applied:
        patient = self._patient(row.patient_ref)
        cases = self._open_cases(patient.id)
        by_case = {c: Event(row.kind, row.effective_at, data=dict(data), id=row.event_id)
                   for c in cases}
        outcomes = self._outcomes(by_case)
        self._record(outcomes, row.kind, row.effective_at, _actor(row), dict(data))
        return Applied(case_ids=cases)

    def _outcomes(self, by_case: Mapping[int, Event]) -> list[tuple[int, Outcome]]:
        """Every case's outcome first: one refusal and the event changes nothing."""
        out = []
        for case_id, event in by_case.items():
            runtime = self.service.runtime(self.batch.pathway(case_id))
            try:
                outcome = runtime.apply(self._case(case_id), event,
                                        self.batch.subject(case_id))
            except ParcoursError as exc:
                raise InputError(f"dossier {case_id} : {exc}") from exc
            out.append((case_id, outcome))
        return out

    def _record(self, outcomes: Iterable[tuple[int, Outcome]], kind: str, at: datetime,
                actor: Actor, data: dict[str, Any]) -> None:
        for case_id, outcome in outcomes:
            self.writer.log(case_id, at, kind, actor, data=data)
            self.writer.record(case_id, outcome, actor)
            self.cases[case_id] = outcome.case

    def flush(self) -> None:
        """Write the run: one case update per case (its last state), every row in bulk."""
        last: dict[int, dict[str, Any]] = {}
        for update in self.writer.case_updates:
            last[update["b_id"]] = update
        self.writer.case_updates = list(last.values())
        self.writer.flush()
        insert_rows(self.session, OBSERVATION_TABLE, self.observations)
        insert_rows(self.session, EventReceipt.__table__,  # type: ignore[attr-defined]
                    self.new_receipts)


@dataclass(frozen=True)
class _Patient:
    id: int
    birth_date: date | None


def _actor(row: InboxRow) -> Actor:
    return Actor(row.actor_kind, row.actor_id)


def _duplicate(event_id: str) -> Applied:
    return Applied(duplicate=True, message=f"événement {event_id} déjà appliqué ; "
                                           "rien n'a changé")


def _patients(session: Session, refs: set[str]) -> dict[str, _Patient]:
    """Each reference's patient, found as ``service.find_patient`` finds it."""
    refs.discard("")
    if not refs:
        return {}
    t = PATIENT_TABLE
    columns = (t.c.id, t.c.ins, t.c.local_id, t.c.birth_date)
    numbers = [int(r) for r in refs if r.isdigit() and len(r) < 10]
    found = session.execute(select(*columns).where(
        t.c.ins.in_(refs) | t.c.local_id.in_(refs) | t.c.id.in_(numbers))
        .order_by(t.c.id)).all()
    by_key: dict[str, _Patient] = {}   # ins or local id → the lowest id, as ``first()``
    by_id: dict[int, _Patient] = {}
    for pid, ins, local_id, birth in found:
        patient = _Patient(pid, birth)
        by_id[pid] = patient
        for key in (ins, local_id):
            if key is not None and key in refs:
                by_key.setdefault(key, patient)
    out = {}
    for ref in refs:
        match = by_key.get(ref)
        if match is None and ref.isdigit() and len(ref) < 10:
            match = by_id.get(int(ref))
        if match is not None:
            out[ref] = match
    return out
