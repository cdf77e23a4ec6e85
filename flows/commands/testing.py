"""Trying a pathway before it is signed: ``parcours test`` runs its scenario tests through the
real case service, ``parcours simulate`` sizes its workload on a synthetic cohort.

Handlers import the engine lazily, so that loading the CLI stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.authoring.scenarios import Result

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "pathways" / "scenarios"


def test(args: argparse.Namespace) -> int:
    from engine.authoring.scenarios import run_file, scenario_files

    files = list(scenario_files(args.files or [str(SCENARIOS)]))
    if not files:
        print("aucun scénario trouvé (fichiers *.scenario.yaml) dans "
              + ", ".join(args.files or [str(SCENARIOS)]), file=sys.stderr)
        return 1
    counts = {"passed": 0, "failed": 0, "xfailed": 0, "xpassed": 0}
    started = time.perf_counter()
    for file in files:
        result = run_file(file, args.database)
        counts[result.outcome] += 1
        _print(result, _relative(file), args.quiet)
    elapsed = time.perf_counter() - started
    print(f"{counts['passed']} scénario(s) réussi(s), {counts['failed'] + counts['xpassed']} en "
          f"échec, {counts['xfailed']} en échec attendu (xfail), en {elapsed:.1f} s",
          file=sys.stderr)
    return 1 if counts["failed"] or counts["xpassed"] else 0


def _print(result: Result, shown: str, quiet: bool) -> None:
    if result.outcome == "passed":
        if not quiet:
            print(f"ok      {shown} — {result.title} ({result.steps} étapes, "
                  f"{result.checks} vérifications)")
    elif result.outcome == "xfailed":
        print(f"xfail   {shown} — {result.title} : {result.xfail}")
    elif result.outcome == "xpassed":
        print(f"ÉCHEC   {shown} — {result.title} : réussi alors qu'un échec est attendu "
              f"(xfail : {result.xfail}) ; retirer 'xfail'")
    else:
        print(f"ÉCHEC   {shown} — {result.title}")
        for failure in result.failures:
            print(f"    {failure}")


def _relative(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def simulate(args: argparse.Namespace) -> int:
    from engine.authoring.simulate import Plan, Progress, report, run_cohort
    from engine.exceptions import ParcoursError, PathwayDefinitionError
    from engine.pathway.loader import load_file

    if args.patients < 1 or args.years <= 0:
        print("--patients doit être ≥ 1 et --years > 0", file=sys.stderr)
        return 2
    try:
        pathway = load_file(args.pathway)
    except PathwayDefinitionError as exc:
        for problem in exc.diagnostics:
            print(problem, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.pathway}: {exc.strerror}", file=sys.stderr)
        return 1
    progress = Progress(args.patients, sys.stderr, enabled=not args.no_progress)
    try:
        cohort = run_cohort(args.pathway, pathway, args.patients, args.years, args.seed,
                            jobs=args.jobs, progress=progress.update)
    except ParcoursError as exc:
        print(f"simulation impossible : {exc}", file=sys.stderr)
        return 1
    finally:
        progress.done()
    sys.stdout.write(report(pathway, cohort, Plan(args.pathway, args.seed, args.years)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("test", help="run the YAML scenario tests of the pathways")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="scenario files or folders (default: pathways/scenarios/)")
    p.add_argument("--quiet", "-q", action="store_true", help="print failures only")
    p.add_argument("--database", metavar="URL", default=None,
                   help="run on this migrated PostgreSQL database, emptied before each "
                        "scenario (default: a fresh SQLite file per scenario)")
    p.set_defaults(handler="flows.commands.testing:test")

    p = sub.add_parser("simulate", help="simulate a synthetic cohort in memory: workload by "
                                        "role and month, states at the end")
    p.add_argument("pathway", metavar="PATHWAY")
    p.add_argument("--patients", type=int, required=True, metavar="N")
    p.add_argument("--years", type=float, required=True, metavar="Y")
    p.add_argument("--seed", type=int, default=1, metavar="S",
                   help="random seed: the same seed gives the same output (default: 1)")
    p.add_argument("--jobs", type=int, default=None, metavar="J",
                   help="worker processes (default: one per core)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler="flows.commands.testing:simulate")
