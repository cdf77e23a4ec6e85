"""``parcours migrate``: move running cases to another version of their pathway.

``plan`` writes nothing; ``apply`` migrates in batches (one transaction each),
resumable and idempotent; ``rollback RUN`` moves a run's cases back; ``runs`` lists
the runs. Progress goes to stderr, results to stdout (French, or ``--json``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flows.commands.common import Settings, add_json, add_now, dump, engine_of, guarded, now_of


def _progress(verb: str) -> Any:
    def show(done: int, total: int) -> None:
        print(f"{verb} : {done}/{total} dossier(s)", file=sys.stderr, flush=True)
    return show


@guarded
def migrate_plan(args: argparse.Namespace) -> int:
    from engine.store import migration

    report = migration.plan(engine_of(Settings()), args.pathway, args.to, now_of(args),
                            mapping_path=args.mapping)
    if args.json:
        dump(report.to_json())
    else:
        print("\n".join(report.lines()))
        print("(plan seulement : rien n'a été écrit ; « parcours migrate apply » avec les mêmes "
              "arguments migre ces dossiers)")
    return 0


@guarded
def migrate_apply(args: argparse.Namespace) -> int:
    from engine.store import migration

    report = migration.apply(engine_of(Settings()), args.pathway, args.to, now_of(args),
                             mapping_path=args.mapping, batch_size=args.batch_size,
                             progress=_progress("migration"))
    if args.json:
        dump(report.to_json())
    else:
        print(f"Migration {report.run} terminée.")
        print("\n".join(report.lines()))
        print(f"(annulation : parcours migrate rollback {report.run})")
    return 0


@guarded
def migrate_rollback(args: argparse.Namespace) -> int:
    from engine.store import migration

    report = migration.rollback(engine_of(Settings()), args.run, now_of(args),
                                batch_size=args.batch_size, progress=_progress("retour"))
    print("\n".join(report.lines()))
    return 0


@guarded
def migrate_runs(args: argparse.Namespace) -> int:
    from engine.store import migration

    rows = migration.runs(engine_of(Settings()), args.pathway)
    if args.json:
        dump(rows)
        return 0
    if not rows:
        print("aucune migration")
    for r in rows:
        counts = r["counts"] or {}
        print(f"{r['run']} : {r['pathway']} → version (id {r['to_version_id']}) : {r['status']}, "
              f"{counts.get('migrated', 0)} dossier(s) migré(s), "
              f"{counts.get('refused', 0)} non migrable(s)")
    return 0


def register(sub: Any) -> None:
    h = "flows.commands.migration:"
    p = sub.add_parser("migrate", help="faire passer les dossiers en cours à une autre version "
                                       "de leur parcours")
    msub = p.add_subparsers(dest="migrate_command", required=True, metavar="ACTION")
    for name, text in (("plan", "ce que ferait la migration, sans rien écrire"),
                       ("apply", "migrer, par lots (reprend une migration interrompue)")):
        q = msub.add_parser(name, help=text)
        q.add_argument("pathway", metavar="PARCOURS")
        q.add_argument("--to", type=int, required=True, metavar="VERSION",
                       help="version cible (numéro de « parcours pathways list »)")
        q.add_argument("--mapping", default=None, metavar="FICHIER",
                       help="fichier de correspondance (sinon : mêmes noms)")
        if name == "apply":
            q.add_argument("--batch-size", type=int, default=500)
        add_now(q)
        add_json(q)
        q.set_defaults(handler=h + f"migrate_{name}")
    q = msub.add_parser("rollback", help="ramener les dossiers d'une migration à leur version")
    q.add_argument("run", type=int, metavar="MIGRATION")
    q.add_argument("--batch-size", type=int, default=500)
    add_now(q)
    q.set_defaults(handler=h + "migrate_rollback")
    q = msub.add_parser("runs", help="les migrations et leur état")
    q.add_argument("pathway", nargs="?", default=None, metavar="PARCOURS")
    add_json(q)
    q.set_defaults(handler=h + "migrate_runs")
