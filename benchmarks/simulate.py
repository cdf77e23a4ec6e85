"""Cohort simulation benchmark: the diabetic population of a 200 000-inhabitant CPTS.

Run: ``.venv/bin/python benchmarks/simulate.py [--patients N] [--years Y] [--jobs J]``

Times the real command, ``parcours simulate pathways/diabete-type2.yaml
--patients 12000 --years 2`` (defaults), as a subprocess from start to exit
(interpreter start, pathway compilation, worker processes, the tables
printed), and reports the wall time against the goal (under a minute on this
2-core machine), the CPU time of the process and its workers, and the load
average before the run (other sessions share the machine).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine
from engine.clock import PARIS

ROOT = Path(__file__).resolve().parents[1]
PATHWAY = "pathways/diabete-type2.yaml"
GOAL_SECONDS = 60.0


def command(args: argparse.Namespace) -> list[str]:
    cli = [str(ROOT / ".venv" / "bin" / "parcours")]
    if not Path(cli[0]).exists():
        cli = [sys.executable, "-m", "flows.cli"]
    extra = ["--jobs", str(args.jobs)] if args.jobs else []
    return [*cli, "simulate", PATHWAY, "--patients", str(args.patients), "--years",
            f"{args.years:g}", "--seed", str(args.seed), "--no-progress", *extra]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=12_000)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=None, help="default: one per core")
    args = parser.parse_args()
    cmd = command(args)
    load = os.getloadavg()[0]
    print(f"simulate benchmark · {datetime.now(PARIS):%Y-%m-%d %H:%M} · {machine()}")
    print(f"load average before the run: {load:.2f}")
    print("$ " + " ".join(c.replace(str(ROOT) + "/", "") for c in cmd))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total_line = next((line for line in done.stdout.splitlines() if line.startswith("Total")),
                      "")
    print(f"wall time {wall:.1f} s (goal < {GOAL_SECONDS:.0f} s: "
          f"{'met' if wall < GOAL_SECONDS else 'NOT met'}); CPU time {cpu:.1f} s "
          f"(process and workers); {args.patients / wall:,.0f} patients/s")
    created = re.split(r"\s{2,}", total_line)[-1] if total_line else "?"
    print(f"tasks created: {created}")
    return 0 if wall < GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
