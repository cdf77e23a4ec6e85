"""The case service: every operation on cases, each one database transaction.

Enrol, record an observation, a hospital event or a pathway event, complete
a task, fire due timers, close a case. Each call either commits everything
it implies (case row, history, tasks, timers, outbox) or nothing. A case
changed concurrently is detected by its row version and the whole unit of
work is retried. An inbound event carries an id; the same id delivered again
changes nothing.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import events, hospital
from engine.case import Event, Outcome
from engine.clock import PARIS
from engine.exceptions import InvalidEventDataError, ParcoursError, UnitError
from engine.pathway.compiler import CompiledPathway
from engine.runtime import Runtime
from engine.settings import Settings
from engine.store import lengths, registry, results, task_actions
from engine.store import settings as territory
from engine.store.batch import Batch, as_of, load_batch, load_patients, subject_of
from engine.store.bulk import collector_paused, in_ids
from engine.store.claims import claim_due
from engine.store.db import is_id, transaction, with_retries
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import (
    OBSERVATION_TABLE,
    OPEN_TASK_STATUSES,
    TASK_STATUS_TITLES,
    CaseRow,
    EventReceipt,
    ObservationRow,
    PathwayVersion,
    Patient,
    SettingsVersion,
    TaskRow,
)
from engine.store.writer import SYSTEM, Actor, Writer
from engine.units import Converted, same_unit, to_declared
from engine.values import check_fields, check_value, parse_number

T = TypeVar("T")
FUTURE_TOLERANCE = timedelta(minutes=5)
#: No clinical event of a living patient is older than this.
EARLIEST_YEAR = 1900


@dataclass
class Applied:
    """What one call changed."""

    duplicate: bool = False
    case_ids: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    message: str = ""
    #: The tasks this call created (id, title, role, due_at, assignee_id…), for "what next".
    tasks_created: list[dict[str, Any]] = field(default_factory=list)
    #: (case id, state entered) for each transition, in order.
    entered: list[tuple[int, str]] = field(default_factory=list)
    #: Each case's next due time after the call (its earliest timer), by case id.
    next_due: dict[int, datetime | None] = field(default_factory=dict)


@dataclass
class EnrolReport:
    enrolled: int = 0
    already: int = 0
    ineligible: int = 0
    case_ids: list[int] = field(default_factory=list)

    def merge(self, other: EnrolReport) -> None:
        self.enrolled += other.enrolled
        self.already += other.already
        self.ineligible += other.ineligible
        self.case_ids.extend(other.case_ids)


@dataclass(frozen=True)
class Eligibility:
    """A pathway's eligibility rule for one patient, evaluated now."""

    #: None: the pathway has no eligibility rule (entered by the coordinator's decision)
    eligible: bool | None
    rule: str | None
    #: the patient's open case in that pathway, if any (enrolment is then refused)
    open_case: int | None
    title: str


@dataclass
class AdvanceReport:
    batches: int = 0
    cases: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    failures: dict[int, str] = field(default_factory=dict)
    #: the cases claimed and advanced (for reports by id)
    case_ids: list[int] = field(default_factory=list)
    #: (pathway key, "transition" | "task_created", target state | role) → count
    moves: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, counts: Mapping[str, int]) -> None:
        self.counts.update(counts)

    def merge(self, other: AdvanceReport) -> None:
        self.batches += other.batches
        self.cases += other.cases
        self.add(other.counts)
        self.failures.update(other.failures)
        self.case_ids.extend(other.case_ids)
        self.moves.update(other.moves)


class CaseService:
    def __init__(self, engine: Engine, settings: Settings | None = None,
                 parameters: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.engine = engine
        self.settings = settings or Settings()
        self.parameters = parameters or {}
        self._runtimes: dict[tuple[str, str], Runtime] = {}
        #: a transaction shared by several operations (``shared``), in this thread only
        self._shared: ContextVar[Session | None] = ContextVar(f"shared-{id(self)}",
                                                               default=None)

    @contextmanager
    def shared(self, session: Session) -> Iterator[Session]:
        """Run the operations called inside in ``session``'s transaction, each in a savepoint.

        An operation that fails rolls back its savepoint only (it wrote nothing) and raises
        as usual, without retries: the caller decides (the inbox drain falls back to one
        transaction per event). Used to apply a slice of inbound events in one commit."""
        token = self._shared.set(session)
        try:
            yield session
        finally:
            self._shared.reset(token)

    # -- plumbing ---------------------------------------------------------------------------

    def runtime(self, pathway: CompiledPathway,
                settings: SettingsVersion | None = None) -> Runtime:
        """The runtime of a pathway version under a territory settings version (None: the
        pathway's defaults), built once per pair; the service's own ``parameters`` (tests,
        scenarios) are laid over both."""
        key = (pathway.content_hash or f"{pathway.key}@{pathway.version}",
               settings.content_hash if settings is not None else "")
        runtime = self._runtimes.get(key)
        if runtime is None:
            values = {**territory.effective_parameters(pathway, settings),
                      **self.parameters.get(pathway.key, {})}
            try:
                runtime = Runtime(pathway, values)
            except ValueError as exc:
                raise InputError(f"paramètres du parcours {pathway.key!r} : {exc}") from exc
            self._runtimes[key] = runtime
        return runtime

    def _unit(self, work: Callable[[Session], T]) -> T:
        shared = self._shared.get()
        if shared is not None:
            with shared.begin_nested():
                return work(shared)

        def attempt() -> T:
            with transaction(self.engine) as session:
                return work(session)
        return with_retries(attempt, self.settings.max_retries)

    def _idempotent(self, event_id: str | None, kind: str, now: datetime,
                    work: Callable[[Session], Applied]) -> Applied:
        event_id = event_id or str(uuid.uuid4())
        check_event_id(event_id)

        def guarded(session: Session) -> Applied:
            session.info["now"] = now
            if session.get(EventReceipt, event_id) is not None:
                return Applied(duplicate=True, message=f"événement {event_id} déjà appliqué ; "
                                                       "rien n'a changé")
            result = work(session)
            session.add(EventReceipt(event_id=event_id, kind=kind, recorded_at=now))
            session.flush()
            return result
        try:
            return self._unit(guarded)
        except IntegrityError:
            # a concurrent delivery of the same event id won the race: it is applied once
            return self._unit(guarded)

    def _apply(self, session: Session, batch: Batch, by_case: Mapping[int, Event],
               actor: Actor, inbound: Callable[[Writer, int], None] | None = None) -> Applied:
        writer = Writer(session, batch, session.info["now"])
        next_due: dict[int, datetime | None] = {}
        for case_id, event in by_case.items():
            runtime = self.runtime(batch.pathway(case_id), batch.settings_of(case_id))
            try:
                outcome = runtime.apply(batch.case(case_id), event, batch.subject(case_id))
            except ParcoursError as exc:
                raise InputError(f"dossier {case_id} : {exc}") from exc
            if inbound is not None:
                inbound(writer, case_id)
            writer.record(case_id, outcome, actor)
            next_due[case_id] = outcome.case.next_due
        writer.flush()
        entered = [(int(e["case_id"]), str(e["to_state"])) for e in writer.events
                   if e["kind"] == "transition"]
        return Applied(case_ids=list(by_case), counts=writer.counts,
                       tasks_created=writer.created, entered=entered, next_due=next_due)

    # -- pathways ---------------------------------------------------------------------------

    def publish(self, text: str, file: str, now: datetime) -> registry.Published:
        return self._unit(lambda s: registry.publish(s, text, file, now))

    def publish_settings(self, text: str, file: str, pathway_key: str, by: str,
                         now: datetime) -> territory.Published:
        """A territory settings file as the next settings version of ``pathway_key``."""
        return self._unit(lambda s: territory.publish(s, text, file, pathway_key, by, now))

    # -- enrolment --------------------------------------------------------------------------

    def enroll(self, patient_ref: str | int, pathway_key: str, now: datetime, *,
               actor: Actor = SYSTEM, event_id: str | None = None,
               check_eligibility: bool = True) -> Applied:
        def work(session: Session) -> Applied:
            patient = find_patient(session, patient_ref)
            version = registry.latest(session, pathway_key)
            return self._enroll(session, patient, version, now, actor, check_eligibility)
        return self._idempotent(event_id, "enrolment", now, work)

    def _enroll(self, session: Session, patient: Patient, version: PathwayVersion,
                now: datetime, actor: Actor, check_eligibility: bool) -> Applied:
        open_case = session.scalar(select(col(CaseRow.id)).where(
            col(CaseRow.patient_id) == patient.id, col(CaseRow.pathway_key) == version.key,
            col(CaseRow.closed_at).is_(None)))
        if open_case is not None:
            raise InputError(f"le patient {patient.id} a déjà le dossier ouvert {open_case} "
                             f"dans le parcours {version.key!r}")
        pathway = registry.compiled(version)
        settings = territory.latest(session, version.key)
        runtime = self.runtime(pathway, settings)
        batch = Batch({})
        load_patients(session, batch, {patient.id or 0}, as_of(now))
        subject = subject_of(patient, pathway, batch.observations)
        if check_eligibility and not runtime.is_eligible(subject, now):
            raise InputError(f"le patient {patient.id} n'est pas éligible au parcours "
                             f"{version.key!r} : {pathway.definition.eligibility} est faux "
                             "(--force pour inscrire quand même)")
        outcome = runtime.start(subject, now)
        row = CaseRow(patient_id=patient.id or 0, pathway_version_id=version.id or 0,
                      pathway_key=version.key, opened_at=now, row_version=1,
                      settings_version_id=settings.id if settings is not None else None)
        session.add(row)
        session.flush()
        batch.cases[row.id or 0] = row
        batch.versions[version.id or 0] = version
        if settings is not None:
            batch.settings[settings.id or 0] = settings
        writer = Writer(session, batch, now)
        writer.record(row.id or 0, outcome, actor)
        writer.flush()
        under = f", réglages v{settings.version}" if settings is not None else ""
        return Applied(case_ids=[row.id or 0], counts=writer.counts,
                       message=f"dossier {row.id} ouvert dans {version.key} v{version.version}"
                               f"{under}")

    def eligibility(self, patient_ref: str | int, pathway_key: str,
                    now: datetime) -> Eligibility:
        """Would ``enroll`` accept this patient now? The same check, nothing written."""
        def work(session: Session) -> Eligibility:
            patient = find_patient(session, patient_ref)
            version = registry.latest(session, pathway_key)
            pathway = registry.compiled(version)
            open_case = session.scalar(select(col(CaseRow.id)).where(
                col(CaseRow.patient_id) == patient.id, col(CaseRow.pathway_key) == version.key,
                col(CaseRow.closed_at).is_(None)))
            rule = pathway.definition.eligibility
            if rule is None:
                return Eligibility(None, None, open_case, pathway.definition.title)
            batch = Batch({})
            load_patients(session, batch, {patient.id or 0}, as_of(now))
            subject = subject_of(patient, pathway, batch.observations)
            runtime = self.runtime(pathway, territory.latest(session, version.key))
            return Eligibility(runtime.is_eligible(subject, now), str(rule),
                               open_case, pathway.definition.title)
        return self._unit(work)

    def enroll_many(self, patient_ids: list[int], pathway_key: str, now: datetime, *,
                    batch_size: int = 1000, check_eligibility: bool = True,
                    progress: Callable[[int], None] | None = None) -> EnrolReport:
        """Enrol many patients, one transaction per batch; skips ineligible or enrolled ones."""
        report = EnrolReport()
        for start in range(0, len(patient_ids), batch_size):
            chunk = patient_ids[start:start + batch_size]
            part = self._unit(lambda s, c=chunk: self._enroll_batch(  # type: ignore[misc]
                s, c, pathway_key, now, check_eligibility))
            report.merge(part)
            if progress is not None:
                progress(len(chunk))
        return report

    def _enroll_batch(self, session: Session, patient_ids: list[int], pathway_key: str,
                      now: datetime, check_eligibility: bool) -> EnrolReport:
        report = EnrolReport()
        version = registry.latest(session, pathway_key)
        pathway = registry.compiled(version)
        settings = territory.latest(session, pathway_key)
        settings_id = settings.id if settings is not None else None
        runtime = self.runtime(pathway, settings)
        already = set(session.scalars(select(col(CaseRow.patient_id)).where(
            col(CaseRow.patient_id).in_(patient_ids), col(CaseRow.pathway_key) == pathway_key,
            col(CaseRow.closed_at).is_(None))))
        batch = Batch({})
        load_patients(session, batch, set(patient_ids) - already, as_of(now))
        starts = []
        for patient_id in patient_ids:
            patient = batch.patients.get(patient_id)
            if patient_id in already:
                report.already += 1
                continue
            if patient is None:
                raise NotFoundError("patient", patient_id)
            subject = subject_of(patient, pathway, batch.observations)
            if check_eligibility and not runtime.is_eligible(subject, now):
                report.ineligible += 1
                continue
            starts.append((patient_id, runtime.start(subject, now)))
        if not starts:
            return report
        rows: list[dict[str, Any]] = [
            {"patient_id": pid, "pathway_version_id": version.id, "pathway_key": version.key,
             "settings_version_id": settings_id, "active_states": [], "facts": {}, "seq": 0,
             "opened_at": now, "row_version": 1}
            for pid, _ in starts]
        inserted = session.execute(insert(CaseRow).returning(col(CaseRow.id),
                                                             sort_by_parameter_order=True),
                                   rows).scalars().all()
        ids = [case_id for case_id in inserted if case_id is not None]
        batch.versions[version.id or 0] = version
        if settings is not None:
            batch.settings[settings.id or 0] = settings
        for case_id, (patient_id, _) in zip(ids, starts, strict=True):
            batch.cases[case_id] = CaseRow(id=case_id, patient_id=patient_id,
                                           pathway_version_id=version.id or 0,
                                           pathway_key=version.key, opened_at=now,
                                           row_version=1, settings_version_id=settings_id)
        writer = Writer(session, batch, now)
        for case_id, (_, outcome) in zip(ids, starts, strict=True):
            writer.record(case_id, outcome)
        writer.flush()
        report.enrolled += len(starts)
        report.case_ids.extend(ids)
        return report

    # -- inbound events ---------------------------------------------------------------------

    def observe(self, patient_ref: str | int, code: str, value: Any, unit: str | None,
                at: datetime, now: datetime, *, source: str | None = None,
                actor: Actor = SYSTEM, event_id: str | None = None,
                interpretation: str | None = None, correction: bool = False,
                keep_unknown: bool = False) -> Applied:
        """Record a result and let the patient's open cases react to it.

        ``keep_unknown``: a code no pathway reads is stored and drives nothing (interfaces)
        instead of being refused (people); ``correction`` replaces the earlier value of the
        same result (see ``engine.store.results``); ``interpretation``: abnormal flags."""
        check_observation(at, now, code, unit, source)

        def work(session: Session) -> Applied:
            patient = find_patient(session, patient_ref)
            check_within_life(patient, at, "l'observation")
            catalogue = session.info.get("catalogue") or observation_catalogue(session)
            spec = spec_of(catalogue, code)
            if spec is None and keep_unknown:
                return Applied(message=results.store_unknown(
                    session, patient, code, value, unit, at, now, source, interpretation,
                    correction))
            if spec is None:
                raise unknown_code(code, catalogue)
            parsed, conversion = in_declared_unit(spec, value, unit)
            stored_unit = spec["unit"] or unit
            cases = self._open_cases(session, patient.id or 0)
            if correction and results.correct(session, patient, spec, parsed, stored_unit, at,
                                              now, actor, cases) is not None:
                return Applied(case_ids=cases, message=f"{spec['title']} corrigée")
            session.add(ObservationRow(
                patient_id=patient.id or 0, code=spec["code"], system=spec["system"],
                unit=stored_unit, effective_at=at, recorded_at=now, source=source,
                interpretation=interpretation, **results.row_values(parsed)))
            session.flush()
            batch = load_batch(session, cases, as_of(now))
            by_case = {}
            for case_id in cases:
                key = _obs_key(batch.pathway(case_id), spec["code"])
                if key is not None:
                    by_case[case_id] = Event(events.observation(key), at, value=parsed,
                                             unit=stored_unit, id=event_id)
            logged = {"code": spec["code"], "value": parsed, "unit": stored_unit}
            if conversion is not None:  # the history keeps what the laboratory sent
                logged["conversion"] = conversion.record()
            result = self._apply(session, batch, by_case, actor, _log_inbound(
                events.OBSERVATION, at, actor, logged))
            result.message = (f"{spec['title']} enregistrée pour le patient {patient.id} ; "
                              f"{len(by_case)} dossier(s) mis à jour")
            return result
        return self._idempotent(event_id, events.OBSERVATION, now, work)

    def hospital_event(self, patient_ref: str | int, kind: str, at: datetime, now: datetime, *,
                       data: Mapping[str, Any] | None = None, actor: Actor = SYSTEM,
                       event_id: str | None = None) -> Applied:
        data = check_hospital_event(kind, at, now, data)

        def work(session: Session) -> Applied:
            patient = find_patient(session, patient_ref)
            cases = self._open_cases(session, patient.id or 0)
            batch = load_batch(session, cases, as_of(now))
            by_case = {c: Event(kind, at, data=dict(data or {}), id=event_id) for c in cases}
            result = self._apply(session, batch, by_case, actor,
                                 _log_inbound(kind, at, actor, dict(data or {})))
            result.message = f"{kind} enregistrée pour le patient {patient.id} ; " \
                             f"{len(cases)} dossier(s)"
            return result
        return self._idempotent(event_id, kind, now, work)

    def pathway_event(self, case_id: int, name: str, at: datetime, now: datetime, *,
                      data: Mapping[str, Any] | None = None, actor: Actor = SYSTEM,
                      event_id: str | None = None) -> Applied:
        if events.is_hospital(name):
            raise InputError(f"{name} concerne le patient, pas un dossier : utilisez "
                             "parcours event --patient …")

        def work(session: Session) -> Applied:
            batch = self._case_batch(session, case_id, now)
            pathway = batch.pathway(case_id)
            if name not in pathway.definition.events:
                raise InputError(f"événement inconnu {name!r} pour le parcours {pathway.key!r} ; "
                                 f"possibles : {', '.join(pathway.definition.events) or 'aucun'}")
            event = Event(name, at, data=dict(data or {}), id=event_id)
            return self._apply(session, batch, {case_id: event}, actor,
                               _log_inbound("event", at, actor, {"event": name,
                                                                  **dict(data or {})}))
        return self._idempotent(event_id, "event", now, work)

    def complete_task(self, task_id: int, result: Mapping[str, Any], at: datetime,
                      now: datetime, *, actor: Actor = SYSTEM,
                      event_id: str | None = None) -> Applied:
        def work(session: Session) -> Applied:
            task = session.get(TaskRow, task_id) if is_id(task_id) else None
            if task is None:
                raise NotFoundError("task", task_id)
            if task.status not in OPEN_TASK_STATUSES:
                raise InputError(f"la tâche {task_id} est "
                                 f"{TASK_STATUS_TITLES.get(task.status, task.status)} ; seules "
                                 "les tâches ouvertes ("
                                 f"{', '.join(TASK_STATUS_TITLES[s] for s in OPEN_TASK_STATUSES)}"
                                 ") peuvent "
                                 "être terminées")
            batch = self._case_batch(session, task.case_id, now)
            spec = batch.pathway(task.case_id).tasks[task.key].result
            parsed = {k: parse_value({**spec[k].model_dump(),
                                      "title": f"{spec[k].title or k} ({k})"}, v)
                      if k in spec else v for k, v in result.items()}
            try:
                check_fields(f"résultat de la tâche {task_id}", parsed, spec, lang="fr")
            except ParcoursError as exc:
                raise InputError(str(exc)) from exc
            event = Event(events.task_completed(task.key), at, task=task.ref, result=parsed,
                          id=event_id)
            return self._apply(session, batch, {task.case_id: event}, actor)
        return self._idempotent(event_id, events.TASK_COMPLETED, now, work)

    # -- taking, declining, reassigning a task (engine.store.task_actions) -------------------

    def take_task(self, task_id: int, professional_id: int, now: datetime) -> TaskRow:
        """« Je m'en occupe » (FHIR ``accepted``): the task becomes the professional's."""
        return self._unit(lambda s: task_actions.take(s, task_id, professional_id, now))

    def decline_task(self, task_id: int, professional_id: int, reason: str,
                     now: datetime) -> TaskRow:
        """The assignee refuses, with a reason; the coordinator gets the task and is told."""
        return self._unit(lambda s: task_actions.decline(s, task_id, professional_id,
                                                         reason, now))

    def reassign_task(self, task_id: int, professional_id: int, by: int,
                      now: datetime) -> TaskRow:
        """A coordinator gives an open (e.g. declined) task to another professional."""
        return self._unit(lambda s: task_actions.reassign(s, task_id, professional_id, by,
                                                          now))

    def close_case(self, case_id: int, reason: str, now: datetime, *,
                   actor: Actor = SYSTEM) -> Applied:
        def work(session: Session) -> Applied:
            batch = self._case_batch(session, case_id, now)
            case = batch.case(case_id)
            writer = Writer(session, batch, now)
            from engine.case import Case, CaseClosed, Effect, TaskCancelled

            effects: list[Effect] = [TaskCancelled(now, t.ref, t.key, f"case closed: {reason}")
                       for t in case.tasks]
            effects.append(CaseClosed(now, ", ".join(case.active)))
            closed = Case(case.active, case.facts, (), (), case.seq, now)
            writer.record(case_id, Outcome(closed, tuple(effects)), actor)
            writer.case_updates[-1]["close_reason"] = reason
            writer.flush()
            return Applied(case_ids=[case_id], counts=writer.counts)
        return self._unit(work)

    # -- timers -----------------------------------------------------------------------------

    def advance(self, now: datetime, *, batch_size: int | None = None,
                progress: Callable[[int], None] | None = None,
                workers: int = 1) -> AdvanceReport:
        """Fire every due timer, batch after batch, each batch one transaction.

        On PostgreSQL, ``workers`` threads claim batches side by side (``SKIP LOCKED``
        keeps them apart): one computes while another waits on the database. SQLite has
        a single writer, so it always runs one loop.
        """
        report = AdvanceReport()
        size = batch_size or self.settings.batch_size
        lock = threading.Lock()

        def loop() -> None:
            while True:
                local = AdvanceReport()
                done = self.advance_batch(now, size, local)
                if not done:
                    return
                with lock:
                    report.merge(local)
                    if progress is not None:
                        progress(done)

        if workers <= 1 or self.engine.dialect.name != "postgresql":
            loop()
            return report
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(loop) for _ in range(workers)]:
                future.result()
        return report

    def advance_batch(self, now: datetime, size: int, report: AdvanceReport,
                      case_ids: list[int] | None = None) -> int:
        """Claim up to ``size`` due cases (or the given ones), advance them; returns count."""
        def work(session: Session) -> tuple[list[int], dict[str, int], dict[int, str],
                                            dict[tuple[str, str, str], int]]:
            session.info["now"] = now
            ids = claim_due(session, now, size, case_ids)
            if not ids:
                return [], {}, {}, {}
            batch = load_batch(session, ids, as_of(now))
            writer = Writer(session, batch, now)
            failures = {}
            for case_id in ids:
                try:
                    outcome = self.runtime(batch.pathway(case_id),
                                           batch.settings_of(case_id)).advance(
                        batch.case(case_id), batch.subject(case_id), now)
                except ParcoursError as exc:
                    failures[case_id] = str(exc)
                    continue
                writer.record(case_id, outcome)
            self._postpone(session, writer, failures, now)
            writer.flush()
            return ids, writer.counts, failures, _moves(batch, writer)
        # The collector stays off until the batch's objects are freed (commit included):
        # back on while they are alive, its first pass would walk all of them for nothing.
        with collector_paused():
            ids, counts, failures, moves = self._unit(work)
        if ids:
            report.batches += 1
            report.cases += len(ids)
            report.add(counts)
            report.failures.update(failures)
            report.case_ids.extend(ids)
            report.moves.update(moves)
        return len(ids)

    def _postpone(self, session: Session, writer: Writer, failures: Mapping[int, str],
                  now: datetime) -> None:
        """A case whose timers cannot be applied is logged and retried later, not every run.

        Its timers stay as they are; only its next due time moves, so the other cases
        of later batches are not held up behind it and the failure stays visible in
        its history (``advance_failed``) and in each run's report.
        """
        if not failures:
            return
        retry = now + timedelta(minutes=self.settings.advance_retry_minutes)
        for case_id, error in failures.items():
            writer.log(case_id, now, "advance_failed", data={"error": error,
                                                             "retry_at": retry})
        session.execute(update(CaseRow).where(in_ids(col(CaseRow.id), list(failures), session))
                        .values(next_due_at=retry))

    # -- helpers ----------------------------------------------------------------------------

    def _open_cases(self, session: Session, patient_id: int) -> list[int]:
        return list(session.scalars(select(col(CaseRow.id)).where(
            col(CaseRow.patient_id) == patient_id, col(CaseRow.closed_at).is_(None))
            .order_by(col(CaseRow.id))))

    def _case_batch(self, session: Session, case_id: int, now: datetime) -> Batch:
        batch = load_batch(session, [case_id], as_of(now)) if is_id(case_id) else Batch({})
        if case_id not in batch.cases:
            raise NotFoundError("case", case_id)
        if batch.cases[case_id].closed_at is not None:
            row = batch.cases[case_id]
            raise InputError(f"le dossier {case_id} est clos depuis le {row.closed_at:%d/%m/%Y} "
                             f"({row.close_reason}) ; aucun événement ne peut s'y appliquer")
        return batch


def _moves(batch: Batch, writer: Writer) -> Counter[tuple[str, str, str]]:
    """Transitions by pathway and target state, tasks created by pathway and role."""
    return Counter(
        (batch.cases[e["case_id"]].pathway_key, e["kind"],
         str(e["to_state"] if e["kind"] == "transition" else e["data"]["role"]))
        for e in writer.events if e["kind"] in ("transition", "task_created"))


def _log_inbound(kind: str, at: datetime, actor: Actor,
                 data: dict[str, Any]) -> Callable[[Writer, int], None]:
    def log(writer: Writer, case_id: int) -> None:
        writer.log(case_id, at, kind, actor, data=data)
    return log


def _obs_key(pathway: CompiledPathway, code: str) -> str | None:
    return next((k for k, o in pathway.definition.observations.items() if o.code == code), None)


class Born(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def birth_date(self) -> date | None: ...


def check_within_life(patient: Born, at: datetime, what: str) -> None:
    """Refuse a clinical event dated before the patient's birth (Europe/Paris calendar)."""
    day = at.astimezone(PARIS).date()
    if patient.birth_date is not None and day < patient.birth_date:
        raise InputError(f"la date de {what} ({day:%d/%m/%Y}) précède la naissance du patient "
                         f"{patient.id} ({patient.birth_date:%d/%m/%Y})")


def find_patient(session: Session, ref: str | int) -> Patient:
    text = str(ref).strip()
    patient = session.scalars(select(Patient).where(
        (col(Patient.ins) == text) | (col(Patient.local_id) == text))).first()
    if patient is None and text.isdigit() and len(text) < 10:
        patient = session.get(Patient, int(text))
    if patient is None:
        raise unknown_patient(ref)
    return patient


def unknown_patient(ref: object) -> NotFoundError:
    return NotFoundError("patient", ref, " ; donnez l'identifiant interne, l'INS ou "
                                         "l'identifiant local (voir parcours patients import)")


def check_observation(at: datetime, now: datetime, code: str, unit: str | None,
                      source: str | None) -> None:
    """What an observation must satisfy before the database is read (else ``InputError``)."""
    if at > now + FUTURE_TOLERANCE:
        raise InputError(f"la date de l'observation {at:%d/%m/%Y %H:%M} est dans le futur "
                         f"(maintenant : {now:%d/%m/%Y %H:%M}) ; enregistrez une "
                         "observation une fois réalisée")
    if at.year < EARLIEST_YEAR:
        raise InputError(f"la date de l'observation ({at:%d/%m/%Y}) est impossible : "
                         f"avant {EARLIEST_YEAR}")
    lengths.check(OBSERVATION_TABLE, {"unit": unit, "source": source, "code": code})


def check_hospital_event(kind: str, at: datetime, now: datetime,
                         data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The checked data of a hospital event (else ``InputError``), before any read."""
    if not events.is_hospital(kind):
        raise InputError(f"événement hospitalier inconnu {kind!r} ; possibles : "
                         f"{', '.join(events.HOSPITAL_EVENTS)}")
    if at > now + FUTURE_TOLERANCE:
        raise InputError(f"la date de l'événement {kind} ({at:%d/%m/%Y %H:%M}) est dans le "
                         "futur")
    try:
        return hospital.check_data(kind, data or {})
    except InvalidEventDataError as exc:
        raise InputError(str(exc)) from exc


def check_event_id(event_id: str) -> None:
    lengths.check(EventReceipt.__table__, {"event_id": event_id})  # type: ignore[attr-defined]


def spec_of(catalogue: Mapping[str, dict[str, Any]], code: str) -> dict[str, Any] | None:
    """The definition of an observation code (or key) in the catalogue, None if unknown."""
    return catalogue.get(code) or next((s for s in catalogue.values() if s["key"] == code),
                                       None)


def unknown_code(code: str, catalogue: Mapping[str, dict[str, Any]]) -> InputError:
    known = ", ".join(f"{c} ({s['key']})" for c, s in sorted(catalogue.items()))
    return InputError(f"code d'observation inconnu {code!r} ; codes connus : "
                      f"{known or 'aucun (publiez d’abord un parcours)'}")


def observation_catalogue(session: Session) -> dict[str, dict[str, Any]]:
    """Every observation code the published pathways read: code → definition."""
    out: dict[str, dict[str, Any]] = {}
    for version in session.scalars(select(PathwayVersion).order_by(col(PathwayVersion.id))):
        for key, spec in registry.compiled(version).definition.observations.items():
            out[spec.code] = {"key": key, **spec.model_dump()}
    return out


def in_declared_unit(spec: Mapping[str, Any], raw: Any,
                     unit: str | None) -> tuple[Any, Converted | None]:
    """A value from a user or a file in the pathway's unit (converted if need be), checked."""
    if unit is None or same_unit(unit, spec.get("unit")):
        return parse_value(spec, raw), None
    value = parse_value({**spec, "minimum": None, "maximum": None}, raw)  # range: once converted
    try:
        conversion = to_declared(spec.get("title") or spec["code"], value, unit, spec["unit"],
                                 spec.get("code"))
    except UnitError as exc:
        raise InputError(str(exc)) from exc
    return parse_value(spec, conversion.value if conversion else value), conversion


def parse_value(spec: Mapping[str, Any], raw: Any) -> Any:
    """A value from a user or a file, converted to the declared type and range-checked."""
    kind = spec.get("type", "number")
    value = raw
    if isinstance(raw, str) and kind in ("number", "integer"):
        value = parse_number(raw, integer=kind == "integer")
    elif isinstance(raw, str) and kind == "boolean":
        value = {"true": True, "oui": True, "yes": True, "false": False, "non": False,
                 "no": False}.get(raw.lower(), raw)
    try:
        return check_value(spec.get("title") or spec.get("key", "value"), value, kind,
                           spec.get("minimum"), spec.get("maximum"), spec.get("choices"),
                           spec.get("unit"), lang="fr")
    except ParcoursError as exc:
        raise InputError(str(exc)) from exc
