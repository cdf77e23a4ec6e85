"""The guard language: Jinja2 expressions compiled in an immutable sandbox.

Author text is never passed to ``eval``/``exec``: Jinja2 parses it into its
own AST, the sandbox refuses any attribute that starts with ``_`` or belongs
to Python internals, and the only names in scope are the ones listed in
``ROOTS``. Evaluation is fast because one Jinja context is built per *event*
and shared by every guard evaluated for it, and because most expressions do not
need it: ``engine.pathway.direct`` evaluates the simple ones on the scope's
names with the sandbox's own operations.

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

import functools
import operator
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import TemplateError
from jinja2.parser import Parser
from jinja2.runtime import Context, new_context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import consume

from engine.clock import calendar_days
from engine.exceptions import ExpressionError, ParcoursError
from engine.pathway.datefuncs import days_between, within
from engine.pathway.direct import compile_direct

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
#: The largest input a filter or a text method may work on, counted in items plus the length
#: of the texts and lists among them (``[s] * 10000 | map('upper')`` would copy 10 000 texts).
MAX_WEIGHT = 100_000
#: The work one evaluation of one expression may do, in the units of ``_spend``: every
#: intercepted operation costs 1 plus the weight of what it reads. A real guard costs tens.
MAX_COST = 1_000_000

#: Jinja2's filters an expression may use: the ones whose output is bounded by their input.
#: ``center``, ``indent``, ``wordwrap``, ``format``, ``replace``, ``batch``… can build
#: unbounded text from a short input; ``random`` would make a guard non-deterministic.
ALLOWED_FILTERS = ("abs", "capitalize", "count", "d", "default", "dictsort", "first", "float",
                   "int", "items", "join", "last", "length", "list", "lower", "map", "max",
                   "min", "reject", "rejectattr", "reverse", "round", "select", "selectattr",
                   "sort", "string", "sum", "title", "trim", "truncate", "unique", "upper",
                   "wordcount")
#: methods of text whose result can be far longer than the text itself: checked before the call
_GROWING_TEXT_METHODS = frozenset(("center", "ljust", "rjust", "zfill", "expandtabs", "replace",
                                   "join", "format", "format_map"))


class ExpressionCostError(ParcoursError, SecurityError):
    """An expression went over one of the limits above (memory or work); a ``SecurityError``
    for Jinja2, a ``ParcoursError`` for everything of ours that reports errors."""

    retryable = False


class _Budget(threading.local):
    """What is left of the current evaluation's ``MAX_COST`` (one per thread)."""

    left = MAX_COST


_BUDGET = _Budget()


def _spend(units: int) -> None:
    budget = _BUDGET
    budget.left -= units
    if budget.left < 0:
        raise ExpressionCostError(f"expression does more than {MAX_COST} operations")


def _weight(value: Any) -> int:
    """Items plus the lengths of the texts and lists among them (0 for a scalar)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | dict | set | frozenset):
        if len(value) > MAX_WEIGHT:
            return len(value)
        items = value.values() if isinstance(value, dict) else value
        return len(value) + sum(len(item) for item in items
                                if isinstance(item, str | list | tuple | dict))
    return 0


def _bounded_input(value: Any) -> Any:
    """An iterator (what ``map``/``select`` return) as a list of at most MAX_WEIGHT items."""
    if isinstance(value, Iterator):
        items = list(islice(value, MAX_WEIGHT + 1))
        if len(items) > MAX_WEIGHT:
            raise ExpressionCostError(f"expression works on more than {MAX_WEIGHT} items")
        return items
    return value


def _check_weight(*values: Any) -> int:
    total = sum(_weight(value) for value in values)
    if total > MAX_WEIGHT:
        raise ExpressionCostError(f"expression works on more than {MAX_WEIGHT} items or "
                                  "characters at once")
    return total


#: values whose size cannot grow with what an expression does to them
_SMALL = frozenset((int, float, bool, type(None), date, datetime))


def _small(value: Any) -> bool:
    kind = type(value)
    return kind in _SMALL or (kind is str and len(value) <= 256)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with its input materialised, weighed and charged to the budget first.

    A filter applied to a number or a short text (``event.result.x|int``) takes a fast path:
    its cost does not depend on the input.
    """
    first = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # env/context

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if not kwargs and len(args) == first + 1 and _small(args[first]):
            return func(*args)
        args = (*args[:first], *map(_bounded_input, args[first:]))
        data = args[first] if len(args) > first else None
        rest = _check_weight(*args[first + 1:], *kwargs.values())
        size = _check_weight(data)
        items = len(data) if isinstance(data, list | tuple | dict | str) else 1
        if name == "join" and items * rest > MAX_WEIGHT:
            raise ExpressionCostError(f"expression builds a value longer than {MAX_WEIGHT}")
        _spend(1 + size + items * rest)
        return func(*args, **kwargs)
    return bounded


def _check_text_method(text: str, name: str, args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of a growing text method whose result would exceed MAX_SEQUENCE."""
    if name in ("format", "format_map"):
        raise ExpressionCostError("text formatting is not available in expressions; compare "
                                  "the values themselves")
    if name == "join":
        items = _bounded_input(args[0]) if args else []
        if len(text) * len(items) + _check_weight(items) > MAX_WEIGHT:
            raise ExpressionCostError(f"expression builds a value longer than {MAX_WEIGHT}")
        return (items,)
    if name == "replace":
        old = args[0] if args else kwargs.get("old", "")
        new = args[1] if len(args) > 1 else kwargs.get("new", "")
        if isinstance(old, str) and isinstance(new, str):
            hits = text.count(old) if old else len(text) + 1
            if len(text) + hits * max(len(new) - len(old), 0) > MAX_SEQUENCE:
                raise ExpressionCostError(f"expression builds a value longer than "
                                          f"{MAX_SEQUENCE}")
        return args
    width = args[0] if args else next(iter(kwargs.values()), 8)
    if isinstance(width, int) and not isinstance(width, bool):
        size = width * text.count("\t") + len(text) if name == "expandtabs" else width
        if size > MAX_SEQUENCE:
            raise ExpressionCostError(f"expression builds a value longer than {MAX_SEQUENCE}")
    return args


_NUMBERS = frozenset((int, float))
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {"*": operator.mul, "+": operator.add,
                                                     "%": operator.mod}


class GuardEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with a fast path for plain dicts (their items are data, never internals).

    Every way of building a large value is bounded: repetition, concatenation, powers and
    ``%`` are intercepted (Jinja2 then neither folds them at compile time, where
    ``'a' * 300000000`` would allocate while validating, nor lets them run unbounded); only
    the filters of ``ALLOWED_FILTERS`` exist, each weighing its input first; text methods
    that grow text are checked before they run; and each evaluation has a budget of work
    (``MAX_COST``). Over a limit, an ``ExpressionCostError``: a located error in ``validate``
    for a literal, a refused event at run time (``engine.exceptions.GuardCostError``).
    """

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self) -> None:
        super().__init__()
        self.filters = {name: _bounded_filter(name, self.filters[name])
                        for name in ALLOWED_FILTERS}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if type(left) in _NUMBERS and type(right) in _NUMBERS and operator != "**":
            return _ARITHMETIC[operator](left, right)
        _spend(1 + _weight(left) + _weight(right))
        if operator == "**":
            _check_power(left, right)
            return left ** right
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
            return left * right
        if operator == "%":
            if isinstance(left, str):
                raise ExpressionCostError("text formatting with % is not available in "
                                          "expressions; compare the values themselves")
            return left % right
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple) \
                and len(left) + len(right) > MAX_SEQUENCE:
            raise ExpressionCostError(f"expression builds a value longer than {MAX_SEQUENCE}")
        return left + right

    def call(__self, __context: Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        _spend(1 + _check_weight(*args, *kwargs.values()))
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _GROWING_TEXT_METHODS:
                args = _check_text_method(owner, name, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

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
        raise ExpressionCostError(f"expression builds a value longer than {MAX_SEQUENCE}")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and not isinstance(base, bool) \
            and exponent > 0 and abs(base) > 1 \
            and abs(base).bit_length() * exponent > MAX_POWER_BITS:
        raise ExpressionCostError(f"expression computes a number over {MAX_POWER_BITS} bits")


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


#: the names of ``ROOTS`` that hold data (the others are functions)
DATA_ROOTS = ("params", "facts", "obs", "patient", "event", "now", "history")
#: names an expression finds elsewhere than in its scope's values: the sandbox's globals and
#: the functions of ``now`` (``Scope.context``); an expression reading one is left to Jinja2
_HIDDEN = frozenset((*_GLOBALS, "days_since", "within"))


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A parsed, sandboxed expression; evaluate it inside a ``Scope``.

    A simple expression (see ``engine.pathway.direct``) also has ``_direct``: the same
    operations on the scope's names, without the Jinja context; ``_budgeted`` says whether
    they include one that charges the budget (then reset first, as for the sandbox).
    """

    source: str
    _root: Callable[[Context], Iterator[Any]]
    names: tuple[tuple[str, ...], ...]
    _direct: Callable[[dict[str, Any]], Any] | None = None
    _budgeted: bool = True

    def evaluate(self, scope: Scope) -> Any:
        direct = self._direct
        if direct is not None:
            if self._budgeted:
                _BUDGET.left = MAX_COST
            return direct(scope.values)
        return self.evaluate_sandboxed(scope)

    def evaluate_sandboxed(self, scope: Scope) -> Any:
        """The evaluation by Jinja2's sandbox, whatever the expression."""
        ctx = scope.context
        _BUDGET.left = MAX_COST
        consume(self._root(ctx))
        return ctx.vars["result"]


class Scope:
    """The names visible to expressions for one event (built once, shared by all guards).

    The Jinja context is made on first use, so an event that meets no guard and
    no expression does not pay for it.
    """

    __slots__ = ("_context", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self._context: Context | None = None

    @property
    def context(self) -> Context:
        context = self._context
        if context is None:
            now = self.values.get("now")
            context = self._context = new_context(
                ENV, None, {}, {**_GLOBALS, **self.values,
                                "days_since": lambda moment: days_since(moment, now),
                                "within": lambda moment, delay: within(moment, delay, now)},
                shared=True)
        return context

    def set_fact(self, name: str, value: Any) -> None:
        self.values["facts"][name] = value


def parse(source: str) -> nodes.Expr:
    """Parse an expression; raise ``ExpressionError`` with the 1-based column if it is wrong."""
    _check_brackets(source)
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
    except RecursionError:  # e.g. hundreds of 'not not …': Jinja2's parser is recursive
        raise _too_deep(source) from None
    _check_depth(source, expr)
    _check_cost(source, expr)
    return expr


#: deeper expressions are refused: Python compiles Jinja2's output with at most 200 nested
#: parentheses, and no guard needs more than a few levels
MAX_EXPRESSION_DEPTH = 80


def _too_deep(source: str, column: int | None = None) -> ExpressionError:
    return ExpressionError(source, f"expression nested too deeply (more than "
                           f"{MAX_EXPRESSION_DEPTH} levels of operators, filters or "
                           "brackets); split it with facts set by 'set:'", column)


def _check_brackets(source: str) -> None:
    """Refuse deep bracket nesting before Jinja2's recursive parser meets it."""
    depth = 0
    for index, char in enumerate(source):
        if char in "([{":
            depth += 1
            if depth > MAX_EXPRESSION_DEPTH // 2:
                raise _too_deep(source, index + 1)
        elif char in ")]}":
            depth -= 1


def _check_depth(source: str, expr: nodes.Node) -> None:
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise _too_deep(source)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


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
    """Refuse, while validating, literal arithmetic or text building that would exhaust memory
    at run time (``'a' * 300000000``, ``'%300000000d' % 1``, ``'a'.ljust(300000000)``) and
    text formatting, which no guard needs."""
    for node in expr.find_all((nodes.Mul, nodes.Pow, nodes.Add, nodes.Mod, nodes.Call)):
        try:
            if isinstance(node, nodes.Call):
                _check_static_call(node)
                continue
            assert isinstance(node, nodes.BinExpr)
            left, right = _static(node.left), _static(node.right)
            if isinstance(node, nodes.Pow):
                _check_power(left, right)
            elif isinstance(node, nodes.Mul):
                _check_repeat(left, right)
                _check_repeat(right, left)
            elif isinstance(node, nodes.Mod) and isinstance(left, str):
                raise ExpressionCostError("text formatting with % is not available in "
                                          "expressions; compare the values themselves")
        except SecurityError as exc:
            needed = "" if "not available" in str(exc) else ": such a value is never needed " \
                "in a guard"
            raise ExpressionError(source, f"{exc}{needed}") from None


def _check_static_call(node: nodes.Call) -> None:
    """A text method called on a literal with literal arguments, checked like at run time."""
    if not isinstance(node.node, nodes.Getattr) or node.node.attr not in _GROWING_TEXT_METHODS:
        return
    if node.node.attr in ("format", "format_map"):
        _check_text_method("", node.node.attr, (), {})
    text = _static(node.node.node)
    args = tuple(_static(arg) for arg in node.args)
    kwargs = {kw.key: _static(kw.value) for kw in node.kwargs}
    if isinstance(text, str) and None not in args and None not in kwargs.values():
        _check_text_method(text, node.node.attr, args, kwargs)


def compile_expression(source: str) -> CompiledExpression:
    expr = parse(source)
    # before Jinja2 folds the constants of ``expr`` in place
    direct = compile_direct(expr, ENV, _HIDDEN)
    _BUDGET.left = MAX_COST  # constant folding runs the filters of literal input
    try:
        body = [nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)]
        template = ENV.from_string(nodes.Template(body, lineno=1))
    except (SyntaxError, RecursionError, MemoryError) as exc:  # Python's own limits
        raise ExpressionError(source, "expression too large or too deeply nested for the "
                              "guard language") from exc
    except TemplateError as exc:  # e.g. unknown filter or test
        message = (exc.message or "invalid expression").rstrip(".")
        if "no filter named" in message.lower():
            message += "; available filters: " + ", ".join(ALLOWED_FILTERS)
        raise ExpressionError(source, f"invalid expression: {message}") from exc
    return CompiledExpression(source, template.root_render_func, tuple(references(expr)),
                              *(direct or ()))


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


__all__ = ["ALLOWED_FILTERS", "ROOTS", "CompiledExpression", "ExpressionCostError", "Scope",
           "compile_expression", "parse", "references"]


def make_scope(*, params: Mapping[str, Any], facts: dict[str, Any], obs: Mapping[str, Any],
               patient: Mapping[str, Any], event: Mapping[str, Any], now: datetime) -> Scope:
    return Scope({"params": params, "facts": facts, "obs": obs, "patient": patient,
                  "event": event, "now": now})
