"""Checks of the guard language: guards, eligibility and ``set`` expressions.

Each expression must parse (``expression-syntax``) and read only names that
exist (``unknown-name``): declared parameters, facts and observations, the
fields of an observation, of the patient and of the triggering event. The
column reported is that of the wrong part of a dotted name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import nodes

from engine import events
from engine.durations import is_duration
from engine.exceptions import Diagnostic, ExpressionError
from engine.pathway import expressions
from engine.pathway import history as reads
from engine.pathway.checkcontext import CheckContext, action_blocks
from engine.pathway.model import Pathway, Transition
from engine.pathway.reader import Path
from engine.suggest import did_you_mean


def check_expressions(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Guards, eligibility and ``set`` expressions parse and name only what exists."""
    p = ctx.pathway
    if p.eligibility is not None:
        yield from _expression(ctx, p.eligibility, ("eligibility",),
                               roots=expressions.ELIGIBILITY_ROOTS)
    for sid, block, path in action_blocks(ctx):
        event = block.on if isinstance(block, Transition) else None
        if isinstance(block, Transition) and block.guard is not None:
            yield from _expression(ctx, block.guard, (*path, "guard"), event=event, element=sid)
        for fact, value in block.set.items():
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
        yield ctx.error(path, f"{str(exc).rstrip('.')} in {source!r}", "expression-syntax",
                        element=element, offset=column)
        return
    found_any = False
    for names in _references(compiled):
        found = _name_problem(ctx, names, roots, event)
        if found:
            found_any = True
            problem, depth = found
            yield ctx.error(path, f"{problem} in {source!r}", "unknown-name", element=element,
                            offset=_name_column(source, names, depth) + offset)
    if not found_any and reads.ROOT in source:
        for use in reads.uses(expressions.parse(source)):
            wrong = use.problem or _history_argument_problem(ctx.pathway, use)
            if wrong:
                names = (reads.ROOT, use.key, use.method) if use.method else (reads.ROOT,
                                                                               use.key)
                yield ctx.error(path, f"{wrong} in {source!r}", "history", element=element,
                                offset=_name_column(source, names, len(names) - 1) + offset)


def _history_argument_problem(p: Pathway, use: reads.Use) -> str | None:
    """A ``history`` count or window that is not an integer / a duration, or a parameter of
    another type."""
    where = f"history.{use.key}.{use.method}"
    for ref, kind in ((use.count, "integer"), (use.window, "duration")):
        if not isinstance(ref, str):
            continue
        if ref.startswith("params."):
            name = ref.removeprefix("params.")
            parameter = p.parameters.get(name)
            if parameter is not None and parameter.type != kind:
                return (f"parameter {name!r} used in '{where}' is of type {parameter.type}, "
                        f"not {kind}")
        elif not is_duration(ref):
            return f"window {ref!r} of '{where}' is not an ISO-8601 duration such as P7D"
    return None


def _references(compiled: expressions.CompiledExpression) -> list[tuple[str, ...]]:
    """Name chains the expression reads, the whole expression included when it is itself a
    dotted name such as ``event.result.grade`` (``references`` only looks below the root)."""
    root = nodes.Not(expressions.parse(compiled.source), lineno=1)
    # a chain read through a computed index of a literal ({...}[key]) has no name of its own
    return [names for names in dict.fromkeys(expressions.references(root)) if names]


def _name_column(source: str, names: tuple[str, ...], depth: int) -> int:
    """0-based column in ``source`` of ``names[depth]`` within the dotted chain."""
    start = source.find(".".join(names[:depth + 1]))
    if start < 0:
        return max(source.find(names[0]), 0)
    return start + sum(len(part) + 1 for part in names[:depth])


def _name_problem(ctx: CheckContext, names: tuple[str, ...], roots: tuple[str, ...],
                  event: str | None) -> tuple[str, int] | None:
    """Why a name chain is wrong and the index of the part that is wrong, or None."""
    for depth, part in enumerate(names):
        if part.startswith("_"):
            return f"names starting with '_' are not allowed ({'.'.join(names)})", depth
    root = names[0]
    if root not in roots:
        hint = did_you_mean(root, roots)
        quote = "" if hint else f" (to write the text {root!r}, quote it: \"'{root}'\")"
        return f"unknown name {root!r}{hint}{quote}; available: {', '.join(roots)}", 0
    if len(names) < 2:
        return None
    problem = _attribute_problem(ctx.pathway, root, names[1])
    if problem:
        return problem, 1
    problem = _field_problem(ctx.pathway, names, event)
    return (problem, 2) if problem else None


def _attribute_problem(p: Pathway, root: str, attr: str) -> str | None:
    tables: dict[str, tuple[str, Any]] = {
        "params": ("parameter", p.parameters), "facts": ("fact", p.facts),
        "obs": ("observation", p.observations), reads.ROOT: ("observation", p.observations),
        "patient": ("patient field", expressions.PATIENT_FIELDS),
        "event": ("event field", expressions.EVENT_FIELDS)}
    if root not in tables or attr in tables[root][1]:
        return None
    what, table = tables[root]
    return (f"unknown {what} {attr!r}{did_you_mean(attr, table)}; declared: "
            f"{', '.join(table) or 'none'}")


def _field_problem(p: Pathway, names: tuple[str, ...], event: str | None) -> str | None:
    """The third part of obs.KEY.FIELD, event.result.FIELD or event.data.FIELD."""
    if len(names) < 3:
        return None
    root, attr, name = names[:3]
    if root == reads.ROOT and name not in reads.METHODS:
        hint = did_you_mean(name, reads.METHODS)
        return f"unknown history method {name!r}{hint}; allowed: {', '.join(reads.METHODS)}"
    if root == "obs" and name not in expressions.OBS_FIELDS:
        hint = did_you_mean(name, expressions.OBS_FIELDS)
        return (f"unknown observation field {name!r}{hint}; an observation has"
                f" {', '.join(expressions.OBS_FIELDS)}")
    if root == "event" and attr in ("result", "data") and event:
        fields = _event_fields(p, event, attr)
        if fields is not None and name not in fields:
            return (f"event {event!r} has no {attr} field {name!r}"
                    f"{did_you_mean(name, fields)}; fields: {', '.join(fields) or 'none'}")
    return None


def _event_fields(p: Pathway, event: str, attr: str) -> list[str] | None:
    kind, arg = events.parse(event)
    if attr == "result" and kind == events.TASK_COMPLETED and arg in p.tasks:
        return list(p.tasks[arg].result)
    if attr == "data" and not arg and event in p.events:
        return list(p.events[event].data)
    return None
