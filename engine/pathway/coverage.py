"""Warnings about clinical results a pathway may receive and ignore.

``unhandled-observation`` (a *warning*: the file stays usable, ``parcours
validate --strict`` refuses it): a reachable atomic state in which an
observation kind that some other state reacts to drives nothing. The event
reaches a state through its own transitions, its ancestors', the pathway's
``always:`` transitions, or (inside a parallel state) a state of another
region. A result that arrives while the case is in such a state changes
nothing, which is what a clinician reviewing the pathway must decide on
purpose: handle it there, in an ancestor, or once for all in ``always:``.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine import events
from engine.exceptions import Diagnostic
from engine.pathway.checkcontext import CheckContext, transitions
from engine.pathway.graphchecks import closure, edges
from engine.pathway.statetree import ROOT, StateTree


def _reacting(ctx: CheckContext) -> dict[str, list[str]]:
    """Observation event → the states whose own transitions react to it."""
    out: dict[str, list[str]] = {}
    for sid, _, transition, _ in transitions(ctx):
        if sid != ROOT and events.key_of(transition.on, events.OBSERVATION) is not None:
            states = out.setdefault(transition.on, [])
            if sid not in states:
                states.append(sid)
    return out


def _handled_under(tree: StateTree, sid: str) -> set[str]:
    """Events handled by the transitions of ``sid`` and of its descendants."""
    return {t.on for node in tree.states() if tree.is_descendant(node.id, sid)
            for t in node.state.transitions}


def _handled_at(tree: StateTree, sid: str) -> set[str]:
    """Events an atomic state handles: its own, its ancestors', ``always``, parallel regions."""
    handled = {t.on for holder in [sid, *tree.ancestors(sid)]
               for t in tree.nodes[holder].state.transitions}
    for ancestor in tree.ancestors(sid):
        if ancestor != ROOT and tree.nodes[ancestor].state.parallel:
            for region in tree.nodes[ancestor].children:
                if not tree.is_descendant(sid, region):
                    handled |= _handled_under(tree, region)
    return handled


def check_observation_coverage(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A reachable state that ignores an observation kind another state reacts to (warning)."""
    reacting = _reacting(ctx)
    if not reacting:
        return
    tree = ctx.tree
    reached = closure(edges(ctx), {ROOT})
    for node in tree.states():
        if node.children or node.state.final or node.id not in reached:
            continue
        handled = _handled_at(tree, node.id)
        for event, states in reacting.items():
            if event in handled:
                continue
            where = ", ".join(f"'{s}'" for s in states)
            yield ctx.warning(node.path, f"state '{node.id}' ignores {event}, which {where} "
                              "react(s) to: a result received in this state changes nothing; "
                              "handle it here, in an enclosing state or in 'always:'",
                              "unhandled-observation", key=True, element=node.id)
