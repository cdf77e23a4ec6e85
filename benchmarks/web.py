"""Load test of the professionals' workspace: Locust (headless) against ``parcours web``.

Run: ``.venv/bin/python benchmarks/web.py [--patients 50000] [--professionals 100]
[--users 50] [--coordinators 10] [--run-time 60] [--workers 2] [--keep] [--reuse]
[--profile]`` (needs the
``bench`` extra: ``pip install -e '.[dev,bench]'``).

1. Creates the PostgreSQL database ``parcours_bench_web`` (dropped first if a previous
   run left it) and seeds a territory through the bulk paths
   (``benchmarks/webload/territory.py``): 50 000 patients, half GPs and half nurses, every
   patient enrolled in ``bench-web`` with one open task for each: 100 000 open tasks.
2. Issues one one-time sign-in link per simulated professional, directly in the database.
3. Starts ``parcours web`` (uvicorn, ``--workers`` processes) on 127.0.0.1 and a free port.
4. Runs Locust in headless mode on loopback for a fixed time: ``--users`` professionals
   (half GPs, half nurses) each sign in once with their link, then, with 0.5–1.5 s of
   thinking between actions, open « Mes tâches » (3), open one of their tasks (3), or
   complete one (1: open it, post the result form); and ``--coordinators`` CPTS
   coordinators open the territory dashboard (3), one of its SVG charts (1) or
   « À traiter » (3). The territory has one coordinator, 50 refused inbound events and 50
   undelivered messages for her queue.
5. Prints p50/p95/p99 of each request kind from every sample (not Locust's rounded
   percentiles), stops the server and drops the database (unless ``--keep``;
   ``--reuse`` runs again on a kept database without seeding it).

``--profile`` runs the server under py-spy (every worker, sampled 100 times a second)
and prints where the server's time goes (``benchmarks/webload/profile.py``).

Goals (issue 12): p95 < 150 ms for the inbox and the task page, < 300 ms for a
completion, with 50 concurrent professionals on this 2-core machine; (issue 13) p95 <
300 ms for the dashboard and the queue with 10 concurrent coordinators. Locust itself runs
on the same two cores as the server and PostgreSQL, so the figures include that
contention.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PG_ADMIN, ROOT, machine, now_utc

DATABASE = "parcours_bench_web"
GOALS_MS = {"inbox: GET /tasks": 150.0, "task page: GET /tasks/[id]": 150.0,
            "completion: POST /tasks/[id]/terminer": 300.0,
            "dashboard: GET /coordination/tableau-de-bord": 300.0,
            "dashboard chart: GET /coordination/graphiques/[x].svg": 300.0,
            "queue: GET /coordination/a-traiter": 300.0}
BIN = Path(sys.executable).parent


def create_database() -> str:
    import psycopg

    drop_database()
    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{DATABASE}"


def existing_database() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (DATABASE,)).fetchone()
    if found is None:
        raise SystemExit(f"--reuse: no database {DATABASE} (run once with --keep first)")
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{DATABASE}"


def drop_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(url: str, port: int, workers: int) -> list[str]:
    """``parcours web`` when the CLI has it, else the same app through uvicorn."""
    parcours = str(BIN / "parcours")
    probe = subprocess.run([parcours, "web", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [parcours, "web", "--database", url, "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--base-url", f"http://127.0.0.1:{port}"]
    return [str(BIN / "python"), "-m", "uvicorn", "--factory", "web.app:app_from_environment",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning"]


@contextmanager
def server(url: str, workers: int, folder: Path, profile: bool) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PARCOURS_DATABASE_URL": url, "PARCOURS_WEB_HOST": "127.0.0.1",
           "PARCOURS_WEB_PORT": str(port), "PARCOURS_WEB_WORKERS": str(workers),
           "PARCOURS_WEB_BASE_URL": base, "PARCOURS_WEB_SECRET_KEY": "bench-" + "k" * 40,
           "PARCOURS_WEB_SIGN_IN_PER_IP": "1000"}
    command = server_command(url, port, workers)
    shown = [Path(command[0]).name, *("…" if c == url else c for c in command[1:])]
    print(f"server: {' '.join(shown)} ({workers} worker(s)) on {base}")
    if profile:
        command = [str(BIN / "py-spy"), "record", "--subprocesses", "--format", "raw",
                   "--rate", "100", "--output", str(folder / "server.stacks"), "--",
                   *command]
    log = (folder / "server.log").open("w")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait_ready(base + "/connexion", proc)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # uvicorn stops; py-spy then writes its file
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped (exit {proc.returncode}): see its log")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within 60 s")


def run_locust(base: str, plan_file: Path, samples: Path, args: argparse.Namespace) -> None:
    locust = shutil.which("locust", path=str(BIN)) or "locust"
    env = {**os.environ, "PARCOURS_BENCH_WEB_PLAN": str(plan_file),
           "PARCOURS_BENCH_WEB_SAMPLES": str(samples),
           "PARCOURS_BENCH_WEB_COORDINATORS": str(args.coordinators)}
    locustfile = ROOT / "benchmarks" / "webload" / "locustfile.py"
    command = [locust, "-f", str(locustfile), "--headless",
               "--users", str(args.users + args.coordinators), "--spawn-rate", str(args.spawn_rate),
               "--run-time", f"{args.run_time}s", "--host", base, "--only-summary",
               "--stop-timeout", "10", "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    with (samples.parent / "locust.log").open("w") as log:
        subprocess.run(command, env=env, check=True, timeout=args.run_time + 120,
                       stdout=log, stderr=subprocess.STDOUT)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def report(data: dict[str, Any], run_time: float) -> bool:
    samples, failures = data["samples"], data["failures"]
    print("\n| request | count | failures | req/s | p50 ms | p95 ms | p99 ms | max ms | "
          "goal p95 | met |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    met_all = True
    for name, goal in GOALS_MS.items():
        values = samples.get(name, [])
        if not values:
            print(f"| {name} | 0 | {failures.get(name, 0)} | | | | | | {goal:.0f} | no |")
            met_all = False
            continue
        p95 = percentile(values, 95)
        met = p95 < goal and not failures.get(name)
        met_all &= met
        print(f"| {name} | {len(values)} | {failures.get(name, 0)} | "
              f"{len(values) / run_time:.1f} | {percentile(values, 50):.0f} | {p95:.0f} | "
              f"{percentile(values, 99):.0f} | {max(values):.0f} | < {goal:.0f} | "
              f"{'yes' if met else 'no'} |")
    signed = len(samples.get("sign-in (once)", []))
    print(f"\nsign-in requests (not in the table): {signed}, failures "
          f"{failures.get('sign-in (once)', 0)}")
    return met_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--professionals", type=int, default=100)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--coordinators", type=int, default=10,
                        help="coordinators on the dashboard and the queue (issue 13)")
    parser.add_argument("--spawn-rate", type=float, default=10.0)
    parser.add_argument("--run-time", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="use the database a --keep run left (no seeding)")
    parser.add_argument("--profile", action="store_true", help="run the server under py-spy")
    args = parser.parse_args()
    if args.users > args.professionals:
        parser.error("--users cannot exceed --professionals (one sign-in link each)")
    from benchmarks.webload.territory import existing, plan, seed
    from engine.store.db import make_engine

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    url = existing_database() if args.reuse else create_database()
    folder = Path(tempfile.mkdtemp(prefix="parcours-bench-web-"))
    try:
        engine = make_engine(url)
        started = time.perf_counter()
        territory = (existing(engine) if args.reuse else
                     seed(engine, args.patients, args.professionals,
                          now_utc() - timedelta(days=20)))
        print(f"territory: {territory.patients} patients, {len(territory.professionals)} "
              f"professionals, {territory.open_tasks} open tasks "
              f"({'reused' if args.reuse else 'seeded'} in "
              f"{time.perf_counter() - started:.0f} s)")
        plan_file = folder / "plan.json"
        plan_file.write_text(json.dumps(plan(engine, territory, args.users, now_utc(),
                                             coordinators=args.coordinators)))
        engine.dispose()
        samples = folder / "samples.json"
        with server(url, args.workers, folder, args.profile) as base:
            print(f"locust: {args.users} users, {args.run_time} s, headless, on loopback")
            run_locust(base, plan_file, samples, args)
        load = os.getloadavg()
        met = report(json.loads(samples.read_text()), args.run_time)
        print(f"load average at the end of the run (1/5/15 min): "
              f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores")
        print(f"\ngoals {'met' if met else 'NOT met'}; server log: {folder / 'server.log'}")
        if args.profile:
            from benchmarks.webload.profile import summary

            print(summary(folder / "server.stacks"))
        return 0
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    raise SystemExit(main())
