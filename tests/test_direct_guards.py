"""Guards evaluated directly (``engine.pathway.direct``) give what the sandbox gives.

Every guard, ``set`` expression and eligibility expression of every pathway file in
``pathways/`` and ``tests/`` (broken files too: their expressions are read from the
YAML), and a list of tricky ones, is evaluated both ways over generated scopes: the
same value of the same type, or the same error with the same message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Undefined

from engine.clock import PARIS
from engine.exceptions import ExpressionError
from engine.pathway.expressions import (
    DATA_ROOTS,
    CompiledExpression,
    compile_expression,
    make_scope,
)

ROOT = Path(__file__).resolve().parents[1]

#: constructs the pathways do not use (yet), with their errors and Undefined values
TRICKY = [
    "facts.x + facts.y", "facts.x * 3", "facts.x ** 2", "facts.x % 3", "facts.x - facts.y",
    "facts.x / facts.y", "facts.x // 2", "-facts.x", "+facts.x", "not facts.x",
    "facts.x < facts.y < 10", "facts.x in [1, 2, 'a']", "facts.x not in (1, none)",
    "facts.x|int", "(facts.x|float) > 1.5", "facts.x|default(3)", "facts.x|length",
    "facts.x|lower == 'a'", "facts.x|round(1)", "facts.x|abs", "facts.x|string",
    "facts.x is defined", "facts.x is none", "facts.x is number", "facts.x is string",
    "facts.x is divisibleby(3)", "facts.x is not none and facts.y",
    "facts.x if facts.y else facts.z", "facts.x['y']", "facts.x[0]", "facts.x[facts.y]",
    "event.result.grade >= 2", "event.data.nombre >= params.n", "obs.hba1c.value > 8",
    "patient.age >= params.age", "facts.d <= now", "facts.x.y.z", "facts.x == none",
    "params.x or facts.y or 3", "facts.x and facts.y and facts.z", "[facts.x, 1][0]",
    "'abc' + facts.x", "facts.x * 'ab'", "facts.x + [1]", "nowhere", "nowhere.x",
    "facts.x.__class__", "facts.x.upper", "history.poids", "facts.x|sum",
    "days_since(facts.d) > 2", "facts.x ~ 'a'", "{'a': 1, facts.y: 2}[facts.x]",
]


def _expressions_of(data: Any, key: str | None = None) -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            if k in ("guard", "eligibility") and isinstance(v, str):
                yield v
            elif k == "set" and isinstance(v, dict):
                yield from (text for text in v.values() if isinstance(text, str))
            else:
                yield from _expressions_of(v, k)
    elif isinstance(data, list):
        for item in data:
            yield from _expressions_of(item, key)


def _sources() -> list[str]:
    found: dict[str, None] = {}
    for path in sorted([*ROOT.glob("pathways/**/*.yaml"), *ROOT.glob("tests/**/*.yaml")]):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue
        found.update(dict.fromkeys(_expressions_of(data)))
    return list(found)


def _compiled(sources: list[str]) -> list[CompiledExpression]:
    out = []
    for source in sources:
        try:
            out.append(compile_expression(source))
        except ExpressionError:
            continue
    return out


PATHWAY_EXPRESSIONS = _compiled(_sources())
EXPRESSIONS = PATHWAY_EXPRESSIONS + _compiled(TRICKY)

NOW = datetime(2026, 3, 5, 9, 30, tzinfo=PARIS)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10), st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.sampled_from(["", "a", "A", "bas", "eleve", "E11", "12", "3.5", "F", "M"]),
    st.lists(st.integers(0, 3), max_size=3), st.just(NOW - timedelta(days=3)),
    st.just(date(2026, 3, 1)))


def _put(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


@st.composite
def scopes(draw: st.DrawFn, expression: CompiledExpression) -> dict[str, Any]:
    """Values for every name path the expression reads: a leaf, a nested mapping, or
    nothing (the key absent); sometimes a whole root is a leaf instead of a mapping."""
    values: dict[str, Any] = {root: {} for root in DATA_ROOTS if root != "now"}
    values["now"] = NOW
    for path in sorted(set(expression.names), key=len, reverse=True):
        if len(path) < 2 or path[0] not in values or path[0] == "now":
            continue
        if draw(st.integers(0, 9)) == 0:
            continue  # absent: Undefined
        _put(values, path, draw(leaves))
    for root in DATA_ROOTS:
        if root != "now" and draw(st.integers(0, 24)) == 0:
            values[root] = draw(leaves)
    return values


def _outcome(expression: CompiledExpression, values: dict[str, Any],
             sandboxed: bool) -> tuple[str, Any]:
    scope = make_scope(params=values["params"], facts=values["facts"], obs=values["obs"],
                       patient=values["patient"], event=values["event"], now=values["now"])
    scope.values["history"] = values["history"]
    try:
        result = (expression.evaluate_sandboxed(scope) if sandboxed
                  else expression.evaluate(scope))
    except Exception as exc:
        return "error", (type(exc), str(exc))
    if isinstance(result, Undefined):
        return "undefined", (type(result), result._undefined_name,  # type: ignore[attr-defined]
                             result._undefined_hint)  # type: ignore[attr-defined]
    if isinstance(result, float) and math.isnan(result):
        return "nan", None
    return "value", (type(result), result)


def test_most_pathway_guards_are_direct() -> None:
    """The direct path is the common one (the benchmark's pathway: every expression)."""
    direct = [e for e in PATHWAY_EXPRESSIONS if e._direct is not None]
    assert len(PATHWAY_EXPRESSIONS) > 50
    assert len(direct) >= 0.8 * len(PATHWAY_EXPRESSIONS)
    left = {e.source for e in PATHWAY_EXPRESSIONS if e._direct is None}
    assert all("(" in source for source in left), left


def test_calls_and_globals_are_left_to_the_sandbox() -> None:
    for source in ("days_since(facts.d) > 2", "range", "facts.x ~ 'a'", "facts.x|sum",
                   "range(3)|length", "facts.x if facts.y", "facts.x|default(d=1)"):
        assert compile_expression(source)._direct is None, source
    assert compile_expression("facts.x < 2")._budgeted is False
    assert compile_expression("facts.x + 1 < 2")._budgeted is True
    assert compile_expression("(facts.x|int) < 2")._budgeted is True


@pytest.mark.parametrize("expression", [e for e in EXPRESSIONS if e._direct is not None],
                         ids=lambda e: e.source[:60])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_direct_evaluation_is_the_sandbox_s(expression: CompiledExpression,
                                              data: st.DataObject) -> None:
    values = data.draw(scopes(expression))
    assert _outcome(expression, values, False) == _outcome(expression, values, True)
