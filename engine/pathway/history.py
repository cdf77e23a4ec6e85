"""What the guards read of the observation history, found at compile time.

Guards read a kind's history through ``history.KEY``:

``history.KEY.last(n)``                 the latest ``n`` values, newest first
``history.KEY.last_date``               the date of the latest value (none if never)
``history.KEY.min(within=delay)``       lowest value recorded in the window ending now
``history.KEY.max(within=delay)``       highest value in the window
``history.KEY.count(within=delay)``     how many values in the window
``history.KEY.any(above=x, below=y, within=delay)``  whether a value in the window is
                                        strictly above ``x`` (and/or strictly below ``y``)

The case keeps only what these calls can read: the kinds they name, as far
back as the longest window and as many values as the largest ``n``. That is
why ``n`` and ``within`` must be known before the case runs: an integer or an
``integer`` parameter, an ISO-8601 duration or a ``duration`` parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from jinja2 import nodes

ROOT = "history"
#: method → whether it is called (``last_date`` is read as an attribute)
METHODS = {"last": True, "last_date": False, "min": True, "max": True, "count": True,
           "any": True}
WINDOWED = ("min", "max", "count", "any")
ANY_BOUNDS = ("above", "below")


@dataclass(frozen=True, slots=True)
class Use:
    """One read of ``history.KEY.METHOD``; ``problem`` says why it is unusable, if it is."""

    key: str
    method: str
    count: int | str | None = None      # ``last(n)``: an integer or an integer parameter
    window: str | None = None           # ``within=``: a duration text or a duration parameter
    problem: str | None = None


@dataclass
class Needs:
    """Per observation kind: the counts and windows the pathway's guards use."""

    counts: set[int | str] = field(default_factory=set)
    windows: set[str] = field(default_factory=set)


def uses(expr: nodes.Node) -> Iterator[Use]:
    """Every ``history.KEY.METHOD`` the expression reads."""
    calls = {id(c.node): c for c in _all(expr, nodes.Call) if isinstance(c, nodes.Call)}
    for node in _all(expr, nodes.Getattr):
        if not isinstance(node, nodes.Getattr):
            continue
        inner = node.node
        if not (isinstance(inner, nodes.Getattr) and isinstance(inner.node, nodes.Name)
                and inner.node.name == ROOT):
            continue
        yield _use(inner.attr, node.attr, calls.get(id(node)))
    for name in _all(expr, nodes.Getattr):
        if isinstance(name, nodes.Getattr) and isinstance(name.node, nodes.Name) \
                and name.node.name == ROOT and not _has_method(expr, name):
            yield Use(name.attr, "", problem=f"'history.{name.attr}' needs a method: "
                      f"{', '.join(METHODS)}")


def _all(expr: nodes.Node, kind: type[nodes.Node]) -> list[nodes.Node]:
    """Every node of ``kind`` in ``expr``, ``expr`` included (``find_all`` skips it)."""
    return [expr, *expr.find_all(kind)] if isinstance(expr, kind) else list(expr.find_all(kind))


def _has_method(expr: nodes.Node, holder: nodes.Getattr) -> bool:
    return any(isinstance(n, nodes.Getattr) and n.node is holder
               for n in _all(expr, nodes.Getattr))


def _use(key: str, method: str, call: nodes.Call | None) -> Use:
    where = f"history.{key}.{method}"
    if method not in METHODS:
        return Use(key, method)  # reported as an unknown name by the name checks
    if METHODS[method] != (call is not None):
        how = f"call it: {where}(…)" if METHODS[method] else f"read it without (): {where}"
        return Use(key, method, problem=f"'{where}' {how}")
    if call is None:
        return Use(key, method, count=1)
    if method == "last":
        return _last(key, call, where)
    return _windowed(key, method, call, where)


def _last(key: str, call: nodes.Call, where: str) -> Use:
    if len(call.args) != 1 or call.kwargs:
        return Use(key, "last", problem=f"'{where}' takes one argument, the number of values")
    count = _static(call.args[0], int)
    if count is None or (isinstance(count, int) and count < 1):
        return Use(key, "last", problem=f"the number of values in '{where}(…)' must be an "
                   "integer ≥ 1 or an integer parameter (params.NAME)")
    return Use(key, "last", count=count)


def _windowed(key: str, method: str, call: nodes.Call, where: str) -> Use:
    allowed = ("within", *(ANY_BOUNDS if method == "any" else ()))
    names = [k.key for k in call.kwargs]
    if call.args or any(n not in allowed for n in names):
        return Use(key, method, problem=f"'{where}' takes only named arguments: "
                   f"{', '.join(allowed)}")
    window = next((k.value for k in call.kwargs if k.key == "within"), None)
    text = _static(window, str) if window is not None else None
    if not isinstance(text, str):
        return Use(key, method, problem=f"'{where}' needs within= a duration (P7D) or a "
                   "duration parameter (params.NAME): the case keeps only that much history")
    if method == "any" and not set(names) & set(ANY_BOUNDS):
        return Use(key, method, problem=f"'{where}' needs above= and/or below=")
    return Use(key, method, count=1, window=text)


def _static(node: nodes.Node, kind: type) -> int | str | None:
    """A literal of ``kind`` or the name of a parameter (``params.NAME``), else None."""
    value = node.value if isinstance(node, nodes.Const) else None
    if type(value) is kind and isinstance(value, int | str):
        return value
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name) \
            and node.node.name == "params":
        return f"params.{node.attr}"
    return None


def needs(exprs: Iterable[nodes.Node]) -> dict[str, Needs]:
    """What the case must keep, per observation kind, for these expressions to read it."""
    out: dict[str, Needs] = {}
    for expr in exprs:
        for use in uses(expr):
            if use.problem is not None or use.method not in METHODS:
                continue
            need = out.setdefault(use.key, Needs())
            if use.count is not None:
                need.counts.add(use.count)
            if use.window is not None:
                need.windows.add(use.window)
    return out
