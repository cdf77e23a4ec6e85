"""What every named check receives: the model, the document, the state tree.

Shared by ``checks`` (structure, references, durations, values),
``guardchecks`` (expressions) and ``graphchecks`` (reachability, ends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from engine.durations import Duration
from engine.exceptions import Diagnostic, DurationError
from engine.pathway.model import Actions, Pathway, Transition
from engine.pathway.reader import Document, Path
from engine.pathway.statetree import ROOT, StateTree
from engine.suggest import did_you_mean


@dataclass
class CheckContext:
    pathway: Pathway
    doc: Document
    tree: StateTree
    #: timer name → id of the (first) state that declares it
    timers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in self.tree.states():
            for name in node.state.timers:
                self.timers.setdefault(name, node.id)

    def error(self, path: Path, message: str, check: str, *, key: bool = False,
              element: str | None = None, offset: int = 0) -> Diagnostic:
        return self.doc.diagnostic(path, message, check, key=key, element=element,
                                   offset=offset)

    def warning(self, path: Path, message: str, check: str, *, key: bool = False,
                element: str | None = None) -> Diagnostic:
        """A problem that does not refuse the file (``parcours validate --strict`` does)."""
        return replace(self.error(path, message, check, key=key, element=element),
                       severity="warning")

    def undefined(self, path: Path, what: str, name: str, known: Any, *, key: bool = False,
                  offset: int = 0) -> Diagnostic:
        """``undefined WHAT 'name'; did you mean …?; declared: …`` [undefined-WHAT]."""
        names = list(known)
        hint = did_you_mean(name, names)
        return self.error(path, f"undefined {what} {name!r}{hint}; declared: "
                          f"{', '.join(names) or 'none'}", f"undefined-{what}", key=key,
                          offset=offset)


Check = Callable[[CheckContext], Iterator[Diagnostic]]


def resolve_duration(pathway: Pathway, text: str | None) -> Duration | None:
    """A delay (ISO text or duration parameter, at its default) as a Duration, None if not."""
    if text is None:
        return None
    parameter = pathway.parameters.get(text)
    candidate = parameter.default if parameter is not None else text
    try:
        return Duration.parse(candidate)
    except DurationError:
        return None


def transitions(ctx: CheckContext) -> Iterator[tuple[str, int, Transition, Path]]:
    """(source state id, index, transition, path) for every transition, in document order;
    the pathway-level ``always`` transitions come first, with the root (``""``) as source."""
    for i, transition in enumerate(ctx.pathway.always):
        yield ROOT, i, transition, ("always", i)
    for node in ctx.tree.states():
        for i, transition in enumerate(node.state.transitions):
            yield node.id, i, transition, (*node.path, "transitions", i)


def action_blocks(ctx: CheckContext) -> Iterator[tuple[str, Actions | Transition, Path]]:
    """Every place that creates tasks, sets facts or notifies: on_enter blocks, transitions."""
    for node in ctx.tree.states():
        if node.state.on_enter is not None:
            yield node.id, node.state.on_enter, (*node.path, "on_enter")
    for sid, _, transition, path in transitions(ctx):
        yield sid, transition, path
