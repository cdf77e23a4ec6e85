"""The state hierarchy flattened into ids, and the pure graph functions over it.

A state's id is its dotted path from the top (``suivi.hba1c.attente``). A
transition's ``to`` may name a state by id or by its simple name, looked up
from the source outwards (siblings first, then the siblings of each
ancestor), then anywhere if the name is unique.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from engine.pathway.model import Pathway, State

ROOT = ""


@dataclass
class Node:
    id: str
    name: str
    parent: str | None
    state: State
    path: tuple[str | int, ...]
    children: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.state.final:
            return "final"
        if self.state.parallel:
            return "parallel"
        return "compound" if self.children else "atomic"


class StateTree:
    """Every state of a pathway by id, in document order, with the root as ``""``."""

    def __init__(self, pathway: Pathway) -> None:
        root_state = State(initial=pathway.initial, states=pathway.states, parallel=False,
                           ongoing=False, transitions=pathway.always)
        self.nodes: dict[str, Node] = {}
        self._add(ROOT, "", None, root_state, ())

    def _add(self, sid: str, name: str, parent: str | None, state: State,
             path: tuple[str | int, ...]) -> None:
        node = Node(sid, name, parent, state, path)
        self.nodes[sid] = node
        for child_name, child in state.states.items():
            child_id = f"{sid}.{child_name}" if sid else child_name
            node.children.append(child_id)
            self._add(child_id, child_name, sid, child, (*path, "states", child_name))

    # -- structure -------------------------------------------------------------------------

    def states(self) -> Iterator[Node]:
        """Every real state (not the root), in document order."""
        return (n for sid, n in self.nodes.items() if sid != ROOT)

    def ancestors(self, sid: str) -> list[str]:
        """Proper ancestors, nearest first, ending with the root."""
        out = []
        parent = self.nodes[sid].parent
        while parent is not None:
            out.append(parent)
            parent = self.nodes[parent].parent
        return out

    def is_descendant(self, sid: str, ancestor: str) -> bool:
        return ancestor == ROOT or sid == ancestor or sid.startswith(ancestor + ".")

    def initial_child(self, sid: str) -> str | None:
        node = self.nodes[sid]
        if not node.children or node.state.parallel:
            return None
        initial = node.state.initial
        if initial is None:
            return None
        child = f"{sid}.{initial}" if sid else initial
        return child if child in self.nodes else None

    def default_leaves(self, sid: str) -> list[str]:
        """The atomic states entered when ``sid`` is entered by default."""
        node = self.nodes[sid]
        if node.state.parallel:
            return [leaf for child in node.children for leaf in self.default_leaves(child)]
        child = self.initial_child(sid)
        if child is None:
            return [sid]
        return self.default_leaves(child)

    def lca(self, first: str, second: str) -> str:
        """Nearest common proper ancestor-or-self of two states."""
        chain = [first, *self.ancestors(first)]
        for candidate in chain:
            if self.is_descendant(second, candidate):
                return candidate
        return ROOT

    def compatible(self, first: str, second: str) -> bool:
        """Whether two states can be active at the same time."""
        if self.is_descendant(first, second) or self.is_descendant(second, first):
            return True
        common = self.lca(first, second)
        return common != ROOT and self.nodes[common].state.parallel

    # -- names -----------------------------------------------------------------------------

    def resolve(self, name: str, source: str) -> tuple[str | None, list[str]]:
        """Resolve a ``to:`` name seen from ``source``; returns (id, candidates if ambiguous)."""
        if name in self.nodes and name != ROOT:
            return name, []
        for scope in [source, *self.ancestors(source)]:
            for child in self.nodes[scope].children:
                if self.nodes[child].name == name:
                    return child, []
        matches = [n.id for n in self.states() if n.name == name or n.id.endswith("." + name)]
        if len(matches) == 1:
            return matches[0], []
        return None, matches

    def names(self) -> list[str]:
        return [n.id for n in self.states()] + sorted({n.name for n in self.states()})
