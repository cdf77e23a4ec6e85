"""The newcomer's wait: the default demo's wall time and the command line's start-up.

Run: ``.venv/bin/python benchmarks/demo.py [--weeks 6] [--patients 300] [--runs 5]
[--skip-demo]``

- ``parcours --help`` and ``parcours validate pathways/``: median wall time of
  ``--runs`` fresh processes each (what a user waits for, imports included);
- ``parcours demo`` on its defaults (six simulated weeks, 300 patients, seed 2026)
  in a temporary folder: wall time of the whole process (install excluded), the
  time the demo reports, and a fingerprint of its French summary (the territory
  tables, which must not change when only the speed does).

The machine may be shared: the load average is printed before and after, as
``benchmarks/RESULTS.md`` asks.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARCOURS = Path(sys.executable).with_name("parcours")


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def wall(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def summary(text: str) -> str:
    """The territory part of the demo's output, without paths and timings."""
    start, end = text.find("Territoire au"), text.find("Un même message")
    part = text[start:end] if start >= 0 and end > start else ""
    return re.sub(r"\S*/messages", "OUT/messages", part)


def demo(weeks: int, patients: int) -> None:
    with tempfile.TemporaryDirectory(prefix="parcours-demo-bench-") as out:
        started = time.perf_counter()
        done = subprocess.run([str(PARCOURS), "demo", "--out", out, "--weeks", str(weeks),
                               "--patients", str(patients)], cwd=ROOT, capture_output=True,
                              text=True, check=True, env={**os.environ, "COLUMNS": "100"})
        seconds = time.perf_counter() - started
    reported = re.search(r"Terminé en (\d+) s", done.stdout)
    fingerprint = hashlib.sha256(summary(done.stdout).encode()).hexdigest()[:16]
    print(f"  demo ({weeks} weeks, {patients} patients): {seconds:.1f} s wall "
          f"(reported {reported.group(1) if reported else '?'} s); "
          f"summary fingerprint {fingerprint}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (median)")
    parser.add_argument("--skip-demo", action="store_true", help="start-up times only")
    args = parser.parse_args()
    print(f"demo benchmark · {datetime.now():%Y-%m-%d %H:%M} · {load()}", flush=True)
    print(f"  parcours --help: {wall([str(PARCOURS), '--help'], args.runs):.2f} s (median "
          f"of {args.runs})", flush=True)
    print(f"  parcours validate pathways/: "
          f"{wall([str(PARCOURS), 'validate', 'pathways/'], args.runs):.2f} s", flush=True)
    if not args.skip_demo:
        demo(args.weeks, args.patients)
    print(f"  after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
