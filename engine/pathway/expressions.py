"""The guard language: Jinja2 expressions compiled in an immutable sandbox.

Author text is never passed to ``eval``/``exec``: Jinja2 parses it into its
own AST, the sandbox refuses any attribute that starts with ``_`` or belongs
to Python internals, and the only names in scope are the ones listed in
``ROOTS``. Evaluation is fast because one Jinja context is built per *event*
and shared by every guard evaluated for it.

Names an expression can read:

``params.NAME``        pathway parameters (defaults, or the CPTS's overrides)
``facts.NAME``         facts of the case
``obs.KEY.value|unit|date|days_ago``  latest observation of KEY, or none
``patient.age|sex|conditions``        the patient (age in whole years at ``now``)
``event.name|value|unit|date|result.FIELD|data.FIELD``  the event being applied
``now``                the time of the event
``history.KEY.…``      the case's recent values of KEY (see ``engine.pathway.history``)
``days_since(date)``   whole days between ``date`` and ``now``
``days_between(a, b)`` calendar days (Europe/Paris) from ``a`` to ``b``
``within(date, delay)`` ``now`` is at most ``delay`` after ``date``, in calendar days
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import TemplateError
from jinja2.parser import Parser
from jinja2.runtime import Context, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import consume

from engine.clock import calendar_days
from engine.exceptions import ExpressionError
from engine.pathway.datefuncs import days_between, within

ROOTS = ("params", "facts", "obs", "patient", "event", "now", "history", "days_since",
         "days_between", "within")
#: names an eligibility expression may read (there is no case yet)
ELIGIBILITY_ROOTS = ("params", "patient", "now", "days_since", "days_between", "within")
OBS_FIELDS = ("value", "unit", "date", "days_ago")
PATIENT_FIELDS = ("age", "sex", "conditions", "birth_date", "ald", "condition_years")
EVENT_FIELDS = ("name", "value", "unit", "date", "result", "data", "task")


#: The largest string, list or tuple an expression may build (``'a' * n``, ``x + y``) and the
#: largest integer power (``10 ** n``): a pathway file must not be able to exhaust memory.
MAX_SEQUENCE = 10_000
MAX_POWER_BITS = 4_096


class GuardEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with a fast path for plain dicts (their items are data, never internals).

    Repetition, concatenation and powers are intercepted: Jinja2 then neither folds them at
    compile time (where ``'a' * 300000000`` would allocate while validating) nor lets them
    run unbounded; an expression that would exceed ``MAX_SEQUENCE`` / ``MAX_POWER_BITS``
    fails with a ``SecurityError``, which the runtime reports like any failed guard.
    """

    intercepted_binops = frozenset(["*", "**", "+"])

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
            return left ** right
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            return left * right
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple) \
                and len(left) + len(right) > MAX_SEQUENCE:
            raise SecurityError(f"expression builds a value longer than {MAX_SEQUENCE}")
        return left + right

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _check_repeat(seq: Any, times: Any) -> None:
    if isinstance(seq, str | list | tuple) and isinstance(times, int) \
            and len(seq) * max(times, 0) > MAX_SEQUENCE:
        raise SecurityError(f"expression builds a value longer than {MAX_SEQUENCE}")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and not isinstance(base, bool) \
            and exponent > 0 and abs(base) > 1 \
            and abs(base).bit_length() * exponent > MAX_POWER_BITS:
        raise SecurityError(f"expression computes a number over {MAX_POWER_BITS} bits")


ENV = GuardEnvironment()
#: Jinja's default globals (range, dict, namespace…), as a plain dict: copying the template's
#: ChainMap of globals for every event cost more than evaluating all its guards
_GLOBALS: dict[str, Any] = {**ENV.globals, "days_between": days_between}


def days_since(moment: Any, now: datetime | None = None) -> int | None:
    """Calendar days from ``moment`` to ``now`` on the territory's dates (Europe/Paris).

    A discharge at 23:00 is "1 day ago" at 08:00 the next morning: days are dates,
    not 24-hour spans.
    """
    if moment is None or now is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime | date):
        return calendar_days(moment, now)
    return None


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A parsed, sandboxed expression; evaluate it inside a ``Scope``."""

    source: str
    _root: Callable[[Context], Iterator[Any]]
    names: tuple[tuple[str, ...], ...]

    def evaluate(self, scope: Scope) -> Any:
        ctx = scope.context
        consume(self._root(ctx))
        return ctx.vars["result"]


class Scope:
    """The names visible to expressions for one event (built once, shared by all guards).

    The Jinja context is made on first use, so an event that meets no guard and
    no expression does not pay for it.
    """

    __slots__ = ("_context", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        now = values.get("now")
        values["days_since"] = lambda moment: days_since(moment, now)
        values["within"] = lambda moment, delay: within(moment, delay, now)
        self.values = values
        self._context: Context | None = None

    @property
    def context(self) -> Context:
        context = self._context
        if context is None:
            context = self._context = new_context(ENV, None, {}, {**_GLOBALS, **self.values},
                                                  shared=True)
        return context

    def set_fact(self, name: str, value: Any) -> None:
        self.values["facts"][name] = value


def parse(source: str) -> nodes.Expr:
    """Parse an expression; raise ``ExpressionError`` with the 1-based column if it is wrong."""
    parser = Parser(ENV, source, state="variable")
    try:
        expr = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise ExpressionError(source, f"unexpected {token.value!r} after the expression",
                                  _column(source, token.lineno, token.value))
        expr.set_environment(ENV)
    except TemplateSyntaxError as exc:
        message = (exc.message or "invalid syntax").replace("template", "expression")
        raise ExpressionError(source, f"syntax error in expression: {message}") from exc
    _check_cost(source, expr)
    return expr


def _static(node: nodes.Node) -> Any:
    """The value of a literal (a constant, or a list/tuple of constants), else None."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.List | nodes.Tuple):
        items = [item for item in node.items if isinstance(item, nodes.Const)]
        if len(items) == len(node.items):
            return [item.value for item in items]
    return None


def _check_cost(source: str, expr: nodes.Node) -> None:
    """Refuse, while validating, literal arithmetic that would exhaust memory at run time."""
    for node in expr.find_all((nodes.Mul, nodes.Pow, nodes.Add)):
        left, right = _static(node.left), _static(node.right)
        try:
            if isinstance(node, nodes.Pow):
                _check_power(left, right)
            elif isinstance(node, nodes.Mul):
                _check_repeat(left, right)
                _check_repeat(right, left)
        except SecurityError as exc:
            raise ExpressionError(source, f"{exc}: such a value is never needed in a "
                                  "guard") from None


def compile_expression(source: str) -> CompiledExpression:
    expr = parse(source)
    try:
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        template = ENV.from_string(nodes.Template(body, lineno=1))
    except TemplateError as exc:  # e.g. unknown filter or test
        raise ExpressionError(source, f"invalid expression: {exc.message}") from exc
    return CompiledExpression(source, template.root_render_func, tuple(references(expr)))


def references(expr: nodes.Node) -> Iterator[tuple[str, ...]]:
    """Every name path the expression reads: ('params', 'x'), ('obs', 'hba1c', 'value')…"""
    for name in expr.find_all(nodes.Name):
        if name.ctx == "load":
            yield (name.name,)
    for chain in _outermost_chains(expr):
        yield _chain(chain)


def _outermost_chains(expr: nodes.Node) -> Iterator[nodes.Node]:
    chains = [n for n in expr.find_all((nodes.Getattr, nodes.Getitem))
              if isinstance(n, nodes.Getattr | nodes.Getitem)]
    inner = {id(n.node) for n in chains if isinstance(n.node, nodes.Getattr | nodes.Getitem)}
    yield from (n for n in chains if id(n) not in inner)


def _chain(node: nodes.Node) -> tuple[str, ...]:
    parts: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
        else:
            parts.clear()  # a computed index: only what precedes it can be checked
        node = node.node
    if isinstance(node, nodes.Name):
        parts.append(node.name)
        return tuple(reversed(parts))
    return ()


def _column(source: str, lineno: int, token: object) -> int | None:
    line = source.splitlines()[lineno - 1] if source else ""
    index = line.find(str(token))
    return index + 1 if index >= 0 else None


def literal_or_expression(value: Any) -> CompiledExpression | Any:
    """In ``set:``, strings are expressions; other YAML scalars are literal values."""
    return compile_expression(value) if isinstance(value, str) else value


def evaluate_value(value: Any, scope: Scope) -> Any:
    return value.evaluate(scope) if isinstance(value, CompiledExpression) else value


def plain(value: Any) -> Any:
    """Turn Jinja's Undefined into None for storage."""
    return None if isinstance(value, Undefined) else value


__all__ = ["ROOTS", "CompiledExpression", "Scope", "compile_expression", "parse", "references"]


def make_scope(*, params: Mapping[str, Any], facts: dict[str, Any], obs: Mapping[str, Any],
               patient: Mapping[str, Any], event: Mapping[str, Any], now: datetime) -> Scope:
    return Scope({"params": params, "facts": facts, "obs": obs, "patient": patient,
                  "event": event, "now": now})
