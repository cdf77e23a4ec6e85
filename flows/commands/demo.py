"""The main job: a synthetic CPTS run by Prefect over several simulated weeks.

``parcours demo`` on the embedded defaults (SQLite, Prefect's temporary local
server unless ``PREFECT_API_URL`` is set):

1. a fresh database ``OUT/demo.db``; the pathways of ``pathways/*.yaml``
   (or the example when there are none) checked and published;
2. a deterministic synthetic territory (``flows.territory``);
3. every simulated day at 08:00 (Europe/Paris): the day's inbound events
   (``flows.simulation``) go to the inbox, then ``cpts_cycle`` runs
   (inbound → eligibility → advance → escalation → notifications), with a
   progress bar; notifications are written by the console/file channel to
   ``OUT/messages/``;
4. a French summary (with one new task rendered for MSSanté and for SMS,
   ``demo_messages``), and how to open the Prefect UI on these runs.

This module imports nothing heavy at load time: ``parcours validate`` must
stay fast and never import Prefect.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flows.commands.common import bounded_int

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
START = "2026-01-05T08:00"  # a Monday, Europe/Paris


def pathway_sources() -> list[Path]:
    files = sorted(p for p in (ROOT / "pathways").glob("*.yaml")
                   if not p.name.endswith((".timeline.yaml", ".scenario.yaml")))
    return files or [EXAMPLE]


def _edge_environment(out: Path, db: Path) -> None:
    """Settings of this run, set before Prefect or our settings objects are read."""
    os.environ["PARCOURS_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("PARCOURS_NOTIFY_CONSOLE_DIR", str(out / "messages"))
    # Prefect's console shows warnings only (the progress bar stays readable);
    # the runs' INFO logs still go to the Prefect API and its UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")


def _fresh(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.db"
    for path in (db, db.with_name("demo.db-wal"), db.with_name("demo.db-shm")):
        path.unlink(missing_ok=True)
    shutil.rmtree(out / "messages", ignore_errors=True)
    (out / "messages").mkdir()
    return db


def _publish(service: Any, files: list[Path], now: datetime, say: Any) -> set[str]:
    from engine.pathway.loader import check_file
    from engine.store import registry

    roles: set[str] = set()
    for file in files:
        model, problems = check_file(str(file))
        if model is None:
            errors = sum(p.is_error for p in problems)
            say(f"  [red]{file.name} invalide[/red] ({errors} erreur(s)), ignoré : "
                f"parcours validate {file}")
            continue
        published = service.publish(file.read_text(encoding="utf-8"), str(file), now)
        say(f"  parcours {published.key} v{published.version} publié ({file.name})")
        from engine.store.db import transaction

        with transaction(service.engine) as session:
            pathway = registry.compiled(registry.latest(session, published.key))
        roles |= set(pathway.definition.roles)
    return roles


def demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = Path(args.out).resolve()
    db = _fresh(out)
    _edge_environment(out, db)

    from flows.prefect_settings import ServerWarmUp, local_runs

    with local_runs():  # the temporary server starts while the territory is built
        return _run(args, out, db, started, ServerWarmUp().start())


def _run(args: argparse.Namespace, out: Path, db: Path, started: float, server: Any) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from engine.clock import PARIS
    from engine.settings import Settings
    from engine.store.migrate import upgrade
    from flows.config import FlowSettings
    from flows.prefect_settings import where_runs_go
    from flows.territory import create_territory
    from flows.workspace import close_all, open_workspace

    console = Console()
    say = console.print
    start = datetime.fromisoformat(args.start).replace(tzinfo=PARIS)
    ws = open_workspace(Settings(), FlowSettings())
    upgrade(ws.engine)
    say(f"[bold]Parcours · démonstration[/bold] — base {db}")
    roles = _publish(ws.service, pathway_sources(), start - timedelta(days=1), say)
    territory = create_territory(ws.engine, start - timedelta(days=1), roles,
                                 patients=args.patients, seed=args.seed)
    say(f"  territoire : {len(territory.patients)} patients, "
        f"{sum(map(len, territory.professionals.values()))} professionnels "
        f"({len(territory.professionals)} professions), {territory.observations} observations, "
        f"{territory.care_team} membres d'équipes de soins")

    from prefect.states import State

    from flows.cycle import cpts_cycle
    from flows.simulation import Simulator

    say(f"  {where_runs_go()}")
    simulator = Simulator(ws.engine, seed=args.seed)
    days = args.weeks * 7
    failed_cycles = 0
    server.ready()
    with Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                                console=console, transient=False) as progress:
        bar = progress.add_task("cycles CPTS", total=days, info="démarrage de Prefect…")
        for day in range(days):
            now = start + timedelta(days=day)
            events = simulator.day(now - timedelta(days=1), now) if day else None
            state: State[Any] = cpts_cycle(now=now, return_state=True)  # type: ignore[assignment]
            failed_cycles += 0 if state.is_completed() else 1
            progress.update(bar, advance=1, info=f"{now:%d/%m/%Y} · "
                            f"{events.total if events else 0} événement(s) entrant(s)")
    end = start + timedelta(days=days - 1)
    _report(ws.engine, end, out, console, failed_cycles, time.perf_counter() - started)
    close_all()
    return 0


def _report(engine: Any, now: datetime, out: Path, console: Any, failed: int,
            seconds: float) -> None:
    from flows.prefect_settings import api_url, ui_url
    from flows.summary import collect, render

    console.print()
    console.print(f"[bold]Territoire au {now:%d/%m/%Y}[/bold]")
    render(collect(engine, now), console)
    messages = len(list((out / "messages").glob("*")))
    console.print(f"Messages écrits par le canal console : {messages} dans {out / 'messages'}")
    from flows.commands.demo_messages import show

    show(engine, now, out / "demo.db", console)
    if failed:
        console.print(f"[yellow]{failed} cycle(s) avec une étape en échec : voir leurs "
                      "artefacts dans Prefect[/yellow]")
    console.print(f"Terminé en {seconds:.0f} s.")
    console.print()
    from flows.summary import how_to_look

    console.print(how_to_look(out / "demo.db", now), soft_wrap=True, highlight=False)
    console.print()
    if api_url():
        console.print(f"Les exécutions sont dans Prefect : ouvrir {ui_url()} (onglets Runs "
                      "et Artifacts ; filtrez par tag parcours:…).")
    else:
        console.print("Pour voir les exécutions dans l'interface de Prefect :\n"
                      "  .venv/bin/prefect server start      # puis ouvrir http://127.0.0.1:4200\n"
                      "  (onglet Runs : « cycle 2026-… », « advance … » ; onglet Artifacts : "
                      "transitions, tâches par rôle, retards, échecs ; filtre par tag "
                      "parcours:…)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="la démonstration : une CPTS synthétique menée par Prefect "
                                    "pendant plusieurs semaines simulées")
    p.add_argument("--out", default="parcours-out",
                   help="dossier de la base et des messages (défaut : %(default)s)")
    p.add_argument("--weeks", type=bounded_int(1, 520), default=6,
                   help="semaines simulées (défaut : %(default)s)")
    p.add_argument("--patients", type=bounded_int(1, 1_000_000), default=300,
                   help="défaut : %(default)s")
    p.add_argument("--seed", type=int, default=2026, help="graine du hasard : la même graine "
                                                          "donne la même démonstration "
                                                          "(défaut : %(default)s)")
    p.add_argument("--start", default=START, metavar="DATE_HEURE",
                   help="premier jour, heure de Paris (défaut : %(default)s)")
    p.set_defaults(handler="flows.commands.demo:demo")


if __name__ == "__main__":
    sys.exit(demo(argparse.Namespace(out="parcours-out", weeks=6, patients=300, seed=2026,
                                     start=START)))
