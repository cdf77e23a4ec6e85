"""Working on one pathway file: ``validate`` (located errors), ``schema`` (JSON Schema for
editors), ``graph`` (mermaid / dot) and ``run`` (replay a timeline in memory)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from engine.exceptions import Diagnostic, ParcoursError, PathwayDefinitionError

if TYPE_CHECKING:
    from engine.authoring.timeline import StepResult
    from engine.case import Effect
    from engine.pathway.compiler import CompiledPathway


def pathway_files(paths: list[str]) -> Iterator[str]:
    """The files named, and the pathway files under the folders named (hidden folders such
    as ``.venv`` left out). An empty name is not the current folder: it is reported."""
    for raw in paths:
        path = Path(raw)
        try:
            folder = bool(raw.strip()) and path.is_dir()
        except OSError:  # e.g. a name too long: check_file reports it
            folder = False
        if folder:
            yield from sorted(str(p) for p in path.rglob("*.yaml")
                              if not p.name.endswith((".timeline.yaml", ".scenario.yaml",
                                                      ".settings.yaml", ".mapping.yaml"))
                              and not any(part.startswith(".")
                                          for part in p.relative_to(path).parts))
        else:
            yield raw


def validate(args: argparse.Namespace) -> int:
    from engine.pathway.loader import check_file

    failed = 0
    files = list(pathway_files(args.paths))
    if not files:
        print("no pathway file found in " + ", ".join(args.paths), file=sys.stderr)
        return 1
    for file in files:
        _, problems = check_file(file)
        for problem in problems:
            print(problem)
        warnings = sum(not p.is_error for p in problems)
        if len(problems) > warnings or (warnings and args.strict):
            failed += 1
        elif not args.quiet:
            print(f"{file}: ok" + (f" ({warnings} warning(s))" if warnings else ""))
    if failed:
        print(f"{failed} of {len(files)} file(s) invalid", file=sys.stderr)
    return 1 if failed else 0


def schema(args: argparse.Namespace) -> int:
    from engine.pathway.schema import shipped

    sys.stdout.write(shipped())
    return 0


def _load(file: str) -> CompiledPathway | None:
    from engine.pathway.loader import load_file

    try:
        return load_file(file)
    except PathwayDefinitionError as exc:
        for problem in exc.diagnostics:
            print(problem, file=sys.stderr)
        return None


def graph(args: argparse.Namespace) -> int:
    from engine.pathway.diagram import to_dot, to_mermaid

    pathway = _load(args.pathway)
    if pathway is None:
        return 1
    sys.stdout.write(to_dot(pathway) if args.format == "dot" else to_mermaid(pathway))
    return 0


def run(args: argparse.Namespace) -> int:
    from engine.authoring.timeline import read_timeline, replay

    pathway = _load(args.pathway)
    if pathway is None:
        return 1
    steps = []
    try:
        timeline, doc = read_timeline(args.timeline)
        for result in replay(pathway, timeline, doc):
            if args.json:
                steps.append({"step": result.index, "at": result.at.isoformat(),
                              "label": result.label,
                              "effects": [e.to_dict() for e in result.effects],
                              "case": result.case.to_dict()})
            else:
                print_step(result, pathway)
    except ParcoursError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        from flows.commands.common import json_stream

        out = json_stream()
        json.dump({"pathway": pathway.key, "version": pathway.version, "steps": steps},
                  out, indent=2, ensure_ascii=False)
        out.write("\n")
    return 0


def _d(moment: datetime) -> str:
    from engine.clock import PARIS

    return moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")


def print_step(result: StepResult, pathway: CompiledPathway | None = None) -> None:
    """One step of a replay: each effect at the time it happened, then the case."""
    print(f"── step {result.index} · {_d(result.at)} · {result.label}")
    when = result.at
    for effect in result.effects:
        when = getattr(effect, "at", when)  # a timer set happens with what armed it
        line = describe(effect)
        if line:
            print(f"   {_d(when)}  {line}")
    case = result.case
    print(f"   states: {', '.join(case.active) or '-'}" + ("  (closed)" if case.closed else ""))
    for task in case.tasks:
        print(f"   open task: {task.ref} [{task.role}] due {_d(task.due_at)}")
    for timer in case.timers:
        kind = f"every {timer.every}" if timer.every else "once"
        print(f"   timer: {timer.name} ({kind}) at {_d(timer.fire_at)}")
    facts = {k: v for k, v in case.facts.items() if v is not None}
    if facts:
        print("   facts: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


def describe(effect: Effect) -> str | None:
    """One line for one effect, without its time."""
    from engine.case import (  # here: ``parcours --help`` and ``validate`` do without it
        CaseClosed,
        Entered,
        FactSet,
        GuardFailed,
        HospitalEventUndone,
        Notification,
        TaskCancelled,
        TaskCompleted,
        TaskCreated,
        TimerCancelled,
        TimerFired,
        TimerSet,
        Transitioned,
    )

    match effect:
        case Entered(states=states):
            return f"enrolled in {', '.join(states)}"
        case Transitioned(target=None, transition=tid, event=event):
            return f"internal {tid} on {event}"
        case Transitioned(source=source, target=target, event=event):
            return f"transition {source} → {target} on {event}"
        case TaskCreated(ref=ref, role=role, due_at=due, title=title):
            return f"task created {ref} [{role}] due {_d(due)}: {title}"
        case TaskCompleted(ref=ref, by_event=by):
            return f"task completed {ref}" + (f" (by {by})" if by else "")
        case TaskCancelled(ref=ref, reason=reason):
            return f"task cancelled {ref} ({reason})"
        case TimerSet(name=name, fire_at=at):
            return f"timer set {name} at {_d(at)}"
        case TimerFired(name=name):
            return f"timer fired {name}"
        case TimerCancelled(name=name, state=state):
            return f"timer cancelled {name} (left state '{state}')"
        case FactSet(name=name, value=value):
            return f"fact {name} = {value!r}"
        case Notification(roles=roles, message=message):
            return f"notify {', '.join(roles)}: {message}"
        case GuardFailed(transition=tid, error=error):
            return f"guard of {tid} failed: {error}"
        case CaseClosed(state=state):
            return f"case closed in {state}"
        case HospitalEventUndone(event=event, stay=stay, restored=restored, note=note):
            return (f"{event} of stay {stay} undone, back in {', '.join(restored) or '-'}"
                    + (f" ({note})" if note else ""))
    return None


__all__ = ["Diagnostic", "graph", "run", "schema", "validate"]


def register(sub: argparse._SubParsersAction) -> None:
    """Pathway authors' commands (English: developer tooling)."""
    p = sub.add_parser("validate", help="check pathway files, report every error")
    p.add_argument("paths", nargs="+", metavar="PATH", help="pathway files or folders")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print errors and warnings only")
    p.add_argument("--strict", action="store_true",
                   help="warnings make the file invalid too (exit code 1)")
    p.set_defaults(handler="flows.commands.authoring:validate")

    p = sub.add_parser("schema", help="print the JSON Schema of the pathway language")
    p.set_defaults(handler="flows.commands.authoring:schema")

    p = sub.add_parser("graph", help="draw a pathway as Mermaid or Graphviz DOT")
    p.add_argument("pathway", metavar="PATHWAY")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.set_defaults(handler="flows.commands.authoring:graph")

    p = sub.add_parser("run", help="replay a timeline of events in memory")
    p.add_argument("pathway", metavar="PATHWAY")
    p.add_argument("--timeline", required=True, metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler="flows.commands.authoring:run")

