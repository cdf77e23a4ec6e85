"""Pathway diagrams: Mermaid ``stateDiagram-v2`` and Graphviz DOT."""

from __future__ import annotations

from engine.pathway.compiler import CompiledPathway
from engine.pathway.statetree import ROOT


def _sid(state_id: str) -> str:
    return state_id.replace(".", "__") or "root"


def _label(pathway: CompiledPathway, tid: str) -> str:
    """The event, the guard in brackets, and '(internal)' when the state is not left."""
    t = pathway.transitions[tid]
    label = t.event
    if t.guard is not None:
        label += f" [{t.guard.source}]"
    if t.target is None:
        label += " (internal)"
    return label


def _dot_text(text: str) -> str:
    """Text for a quoted DOT string: backslashes and double quotes escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_mermaid(pathway: CompiledPathway) -> str:
    tree = pathway.tree
    lines = ["stateDiagram-v2", f"    %% {pathway.key} v{pathway.version}"]

    def block(sid: str, indent: str) -> None:
        node = tree.nodes[sid]
        initial = tree.initial_child(sid)
        if initial is not None:
            lines.append(f"{indent}[*] --> {_sid(initial)}")
        for i, child_id in enumerate(node.children):
            child = tree.nodes[child_id]
            title = (child.state.title or child.name).replace('"', "'")
            lines.append(f'{indent}state "{title}" as {_sid(child_id)}')
            if child.children:
                lines.append(f"{indent}state {_sid(child_id)} {{")
                block(child_id, indent + "    ")
                lines.append(f"{indent}}}")
            if child.state.final:
                lines.append(f"{indent}{_sid(child_id)} --> [*]")
            if node.state.parallel and i < len(node.children) - 1:
                lines.append(f"{indent}--")

    block(ROOT, "    ")
    for tid, t in pathway.transitions.items():
        target = t.target if t.target is not None else t.source
        label = _label(pathway, tid).replace('"', "'")
        lines.append(f"    {_sid(t.source)} --> {_sid(target)}: {label}")
    return "\n".join(lines) + "\n"


def _q(state_id: str) -> str:
    """A quoted DOT id: a state may be called 'node', 'edge' or 'graph'."""
    return f'"{_sid(state_id)}"'


def to_dot(pathway: CompiledPathway) -> str:
    tree = pathway.tree
    lines = [f'digraph "{_dot_text(pathway.key)}" {{', "    compound=true;", "    rankdir=LR;",
             '    node [shape=box, style=rounded, fontname="Helvetica"];',
             '    "__start" [shape=point];']

    def anchor(sid: str) -> str:
        """Edges to or from a cluster are drawn from its first default leaf."""
        return _q(tree.default_leaves(sid)[0])

    def block(sid: str, indent: str) -> None:
        for child_id in tree.nodes[sid].children:
            child = tree.nodes[child_id]
            title = _dot_text(child.state.title or child.name)
            if child.children:
                style = "dashed" if child.state.parallel else "rounded"
                lines.append(f"{indent}subgraph cluster_{_sid(child_id)} {{")
                lines.append(f'{indent}    label="{title}"; style={style};')
                block(child_id, indent + "    ")
                lines.append(f"{indent}}}")
            else:
                shape = ", shape=doublecircle" if child.state.final else ""
                lines.append(f'{indent}{_q(child_id)} [label="{title}"{shape}];')

    def clipped(sid: str, other: str, attr: str) -> list[str]:
        """Clip the edge at the cluster ``sid``, unless ``other`` is inside it."""
        if not tree.nodes[sid].children or tree.is_descendant(other, sid):
            return []
        return [f"{attr}=cluster_{_sid(sid)}"]

    block(ROOT, "    ")
    first = tree.initial_child(ROOT)
    if first is not None:
        start = clipped(first, ROOT, "lhead")
        lines.append(f'    "__start" -> {anchor(first)}'
                     + (f" [{start[0]}]" if start else "") + ";")
    for tid, t in pathway.transitions.items():
        target = t.target if t.target is not None else t.source
        attrs = [f'label="{_dot_text(_label(pathway, tid))}"']
        attrs += clipped(t.source, target, "ltail") + clipped(target, t.source, "lhead")
        if t.target is None:
            attrs.append("style=dashed")
        lines.append(f"    {anchor(t.source)} -> {anchor(target)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
