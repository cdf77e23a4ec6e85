"""Mapping files: how the running cases of one pathway version move to another.

A mapping file sits beside the pathways (``pathways/migrations/KEY.v1-v2.yaml``) and
says only what does not follow from the names: a state, task, timer or fact that
keeps its name in the new version maps to itself.

.. code-block:: yaml

    pathway: diabete-type2
    from: 1                      # the versions declared in the two files (``version:``)
    to: 2
    states:                      # old state id → new state id (a compound: its default)
      suivi.ancien: suivi.nouveau
      suivi.scinde:              # split: the first branch whose ``when`` holds
        - to: suivi.a
          when: "facts.grade >= 3"
        - to: [suivi.b, suivi.autre_region.c]   # several states (parallel regions)
          set: {niveau: 2}                      # facts set on the cases it moves
    tasks:                       # old task kind → cancel | keep | new kind (renamed)
      ancien_bilan: cancel
    create:                      # tasks created for cases in a new state
      - task: bilan_renal
        in: suivi.renal
    timers:
      rename: {relance_old: relance}
      rearm: [relance]           # re-armed from its anchor even if its delay is unchanged
    facts:
      rename: {ancien: nouveau}
      set: {niveau: 1}

The file is read with the pathway reader (positions for every node, hostile input
refused) and checked against both versions: every error is ``file:line:col: message``.
Whether running cases occupy an old state that has no counterpart needs the
database: ``parcours migrate plan`` reports those cases.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from engine.exceptions import Diagnostic, ExpressionError, PathwayDefinitionError
from engine.pathway.compiler import CompiledPathway
from engine.pathway.expressions import CompiledExpression, compile_expression
from engine.pathway.reader import Document, Path, YamlReadError, read_file, read_text
from engine.suggest import did_you_mean

CHECK = "mapping"
KEEP = "keep"
CANCEL = "cancel"
TOP_KEYS = ("pathway", "from", "to", "states", "tasks", "create", "timers", "facts")


@dataclass(frozen=True, slots=True)
class Branch:
    """Where an old state goes: the first branch whose ``when`` holds is taken. Several
    targets (``to: [a, b]``) when the new version splits the state over parallel regions;
    the first one owns the state's tasks and timers."""

    targets: tuple[str, ...]
    when: CompiledExpression | None = None
    #: facts set on the cases this branch moves (``set: {fact: value}``)
    facts: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Mapping:
    pathway: str
    from_version: int | None = None
    to_version: int | None = None
    states: dict[str, tuple[Branch, ...]] = field(default_factory=dict)
    #: old task kind → new kind, or None: cancelled (absent: same kind if it still exists)
    tasks: dict[str, str | None] = field(default_factory=dict)
    create: tuple[tuple[str, str], ...] = ()
    timer_renames: dict[str, str] = field(default_factory=dict)
    rearm: frozenset[str] = frozenset()
    fact_renames: dict[str, str] = field(default_factory=dict)
    fact_set: dict[str, Any] = field(default_factory=dict)
    file: str = "<implicite>"
    digest: str = ""

    @classmethod
    def implicit(cls, pathway: str) -> Mapping:
        """No file: every name maps to itself."""
        return cls(pathway, digest=hashlib.sha256(b"implicit").hexdigest())

    def unmapped(self, old: CompiledPathway, new: CompiledPathway) -> list[str]:
        """Old atomic states with no counterpart: cases there cannot be migrated."""
        out = []
        for sid, state in old.states.items():
            leaf = not old.tree.nodes[sid].children
            if leaf and not any(s in self.states for s in (sid, *state.ancestors)) \
                    and sid not in new.states:
                out.append(sid)
        return out


def load_mapping(path: str, old: CompiledPathway, new: CompiledPathway) -> Mapping:
    """The mapping of a file, or ``PathwayDefinitionError`` with every located error."""
    try:
        doc, problems = read_file(path)
    except OSError as exc:
        raise PathwayDefinitionError([Diagnostic(path, 1, 1, "fichier illisible : "
                                                 f"{exc.strerror}", CHECK)]) from exc
    except YamlReadError as exc:
        raise PathwayDefinitionError(exc.diagnostics) from exc
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    return _build(doc, problems, old, new, digest)


def load_mapping_text(text: str, file: str, old: CompiledPathway,
                      new: CompiledPathway) -> Mapping:
    try:
        doc, problems = read_text(text, file)
    except YamlReadError as exc:
        raise PathwayDefinitionError(exc.diagnostics) from exc
    return _build(doc, problems, old, new, hashlib.sha256(text.encode()).hexdigest())


def _build(doc: Document, problems: list[Diagnostic], old: CompiledPathway,
           new: CompiledPathway, digest: str) -> Mapping:
    checker = _Checker(doc, old, new)
    mapping = checker.run(digest)
    errors = problems + checker.problems
    if errors or mapping is None:
        raise PathwayDefinitionError(errors)
    return mapping


def _allowed(names: Any) -> str:
    return ", ".join(sorted(names)) or "aucun"


class _Checker:
    def __init__(self, doc: Document, old: CompiledPathway, new: CompiledPathway) -> None:
        self.doc = doc
        self.old = old
        self.new = new
        self.problems: list[Diagnostic] = []
        self.old_timers = {t.name for s in old.states.values() for t in s.timers}
        self.new_timers = {t.name for s in new.states.values() for t in s.timers}

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(path, message, CHECK, key=key))

    def mapping_at(self, path: Path, value: Any, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"{what} doit être une table « nom: valeur »")
            return {}
        return value

    def run(self, digest: str) -> Mapping | None:
        data = self.doc.data
        if not isinstance(data, dict):
            self.error((), "un fichier de correspondance est une table avec les clés "
                       + ", ".join(TOP_KEYS))
            return None
        for name in data:
            if name not in TOP_KEYS:
                self.error((name,), f"clé inconnue {name!r}{did_you_mean(str(name), TOP_KEYS)}"
                           f" ; clés possibles : {', '.join(TOP_KEYS)}", key=True)
        pathway = data.get("pathway")
        if pathway is None:
            self.error((), "clé « pathway » manquante : la clé du parcours migré "
                       f"({self.old.key})")
        elif pathway != self.old.key or pathway != self.new.key:
            self.error(("pathway",), f"parcours {pathway!r} : la migration va de "
                       f"{self.old.key} v{self.old.version} à {self.new.key} "
                       f"v{self.new.version}")
        versions = []
        for name, pathway_ in (("from", self.old), ("to", self.new)):
            value = data.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                self.error((name,), f"{name} doit être un numéro de version (entier)")
                value = None
            elif value is not None and value != pathway_.version:
                self.error((name,), f"{name}: {value} mais le fichier du parcours déclare "
                           f"« version: {pathway_.version} »")
            versions.append(value)
        return Mapping(
            str(pathway), versions[0], versions[1], self.states(data.get("states")),
            self.tasks(data.get("tasks")), self.create(data.get("create")),
            *self.timers(data.get("timers")), *self.facts(data.get("facts")),
            file=self.doc.file, digest=digest)

    # -- sections ---------------------------------------------------------------------------

    def old_state(self, path: Path, name: Any) -> bool:
        if name in self.old.states:
            return True
        self.error(path, f"l'étape {name!r} n'existe pas dans la version {self.old.version}"
                   f"{did_you_mean(str(name), self.old.states)}", key=True)
        return False

    def new_state(self, path: Path, name: Any) -> bool:
        if isinstance(name, str) and name in self.new.states:
            return True
        self.error(path, f"l'étape {name!r} n'existe pas dans la version {self.new.version}"
                   f"{did_you_mean(str(name), self.new.states)}")
        return False

    def states(self, value: Any) -> dict[str, tuple[Branch, ...]]:
        out: dict[str, tuple[Branch, ...]] = {}
        for name, target in self.mapping_at(("states",), value, "states").items():
            path: Path = ("states", name)
            known = self.old_state(path, name)
            branches: list[Branch] = []
            if isinstance(target, str):
                if self.new_state(path, target):
                    branches.append(Branch((target,)))
            elif isinstance(target, list) and target:
                for i, item in enumerate(target):
                    branches += self.branch((*path, i), item, i == len(target) - 1)
            else:
                self.error(path, "une étape de la nouvelle version, ou une liste de "
                           "« - to: ÉTAPE » avec « when: CONDITION » (la dernière sans when)")
            if known and branches:
                out[name] = tuple(branches)
        return out

    def branch(self, path: Path, item: Any, last: bool) -> list[Branch]:
        if not isinstance(item, dict) or "to" not in item:
            self.error(path, "chaque branche est « to: ÉTAPE » avec « when: CONDITION »")
            return []
        for key in item:
            if key not in ("to", "when", "set"):
                self.error((*path, key), f"clé inconnue {key!r} ; clés possibles : to, when, "
                           "set", key=True)
        facts = []
        declared = self.new.definition.facts
        for name, value in self.mapping_at((*path, "set"), item.get("set"), "set").items():
            if name not in declared:
                self.error((*path, "set", name), f"fait {name!r} inconnu dans la version "
                           f"{self.new.version}{did_you_mean(str(name), declared)}", key=True)
            else:
                facts.append((str(name), value))
        targets = item["to"] if isinstance(item["to"], list) else [item["to"]]
        ok = bool(targets)
        for i, target in enumerate(targets):
            where: Path = (*path, "to", i) if isinstance(item["to"], list) else (*path, "to")
            ok = self.new_state(where, target) and ok
        when = item.get("when")
        compiled = None
        if when is None and not last:
            self.error(path, "seule la dernière branche peut se passer de « when »")
        elif when is not None:
            try:
                compiled = compile_expression(str(when))
            except ExpressionError as exc:
                self.error((*path, "when"), f"condition invalide : {exc}")
                return []
            for ref in compiled.names:
                if ref[0] not in ("facts", "params", "now"):
                    self.error((*path, "when"), f"la condition lit {'.'.join(ref)!r} ; "
                               "elle ne peut lire que facts, params et now")
        return [Branch(tuple(targets), compiled, tuple(facts))] if ok else []

    def tasks(self, value: Any) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for key, action in self.mapping_at(("tasks",), value, "tasks").items():
            path: Path = ("tasks", key)
            if key not in self.old.tasks:
                self.error(path, f"tâche {key!r} inconnue dans la version {self.old.version}"
                           f"{did_you_mean(str(key), self.old.tasks)} ; tâches : "
                           f"{_allowed(self.old.tasks)}", key=True)
                continue
            if action == CANCEL:
                out[key] = None
            elif action == KEEP:
                if key not in self.new.tasks:
                    self.error(path, f"la tâche {key!r} n'existe plus dans la version "
                               f"{self.new.version} : « cancel » ou le nom de la tâche qui la "
                               "remplace")
                else:
                    out[key] = key
            elif isinstance(action, str) and action in self.new.tasks:
                out[key] = action
            else:
                self.error(path, f"{action!r} : « keep », « cancel » ou une tâche de la version "
                           f"{self.new.version}{did_you_mean(str(action), self.new.tasks)}")
        return out

    def create(self, value: Any) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(("create",), "create est une liste de « - task: TÂCHE » avec "
                       "« in: ÉTAPE »")
            return ()
        out = []
        for i, item in enumerate(value):
            path: Path = ("create", i)
            if not isinstance(item, dict) or set(item) != {"task", "in"}:
                self.error(path, "chaque élément est « task: TÂCHE » et « in: ÉTAPE »")
                continue
            ok = True
            if item["task"] not in self.new.tasks:
                self.error((*path, "task"), f"tâche {item['task']!r} inconnue dans la version "
                           f"{self.new.version}{did_you_mean(str(item['task']), self.new.tasks)}")
                ok = False
            ok = self.new_state((*path, "in"), item["in"]) and ok
            if ok:
                out.append((str(item["task"]), str(item["in"])))
        return tuple(out)

    def timers(self, value: Any) -> tuple[dict[str, str], frozenset[str]]:
        section = self.mapping_at(("timers",), value, "timers")
        renames: dict[str, str] = {}
        for key in section:
            if key not in ("rename", "rearm"):
                self.error(("timers", key), f"clé inconnue {key!r} ; clés possibles : "
                           "rename, rearm", key=True)
        for old, new in self.mapping_at(("timers", "rename"), section.get("rename"),
                                        "timers.rename").items():
            ok = True
            if old not in self.old_timers:
                self.error(("timers", "rename", old), f"minuterie {old!r} inconnue dans la "
                           f"version {self.old.version}{did_you_mean(str(old), self.old_timers)}",
                           key=True)
                ok = False
            if new not in self.new_timers:
                self.error(("timers", "rename", old), f"minuterie {new!r} inconnue dans la "
                           f"version {self.new.version}{did_you_mean(str(new), self.new_timers)}")
                ok = False
            if ok:
                renames[old] = new
        rearm = section.get("rearm") or []
        if not isinstance(rearm, list):
            self.error(("timers", "rearm"), "rearm est une liste de minuteries")
            rearm = []
        for i, name in enumerate(rearm):
            if name not in self.new_timers:
                self.error(("timers", "rearm", i), f"minuterie {name!r} inconnue dans la "
                           f"version {self.new.version}{did_you_mean(str(name), self.new_timers)}"
                           f" ; minuteries : {_allowed(self.new_timers)}")
        return renames, frozenset(n for n in rearm if n in self.new_timers)

    def facts(self, value: Any) -> tuple[dict[str, str], dict[str, Any]]:
        section = self.mapping_at(("facts",), value, "facts")
        for key in section:
            if key not in ("rename", "set"):
                self.error(("facts", key), f"clé inconnue {key!r} ; clés possibles : rename, set",
                           key=True)
        old_facts, new_facts = self.old.definition.facts, self.new.definition.facts
        renames: dict[str, str] = {}
        for old, new in self.mapping_at(("facts", "rename"), section.get("rename"),
                                        "facts.rename").items():
            if old not in old_facts:
                self.error(("facts", "rename", old), f"fait {old!r} inconnu dans la version "
                           f"{self.old.version}{did_you_mean(str(old), old_facts)}", key=True)
            elif new not in new_facts:
                self.error(("facts", "rename", old), f"fait {new!r} inconnu dans la version "
                           f"{self.new.version}{did_you_mean(str(new), new_facts)}")
            else:
                renames[old] = new
        values: dict[str, Any] = {}
        for name, fact_value in self.mapping_at(("facts", "set"), section.get("set"),
                                                "facts.set").items():
            if name not in new_facts:
                self.error(("facts", "set", name), f"fait {name!r} inconnu dans la version "
                           f"{self.new.version}{did_you_mean(str(name), new_facts)} ; faits : "
                           f"{_allowed(new_facts)}", key=True)
            else:
                values[name] = fact_value
        return renames, values
