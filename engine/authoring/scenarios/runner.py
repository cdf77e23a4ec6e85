"""Scenario tests that pathway authors write in YAML: a patient, a care team, a dated
list of steps and what must be true after each of them.

A scenario file (``pathways/scenarios/<pathway>/<name>.scenario.yaml``, format
documented in ``pathways/README.md``)::

    scenario: Réhospitalisation au 20e jour
    pathway: ../../hospitalisation-sujet-age.yaml     # relative to this file
    patient: {birth_date: 1940-05-02, sex: F}
    care_team: {medecin_traitant: Dr Paul Martin, infirmier: null}
    start: 2026-03-02
    steps:
      - at: 2026-03-10
        event: admission
        expect:
          states: [hospitalise]
          tasks: [{key: preparer_sortie, assignee: coordinateur}]

Each scenario runs on its own fresh SQLite database through the real case
service (``engine.authoring.scenarios.world``): before each step, timers due by its date
fire; then its action (observation, task completion, event) is applied; then
its expectations are compared with the case as stored. Every difference is a
``Failure`` located at the line of the expectation that failed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.authoring.scenarios.checks import Located, compare
from engine.authoring.scenarios.model import ACTIONS, Scenario, Step
from engine.authoring.scenarios.world import World
from engine.authoring.timeline import as_datetime
from engine.exceptions import Diagnostic, ParcoursError
from engine.pathway.compiler import CompiledPathway
from engine.pathway.reader import Document, YamlReadError, read_file

SUFFIX = ".scenario.yaml"


@dataclass
class Result:
    """What one scenario gave. ``xfail``: the reason it is expected to fail (strict)."""

    file: str
    title: str
    failures: list[Diagnostic] = field(default_factory=list)
    checks: int = 0
    steps: int = 0
    xfail: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def outcome(self) -> str:
        """``passed``, ``failed``, ``xfailed`` (failed as expected) or ``xpassed`` (a failure)."""
        if self.xfail is None:
            return "passed" if self.ok else "failed"
        return "xpassed" if self.ok else "xfailed"

    @property
    def as_expected(self) -> bool:
        return self.outcome in ("passed", "xfailed")


def scenario_files(paths: list[str]) -> Iterator[str]:
    """Every ``*.scenario.yaml`` under the given folders, and the given files."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(str(p) for p in path.rglob("*" + SUFFIX))
        else:
            yield raw


def read_scenario(path: str) -> tuple[Scenario, Document]:
    """The scenario and its positions; problems raise ``ScenarioError`` with file:line:col."""
    try:
        doc, problems = read_file(path)
    except YamlReadError as exc:
        raise ScenarioError(exc.diagnostics) from exc
    except OSError as exc:
        raise ScenarioError([Diagnostic(path, 1, 1, f"cannot read file: {exc.strerror}",
                                        "scenario")]) from exc
    if problems:
        raise ScenarioError(problems)
    try:
        return Scenario.model_validate(doc.data), doc
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if _branch(doc.data, e["loc"])]
        raise ScenarioError([_shape(doc, err) for err in errors]) from exc


def _branch(data: Any, loc: tuple[Any, ...]) -> bool:
    """False for an error of a union branch that the value's own type rules out (a
    mapping given where ``Expect | list[Expect]`` is allowed is not checked as a list)."""
    for part in loc:
        tag = isinstance(part, str) and not (isinstance(data, dict) and part in data)
        if tag:
            if part.startswith("list[") != isinstance(data, list) and \
                    (part.startswith("list[") or part[:1].isupper()):
                return False
            continue
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return True
    return True


def _shape(doc: Document, err: Any) -> Diagnostic:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p[:1].isupper()))
                and p not in ("datetime", "date"))
    where = ".".join(map(str, loc)) or "the scenario"
    if err["type"] == "extra_forbidden":
        line, col = doc.position(loc, key=True)
        return Diagnostic(doc.file, line, col, f"unknown key {loc[-1]!r} in {where}", "scenario")
    line, col = doc.position(loc)
    return Diagnostic(doc.file, line, col, f"{where}: {err['msg']}", "scenario")


class ScenarioError(ParcoursError):
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(map(str, diagnostics)))


def run_file(path: str, database: str | None = None) -> Result:
    """Run one scenario file; never raises for a wrong scenario, it reports it.

    ``database``: the URL of a migrated PostgreSQL database to run on (all its tables are
    emptied first); by default a fresh SQLite file.
    """
    try:
        scenario, doc = read_scenario(path)
    except ScenarioError as exc:
        return Result(path, "(illisible)", list(exc.diagnostics))
    result = Result(path, scenario.scenario, xfail=scenario.xfail)
    with tempfile.TemporaryDirectory(prefix="parcours-scenario-") as folder:
        try:
            _Run(scenario, doc, result, Path(folder), database).run()
        except Exception as exc:  # an engine defect: reported with the scenario, not a crash
            result.failures.append(Diagnostic(path, 1, 1, f"unexpected error in the engine: "
                                              f"{type(exc).__name__}: {str(exc)[:300]}",
                                              "scenario"))
    return result


class _Run:
    def __init__(self, scenario: Scenario, doc: Document, result: Result, folder: Path,
                 database: str | None) -> None:
        self.scenario, self.doc, self.result, self.folder = scenario, doc, result, folder
        self.database = database
        self.pathways: dict[str, CompiledPathway] = {}

    def fail(self, path: tuple[Any, ...], message: str, key: bool = False) -> None:
        self.result.failures.append(self.doc.diagnostic(path, message, "scenario", key=key))

    def run(self) -> None:
        loaded = self._load(("pathway",), self.scenario.pathway)
        if loaded is None:
            return
        texts = [loaded]
        for j, other in enumerate(self.scenario.also_enrolled):
            more = self._load(("also_enrolled", j), other)
            if more is None:
                return
            texts.append(more)
        self.pathway = self.pathways[loaded[2]]
        start = as_datetime(self.scenario.start)
        world = World(self.folder, texts, self.scenario.parameters, start, self.database)
        try:
            if self._setup(world, start):
                self._steps(world)
        finally:
            world.close()

    def _load(self, path: tuple[Any, ...], name: str) -> tuple[str, str, str] | None:
        """(text, file, key) of a pathway named by the scenario, or None after a failure."""
        from engine.pathway.loader import load_text

        file = self._pathway_file(path, name)
        if file is None:
            return None
        text = file.read_text(encoding="utf-8")
        try:
            pathway = load_text(text, str(file))
        except ParcoursError as exc:
            self.fail(path, f"the pathway does not load:\n{exc}")
            return None
        self.pathways[pathway.key] = pathway
        return text, str(file), pathway.key

    def _pathway_file(self, path: tuple[Any, ...], name: str) -> Path | None:
        here = Path(self.doc.file).parent
        for candidate in (here / name, Path(name)):
            if candidate.is_file():
                return candidate
        self.fail(path, f"pathway file {name!r} not found (relative to {here})")
        return None

    def _setup(self, world: World, start: datetime) -> bool:
        spec = self.scenario.patient
        try:
            world.populate(spec, dict(self.scenario.care_team), start)
        except ParcoursError as exc:
            self.fail(("care_team",), f"care team refused: {exc}")
            return False
        for key in list(self.pathways)[1:]:
            try:
                world.enroll(key, start)
            except ParcoursError as exc:
                self.fail(("also_enrolled",), f"enrolment in {key!r} refused: {exc}")
                return False
        try:
            world.enroll(self.pathway.key, start)
        except ParcoursError as exc:
            if not self.scenario.eligible and "éligible" in str(exc):
                self.result.checks += 1
                return False
            self.fail(("start",), f"enrolment refused on {start:%Y-%m-%d}: {exc}")
            return False
        if not self.scenario.eligible:
            self.fail(("eligible",), "expected the patient not to be eligible, but the "
                                     "enrolment was accepted")
            return False
        return True

    def _steps(self, world: World) -> None:
        previous = as_datetime(self.scenario.start)
        for i, step in enumerate(self.scenario.steps):
            at = as_datetime(step.at)
            self.result.steps += 1
            if at < previous:
                self.fail(("steps", i, "at"), f"step {i + 1} ({at:%Y-%m-%d %H:%M}) comes before "
                          f"{previous:%Y-%m-%d %H:%M}; steps must be in date order, after 'start'")
                return
            previous = at
            actions = [k for k in ACTIONS if getattr(step, k)]
            if len(actions) > 1:
                self.fail(("steps", i, actions[1]), f"a step does one thing ({', '.join(ACTIONS)})"
                          f"; this one has {' and '.join(actions)}", key=True)
                return
            world.begin_step()
            world.advance(at)
            if not self._act(world, step, ("steps", i), at):
                return
            self._expect(world, step, ("steps", i, "expect"), at)

    def _expect(self, world: World, step: Step, path: tuple[Any, ...], at: datetime) -> None:
        expects = step.expect if isinstance(step.expect, list) else \
            [step.expect] if step.expect else []
        for j, expect in enumerate(expects):
            here = (*path, j) if isinstance(step.expect, list) else path
            if expect.pathway is not None and expect.pathway not in world.cases:
                self.fail((*here, "pathway"), f"no case in pathway {expect.pathway!r}; the "
                          f"patient is enrolled in {', '.join(world.cases)}")
                continue
            where = Located(self.doc, here, f"{at:%Y-%m-%d %H:%M}")
            self.result.checks += compare(expect, world.snapshot(expect.pathway), where,
                                          self.result.failures)

    def _act(self, world: World, step: Step, path: tuple[Any, ...], at: datetime) -> bool:
        """Apply the step's action; False when the scenario cannot go on."""
        try:
            self._apply(world, step, at)
        except ParcoursError as exc:
            if step.refused is not None and step.refused.lower() in str(exc).lower():
                self.result.checks += 1
                return True
            self.fail(path, f"{at:%Y-%m-%d %H:%M}: the step was refused: {exc}")
            return False
        if step.refused is not None:
            self.fail((*path, "refused"), f"{at:%Y-%m-%d %H:%M}: expected the step to be "
                                          f"refused ({step.refused!r}), but it was applied")
        return True

    def _apply(self, world: World, step: Step, at: datetime) -> None:
        if step.observe:
            declared = {k: o for p in self.pathways.values()
                        for k, o in p.definition.observations.items()}
            spec = declared.get(step.observe)
            if spec is None:
                raise ParcoursError(f"unknown observation {step.observe!r}; the pathways "
                                    f"observe {', '.join(declared) or 'nothing'}")
            world.observe(spec.code, step.value, step.unit, at)
        elif step.complete:
            world.complete(step.complete, dict(step.result), at, step.pathway)
        elif step.event:
            world.event(step.event, dict(step.data), at, self._event_case(step))

    def _event_case(self, step: Step) -> str:
        """The pathway a manual event goes to: the step's, else the first that declares it."""
        if step.pathway is not None:
            return step.pathway
        for key, pathway in self.pathways.items():
            if step.event in pathway.definition.events:
                return key
        return self.pathway.key
