"""A direct evaluator for the simple guards: the same operations as the sandbox, without a
Jinja context or a generator per evaluation.

Most guards are a few attribute reads, comparisons and boolean operators
(``event.value <= params.hba1c_target``). For such an expression Jinja2's sandbox
builds a template function that resolves names through a ``Context`` and runs as
a generator; here the expression's Jinja2 tree (already parsed and checked by
``engine.pathway.expressions.parse``) is turned into a Python *syntax tree* (never
source text: author text is neither passed to ``eval`` nor to ``exec``, constants
are ``ast.Constant`` nodes) calling exactly the functions the sandbox's generated
code calls: ``environment.getattr`` / ``getitem`` for every attribute and item,
``environment.call_binop`` for the intercepted operators (``+ * % **``), the
bounded filters of ``environment.filters`` and the tests of ``environment.tests``.
The results, the ``Undefined`` values and the errors are therefore the same as the
sandbox's, which ``tests/engine/test_direct_guards.py`` checks on every guard of
every pathway.

Only these constructs are compiled: names (``params``, ``facts``, ``event``…; not
the sandbox's globals such as ``range``), constants, list, tuple and dict literals,
attribute and item access (no slices), comparisons, ``and``/``or``/``not``, unary ``-``/``+``,
arithmetic, ``a if b else c`` with an ``else``, and filters and tests that take no
Jinja context, with positional arguments. Anything else (calls such as
``days_since(…)``, ``~``, keyword arguments…) is left to the sandbox.
None of these constructs loops: the work of one evaluation is bounded by the size
of the expression, except in the operations that weigh their input and charge the
budget (intercepted operators, filters); the budget is reset before an evaluation
only for expressions that hold such an operation.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

from engine.exceptions import ParcoursError

#: the parameter of the compiled function: the scope's dict of names
_VALUES = "v"

_COMPARE: dict[str, type[ast.cmpop]] = {
    "eq": ast.Eq, "ne": ast.NotEq, "gt": ast.Gt, "gteq": ast.GtE, "lt": ast.Lt,
    "lteq": ast.LtE, "in": ast.In, "notin": ast.NotIn}
_BINOPS: dict[type[nodes.BinExpr], tuple[str, type[ast.operator]]] = {
    nodes.Add: ("+", ast.Add), nodes.Sub: ("-", ast.Sub), nodes.Mul: ("*", ast.Mult),
    nodes.Div: ("/", ast.Div), nodes.FloorDiv: ("//", ast.FloorDiv), nodes.Mod: ("%", ast.Mod),
    nodes.Pow: ("**", ast.Pow)}
_UNARY: dict[type[nodes.UnaryExpr], tuple[str, type[ast.unaryop]]] = {
    nodes.Neg: ("-", ast.USub), nodes.Pos: ("+", ast.UAdd), nodes.Not: ("not", ast.Not)}


class _Unsupported(ParcoursError):
    """The expression uses a construct left to the sandbox (never leaves this module)."""


class _Builder:
    """Jinja2 expression nodes → Python expression nodes, as the sandbox's code generator
    writes them (``jinja2.compiler.CodeGenerator``, sandboxed)."""

    def __init__(self, env: SandboxedEnvironment, hidden: Collection[str]) -> None:
        self.env, self.hidden = env, hidden
        #: names the compiled function finds in its globals: the environment's functions
        self.globals: dict[str, Any] = {"__builtins__": {}, "undefined": env.undefined,
                                        "getattr_": env.getattr, "getitem_": env.getitem,
                                        "binop_": env.call_binop}
        #: whether an operation that charges the evaluation's budget is used
        self.budgeted = False

    def build(self, node: nodes.Node) -> ast.expr:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise _Unsupported(type(node).__name__)
        result: ast.expr = method(node)
        return result

    @staticmethod
    def _call(func: str, *args: ast.expr) -> ast.expr:
        return ast.Call(ast.Name(func, ast.Load()), list(args), [])

    def _Name(self, node: nodes.Name) -> ast.expr:
        # ``resolve(name)`` in the scope, ``undefined(name=…)`` when it is not there
        if node.ctx != "load" or node.name in self.hidden:
            raise _Unsupported(node.name)
        key = ast.Constant(node.name)
        values = ast.Name(_VALUES, ast.Load())
        return ast.IfExp(ast.Compare(key, [ast.In()], [values]),
                         ast.Subscript(values, key, ast.Load()),
                         ast.Call(ast.Name("undefined", ast.Load()), [],
                                  [ast.keyword("name", ast.Constant(node.name))]))

    def _Const(self, node: nodes.Const) -> ast.expr:
        if type(node.value) not in (int, float, str, bool, type(None)):
            raise _Unsupported(repr(node.value))
        return ast.Constant(node.value)

    def _List(self, node: nodes.List) -> ast.expr:
        return ast.List([self.build(item) for item in node.items], ast.Load())

    def _Tuple(self, node: nodes.Tuple) -> ast.expr:
        if node.ctx != "load":
            raise _Unsupported("tuple")
        return ast.Tuple([self.build(item) for item in node.items], ast.Load())

    def _Dict(self, node: nodes.Dict) -> ast.expr:
        return ast.Dict([self.build(pair.key) for pair in node.items],
                        [self.build(pair.value) for pair in node.items])

    def _Getattr(self, node: nodes.Getattr) -> ast.expr:
        if node.ctx != "load":
            raise _Unsupported("getattr")
        return self._call("getattr_", self.build(node.node), ast.Constant(node.attr))

    def _Getitem(self, node: nodes.Getitem) -> ast.expr:
        if node.ctx != "load" or isinstance(node.arg, nodes.Slice):
            raise _Unsupported("getitem")
        return self._call("getitem_", self.build(node.node), self.build(node.arg))

    def _Compare(self, node: nodes.Compare) -> ast.expr:
        return ast.Compare(self.build(node.expr), [_COMPARE[op.op]() for op in node.ops],
                           [self.build(op.expr) for op in node.ops])

    def _And(self, node: nodes.And) -> ast.expr:
        return ast.BoolOp(ast.And(), [self.build(node.left), self.build(node.right)])

    def _Or(self, node: nodes.Or) -> ast.expr:
        return ast.BoolOp(ast.Or(), [self.build(node.left), self.build(node.right)])

    def _binary(self, node: nodes.BinExpr) -> ast.expr:
        symbol, operator = _BINOPS[type(node)]
        left, right = self.build(node.left), self.build(node.right)
        if symbol in self.env.intercepted_binops:
            self.budgeted = True
            return self._call("binop_", ast.Constant(None), ast.Constant(symbol), left, right)
        return ast.BinOp(left, operator(), right)

    _Add = _Sub = _Mul = _Div = _FloorDiv = _Mod = _Pow = _binary

    def _unary(self, node: nodes.UnaryExpr) -> ast.expr:
        symbol, operator = _UNARY[type(node)]
        if symbol in self.env.intercepted_unops:
            raise _Unsupported(symbol)
        return ast.UnaryOp(operator(), self.build(node.node))

    _Neg = _Pos = _Not = _unary

    def _CondExpr(self, node: nodes.CondExpr) -> ast.expr:
        if node.expr2 is None:  # Jinja2 makes an Undefined with its own message
            raise _Unsupported("if without else")
        return ast.IfExp(self.build(node.test), self.build(node.expr1), self.build(node.expr2))

    def _Filter(self, node: nodes.Filter) -> ast.expr:
        if node.node is None:
            raise _Unsupported("filter block")
        self.budgeted = True  # the bounded filters weigh their input
        return self._function(node, self.env.filters, "filter")

    def _Test(self, node: nodes.Test) -> ast.expr:
        return self._function(node, self.env.tests, "test")

    def _function(self, node: nodes.Filter | nodes.Test, table: dict[str, Any],
                  kind: str) -> ast.expr:
        func = table.get(node.name)
        if func is None or _PassArg.from_obj(func) is not None or node.kwargs \
                or node.dyn_args is not None or node.dyn_kwargs is not None:
            raise _Unsupported(f"{kind} {node.name}")
        name = f"{kind}_{len(self.globals)}"
        self.globals[name] = func
        assert node.node is not None
        return self._call(name, self.build(node.node), *(self.build(a) for a in node.args))


def compile_direct(expr: nodes.Expr, env: SandboxedEnvironment, hidden: Collection[str]
                   ) -> tuple[Callable[[dict[str, Any]], Any], bool] | None:
    """``expr`` as a function of the scope's names, and whether an evaluation of it can
    charge the budget; None when it uses a construct left to the sandbox.

    ``hidden`` are the names the sandbox finds elsewhere than in the scope (the
    environment's globals): an expression that reads one is left to the sandbox."""
    builder = _Builder(env, hidden)
    try:
        body = builder.build(expr)
    except _Unsupported:
        return None
    except RecursionError:
        return None
    tree = ast.Expression(ast.Lambda(
        ast.arguments(posonlyargs=[], args=[ast.arg(_VALUES)], kwonlyargs=[], kw_defaults=[],
                      defaults=[]), body))
    ast.fix_missing_locations(tree)
    try:
        code = compile(tree, "<guard>", "eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    function: Callable[[dict[str, Any]], Any] = eval(code, builder.globals)
    return function, builder.budgeted
