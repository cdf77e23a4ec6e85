"""What changes between two versions of a pathway: states, transitions, tasks, timers,
parameters and guards added, removed or changed.

Pure: two definitions in, a ``PathwayDiff`` out (``diff``), rendered in French for
coordinators (``to_text``) or as plain data (``to_data``, for ``--json`` and for the
migration of running cases, which may suggest a state mapping from it).

How elements are matched between the versions:

- a state by its id (dotted path from the top: ``suivi.hba1c.attente``); a renamed
  state is a removal plus an addition (a migration mapping says where cases go);
- a transition by (source state, event, target), written ``source --event--> target``
  (``*`` for the pathway's ``always`` transitions, ``(interne)`` for an internal one),
  ``#n`` for the n-th of that triple in document order; its guard is compared apart,
  in ``guards``;
- a task and a parameter by key; a timer by (state, name);
- the guards of transitions matched in both versions, plus the eligibility
  expression: added (no guard before), removed, or changed (another expression).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from engine.pathway.model import Pathway, Transition
from engine.pathway.statetree import ROOT, StateTree

if TYPE_CHECKING:
    from engine.pathway.compiler import CompiledPathway

Kind = Literal["added", "removed", "changed"]
#: categories in the order they are reported
CATEGORIES = ("states", "transitions", "tasks", "timers", "parameters", "guards")
ELIGIBILITY = "eligibility"


@dataclass(frozen=True)
class Change:
    """One element added, removed or changed; ``fields`` gives (old, new) of what changed."""

    category: str
    kind: Kind
    id: str
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PathwayDiff:
    key: str
    old_version: int
    new_version: int
    changes: tuple[Change, ...]

    def of(self, category: str, kind: Kind | None = None) -> list[Change]:
        return [c for c in self.changes
                if c.category == category and (kind is None or c.kind == kind)]

    def ids(self, category: str, kind: Kind) -> set[str]:
        return {c.id for c in self.of(category, kind)}

    def __bool__(self) -> bool:
        return bool(self.changes)


def _definition(pathway: Pathway | CompiledPathway) -> Pathway:
    return pathway if isinstance(pathway, Pathway) else pathway.definition


def diff(old: Pathway | CompiledPathway, new: Pathway | CompiledPathway) -> PathwayDiff:
    """Every difference from ``old`` to ``new`` (two versions of one pathway, or any two)."""
    a, b = _definition(old), _definition(new)
    changes: list[Change] = []
    changes += _compare("states", _states(a), _states(b))
    old_tr, new_tr = _transitions(a), _transitions(b)
    changes += _compare("transitions", {k: _without_guard(t) for k, t in old_tr.items()},
                        {k: _without_guard(t) for k, t in new_tr.items()})
    changes += _compare("tasks", _dump(a.tasks), _dump(b.tasks))
    changes += _compare("timers", _timers(a), _timers(b))
    changes += _compare("parameters", _dump(a.parameters), _dump(b.parameters))
    changes += list(_guards(a, b, old_tr, new_tr))
    return PathwayDiff(b.key, a.version, b.version, tuple(changes))


def _dump(items: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v.model_dump(exclude_defaults=True) for k, v in items.items()}


def _states(p: Pathway) -> dict[str, dict[str, Any]]:
    tree = StateTree(p)
    out = {}
    for node in tree.states():
        data = node.state.model_dump(exclude={"states", "transitions", "timers"},
                                     exclude_defaults=True)
        data["kind"] = node.kind
        out[node.id] = data
    return out


def _transitions(p: Pathway) -> dict[str, Transition]:
    """Transitions by ``source --event--> target`` (``#n`` for the n-th same triple)."""
    tree = StateTree(p)
    out: dict[str, Transition] = {}
    for node in [tree.nodes[ROOT], *tree.states()]:
        for spec in node.state.transitions:
            target = (tree.resolve(spec.to, node.id)[0] or spec.to) if spec.to is not None \
                else None
            shown = target if target is not None else "(interne)"
            base = f"{node.id or '*'} --{spec.on}--> {shown}"
            ident, n = base, 1
            while ident in out:
                n += 1
                ident = f"{base} #{n}"
            out[ident] = spec
    return out


def _without_guard(t: Transition) -> dict[str, Any]:
    return t.model_dump(exclude={"guard", "on", "to"}, exclude_defaults=True)


def _timers(p: Pathway) -> dict[str, dict[str, Any]]:
    return {f"{node.id}/{name}": timer.model_dump(exclude_defaults=True)
            for node in StateTree(p).states() for name, timer in node.state.timers.items()}


def _compare(category: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[Change]:
    for ident in old:
        if ident not in new:
            yield Change(category, "removed", ident)
    for ident, value in new.items():
        if ident not in old:
            yield Change(category, "added", ident)
        elif old[ident] != value:
            yield Change(category, "changed", ident, _fields(old[ident], value))


def _fields(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {"": (old, new)}
    out: dict[str, tuple[Any, Any]] = {}
    for k in sorted(set(old) | set(new), key=str):
        before, after = old.get(k), new.get(k)
        if before == after:
            continue
        if isinstance(before, dict | None) and isinstance(after, dict | None):
            # one level down (``set``, ``on_enter``, ``result``): only the entries that differ
            for sub, pair in _fields(before or {}, after or {}).items():
                out[f"{k}.{sub}" if sub else k] = pair
        else:
            out[str(k)] = (before, after)
    return out


def _guards(a: Pathway, b: Pathway, old: Mapping[str, Transition],
            new: Mapping[str, Transition]) -> Iterator[Change]:
    pairs = [(ELIGIBILITY, a.eligibility, b.eligibility)]
    pairs += [(ident, old[ident].guard, new[ident].guard) for ident in new if ident in old]
    for ident, before, after in pairs:
        if before == after:
            continue
        kind: Kind = "added" if before is None else "removed" if after is None else "changed"
        yield Change("guards", kind, ident, {"guard": (before, after)})


# -- rendering ---------------------------------------------------------------------------

_CATEGORY_FR = {"states": "États", "transitions": "Transitions", "tasks": "Tâches",
                "timers": "Minuteries", "parameters": "Paramètres", "guards": "Conditions"}
_KIND_FR = {"added": "ajouté", "removed": "supprimé", "changed": "modifié"}
_SIGN = {"added": "+", "removed": "-", "changed": "~"}


def to_text(d: PathwayDiff) -> str:
    """The differences in French, one section per category, for coordinators."""
    head = f"Parcours {d.key} : version {d.old_version} → version {d.new_version}"
    if not d:
        return f"{head}\naucune différence (états, transitions, tâches, minuteries, " \
               "paramètres, conditions)"
    lines = [head]
    for category in CATEGORIES:
        changes = d.of(category)
        if not changes:
            continue
        counts = ", ".join(f"{sum(c.kind == k for c in changes)} {_KIND_FR[k]}(s)"
                           for k in ("added", "removed", "changed")
                           if any(c.kind == k for c in changes))
        lines.append(f"\n{_CATEGORY_FR[category]} ({counts})")
        for change in changes:
            name = "éligibilité" if change.id == ELIGIBILITY else change.id
            lines.append(f"  {_SIGN[change.kind]} {name} : {_KIND_FR[change.kind]}")
            for fname, (before, after) in change.fields.items():
                label = f"{fname} : " if fname else ""
                lines.append(f"      {label}{_show(before)} → {_show(after)}")
    return "\n".join(lines)


def _show(value: Any) -> str:
    return "—" if value is None else repr(value) if isinstance(value, str) else str(value)


def to_data(d: PathwayDiff) -> dict[str, Any]:
    """Plain data: ``{key, old_version, new_version, CATEGORY: {added, removed, changed}}``."""
    out: dict[str, Any] = {"key": d.key, "old_version": d.old_version,
                           "new_version": d.new_version}
    for category in CATEGORIES:
        out[category] = {
            "added": [c.id for c in d.of(category, "added")],
            "removed": [c.id for c in d.of(category, "removed")],
            "changed": [{"id": c.id, "fields": {k: {"old": o, "new": n}
                                                for k, (o, n) in c.fields.items()}}
                        for c in d.of(category, "changed")]}
    return out
