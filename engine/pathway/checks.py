"""Named semantic checks over a validated pathway model.

Each check is a function ``check_x(ctx)`` yielding diagnostics; ``run_checks``
runs all of them so that every error of a file is reported in one run. This
module holds the structure, reference, duration and value checks; guards are
checked in ``guardchecks``, the state graph in ``graphchecks``.
Check names (shown in brackets after each message) are stable and documented
in ``pathways/README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

from engine import events
from engine.durations import Duration, is_duration
from engine.exceptions import Diagnostic, DurationError
from engine.pathway.checkcontext import (
    Check,
    CheckContext,
    action_blocks,
    resolve_duration,
    transitions,
)
from engine.pathway.coverage import check_observation_coverage
from engine.pathway.graphchecks import check_can_end, check_final_exists, check_reachability
from engine.pathway.guardchecks import check_expressions
from engine.pathway.model import Fact, FieldSpec, Parameter, Pathway
from engine.pathway.reader import Document, Path
from engine.pathway.statetree import ROOT, Node, StateTree
from engine.pathway.taskchecks import check_silent_expiry, check_task_endings
from engine.suggest import did_you_mean

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_SCALAR_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float), "integer": (int,), "boolean": (bool,), "text": (str,),
    "choice": (str, int), "duration": (str,), "date": (date, str),
}


def run_checks(pathway: Pathway, doc: Document) -> list[Diagnostic]:
    """Every check (only ``PARTIAL_CHECKS`` when ``doc.partial``), all errors in one list."""
    ctx = CheckContext(pathway, doc, StateTree(pathway))
    out: list[Diagnostic] = []
    for check in PARTIAL_CHECKS if doc.partial else CHECKS:
        out.extend(check(ctx))
    return out



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
        yield from _initial_problems(ctx, node)
        if node.state.parallel and len(node.children) < 2:
            yield ctx.error(node.path, f"parallel {_where(node)} needs at least two regions in "
                            "'states'", "parallel", key=True, element=node.id)
        if node.state.final:
            yield from _final_problems(ctx, node)


def _where(node: Node) -> str:
    return f"state '{node.id}'" if node.id else "the pathway"


def _initial_problems(ctx: CheckContext, node: Node) -> Iterator[Diagnostic]:
    state, where = node.state, _where(node)
    path = (*node.path, "initial")
    if state.initial is not None and (state.parallel or not node.children):
        why = ("all regions of a parallel state are entered together" if state.parallel
               else "it has no sub-states")
        yield ctx.error(path, f"{where} cannot have 'initial': {why}", "initial", key=True,
                        element=node.id)
    elif node.children and not state.parallel and state.initial is None:
        yield ctx.error(node.path, f"{where} has sub-states but no 'initial'; choose one "
                        f"of {', '.join(state.states)}", "initial", key=True, element=node.id)
    elif node.children and not state.parallel and state.initial not in state.states:
        hint = did_you_mean(str(state.initial), state.states)
        yield ctx.error(path, f"initial state {state.initial!r} of {where} is not one of its "
                        f"sub-states{hint}; allowed: {', '.join(state.states)}",
                        "undefined-state", element=node.id)


def _final_problems(ctx: CheckContext, node: Node) -> Iterator[Diagnostic]:
    """A final state ends the case: point at each key that contradicts it."""
    state = node.state
    forbidden = {"states": bool(node.children), "transitions": bool(state.transitions),
                 "timers": bool(state.timers), "parallel": state.parallel,
                 "ongoing": state.ongoing}
    for key, present in forbidden.items():
        if present:
            yield ctx.error((*node.path, key), f"final state '{node.id}' cannot have "
                            f"'{key}': a final state ends the case (allowed keys: title, "
                            "description, on_enter)", "final-state", key=True, element=node.id)


def check_targets(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every transition's ``to`` names a state."""
    for sid, i, transition, path in transitions(ctx):
        if transition.to is None:
            continue
        target, candidates = ctx.tree.resolve(transition.to, sid)
        if target is not None:
            continue
        if candidates:
            msg = (f"state name {transition.to!r} is ambiguous from state '{sid}'; write the "
                   f"full id, one of {', '.join(candidates)}")
            yield ctx.error((*path, "to"), msg, "ambiguous-state", element=f"{sid}#{i}")
            continue
        hint = did_you_mean(transition.to, ctx.tree.names())
        states = ", ".join(n.id for n in ctx.tree.states())
        msg = f"transition to undefined state {transition.to!r}{hint}; states: {states}"
        yield ctx.error((*path, "to"), msg, "undefined-state", element=f"{sid}#{i}")


def check_timer_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Timer names are unique in a pathway (``timer:NAME`` events refer to them)."""
    for node in ctx.tree.states():
        for name in node.state.timers:
            owner = ctx.timers[name]
            if owner != node.id:
                yield ctx.error((*node.path, "timers", name), f"timer name {name!r} is already "
                                f"used in state '{owner}'; timer names are unique in a pathway",
                                "duplicate-name", key=True, element=node.id)


def check_timer_kinds(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A timer fires once (``after``) or repeatedly (``every``): exactly one of them."""
    for node in ctx.tree.states():
        for name, timer in node.state.timers.items():
            if (timer.after is None) == (timer.every is None):
                yield ctx.error((*node.path, "timers", name), f"timer {name!r} needs exactly "
                                "one of 'after' (fires once) or 'every' (recurring)", "timer",
                                key=True, element=node.id)


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
        problem = duration_problem(ctx.pathway, text) if text is not None else None
        if problem:
            yield ctx.error(path, *problem)
    for key, task in ctx.pathway.tasks.items():
        due, escalation = (resolve_duration(ctx.pathway, task.due),
                           resolve_duration(ctx.pathway, task.escalation))
        if due and escalation and escalation.approx_days() < due.approx_days():
            yield ctx.error(("tasks", key, "escalation"), f"escalation delay {task.escalation} "
                            f"comes before the due delay {task.due} of task {key!r}; escalation "
                            "must come at or after the due date", "invalid-duration",
                            element=key)


def duration_problem(pathway: Pathway, text: str) -> tuple[str, str] | None:
    """(message, check name) when ``text`` is not a usable delay."""
    durations = [k for k, p in pathway.parameters.items() if p.type == "duration"]
    allowed = (f"a delay is an ISO-8601 duration (P3M, P1Y, P14D, PT12H) or a duration "
               f"parameter ({', '.join(durations) or 'none declared'})")
    if text in pathway.parameters:
        kind = pathway.parameters[text].type
        if kind != "duration":
            return f"parameter {text!r} is of type {kind}, not duration; {allowed}", "type"
        return None
    if _IDENTIFIER.match(text):
        hint = did_you_mean(text, durations)
        return f"undefined parameter {text!r}{hint}; {allowed}", "undefined-parameter"
    try:
        duration = Duration.parse(text)
    except DurationError as exc:
        return str(exc), "invalid-duration"
    if not duration:
        return f"duration {text!r} is zero; a delay must be positive", "invalid-duration"
    return None


def check_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Tasks, roles, facts and sources named anywhere are declared."""
    p = ctx.pathway
    for key, task in p.tasks.items():
        if task.role not in p.roles:
            yield ctx.undefined(("tasks", key, "role"), "role", task.role, p.roles)
        listed = isinstance(task.completed_by, list)
        for i, event in enumerate(task.completing_events()):
            path = ("tasks", key, "completed_by", *((i,) if listed else ()))
            yield from _event_problems(ctx, event, path, None)
    for name, parameter in p.parameters.items():
        if parameter.source is not None and parameter.source not in p.sources:
            yield ctx.undefined(("parameters", name, "source"), "source", parameter.source,
                                p.sources)
    yield from _action_references(ctx)


def _action_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    p = ctx.pathway
    for _, block, path in action_blocks(ctx):
        for attr in ("tasks", "cancel"):
            for i, task_key in enumerate(getattr(block, attr)):
                if task_key not in p.tasks:
                    yield ctx.undefined((*path, attr, i), "task", task_key, p.tasks)
        for fact in block.set:
            if fact not in p.facts:
                yield ctx.undefined((*path, "set", fact), "fact", fact, p.facts, key=True)
        for n, notify in enumerate(block.notify):
            for r, role in enumerate(notify.to):
                if role not in p.roles:
                    yield ctx.undefined((*path, "notify", n, "to", r), "role", role, p.roles)


def check_events(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every ``on:`` names a known event; timer events belong to a state that can be active."""
    for sid, _, transition, path in transitions(ctx):
        yield from _event_problems(ctx, transition.on, (*path, "on"), sid)


def _event_problems(ctx: CheckContext, name: str, path: Path,
                    source: str | None) -> Iterator[Diagnostic]:
    p = ctx.pathway
    kind, arg = events.parse(name)
    if not arg:
        if events.is_hospital(name) or name in p.events:
            return
        known = [*events.HOSPITAL_EVENTS, *p.events]
        allowed = (f"{', '.join(known)}, {events.observation('KEY')}, "
                   f"{events.task_completed('KEY')} or {events.timer('NAME')}")
        yield ctx.error(path, f"undefined event {name!r}{did_you_mean(name, known)}; use "
                        f"{allowed}", "undefined-event")
        return
    tables: dict[str, tuple[str, Any]] = {
        events.OBSERVATION: ("observation", p.observations),
        events.TASK_COMPLETED: ("task", p.tasks), events.TIMER: ("timer", ctx.timers)}
    if kind not in tables:
        yield ctx.error(path, f"unknown event kind {kind!r}{did_you_mean(kind, events.KINDS)}; "
                        f"allowed kinds: {', '.join(events.KINDS)}", "undefined-event")
        return
    what, table = tables[kind]
    if arg not in table:  # point at the name after 'kind:'
        offset = len(kind) + 1 + (1 if ctx.doc.quoted(path) else 0)
        yield ctx.undefined(path, what, arg, table, offset=offset)
    elif (kind == events.TIMER and source
          and not ctx.tree.compatible(table[arg], source)):
        yield ctx.error(path, f"timer {arg!r} belongs to state '{table[arg]}', which is never "
                        f"active together with '{source}': this transition can never fire",
                        "dead-timer", element=source)


def check_values(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Parameter and fact defaults match their declared type; ranges are coherent."""
    yield from _default_problems(ctx)
    yield from _spec_problems(ctx)
    yield from _set_value_problems(ctx)


def _default_problems(ctx: CheckContext) -> Iterator[Diagnostic]:
    p = ctx.pathway
    items: list[tuple[Path, Parameter | Fact]] = [(("parameters", k), v)
                                                   for k, v in p.parameters.items()]
    items += [(("facts", k), v) for k, v in p.facts.items()]
    for path, item in items:
        choices = item.choices if isinstance(item, Parameter) else None
        if isinstance(item, Parameter) and item.type == "choice" and not choices:
            yield ctx.error(path, f"{path[-1]!r} is of type choice but lists no 'choices'",
                            "type", key=True)
        if item.default is None and isinstance(item, Fact):
            continue
        problem = _typecheck(item.default, item.type, choices)
        if problem:
            yield ctx.error((*path, "default"), f"default of {path[-1]!r}: {problem}", "type")


def _spec_problems(ctx: CheckContext) -> Iterator[Diagnostic]:
    p = ctx.pathway
    specs: list[tuple[Path, Any]] = [(("parameters", k), v) for k, v in p.parameters.items()]
    specs += [(("observations", k), v) for k, v in p.observations.items()]
    for key, task in p.tasks.items():
        specs += [(("tasks", key, "result", f), s) for f, s in task.result.items()]
    for key, event in p.events.items():
        specs += [(("events", key, "data", f), s) for f, s in event.data.items()]
    for path, spec in specs:
        if isinstance(spec, Parameter):
            bad = list(_parameter_bound_problems(ctx, path, spec))
            yield from bad
            if bad or spec.type == "duration":
                continue
        if spec.minimum is not None and spec.maximum is not None and spec.minimum > spec.maximum:
            yield ctx.error((*path, "minimum"), f"minimum {spec.minimum} is above maximum "
                            f"{spec.maximum}", "type")
        if isinstance(spec, FieldSpec) and spec.type == "choice" and not spec.choices:
            yield ctx.error(path, "a field of type choice must list its 'choices'", "type",
                            key=True)


def _parameter_bound_problems(ctx: CheckContext, path: Path,
                              spec: Parameter) -> Iterator[Diagnostic]:
    """Bounds of a number are numbers, of a duration durations; the default within them."""
    from engine.pathway.settings import is_valid_duration_bound, out_of_bounds

    for side in ("minimum", "maximum"):
        bound = getattr(spec, side)
        if bound is None:
            continue
        if spec.type == "duration":
            ok = isinstance(bound, str) and is_valid_duration_bound(bound)
            expected = "an ISO-8601 duration such as P1M"
        else:
            ok = spec.type in ("number", "integer") and not isinstance(bound, str)
            expected = "a number" if spec.type in ("number", "integer") else \
                f"absent (a parameter of type {spec.type} has no bounds)"
        if not ok:
            yield ctx.error((*path, side), f"{side} of {path[-1]!r}: expected {expected}, got "
                            f"{bound!r}", "type")
            return
    if spec.type == "duration" and spec.minimum is not None and spec.maximum is not None \
            and Duration.parse(spec.minimum).approx_days() > \
            Duration.parse(spec.maximum).approx_days():
        yield ctx.error((*path, "minimum"), f"minimum {spec.minimum} is above maximum "
                        f"{spec.maximum}", "type")
        return
    if _typecheck(spec.default, spec.type, spec.choices) is None and \
            out_of_bounds(spec, spec.default) is not None:
        bounds = ", ".join(f"{side} {bound:g}" if isinstance(bound, float) else f"{side} {bound}"
                           for side, bound in (("minimum", spec.minimum),
                                               ("maximum", spec.maximum)) if bound is not None)
        yield ctx.error((*path, "default"), f"default of {path[-1]!r} ({spec.default}) is "
                        f"outside its bounds ({bounds})", "type")


def _set_value_problems(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Literal (non-text) values in ``set`` match the fact's type; text is an expression."""
    for _, block, path in action_blocks(ctx):
        for fact, value in block.set.items():
            declared = ctx.pathway.facts.get(fact)
            if declared is not None and not isinstance(value, str) and value is not None:
                problem = _typecheck(value, declared.type)
                if problem:
                    yield ctx.error((*path, "set", fact), f"fact {fact!r}: {problem}", "type")


#: Checks that hold on a partial model (one built without the keys that had schema errors).
PARTIAL_CHECKS: list[Check] = [
    check_targets, check_timer_names, check_durations, check_references, check_events,
    check_values, check_expressions, check_task_endings,
]
#: Every check, in the order of the report.
CHECKS: list[Check] = [
    check_structure, check_targets, check_timer_names, check_timer_kinds, check_durations,
    check_references, check_events, check_values, check_expressions, check_reachability,
    check_can_end, check_final_exists, check_task_endings, check_observation_coverage,
    check_silent_expiry,
]
