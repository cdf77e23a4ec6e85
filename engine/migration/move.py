"""One case moved from one pathway version to another, as plain data (no database).

``migrate_case`` returns either a ``Move`` (the new case, the effects to write exactly
as the runtime's, and what changed, for plans and reports) or a ``Refusal`` with the
reason in French. The rules:

- **States**: each active atomic state goes where the mapping says (the nearest mapped
  state among itself and its ancestors; a split takes the first branch whose ``when``
  holds), else to the state of the same id; a target that is a compound state means
  its default atomic states. States the case occupies are not re-entered: no entry
  action runs again, kept tasks and timers stay.
- **Parallel regions** the new version adds to an active parallel state are entered
  by default: their entry actions run and their timers are armed from the migration
  time (``Runtime.enter``, the same effects as an event).
- **Tasks**: an open task keeps its ref, assignee and due date under its (renamed)
  kind and its owner state moved like the states; it is cancelled when the mapping
  says so, when its kind no longer exists, or when its state is left (unless the kind
  outlives its state). ``create:`` tasks are created for cases in the given state.
- **Timers**: the new active states' timers. A timer the case had (same mapped state
  and name) keeps its firing time when its delay is unchanged; when the delay changed
  (in the file, or through a parameter) or the mapping says ``rearm``, it is re-armed
  from its anchor: a one-shot timer fires at anchor + new delay, a recurring one at
  the first anchor + k × new period after its pending firing (no drift). Timers the
  new states do not declare are dropped; new ones are armed from the migration time.
- **Facts**: renamed, then set; a fact the new version declares and the case lacks
  gets its default. Observation history and hospital stays are kept as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from engine.case import (
    Case,
    Effect,
    FactSet,
    Migrated,
    OpenTask,
    Subject,
    TaskCancelled,
    TimerCancelled,
    TimerSet,
    TimerState,
)
from engine.exceptions import ParcoursError
from engine.migration.mapping import Branch, Mapping
from engine.pathway.compiler import CompiledPathway, CompiledTimer
from engine.pathway.expressions import Scope
from engine.pathway.statetree import ROOT
from engine.runtime import Runtime, on_schedule

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Move:
    case: Case
    effects: tuple[Effect, ...]
    #: (old atomic state, new atomic state) for each state the case was in
    states: tuple[tuple[str, str], ...]
    #: states entered by default (added parallel regions)
    entered: tuple[str, ...] = ()
    cancelled: tuple[str, ...] = ()       # task kinds cancelled
    created: tuple[str, ...] = ()         # task kinds created
    #: kept tasks whose kind or owner state changed: (ref, new kind, new state)
    retargeted: tuple[tuple[str, str, str], ...] = ()
    rearmed: tuple[str, ...] = ()         # timers re-armed from their anchor
    armed: tuple[str, ...] = ()           # timers armed from the migration time
    dropped: tuple[str, ...] = ()         # timers the new states do not declare
    facts: tuple[str, ...] = ()           # facts renamed or set


@dataclass(frozen=True)
class Refusal:
    reason: str


def note(from_version: int, to_version: int) -> str:
    return f"passé de la version {from_version} à la version {to_version}"


class _NoBranch(ParcoursError):
    """No branch of an old state's mapping applies to the case (caught: a refusal)."""


def _branch(sid: str, old: CompiledPathway, new: CompiledPathway, mapping: Mapping,
            scope: Scope) -> Branch | None:
    """Where an old state goes in the new version, or None when nowhere."""
    state = old.states.get(sid)
    for candidate in (sid, *(state.ancestors if state is not None else ())):
        branches = mapping.states.get(candidate)
        if branches is None:
            continue
        for branch in branches:
            if branch.when is None or bool(branch.when.evaluate(scope)):
                return branch
        raise _NoBranch(candidate)
    return Branch((sid,)) if sid in new.states else None


def _targets(sid: str, old: CompiledPathway, new: CompiledPathway, mapping: Mapping,
             scope: Scope) -> tuple[str, ...] | None:
    branch = _branch(sid, old, new, mapping, scope)
    return branch.targets if branch is not None else None


def _target(sid: str, old: CompiledPathway, new: CompiledPathway, mapping: Mapping,
            scope: Scope) -> str | None:
    """The state that takes over an old state's tasks and timers: its first target."""
    targets = _targets(sid, old, new, mapping, scope)
    return targets[0] if targets else None


def _default_entry(new: CompiledPathway, sid: str) -> list[str]:
    """``sid`` and every state its default entry enters, top-down."""
    tree = new.tree
    node = tree.nodes[sid]
    if node.state.parallel:
        return [sid] + [s for child in node.children for s in _default_entry(new, child)]
    child = tree.initial_child(sid)
    return [sid] if child is None else [sid, *_default_entry(new, child)]


def _active(new: CompiledPathway, leaves: list[str]) -> set[str]:
    out: set[str] = set()
    for leaf in leaves:
        out.add(leaf)
        out.update(new.states[leaf].ancestors)
    return out


def migrate_case(case: Case, mapping: Mapping, old: Runtime, new: Runtime, subject: Subject,
                 now: datetime, from_version: int, to_version: int,
                 run: int | None = None) -> Move | Refusal:
    oldp, newp = old.pathway, new.pathway
    if case.closed:
        return Refusal("dossier clos")
    scope = Scope({"facts": dict(case.facts), "params": dict(old.params), "now": now})
    try:
        return _migrate(case, mapping, old, new, oldp, newp, subject, now, scope,
                        from_version, to_version, run)
    except _NoBranch as exc:
        return Refusal(f"aucune branche de la correspondance de l'étape « {exc.args[0]} » ne "
                       "s'applique à ce dossier")
    except Exception as exc:  # a ``when`` that fails on this case's facts
        return Refusal(f"la correspondance ne s'applique pas à ce dossier ({type(exc).__name__})")


def _migrate(case: Case, mapping: Mapping, old: Runtime, new: Runtime, oldp: CompiledPathway,
             newp: CompiledPathway, subject: Subject, now: datetime, scope: Scope,
             from_version: int, to_version: int, run: int | None) -> Move | Refusal:
    tree = newp.tree
    # -- states ------------------------------------------------------------------------------
    pairs: list[tuple[str, str]] = []
    leaves: list[str] = []
    branch_facts: list[tuple[str, Any]] = []
    for leaf in case.active:
        branch = _branch(leaf, oldp, newp, mapping, scope)
        if branch is None:
            return Refusal(f"l'étape « {leaf} » n'existe plus dans la version {to_version} et "
                           "la correspondance ne dit pas où la placer")
        branch_facts += branch.facts
        for target in branch.targets:
            for new_leaf in tree.default_leaves(target):
                pairs.append((leaf, new_leaf))
                if new_leaf not in leaves:
                    leaves.append(new_leaf)
    for i, first in enumerate(leaves):
        for second in leaves[i + 1:]:
            if not tree.compatible(first, second):
                return Refusal(f"les étapes « {first} » et « {second} » ne peuvent être actives "
                               f"ensemble dans la version {to_version}")
    # -- parallel regions the new version adds ------------------------------------------------
    enter: list[str] = []
    extra: list[str] = []
    changed = True
    while changed:
        changed = False
        for sid in sorted(_active(newp, leaves + extra), key=lambda s: newp.states[s].order):
            node = tree.nodes[sid]
            if not node.state.parallel:
                continue
            for child in node.children:
                if not any(tree.is_descendant(leaf, child) for leaf in leaves + extra):
                    enter += _default_entry(newp, child)
                    extra += tree.default_leaves(child)
                    changed = True
    active = _active(newp, leaves + extra)
    effects: list[Effect] = [Migrated(now, from_version, to_version, run,
                                      note(from_version, to_version), case.active,
                                      newp.leaf_order(leaves + extra))]
    # -- tasks -------------------------------------------------------------------------------
    kept: list[OpenTask] = []
    cancelled: list[str] = []
    retargeted: list[tuple[str, str, str]] = []
    for task in case.tasks:
        key = mapping.tasks.get(task.key, task.key if task.key in newp.tasks else None)
        owner = _target(task.state, oldp, newp, mapping, scope)
        reason = None
        if key is None:
            reason = (f"migration vers la version {to_version} : tâche annulée par la "
                      "correspondance" if task.key in mapping.tasks else
                      f"migration vers la version {to_version} : cette tâche n'existe plus")
        elif owner is None or (owner not in active and owner != ROOT
                               and not newp.tasks[key].outlives_state):
            reason = f"migration vers la version {to_version} : étape « {task.state} » quittée"
        if reason is not None or key is None or owner is None:
            cancelled.append(task.key)
            effects.append(TaskCancelled(now, task.ref, task.key, reason or ""))
            continue
        if key != task.key or owner != task.state:
            retargeted.append((task.ref, key, owner))
        kept.append(OpenTask(task.ref, key, owner, task.role, task.due_at))
    creates = tuple((key, sid) for key, sid in mapping.create
                    if sid in active and not any(t.key == key for t in kept))
    # -- facts -------------------------------------------------------------------------------
    facts = dict(case.facts)
    touched: list[str] = []
    for old_name, new_name in mapping.fact_renames.items():
        if old_name in facts:
            facts[new_name] = facts.pop(old_name)
            touched.append(new_name)
    for name, fact in newp.definition.facts.items():
        facts.setdefault(name, fact.default)
    for name, value in [*mapping.fact_set.items(), *branch_facts]:
        facts[name] = value
        touched.append(name)
        effects.append(FactSet(now, name, value))
    # -- timers ------------------------------------------------------------------------------
    old_specs: dict[tuple[str, str], CompiledTimer] = {
        (sid, t.name): t for sid, state in oldp.states.items() for t in state.timers}
    pending: dict[tuple[str, str], TimerState] = {}
    for timer in case.timers:
        owner = _target(timer.state, oldp, newp, mapping, scope)
        if owner is not None:
            pending[(owner, mapping.timer_renames.get(timer.name, timer.name))] = timer
    timers: list[TimerState] = []
    rearmed: list[str] = []
    armed: list[str] = []
    entering = set(enter)
    for sid in newp.leaf_order(list(active - entering)):
        for spec in newp.states[sid].timers:
            had = pending.pop((sid, spec.name), None)
            if had is None:
                timer = new.arm(sid, spec.name, spec.delay, spec.recurring, now)
                armed.append(spec.name)
            else:
                before = old_specs.get((had.state, had.name))
                same = (before is not None and before.recurring == spec.recurring
                        and str(old.duration(before.delay)) == str(new.duration(spec.delay))
                        and spec.name not in mapping.rearm)
                timer = (replace(had, name=spec.name, state=sid) if same
                         else _rearm(had, spec, sid, new, now))
                timers.append(timer)
                if timer.fire_at == had.fire_at and timer.every == had.every:
                    continue   # kept as it was: nothing to tell
                rearmed.append(spec.name)
            if had is None:
                timers.append(timer)
            effects.append(TimerSet(timer.name, timer.state, timer.fire_at))
    dropped = [timer.name for timer in pending.values()]
    effects += [TimerCancelled(now, t.name, t.state) for t in pending.values()]
    # -- the new case ------------------------------------------------------------------------
    moved = Case(newp.leaf_order(leaves), facts,
                 tuple(sorted(timers, key=lambda t: (t.fire_at, t.name))), tuple(kept),
                 case.seq, None, case.history, case.stays)
    created: tuple[str, ...] = ()
    if enter or creates:
        outcome = new.enter(moved, tuple(enter), tuple(extra), creates, subject, now)
        moved = outcome.case
        effects += outcome.effects
        created = tuple(k for k, _ in creates)
    return Move(moved, tuple(effects), tuple(pairs), tuple(enter), tuple(cancelled),
                created, tuple(retargeted), tuple(rearmed), tuple(armed), tuple(dropped),
                tuple(touched))


def _rearm(had: TimerState, spec: CompiledTimer, sid: str, new: Runtime,
           now: datetime) -> TimerState:
    """Re-arm a timer the case had from its anchor with the new version's delay."""
    anchor = had.anchor or now
    duration = new.duration(spec.delay)
    if spec.recurring:
        after = min(now, had.fire_at) - _TICK
        return TimerState(spec.name, sid, on_schedule(anchor, duration, after),
                          new.period(spec.delay), anchor)
    return TimerState(spec.name, sid, duration.add_to(anchor), None, anchor)

