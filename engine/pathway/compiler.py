"""Definition → ``CompiledPathway``: immutable, shared by every case of one version.

The hierarchy is flattened into state ids. One ``transitions.Machine`` per
pathway version holds every state and every transition, expanded onto the
atomic states it applies to (a transition declared on a compound state is
tried from each of its atomic descendants, after their own transitions), so
the machine picks, for an atomic state and an event, the first transition
whose guard holds. That table is read once into ``selection`` (event →
atomic state → transitions in order, with their guards), which the runtime
walks for every event exactly as ``Event.trigger`` would, without building
an ``EventData`` and running callbacks per state; the machine is never
rebuilt per case and no case is ever attached to it.

Everything the runtime needs per transition (exit domain, states to enter)
is computed here once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from engine import events as ev
from engine.durations import Duration
from engine.exceptions import GuardCostError, PathwayDefinitionError
from engine.pathway import history as reads
from engine.pathway.checks import _typecheck
from engine.pathway.expressions import (
    CompiledExpression,
    ExpressionCostError,
    compile_expression,
    literal_or_expression,
    parse,
)
from engine.pathway.model import Notify, Parameter, Pathway, Task
from engine.pathway.statetree import ROOT, StateTree
from engine.suggest import did_you_mean

#: the name of the pathway-level transitions: their ids are ``always#0``, ``always#1``…
ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class CompiledActions:
    set: tuple[tuple[str, Any], ...] = ()
    tasks: tuple[str, ...] = ()
    notify: tuple[Notify, ...] = ()
    cancel: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set or self.tasks or self.notify or self.cancel)


@dataclass(frozen=True, slots=True)
class CompiledTimer:
    name: str
    state: str
    delay: str          # duration text or parameter name
    recurring: bool


@dataclass(frozen=True, slots=True)
class CompiledState:
    id: str
    parent: str | None
    depth: int
    order: int
    final: bool
    top_final: bool
    title: str
    entry: CompiledActions
    timers: tuple[CompiledTimer, ...]
    ancestors: tuple[str, ...]    # nearest first, without the root


@dataclass(frozen=True, slots=True)
class CompiledTransition:
    id: str
    source: str
    event: str
    target: str | None
    guard: CompiledExpression | None
    actions: CompiledActions
    domain: str
    enter: tuple[str, ...]          # states entered, top-down
    enter_leaves: tuple[str, ...]   # atomic states active after entry
    exits: frozenset[str] = frozenset()  # states exited when active (see ``_exit_scope``)
    #: task kinds this transition creates again (its own ``tasks`` and its entered states'):
    #: a task of these kinds it drops is renewed, not expired
    renews: frozenset[str] = frozenset()


class _Selected:
    """Machine callback that records which transition the machine took."""

    __slots__ = ("transition",)

    def __init__(self, transition: CompiledTransition) -> None:
        self.transition = transition

    def __call__(self, event_data: Any) -> None:
        event_data.model.selected = self.transition


class _Guard:
    """Machine condition evaluating a compiled guard in the event's scope."""

    __slots__ = ("expression", "transition")

    def __init__(self, transition: CompiledTransition) -> None:
        self.transition = transition
        self.expression = transition.guard

    def __call__(self, event_data: Any) -> bool:
        return self.holds(event_data.args[0])

    def holds(self, scope: Any) -> bool:
        """Whether the guard holds in the event's scope; an error counts as false, recorded.

        Going over the expression's cost budget is not a false guard but a refused event
        (``GuardCostError``): the case must not take another branch for want of an answer.
        """
        try:
            return bool(self.expression.evaluate(scope))  # type: ignore[union-attr]
        except ExpressionCostError as exc:
            raise GuardCostError(self.transition.id, self.expression.source,  # type: ignore[union-attr]
                                 str(exc)) from exc
        except Exception as exc:
            scope.guard_errors.append((self.transition.id, f"{type(exc).__name__}: {exc}"))
            return False


#: for one event and one atomic state, the transitions to try in order, with their guards
Candidates = tuple[tuple[CompiledTransition, _Guard | None], ...]


@dataclass
class CompiledPathway:
    definition: Pathway
    source: str
    tree: StateTree
    states: dict[str, CompiledState]
    transitions: dict[str, CompiledTransition]
    machine: Machine
    initial_enter: tuple[str, ...]
    initial_leaves: tuple[str, ...]
    eligibility: CompiledExpression | None
    event_names: frozenset[str]
    content_hash: str = field(default="")
    #: the machine's transition table, read once: event → atomic state → candidates
    selection: dict[str, dict[str, Candidates]] = field(default_factory=dict)
    #: observation kind → the counts and windows guards read through ``history.KEY``
    history: dict[str, reads.Needs] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.definition.key

    @property
    def version(self) -> int:
        return self.definition.version

    @property
    def tasks(self) -> Mapping[str, Task]:
        return self.definition.tasks

    def leaf_order(self, leaves: set[str] | list[str]) -> tuple[str, ...]:
        return tuple(sorted(leaves, key=lambda s: self.states[s].order))

    def resolve_parameters(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults merged with a CPTS's overrides, each checked against its declared type."""
        declared = self.definition.parameters
        values = {name: p.default for name, p in declared.items()}
        problems = []
        for name, value in (overrides or {}).items():
            if name not in declared:
                problems.append(f"unknown parameter {name!r}{did_you_mean(name, declared)}; "
                                f"this pathway declares {', '.join(declared) or 'none'}")
                continue
            problem = (_typecheck(value, declared[name].type, declared[name].choices)
                       or _out_of_range(value, declared[name]))
            if problem:
                problems.append(f"parameter {name!r}: {problem}")
            values[name] = value
        if problems:
            raise ValueError("; ".join(problems))
        return values

    def duration(self, ref: str, params: Mapping[str, Any]) -> Duration:
        return Duration.parse(params.get(ref, ref))


def _out_of_range(value: Any, parameter: Parameter) -> str | None:
    """Why a numeric override is outside the parameter's declared range, or None."""
    if parameter.type not in ("number", "integer"):
        return None
    if parameter.minimum is not None and value < parameter.minimum:
        return f"{value!r} is below the minimum {parameter.minimum:g}"
    if parameter.maximum is not None and value > parameter.maximum:
        return f"{value!r} is above the maximum {parameter.maximum:g}"
    return None


def compile_pathway(pathway: Pathway, source: str = "") -> CompiledPathway:
    tree = StateTree(pathway)
    ids = [n.id for n in tree.states()]
    states = {sid: _compile_state(tree, sid, i) for i, sid in enumerate(ids)}
    transitions: dict[str, CompiledTransition] = {}
    for node in [tree.nodes[ROOT], *tree.states()]:
        for i, spec in enumerate(node.state.transitions):
            target = tree.resolve(spec.to, node.id)[0] if spec.to is not None else None
            if spec.to is not None and target is None:
                raise PathwayDefinitionError([])  # unreachable: checks refuse such files
            tid = f"{node.id or ALWAYS}#{i}"
            domain = _domain(tree, node.id, target) if target is not None else node.id
            enter = _entry(tree, domain, target, node.id) if target is not None else ()
            transitions[tid] = CompiledTransition(
                id=tid, source=node.id, event=spec.on, target=target,
                guard=compile_expression(spec.guard) if spec.guard else None,
                actions=_actions(spec.set, spec.tasks, spec.notify, spec.cancel), domain=domain,
                enter=enter, enter_leaves=tuple(s for s in enter if not tree.nodes[s].children),
                exits=_exit_scope(tree, domain, node.id, target) if target is not None
                else frozenset(),
                renews=frozenset([*spec.tasks, *(k for sid in enter
                                                 for k in states[sid].entry.tasks)]))
    initial_enter = _entry(tree, ROOT, None)
    names = {t.event for t in transitions.values()} | set(ev.HOSPITAL_EVENTS) | set(pathway.events)
    names |= {ev.observation(k) for k in pathway.observations}
    names |= {ev.task_completed(k) for k in pathway.tasks}
    names |= {ev.timer(t.name) for s in states.values() for t in s.timers}
    machine = _machine(tree, transitions)
    return CompiledPathway(
        definition=pathway, source=source, tree=tree, states=states, transitions=transitions,
        machine=machine, selection=_selection(machine), initial_enter=initial_enter,
        initial_leaves=tuple(s for s in initial_enter if not tree.nodes[s].children),
        eligibility=compile_expression(pathway.eligibility) if pathway.eligibility else None,
        event_names=frozenset(names), history=_history_needs(transitions, states),
        content_hash=hashlib.sha256(source.encode()).hexdigest() if source else "")


def _history_needs(transitions: dict[str, CompiledTransition],
                   states: dict[str, CompiledState]) -> dict[str, reads.Needs]:
    """What the case must keep of each observation kind for every guard and ``set``."""
    sources = [t.guard.source for t in transitions.values() if t.guard is not None]
    blocks = [*(t.actions for t in transitions.values()), *(s.entry for s in states.values())]
    sources += [v.source for b in blocks for _, v in b.set if isinstance(v, CompiledExpression)]
    return reads.needs(parse(text) for text in sources if reads.ROOT in text)


def _compile_state(tree: StateTree, sid: str, order: int) -> CompiledState:
    node = tree.nodes[sid]
    entry = node.state.on_enter
    ancestors = tuple(a for a in tree.ancestors(sid) if a != ROOT)
    timers = tuple(CompiledTimer(name, sid, t.every or t.after or "", t.every is not None)
                   for name, t in node.state.timers.items())
    return CompiledState(
        id=sid, parent=node.parent, depth=len(ancestors), order=order, final=node.state.final,
        top_final=node.state.final and node.parent == ROOT, title=node.state.title or node.name,
        entry=(_actions(entry.set, entry.tasks, entry.notify, entry.cancel) if entry
               else CompiledActions()),
        timers=timers, ancestors=ancestors)


def _actions(sets: Mapping[str, Any], tasks: list[str], notify: list[Notify],
             cancel: list[str]) -> CompiledActions:
    return CompiledActions(tuple((k, literal_or_expression(v)) for k, v in sets.items()),
                           tuple(tasks), tuple(notify), tuple(cancel))


def _domain(tree: StateTree, source: str, target: str) -> str:
    """The state whose descendants are exited and re-entered (external transition)."""
    for ancestor in tree.ancestors(source):
        if ancestor != target and tree.is_descendant(target, ancestor):
            return ancestor
    return ROOT


def _region(tree: StateTree, parallel: str, sid: str) -> str:
    """The child of ``parallel`` that is or contains ``sid``."""
    return next(c for c in tree.nodes[parallel].children if tree.is_descendant(sid, c))


def _exit_scope(tree: StateTree, domain: str, source: str, target: str) -> frozenset[str]:
    """The states an external transition exits, when they are active.

    Under a compound domain (or the root): every descendant of the domain. A
    parallel domain stays active, so only its regions holding the source or the
    target are exited (and re-entered): the other regions carry on untouched.
    """
    if tree.nodes[domain].state.parallel:
        roots = {_region(tree, domain, source), _region(tree, domain, target)}
    else:
        roots = set(tree.nodes[domain].children)
    return frozenset(sid for sid in tree.nodes if sid != ROOT
                     and any(tree.is_descendant(sid, root) for root in roots))


def _entry(tree: StateTree, domain: str, target: str | None,
           source: str | None = None) -> tuple[str, ...]:
    """States entered, top-down, going from ``domain`` (exclusive) to ``target``'s defaults.

    Under a parallel domain the source's region, when it is not the target's,
    is re-entered by default (see ``_exit_scope``).
    """
    out: list[str] = []

    def enter_default(sid: str) -> None:
        out.append(sid)
        node = tree.nodes[sid]
        if node.state.parallel:
            for region in node.children:
                enter_default(region)
        elif (child := tree.initial_child(sid)) is not None:
            enter_default(child)

    def enter_towards(sid: str) -> None:
        if sid == target:
            enter_default(sid)
            return
        out.append(sid)
        node = tree.nodes[sid]
        for child in node.children:
            if target is not None and tree.is_descendant(target, child):
                enter_towards(child)
            elif node.state.parallel:
                enter_default(child)

    if target is None:
        if (child := tree.initial_child(domain)) is not None:
            enter_default(child)
        return tuple(out)
    path = [target, *tree.ancestors(target)]
    first = path[path.index(domain) - 1] if domain in path else target
    if source is not None and tree.nodes[domain].state.parallel:
        source_region = _region(tree, domain, source)
        for region in tree.nodes[domain].children:
            if region == first:
                enter_towards(region)
            elif region == source_region:
                enter_default(region)
        return tuple(out)
    enter_towards(first)
    return tuple(out)


def _machine(tree: StateTree, transitions: dict[str, CompiledTransition]) -> Machine:
    machine = Machine(model=None, states=[n.id for n in tree.states()], initial=None,
                      auto_transitions=False, send_event=True, ignore_invalid_triggers=True)
    by_source: dict[str, list[CompiledTransition]] = {}
    for transition in transitions.values():
        by_source.setdefault(transition.source, []).append(transition)
    for node in tree.states():
        if node.children:
            continue
        # own transitions first, then each ancestor's, nearest first (document order within),
        # then the pathway's ``always`` transitions (the root's)
        for holder in [node.id, *tree.ancestors(node.id)]:
            for t in by_source.get(holder, []):
                machine.add_transition(
                    t.event, node.id, t.target if t.target is not None else None,
                    conditions=[_Guard(t)] if t.guard is not None else None,
                    after=[_Selected(t)])
    return machine


def _selection(machine: Machine) -> dict[str, dict[str, Candidates]]:
    """The machine's table as the runtime reads it for every event.

    ``Event.trigger`` tries, for the model's state, each transition in order and
    takes the first whose conditions hold; the runtime does the same from this
    table, without the per-call ``EventData``, callbacks and logging.
    """
    table: dict[str, dict[str, Candidates]] = {}
    for name, event in machine.events.items():
        table[name] = {state: tuple(_candidate(t) for t in ts)
                       for state, ts in event.transitions.items()}
    return table


def _candidate(transition: Any) -> tuple[CompiledTransition, _Guard | None]:
    selected = next(cb for cb in transition.after if isinstance(cb, _Selected))
    guards = [c.func for c in transition.conditions]
    assert all(isinstance(g, _Guard) for g in guards) and len(guards) <= 1
    return selected.transition, guards[0] if guards else None
