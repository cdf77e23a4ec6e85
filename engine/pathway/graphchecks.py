"""Graph checks: every state reachable, every state able to reach an end.

The graph has an edge from a state to each target of its own transitions and
of its ancestors' transitions (they fire while it is active), and from a
compound or parallel state to the children entered with it. Where a mistake
reported by another check makes an edge unknown (an undefined or ambiguous
``to``, a missing ``initial``), the graph assumes every possible edge, so that
one mistake is reported once and not again as unreachable or endless states.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.exceptions import Diagnostic
from engine.pathway.checkcontext import CheckContext, transitions
from engine.pathway.statetree import ROOT, StateTree

Edges = dict[str, set[str]]


def _own_edges(ctx: CheckContext) -> Edges:
    """state → targets of its own transitions (every state when a target is unknown)."""
    tree = ctx.tree
    every_state = {n.id for n in tree.states()}
    own: Edges = {sid: set() for sid in tree.nodes}
    for sid, _, transition, _ in transitions(ctx):
        if transition.to is not None:
            target, _ = tree.resolve(transition.to, sid)
            own[sid] |= {target} if target is not None else every_state
    return own


def _entered_with(tree: StateTree, sid: str) -> set[str]:
    """Children entered with ``sid``: all regions, the initial child, or (unknown) any child."""
    node = tree.nodes[sid]
    child = tree.initial_child(sid)
    if node.state.parallel or (child is None and node.children):
        return set(node.children)
    return {child} if child is not None else set()


def edges(ctx: CheckContext) -> Edges:
    """state → states it can lead to: its transitions and its ancestors', and default entry."""
    tree = ctx.tree
    own = _own_edges(ctx)
    out: Edges = {}
    for sid in tree.nodes:
        targets = set(own[sid]) | _entered_with(tree, sid)
        for ancestor in tree.ancestors(sid) if sid else []:
            targets |= own[ancestor]
        out[sid] = targets
    return out


def closure(graph: Edges, start: set[str]) -> set[str]:
    """Every node reachable from ``start`` (included)."""
    seen, stack = set(start), list(start)
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def check_reachability(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every state can be reached from the initial state."""
    tree = ctx.tree
    reached = closure(edges(ctx), {ROOT})
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
    finals = {n.id for n in tree.states() if n.state.final}
    if not finals:
        return  # reported once by check_final_exists
    reverse: Edges = {sid: set() for sid in tree.nodes}
    for sid, targets in edges(ctx).items():
        for target in targets:
            reverse[target].add(sid)
    can_end = closure(reverse, finals)
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
                        "'sortie: {final: true}') so that cases can end, or declare the "
                        "top-level states 'ongoing: true'", "no-end", key=True)
