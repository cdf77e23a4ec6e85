"""Migration of running cases in the database: plan (writes nothing), apply, rollback.

``plan`` walks the open cases of a pathway that are not on the target version, moves
each one in memory (``engine.migration.migrate_case``) and counts: where they go,
tasks cancelled and created, timers re-armed, the cases that cannot move and why.

``apply`` does the same in batches: each batch is ONE transaction that writes the
moves through the runtime's ``Writer`` (case rows with their row version checked,
history, tasks, timers, outbox: a task created by a migration is announced like any
other), points the cases at the new version, keeps each case's previous form in
``migration_case`` (for rollback) and advances the run's cursor and counts. A crash
loses at most the batch in flight; running ``apply`` again resumes the unfinished run
(same pathway, target and mapping) and skips the cases already on the target, so it
is idempotent. Cases that are not migrated keep their version and keep working.

``rollback`` moves the cases of a run back to the version they came from, exactly as
they were (tasks the migration created are cancelled, tasks it cancelled reopened and
announced again), unless something happened to the case since (its row version
moved) or someone took up a task the migration created: those stay, with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, bindparam, false, func, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import caseformat, outbox
from engine.case import Case, Effect, Migrated, Outcome, TaskCancelled, TaskCreated, jsonable
from engine.exceptions import PathwayDefinitionError
from engine.migration import Mapping as MigrationMapping
from engine.migration import Move, Refusal, load_mapping_text, migrate_case
from engine.pathway.compiler import CompiledPathway
from engine.runtime import Runtime
from engine.store import registry
from engine.store import settings as territory
from engine.store.batch import Batch, as_of, load_batch
from engine.store.bulk import in_ids, insert_rows, update_from_values
from engine.store.db import is_id, transaction, with_retries
from engine.store.exceptions import InputError, NotFoundError
from engine.store.tables import (
    CASE_TABLE,
    MIGRATION_CASE_TABLE,
    OUTBOX_TABLE,
    TASK_TABLE,
    MigrationCase,
    MigrationRun,
    PathwayVersion,
)
from engine.store.writer import Writer

Progress = Callable[[int, int], None]
RUNNING, DONE, ROLLED_BACK, PARTLY_ROLLED_BACK = ("running", "done", "rolled_back",
                                                  "partly_rolled_back")


@dataclass
class PlanReport:
    pathway: str
    to_version: int
    from_versions: list[int] = field(default_factory=list)
    cases: int = 0
    migrated: int = 0
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    entered: Counter[str] = field(default_factory=Counter)
    cancelled: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    retargeted: Counter[str] = field(default_factory=Counter)
    rearmed: Counter[str] = field(default_factory=Counter)
    armed: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    facts: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[int, str]] = field(default_factory=list)
    run: int | None = None

    def add(self, case_id: int, result: Move | Refusal) -> None:
        self.cases += 1
        if isinstance(result, Refusal):
            self.refused.append((case_id, result.reason))
            return
        self.migrated += 1
        self.moves.update(result.states)
        for counter, values in ((self.entered, result.entered),
                                (self.cancelled, result.cancelled),
                                (self.created, result.created),
                                (self.retargeted, [r[1] for r in result.retargeted]),
                                (self.rearmed, result.rearmed), (self.armed, result.armed),
                                (self.dropped, result.dropped), (self.facts, result.facts)):
            counter.update(values)

    def counts(self) -> dict[str, Any]:
        """Every count, as JSON (``--json``; stored on the run)."""
        return {"cases": self.cases, "migrated": self.migrated,
                "refused": len(self.refused),
                "moves": [{"from": a, "to": b, "cases": n} for (a, b), n in
                          sorted(self.moves.items())],
                **{name: dict(sorted(getattr(self, name).items())) for name in
                   ("entered", "cancelled", "created", "retargeted", "rearmed", "armed",
                    "dropped", "facts")}}

    def to_json(self) -> dict[str, Any]:
        return {"pathway": self.pathway, "to_version": self.to_version,
                "from_versions": self.from_versions, "run": self.run, **self.counts(),
                "refused_cases": [{"case": c, "reason": r} for c, r in self.refused]}

    def lines(self) -> list[str]:
        """The plan in French, for the coordinator."""
        source = ", ".join(str(v) for v in self.from_versions) or "aucune"
        out = [f"Parcours {self.pathway} : version(s) {source} → version {self.to_version}",
               f"{self.cases} dossier(s) ouvert(s) concerné(s) : {self.migrated} migrable(s), "
               f"{len(self.refused)} non migrable(s)"]
        if self.moves:
            out.append("Étapes :")
            out += [f"  {a} → {b} : {n} dossier(s)" if a != b else
                    f"  {a} (inchangée) : {n} dossier(s)" for (a, b), n in
                    sorted(self.moves.items())]
        labels = (("entered", "Régions parallèles entrées"), ("cancelled", "Tâches annulées"),
                  ("created", "Tâches créées"), ("retargeted", "Tâches conservées, déplacées"),
                  ("rearmed", "Minuteries recalées sur leur ancrage"),
                  ("armed", "Minuteries armées à la date de migration"),
                  ("dropped", "Minuteries retirées"), ("facts", "Faits renommés ou fixés"))
        for name, label in labels:
            counter: Counter[str] = getattr(self, name)
            if counter:
                out.append(f"{label} : " + ", ".join(f"{k} × {n}" for k, n in
                                                      sorted(counter.items())))
        if self.refused:
            out.append("Dossiers non migrables (ils restent sur leur version) :")
            reasons = Counter(r for _, r in self.refused)
            for reason, n in reasons.most_common():
                ids = [str(c) for c, r in self.refused if r == reason]
                shown = ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")
                out.append(f"  {n} dossier(s) : {reason} (dossiers {shown})")
        return out


@dataclass
class RollbackReport:
    run: int
    moved: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "moved_back": self.moved,
                "refused": [{"case": c, "reason": r} for c, r in self.refused]}

    def lines(self) -> list[str]:
        out = [f"Migration {self.run} : {self.moved} dossier(s) revenu(s) à leur version "
               "d'origine"]
        if self.refused:
            out.append(f"{len(self.refused)} dossier(s) ne peuvent pas revenir :")
            out += [f"  dossier {c} : {r}" for c, r in self.refused]
        return out


# -- shared --------------------------------------------------------------------------------

MAX_BATCH = 100_000


def _check_batch(batch_size: int) -> None:
    if not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
        raise InputError(f"taille de lot {batch_size} : un nombre de dossiers de 1 à "
                         f"{MAX_BATCH} est attendu")


class _Context:
    """The target version, the source versions and one mapping and runtime per version."""

    def __init__(self, session: Session, key: str, to_version: int, mapping_text: str | None,
                 mapping_file: str | None, from_parameters: Mapping[str, Any] | None,
                 to_parameters: Mapping[str, Any] | None) -> None:
        self.key = key
        if not is_id(to_version):
            raise InputError(f"version {to_version} : un numéro de version publié est attendu "
                             "(parcours pathways list)")
        target = session.scalars(select(PathwayVersion).where(
            col(PathwayVersion.key) == key, col(PathwayVersion.version) == to_version)).first()
        if target is None:
            known = session.scalars(select(col(PathwayVersion.version)).where(
                col(PathwayVersion.key) == key).order_by(col(PathwayVersion.version))).all()
            if not known:
                registry.latest(session, key)  # raises the usual "unknown pathway" message
            raise NotFoundError("pathway version", f"{key} v{to_version}",
                                f" ; versions publiées : {', '.join(map(str, known))}")
        self.target = target
        self.new = registry.compiled(target)
        #: the territory settings the migrated cases will run under: the latest published
        #: (None: the pathway's defaults), unless the caller gives the parameters itself
        self.manage_settings = to_parameters is None
        self.target_settings = territory.latest(session, key) if self.manage_settings \
            else None
        self.target_settings_id = self.target_settings.id if self.target_settings else None
        if self.manage_settings:
            to_parameters = territory.effective_parameters(self.new, self.target_settings)
        try:
            self.new_runtime = Runtime(self.new, to_parameters)
        except ValueError as exc:
            raise InputError(f"paramètres du parcours {key!r} : {exc}") from exc
        self.from_parameters = from_parameters
        self.file = mapping_file
        self.text = mapping_text
        versions = session.scalars(select(PathwayVersion).where(
            col(PathwayVersion.key) == key, col(PathwayVersion.id) != target.id)
            .order_by(col(PathwayVersion.version))).all()
        if self.manage_settings and mapping_text is None:
            # cases already on the target version but under other settings move too
            versions = [*versions, target]
        self.mappings: dict[int, MigrationMapping] = {}
        #: per (source version, settings version of the case): its runtime
        self.runtimes: dict[tuple[int, int | None], Runtime] = {}
        self.compiled: dict[int, CompiledPathway] = {}
        self.sources: list[PathwayVersion] = []
        for version in versions:
            old = registry.compiled(version)
            if mapping_text is None:
                if version.version > target.version:
                    continue
                mapping = MigrationMapping.implicit(key)
            else:
                declared = _declared_from(mapping_text)
                if (old.version != declared if declared is not None
                        else version.version > target.version):
                    continue
                try:
                    mapping = load_mapping_text(mapping_text, mapping_file or "<mapping>",
                                                old, self.new)
                except PathwayDefinitionError as exc:
                    raise InputError("correspondance invalide, rien n'a été écrit :\n"
                                     + str(exc)) from exc
            assert version.id is not None
            self.sources.append(version)
            self.mappings[version.id] = mapping
            self.compiled[version.id] = old
            if from_parameters is not None:
                try:
                    self.runtimes[(version.id, None)] = Runtime(old, from_parameters)
                except ValueError as exc:
                    raise InputError(f"paramètres du parcours {key!r} : {exc}") from exc
        if mapping_text is not None and not self.sources \
                and _declared_from(mapping_text) is not None:
            raise InputError(f"aucune version publiée de {key} ne déclare « version: "
                             f"{_declared_from(mapping_text)} » (le « from » de la "
                             "correspondance)")
        self.digest = (next(iter(self.mappings.values())).digest if self.mappings
                       else MigrationMapping.implicit(key).digest)

    @property
    def source_ids(self) -> list[int]:
        return [v.id for v in self.sources if v.id is not None]

    def candidates(self, session: Session) -> ColumnElement[bool]:
        """Open cases of the pathway on a source version; on the target version itself,
        only those under other settings than the target's."""
        c = CASE_TABLE.c
        others = [i for i in self.source_ids if i != self.target.id]
        moved = in_ids(c.pathway_version_id, others, session) if others else false()
        if self.target.id in self.source_ids:
            moved = or_(moved, and_(c.pathway_version_id == self.target.id,
                                    c.settings_version_id.is_distinct_from(
                                        self.target_settings_id)))
        return and_(c.pathway_key == self.key, c.closed_at.is_(None), moved)

    def case_ids(self, session: Session, after: int, limit: int) -> list[int]:
        if not self.source_ids:
            return []
        c = CASE_TABLE.c
        return list(session.execute(
            select(c.id).where(self.candidates(session), c.id > after)
            .order_by(c.id).limit(limit)).scalars())

    def old_runtime(self, batch: Batch, case_id: int) -> Runtime:
        """The runtime the case runs with today: its version under its own settings."""
        row = batch.cases[case_id]
        version_id = row.pathway_version_id
        found = self.runtimes.get((version_id, None)) if self.from_parameters is not None \
            else None
        if found is None:
            settings = batch.settings_of(case_id)
            key = (version_id, settings.id if settings is not None else None)
            found = self.runtimes.get(key)
            if found is None:
                compiled = self.compiled[version_id]
                found = self.runtimes[key] = Runtime(
                    compiled, territory.effective_parameters(compiled, settings))
        return found

    def move(self, batch: Batch, case_id: int, now: datetime, run: int | None,
             case: Case | None = None) -> Move | Refusal:
        row = batch.cases[case_id]
        version = batch.versions[row.pathway_version_id]
        return migrate_case(case or batch.case(case_id), self.mappings[row.pathway_version_id],
                            self.old_runtime(batch, case_id), self.new_runtime,
                            batch.subject(case_id), now, version.version, self.target.version,
                            run)


def _declared_from(text: str) -> int | None:
    """The ``from:`` of a mapping text (checked in full by ``load_mapping_text``)."""
    from engine.pathway.reader import YamlReadError, read_text

    try:
        doc, _ = read_text(text, "<mapping>")
    except YamlReadError:
        return None
    value = doc.data.get("from") if isinstance(doc.data, dict) else None
    return value if isinstance(value, int) else None


def _read_mapping(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"{path} : fichier illisible ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} : ce n'est pas du texte UTF-8") from exc


# -- plan ----------------------------------------------------------------------------------


def plan(engine: Engine, key: str, to_version: int, now: datetime, *,
         mapping_path: str | None = None, batch_size: int = 1000,
         from_parameters: Mapping[str, Any] | None = None,
         to_parameters: Mapping[str, Any] | None = None) -> PlanReport:
    """What ``apply`` would do to the real cases; writes nothing."""
    _check_batch(batch_size)
    text = _read_mapping(mapping_path)
    with transaction(engine) as session:
        ctx = _Context(session, key, to_version, text, mapping_path, from_parameters,
                       to_parameters)
        report = PlanReport(key, to_version, [v.version for v in ctx.sources])
        cursor = 0
        while ids := ctx.case_ids(session, cursor, batch_size):
            batch = load_batch(session, ids, as_of(now))
            for case_id in ids:
                report.add(case_id, ctx.move(batch, case_id, now, None))
            cursor = ids[-1]
            session.expunge_all()
        session.rollback()
    return report


# -- apply ---------------------------------------------------------------------------------


def apply(engine: Engine, key: str, to_version: int, now: datetime, *,
          mapping_path: str | None = None, batch_size: int = 500,
          from_parameters: Mapping[str, Any] | None = None,
          to_parameters: Mapping[str, Any] | None = None,
          progress: Progress | None = None, max_retries: int = 5) -> PlanReport:
    """Migrate in batches, one transaction each; resumes the unfinished run if any."""
    _check_batch(batch_size)
    text = _read_mapping(mapping_path)
    with transaction(engine) as session:
        ctx = _Context(session, key, to_version, text, mapping_path, from_parameters,
                       to_parameters)
        run = session.scalars(select(MigrationRun).where(
            col(MigrationRun.pathway_key) == key,
            col(MigrationRun.to_version_id) == ctx.target.id,
            col(MigrationRun.mapping_hash) == ctx.digest,
            col(MigrationRun.status) == RUNNING).order_by(col(MigrationRun.id))).first()
        total = int(session.scalar(
            select(func.count()).select_from(CASE_TABLE).where(ctx.candidates(session)))
            or 0) if ctx.source_ids else 0
        if run is None and total == 0:   # nothing to migrate: no run to record
            return PlanReport(key, to_version, [v.version for v in ctx.sources])
        if run is None:
            run = MigrationRun(pathway_key=key, to_version_id=ctx.target.id or 0,
                               mapping_file=mapping_path, mapping_hash=ctx.digest,
                               mapping_text=text, started_at=now, counts={})
            session.add(run)
            session.flush()
        run_id = run.id or 0
    report = PlanReport(key, to_version, [v.version for v in ctx.sources], run=run_id)

    def one_batch() -> PlanReport | None:
        with transaction(engine) as session:
            locked = session.scalars(select(MigrationRun).where(
                col(MigrationRun.id) == run_id).with_for_update()).one()
            ids = ctx.case_ids(session, locked.cursor, batch_size)
            if not ids:
                return None
            part = PlanReport(key, to_version)
            _apply_batch(session, ctx, ids, now, run_id, part)
            locked.cursor = ids[-1]
            locked.counts = _merge(locked.counts or {}, part)
            session.add(locked)
            return part

    done = 0
    while True:
        part = with_retries(one_batch, max_retries)
        if part is None:
            break
        done += part.cases
        _accumulate(report, part)
        if progress is not None:
            progress(done, total)
    with transaction(engine) as session:
        final = session.get(MigrationRun, run_id)
        assert final is not None
        final.status = DONE
        final.finished_at = now
        session.add(final)
        report.cases = int(final.counts.get("cases", report.cases))
        report.migrated = int(final.counts.get("migrated", report.migrated))
    return report


def _accumulate(report: PlanReport, part: PlanReport) -> None:
    report.refused += part.refused
    for name in ("moves", "entered", "cancelled", "created", "retargeted", "rearmed", "armed",
                 "dropped", "facts"):
        getattr(report, name).update(getattr(part, name))
    report.cases += part.cases
    report.migrated += part.migrated


def _merge(stored: Mapping[str, Any], part: PlanReport) -> dict[str, Any]:
    """The run's counts so far plus this batch's (written in the batch's transaction)."""
    out = dict(stored)
    for name in ("cases", "migrated"):
        out[name] = int(out.get(name, 0)) + getattr(part, name)
    out["refused"] = int(out.get("refused", 0)) + len(part.refused)
    for name in ("cancelled", "created", "rearmed", "armed", "dropped"):
        merged = Counter(out.get(name, {}))
        merged.update(getattr(part, name))
        out[name] = dict(merged)
    return out


def _apply_batch(session: Session, ctx: _Context, ids: Sequence[int], now: datetime,
                 run_id: int, report: PlanReport) -> None:
    batch = load_batch(session, ids, as_of(now))
    writer = Writer(session, batch, now)
    moved: list[dict[str, Any]] = []
    retarget: list[dict[str, Any]] = []
    for case_id in ids:
        before = batch.case(case_id)
        result = ctx.move(batch, case_id, now, run_id, before)
        report.add(case_id, result)
        if isinstance(result, Refusal):
            continue
        row = batch.cases[case_id]
        writer.record(case_id, Outcome(result.case, result.effects))
        old_tasks = {t.ref: t for t in before.tasks}
        for ref, new_key, new_state in result.retargeted:
            retarget.append({"b_case": case_id, "b_ref": ref, "key": new_key,
                             "state": new_state})
        moved.append({
            "run_id": run_id, "case_id": case_id, "from_version_id": row.pathway_version_id,
            "before": _snapshot(before), "row_version": row.row_version + 1,
            "status": "migrated", "changes": {
                "created": [e.ref for e in result.effects if isinstance(e, TaskCreated)],
                "cancelled": [e.ref for e in result.effects if isinstance(e, TaskCancelled)],
                "retargeted": [[ref, old_tasks[ref].key, old_tasks[ref].state]
                               for ref, _, _ in result.retargeted],
                "from_settings_id": row.settings_version_id}})
    writer.flush()
    if not moved:
        return
    values: dict[str, Any] = {"pathway_version_id": ctx.target.id}
    if ctx.manage_settings:
        values["settings_version_id"] = ctx.target_settings_id
    session.execute(update(CASE_TABLE).where(
        in_ids(CASE_TABLE.c.id, [m["case_id"] for m in moved], session)).values(**values))
    _retarget(session, retarget)
    insert_rows(session, MIGRATION_CASE_TABLE, moved)


def _snapshot(case: Case) -> dict[str, Any]:
    """``case.to_dict()`` without ``dataclasses.asdict``'s deep copies (the data a rollback
    reads back with ``Case.from_dict``; the same keys, in the current format)."""
    iso = datetime.isoformat
    return {
        "format": caseformat.CURRENT, "active": list(case.active), "facts": jsonable(case.facts),
        "timers": [{"name": t.name, "state": t.state, "fire_at": iso(t.fire_at),
                    "every": t.every, "anchor": iso(t.anchor) if t.anchor else None}
                   for t in case.timers],
        "tasks": [{"ref": t.ref, "key": t.key, "state": t.state, "role": t.role,
                   "due_at": iso(t.due_at)} for t in case.tasks],
        "seq": case.seq, "closed_at": None, **case.memory()}


def _retarget(session: Session, rows: list[dict[str, Any]]) -> None:
    """Kept tasks whose kind or owner state changed: one statement for all of them."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        update_from_values(session, TASK_TABLE, rows, {"b_case": "case_id", "b_ref": "ref"},
                           {"b_case": "int", "b_ref": "text", "key": "text", "state": "text"})
        return
    task = TASK_TABLE
    session.execute(update(task).where(task.c.case_id == bindparam("b_case"),
                                       task.c.ref == bindparam("b_ref")), rows)


# -- rollback ------------------------------------------------------------------------------


def runs(engine: Engine, key: str | None = None) -> list[dict[str, Any]]:
    with transaction(engine) as session:
        query = select(MigrationRun).order_by(col(MigrationRun.id))
        if key is not None:
            query = query.where(col(MigrationRun.pathway_key) == key)
        return [{"run": r.id, "pathway": r.pathway_key, "to_version_id": r.to_version_id,
                 "status": r.status, "cursor": r.cursor, "counts": r.counts,
                 "mapping": r.mapping_file, "started_at": r.started_at,
                 "finished_at": r.finished_at} for r in session.scalars(query)]


def rollback(engine: Engine, run_id: int, now: datetime, *, batch_size: int = 500,
             progress: Progress | None = None, max_retries: int = 5) -> RollbackReport:
    """Move the cases ``run_id`` moved back to their version, exactly as they were."""
    _check_batch(batch_size)
    with transaction(engine) as session:
        run = session.get(MigrationRun, run_id) if is_id(run_id) else None
        if run is None:
            raise NotFoundError("migration run", run_id, " (parcours migrate runs les liste)")
        if run.status == RUNNING:
            raise InputError(f"la migration {run_id} n'est pas terminée : relancez « parcours "
                             "migrate apply » avec les mêmes arguments, puis annulez-la")
        target = registry.by_id(session, run.to_version_id)
        total = len(session.scalars(select(col(MigrationCase.id)).where(
            col(MigrationCase.run_id) == run_id, col(MigrationCase.status) == "migrated")).all())
    report = RollbackReport(run_id)
    cursor = 0

    def one_batch() -> tuple[int, int, list[tuple[int, str]]] | None:
        with transaction(engine) as session:
            rows = session.scalars(select(MigrationCase).where(
                col(MigrationCase.run_id) == run_id, col(MigrationCase.status) == "migrated",
                col(MigrationCase.id) > cursor).order_by(col(MigrationCase.id))
                .limit(batch_size)).all()
            if not rows:
                return None
            moved, refused = _rollback_batch(session, rows, target, now, run_id)
            return rows[-1].id or 0, moved, refused

    while True:
        result = with_retries(one_batch, max_retries)
        if result is None:
            break
        cursor, moved, refused = result
        report.moved += moved
        report.refused += refused
        if progress is not None:
            progress(report.moved + len(report.refused), total)
    with transaction(engine) as session:
        run = session.get(MigrationRun, run_id)
        assert run is not None
        left = session.scalars(select(col(MigrationCase.id)).where(
            col(MigrationCase.run_id) == run_id, col(MigrationCase.status) == "migrated")).first()
        run.status = PARTLY_ROLLED_BACK if left is not None else ROLLED_BACK
        run.rolled_back_at = now
        session.add(run)
    return report


def _rollback_batch(session: Session, rows: Sequence[MigrationCase], target: PathwayVersion,
                    now: datetime, run_id: int) -> tuple[int, list[tuple[int, str]]]:
    batch = load_batch(session, [r.case_id for r in rows], as_of(now))
    writer = Writer(session, batch, now)
    refused: list[tuple[int, str]] = []
    back: list[tuple[MigrationCase, Case]] = []
    reopen: list[dict[str, Any]] = []
    retarget: list[dict[str, Any]] = []
    versions = {v.id: v for v in session.scalars(select(PathwayVersion).where(
        col(PathwayVersion.id).in_({r.from_version_id for r in rows})))}
    for mc in rows:
        row = batch.cases[mc.case_id]
        reason = _why_not_back(batch, mc, row, target)
        if reason is not None:
            refused.append((mc.case_id, reason))
            continue
        current = batch.case(mc.case_id)
        before = Case.from_dict(mc.before)
        created = set(mc.changes.get("created", ()))
        back_to = versions[mc.from_version_id].version
        effects: list[Effect] = [Migrated(
            now, target.version, back_to, run_id, f"revenu de la version {target.version} à la "
            f"version {back_to} (annulation de la migration {run_id})", current.active,
            before.active)]
        effects += [TaskCancelled(now, t.ref, t.key, f"annulation de la migration {run_id}")
                    for t in current.tasks if t.ref in created]
        restored = Case(before.active, before.facts, before.timers, before.tasks,
                        max(before.seq, current.seq), None, before.history, before.stays)
        writer.record(mc.case_id, Outcome(restored, tuple(effects)))
        for ref in mc.changes.get("cancelled", ()):
            reopen.append({"b_case": mc.case_id, "b_ref": ref})
        for ref, key, state in mc.changes.get("retargeted", ()):
            retarget.append({"b_case": mc.case_id, "b_ref": ref, "key": key, "state": state})
        back.append((mc, restored))
    writer.flush()
    if not back:
        return 0, refused
    for mc, _ in back:
        values: dict[str, Any] = {"pathway_version_id": mc.from_version_id}
        if "from_settings_id" in mc.changes:  # the settings it ran under before, too
            values["settings_version_id"] = mc.changes["from_settings_id"]
        session.execute(update(CASE_TABLE).where(CASE_TABLE.c.id == mc.case_id)
                        .values(**values))
        mc.status = "rolled_back"
        session.add(mc)
    _retarget(session, retarget)
    _reopen(session, writer, reopen, now, run_id)
    return len(back), refused


def _why_not_back(batch: Batch, mc: MigrationCase, row: Any,
                  target: PathwayVersion) -> str | None:
    if row.closed_at is not None:
        return "le dossier a été clos depuis la migration"
    if row.pathway_version_id != target.id or row.row_version != mc.row_version:
        return ("le dossier a évolué depuis la migration (événement, tâche terminée ou "
                "minuterie échue) : le remettre dans l'état d'avant effacerait ces faits")
    created = set(mc.changes.get("created", ()))
    open_refs = {t.ref: t for t in batch.tasks[mc.case_id]}
    for ref in sorted(created):
        task = open_refs.get(ref)
        if task is None or task.status != "requested":
            return (f"la tâche {ref} créée par la migration a été prise en charge ou "
                    "terminée")
    return None


def _reopen(session: Session, writer: Writer, rows: list[dict[str, Any]], now: datetime,
            run_id: int) -> None:
    """Tasks the migration cancelled are open again, and announced again to their holder."""
    if not rows:
        return
    task = TASK_TABLE
    session.execute(update(task).where(task.c.case_id == bindparam("b_case"),
                                       task.c.ref == bindparam("b_ref"))
                    .values(status="requested", closed_at=None, close_reason=None), rows)
    reopened = session.execute(select(
        task.c.id, task.c.case_id, task.c.ref, task.c.assignee_id).where(
        in_ids(task.c.case_id, sorted({r["b_case"] for r in rows}), session),
        task.c.ref.in_([r["b_ref"] for r in rows]), task.c.status == "requested")).all()
    wanted = {(r["b_case"], r["b_ref"]) for r in rows}
    insert_rows(session, OUTBOX_TABLE, [
        writer.message(outbox.TASK_ASSIGNED,
                       f"task:{t.id}:assigned:{t.assignee_id}:rollback:{run_id}", t.case_id,
                       t.id, t.assignee_id, now, {"reopened": True})
        for t in reopened if (t.case_id, t.ref) in wanted])
