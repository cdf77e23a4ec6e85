"""Pathway diagrams: Mermaid ``stateDiagram-v2`` and Graphviz DOT."""

from __future__ import annotations

from engine.pathway.compiler import CompiledPathway
from engine.pathway.statetree import ROOT


def _sid(state_id: str) -> str:
    return state_id.replace(".", "__") or "root"


def _label(pathway: CompiledPathway, tid: str) -> str:
    t = pathway.transitions[tid]
    label = t.event
    if t.guard is not None:
        label += f" [{t.guard.source}]"
    return label.replace('"', "'")


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
        lines.append(f"    {_sid(t.source)} --> {_sid(target)}: {_label(pathway, tid)}")
    return "\n".join(lines) + "\n"


def to_dot(pathway: CompiledPathway) -> str:
    tree = pathway.tree
    lines = [f'digraph "{pathway.key}" {{', "    compound=true;", "    rankdir=LR;",
             '    node [shape=box, style=rounded, fontname="Helvetica"];',
             '    __start [shape=point];']

    def anchor(sid: str) -> str:
        leaves = tree.default_leaves(sid)
        return _sid(leaves[0])

    def block(sid: str, indent: str) -> None:
        for child_id in tree.nodes[sid].children:
            child = tree.nodes[child_id]
            title = (child.state.title or child.name).replace('"', "'")
            if child.children:
                style = "dashed" if child.state.parallel else "rounded"
                lines.append(f"{indent}subgraph cluster_{_sid(child_id)} {{")
                lines.append(f'{indent}    label="{title}"; style={style};')
                block(child_id, indent + "    ")
                lines.append(f"{indent}}}")
            else:
                shape = ", shape=doublecircle" if child.state.final else ""
                lines.append(f'{indent}{_sid(child_id)} [label="{title}"{shape}];')

    block(ROOT, "    ")
    lines.append(f"    __start -> {anchor(pathway.initial_leaves[0])};")
    for tid, t in pathway.transitions.items():
        target = t.target if t.target is not None else t.source
        attrs = [f'label="{_label(pathway, tid)}"']
        if tree.nodes[t.source].children:
            attrs.append(f"ltail=cluster_{_sid(t.source)}")
        if tree.nodes[target].children:
            attrs.append(f"lhead=cluster_{_sid(target)}")
        lines.append(f"    {anchor(t.source)} -> {anchor(target)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
