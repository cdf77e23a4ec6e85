"""Named semantic checks over a validated pathway model.

Each check is a function ``check_x(ctx)`` yielding diagnostics; ``run_checks``
runs all of them so that every error of a file is reported in one run.
Check names (shown in brackets after each message) are stable and documented
in ``pathways/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.durations import Duration, is_duration
from engine.exceptions import Diagnostic, DurationError, ExpressionError
from engine.pathway import expressions
from engine.pathway.model import Actions, FieldSpec, Pathway, Transition
from engine.pathway.reader import Document, Path
from engine.pathway.statetree import ROOT, StateTree
from engine.suggest import did_you_mean

BUILTIN_EVENTS = ("admission", "discharge")
EVENT_KINDS = ("observation", "task_completed", "timer")
_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float), "integer": (int,), "boolean": (bool,), "text": (str,),
    "choice": (str, int), "duration": (str,), "date": (date, str),
}


@dataclass
class CheckContext:
    pathway: Pathway
    doc: Document
    tree: StateTree
    timers: dict[str, str] = field(default_factory=dict)  # timer name → state id

    def error(self, path: Path, message: str, check: str, *, key: bool = False,
              element: str | None = None, offset: int = 0) -> Diagnostic:
        return self.doc.diagnostic(path, message, check, key=key, element=element,
                                   offset=offset)


Check = Callable[[CheckContext], Iterator[Diagnostic]]


def run_checks(pathway: Pathway, doc: Document) -> list[Diagnostic]:
    tree = StateTree(pathway)
    ctx = CheckContext(pathway, doc, tree)
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(ctx))
    return out


# -- helpers -------------------------------------------------------------------------------


def _transitions(ctx: CheckContext) -> Iterator[tuple[str, int, Transition, Path]]:
    for node in ctx.tree.states():
        for i, transition in enumerate(node.state.transitions):
            yield node.id, i, transition, (*node.path, "transitions", i)


def _actions(ctx: CheckContext) -> Iterator[tuple[str, Actions | Transition, Path]]:
    for node in ctx.tree.states():
        if node.state.on_enter is not None:
            yield node.id, node.state.on_enter, (*node.path, "on_enter")
    for sid, _, transition, path in _transitions(ctx):
        yield sid, transition, path


def _typecheck(value: Any, kind: str, choices: list[Any] | None = None) -> str | None:
    """Why ``value`` is not of type ``kind``, or None when it is."""
    expected = _SCALAR_TYPES[kind]
    if isinstance(value, bool) and kind in ("number", "integer", "choice"):
        return f"expected {kind}, got a boolean"
    if not isinstance(value, expected):
        return f"expected {kind}, got {value!r}"
    if kind == "duration" and not is_duration(value):
        return f"expected an ISO-8601 duration such as P3M, got {value!r}"
    if kind == "choice" and choices is not None and value not in choices:
        return f"{value!r} is not one of the choices {choices}"
    return None


# -- structure -----------------------------------------------------------------------------


def check_structure(ctx: CheckContext) -> Iterator[Diagnostic]:
    """One initial state per compound state; coherent final/parallel/atomic flags."""
    for node in [ctx.tree.nodes[ROOT], *ctx.tree.states()]:
        state, where = node.state, f"state '{node.id}'" if node.id else "the pathway"
        initial_path = (*node.path, "initial") if node.id else ("initial",)
        if node.children and not state.parallel:
            if state.initial is None:
                yield ctx.error(node.path, f"{where} has sub-states but no 'initial'; choose one "
                                f"of {', '.join(state.states)}", "initial", key=True,
                                element=node.id)
            elif state.initial not in state.states:
                hint = did_you_mean(state.initial, state.states)
                yield ctx.error(initial_path, f"initial state {state.initial!r} of {where} is not "
                                f"one of its sub-states{hint}; allowed: "
                                f"{', '.join(state.states)}", "undefined-state", element=node.id)
        elif state.initial is not None:
            yield ctx.error(initial_path, f"{where} has 'initial' but no sub-states", "initial",
                            key=True, element=node.id)
        if state.parallel and len(node.children) < 2:
            yield ctx.error(node.path, f"parallel {where} needs at least two regions in "
                            "'states'", "parallel", key=True, element=node.id)
        if state.final and (node.children or state.transitions or state.timers
                            or state.parallel):
            yield ctx.error(node.path, f"final {where} cannot have sub-states, transitions, "
                            "timers or be parallel", "final-state", key=True, element=node.id)
        if state.final and state.ongoing:
            yield ctx.error(node.path, f"{where} cannot be both final and ongoing", "final-state",
                            key=True, element=node.id)


def check_targets(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every transition's ``to`` names a state."""
    for sid, i, transition, path in _transitions(ctx):
        if transition.to is None:
            continue
        target, candidates = ctx.tree.resolve(transition.to, sid)
        if target is not None:
            continue
        if candidates:
            msg = (f"state name {transition.to!r} is ambiguous; write one of "
                   f"{', '.join(candidates)}")
        else:
            hint = did_you_mean(transition.to, ctx.tree.names())
            msg = f"transition to undefined state {transition.to!r}{hint}"
        yield ctx.error((*path, "to"), msg, "undefined-state", element=f"{sid}#{i}")


def check_timers(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Timers: exactly one of after/every, valid positive durations, unique names."""
    for node in ctx.tree.states():
        for name, timer in node.state.timers.items():
            path = (*node.path, "timers", name)
            if name in ctx.timers:
                yield ctx.error(path, f"timer name {name!r} is already used in state "
                                f"'{ctx.timers[name]}'; timer names are unique in a pathway",
                                "duplicate-name", key=True, element=node.id)
            ctx.timers.setdefault(name, node.id)
            if (timer.after is None) == (timer.every is None):
                yield ctx.error(path, f"timer {name!r} needs exactly one of 'after' (fires once) "
                                "or 'every' (recurring)", "timer", key=True, element=node.id)


def check_durations(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every delay is an ISO-8601 duration > 0 or the name of a duration parameter."""
    places: list[tuple[Path, str | None]] = []
    for node in ctx.tree.states():
        for name, timer in node.state.timers.items():
            places += [((*node.path, "timers", name, "after"), timer.after),
                       ((*node.path, "timers", name, "every"), timer.every)]
    for key, task in ctx.pathway.tasks.items():
        for attr in ("due", "reminder", "escalation"):
            places.append((("tasks", key, attr), getattr(task, attr)))
    for path, text in places:
        if text is not None:
            problem = duration_problem(ctx.pathway, text)
            if problem:
                yield ctx.error(path, problem, "invalid-duration")
    for key, task in ctx.pathway.tasks.items():
        due, escalation = (resolve_duration(ctx.pathway, task.due),
                           resolve_duration(ctx.pathway, task.escalation))
        if due and escalation and escalation.approx_days() < due.approx_days():
            yield ctx.error(("tasks", key, "escalation"), f"escalation delay {task.escalation} "
                            f"comes before the due delay {task.due} of task {key!r}; escalation "
                            "must come at or after the due date", "invalid-duration",
                            element=key)


def duration_problem(pathway: Pathway, text: str) -> str | None:
    if text in pathway.parameters:
        parameter = pathway.parameters[text]
        if parameter.type != "duration":
            return (f"parameter {text!r} is of type {parameter.type}, not duration; a delay "
                    "needs a duration parameter or an ISO-8601 duration")
        return None
    if text.startswith("P"):
        try:
            duration = Duration.parse(text)
        except DurationError as exc:
            return str(exc)
        return None if duration else f"duration {text!r} is zero; a delay must be positive"
    durations = [k for k, p in pathway.parameters.items() if p.type == "duration"]
    hint = did_you_mean(text, durations)
    return (f"invalid duration {text!r}{hint}: expected ISO-8601 (P3M, P1Y, P14D, PT12H) or a "
            f"duration parameter ({', '.join(durations) or 'none declared'})")


def resolve_duration(pathway: Pathway, text: str | None) -> Duration | None:
    if text is None:
        return None
    parameter = pathway.parameters.get(text)
    candidate = parameter.default if parameter is not None else text
    try:
        return Duration.parse(candidate)
    except DurationError:
        return None


def check_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Tasks, roles, facts and sources named anywhere are declared."""
    p = ctx.pathway
    for key, task in p.tasks.items():
        if task.role not in p.roles:
            yield _undefined(ctx, ("tasks", key, "role"), "role", task.role, p.roles)
        if task.completed_by is not None:
            yield from _event_problems(ctx, task.completed_by, ("tasks", key, "completed_by"),
                                       None)
    for name, parameter in p.parameters.items():
        if parameter.source is not None and parameter.source not in p.sources:
            yield _undefined(ctx, ("parameters", name, "source"), "source", parameter.source,
                             p.sources)
    for _, actions, path in _actions(ctx):
        for i, task_key in enumerate(actions.tasks):
            if task_key not in p.tasks:
                yield _undefined(ctx, (*path, "tasks", i), "task", task_key, p.tasks)
        for fact in actions.set:
            if fact not in p.facts:
                yield _undefined(ctx, (*path, "set", fact), "fact", fact, p.facts, key=True)
        for n, notify in enumerate(actions.notify):
            for r, role in enumerate(notify.to):
                if role not in p.roles:
                    yield _undefined(ctx, (*path, "notify", n, "to", r), "role", role, p.roles)


def _undefined(ctx: CheckContext, path: Path, what: str, name: str, known: Any,
               key: bool = False) -> Diagnostic:
    names = list(known)
    hint = did_you_mean(name, names)
    return ctx.error(path, f"undefined {what} {name!r}{hint}; declared: "
                     f"{', '.join(names) or 'none'}", f"undefined-{what}", key=key)


def check_events(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every ``on:`` names a known event; timer events belong to a state that can be active."""
    for sid, _, transition, path in _transitions(ctx):
        yield from _event_problems(ctx, transition.on, (*path, "on"), sid)


def _event_problems(ctx: CheckContext, name: str, path: Path,
                    source: str | None) -> Iterator[Diagnostic]:
    p = ctx.pathway
    kind, _, arg = name.partition(":")
    if not arg:
        if name in BUILTIN_EVENTS or name in p.events:
            return
        known = [*BUILTIN_EVENTS, *p.events]
        yield ctx.error(path, f"undefined event {name!r}{did_you_mean(name, known)}; use "
                        f"{', '.join(known)}, observation:KEY, task_completed:KEY or "
                        "timer:NAME", "undefined-event")
        return
    tables: dict[str, tuple[str, Any]] = {
        "observation": ("observation", p.observations), "task_completed": ("task", p.tasks),
        "timer": ("timer", ctx.timers)}
    if kind not in tables:
        yield ctx.error(path, f"unknown event kind {kind!r}{did_you_mean(kind, EVENT_KINDS)}; "
                        f"allowed kinds: {', '.join(EVENT_KINDS)}", "undefined-event")
        return
    what, table = tables[kind]
    if arg not in table:
        yield _undefined(ctx, path, what, arg, table)
    elif kind == "timer" and source is not None and not ctx.tree.compatible(table[arg], source):
        yield ctx.error(path, f"timer {arg!r} belongs to state '{table[arg]}', which is never "
                        f"active together with '{source}': this transition can never fire",
                        "dead-timer", element=source)


def check_values(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Parameter and fact defaults match their declared type; ranges are coherent."""
    p = ctx.pathway
    for table_name, table in (("parameters", p.parameters), ("facts", p.facts)):
        for name, item in table.items():
            path = (table_name, name)
            if item.type == "choice" and not item.choices:
                yield ctx.error(path, f"{name!r} is of type choice but lists no 'choices'",
                                "type", key=True)
            if item.default is None and table_name == "facts":
                continue
            problem = _typecheck(item.default, item.type, getattr(item, "choices", None))
            if problem:
                yield ctx.error((*path, "default"), f"default of {name!r}: {problem}", "type")
    specs: list[tuple[Path, Any]] = [(("parameters", k), v) for k, v in p.parameters.items()]
    specs += [(("observations", k), v) for k, v in p.observations.items()]
    for key, task in p.tasks.items():
        specs += [(("tasks", key, "result", f), s) for f, s in task.result.items()]
    for key, event in p.events.items():
        specs += [(("events", key, "data", f), s) for f, s in event.data.items()]
    for path, spec in specs:
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            yield ctx.error((*path, "minimum"), f"minimum {spec.minimum} is above maximum "
                            f"{spec.maximum}", "type")
        if isinstance(spec, FieldSpec) and spec.type == "choice" and not spec.choices:
            yield ctx.error(path, "a field of type choice must list its 'choices'", "type",
                            key=True)
    for _, actions, path in _actions(ctx):
        for fact, value in actions.set.items():
            declared = p.facts.get(fact)
            if declared is not None and not isinstance(value, str) and value is not None:
                problem = _typecheck(value, declared.type)
                if problem:
                    yield ctx.error((*path, "set", fact), f"fact {fact!r}: {problem}", "type")


# -- expressions ---------------------------------------------------------------------------


def check_expressions(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Guards, eligibility and ``set`` expressions parse and name only what exists."""
    p = ctx.pathway
    if p.eligibility is not None:
        yield from _expression(ctx, p.eligibility, ("eligibility",),
                               roots=("params", "patient", "now", "days_since"))
    for sid, actions, path in _actions(ctx):
        event = actions.on if isinstance(actions, Transition) else None
        if isinstance(actions, Transition) and actions.guard is not None:
            yield from _expression(ctx, actions.guard, (*path, "guard"), event=event, element=sid)
        for fact, value in actions.set.items():
            if isinstance(value, str):
                yield from _expression(ctx, value, (*path, "set", fact), event=event, element=sid)


def _expression(ctx: CheckContext, source: str, path: Path, *, roots: tuple[str, ...] =
                expressions.ROOTS, event: str | None = None,
                element: str | None = None) -> Iterator[Diagnostic]:
    offset = 1 if ctx.doc.quoted(path) else 0
    try:
        compiled = expressions.compile_expression(source)
    except ExpressionError as exc:
        column = (exc.column or 1) - 1 + offset
        yield ctx.error(path, f"{exc} in {source!r}", "expression-syntax", element=element,
                        offset=column)
        return
    seen: set[tuple[str, ...]] = set()
    for names in compiled.names:
        if names in seen:
            continue
        seen.add(names)
        problem = _name_problem(ctx, names, roots, event)
        if problem:
            column = max(source.find(".".join(names[:2])), source.find(names[0]), 0)
            yield ctx.error(path, f"{problem} in {source!r}", "unknown-name", element=element,
                            offset=column + offset)


def _name_problem(ctx: CheckContext, names: tuple[str, ...], roots: tuple[str, ...],
                  event: str | None) -> str | None:
    p = ctx.pathway
    if any(part.startswith("_") for part in names):
        return f"names starting with '_' are not allowed ({'.'.join(names)})"
    root = names[0]
    if root not in roots:
        hint = did_you_mean(root, roots)
        quote = "" if hint else f" (to write the text {root!r}, quote it: \"'{root}'\")"
        return f"unknown name {root!r}{hint}{quote}; available: {', '.join(roots)}"
    if len(names) < 2:
        return None
    attr = names[1]
    tables: dict[str, tuple[str, Any]] = {
        "params": ("parameter", p.parameters), "facts": ("fact", p.facts),
        "obs": ("observation", p.observations), "patient": ("patient field",
                                                           expressions.PATIENT_FIELDS),
        "event": ("event field", expressions.EVENT_FIELDS)}
    if root not in tables:
        return None
    what, table = tables[root]
    if attr not in table:
        return f"unknown {what} {attr!r}{did_you_mean(attr, table)}; declared: " \
               f"{', '.join(table) or 'none'}"
    if root == "obs" and len(names) > 2 and names[2] not in expressions.OBS_FIELDS:
        hint = did_you_mean(names[2], expressions.OBS_FIELDS)
        return (f"unknown observation field {names[2]!r}{hint}; an observation has"
                f" {', '.join(expressions.OBS_FIELDS)}")
    if root == "event" and attr in ("result", "data") and len(names) > 2 and event:
        fields = _event_fields(p, event, attr)
        if fields is not None and names[2] not in fields:
            return (f"event {event!r} has no {attr} field {names[2]!r}"
                    f"{did_you_mean(names[2], fields)}; fields: {', '.join(fields) or 'none'}")
    return None


def _event_fields(p: Pathway, event: str, attr: str) -> list[str] | None:
    kind, _, arg = event.partition(":")
    if attr == "result" and kind == "task_completed" and arg in p.tasks:
        return list(p.tasks[arg].result)
    if attr == "data" and not arg and event in p.events:
        return list(p.events[event].data)
    return None


# -- graph ---------------------------------------------------------------------------------


def _edges(ctx: CheckContext) -> dict[str, set[str]]:
    """state → states it can lead to: its transitions and its ancestors', and default entry."""
    tree = ctx.tree
    own: dict[str, set[str]] = {sid: set() for sid in tree.nodes}
    for sid, _, transition, _ in _transitions(ctx):
        if transition.to is not None:
            target, _ = tree.resolve(transition.to, sid)
            if target is not None:
                own[sid].add(target)
    edges: dict[str, set[str]] = {}
    for sid, node in tree.nodes.items():
        out = set(own[sid])
        for ancestor in tree.ancestors(sid) if sid else []:
            out |= own[ancestor]
        if node.state.parallel:
            out |= set(node.children)
        elif (child := tree.initial_child(sid)) is not None:
            out.add(child)
        edges[sid] = out
    return edges


def _closure(edges: dict[str, set[str]], start: set[str]) -> set[str]:
    seen, stack = set(start), list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def check_reachability(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every state can be reached from the initial state."""
    tree = ctx.tree
    edges = _edges(ctx)
    reached = _closure(edges, {ROOT})
    # entering a state means its ancestors are active too
    reached |= {a for sid in list(reached) if sid for a in tree.ancestors(sid)}
    for node in tree.states():
        parent_unreached = node.parent not in reached and node.parent != ROOT
        if node.id not in reached and not parent_unreached:
            yield ctx.error(node.path, f"state '{node.id}' is unreachable: no transition leads "
                            "to it and it is not an initial state", "unreachable-state",
                            key=True, element=node.id)


def check_can_end(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every state can reach a final state, unless it (or an ancestor) is ``ongoing``."""
    tree = ctx.tree
    edges = _edges(ctx)
    reverse: dict[str, set[str]] = {sid: set() for sid in tree.nodes}
    for sid, targets in edges.items():
        for target in targets:
            reverse[target].add(sid)
    finals = {n.id for n in tree.states() if n.state.final}
    can_end = _closure(reverse, finals)
    ongoing = {n.id for n in tree.states() if n.state.ongoing}
    for node in tree.states():
        exempt = node.id in ongoing or any(a in ongoing for a in tree.ancestors(node.id))
        parent_reported = node.parent not in can_end and node.parent != ROOT
        if node.id not in can_end and not exempt and not parent_reported:
            yield ctx.error(node.path, f"state '{node.id}' can never reach a final state; add a "
                            "transition towards one or declare it 'ongoing: true'", "no-end",
                            key=True, element=node.id)


def check_final_exists(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A pathway without any final state must say it is ongoing everywhere."""
    if not any(n.state.final for n in ctx.tree.states()) and not all(
            n.state.ongoing for n in ctx.tree.states() if n.parent == ROOT):
        yield ctx.error(("states",), "the pathway has no final state: add one (e.g. "
                        "'sortie: {final: true}') so that cases can end", "no-end", key=True)


CHECKS: list[Check] = [
    check_structure, check_targets, check_timers, check_durations, check_references,
    check_events, check_values, check_expressions, check_reachability, check_can_end,
    check_final_exists,
]
