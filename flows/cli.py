"""The ``parcours`` command line.

Each sub-command imports what it needs when it runs, so that ``parcours
validate`` starts fast and never imports Prefect. Exit codes: 0 success,
1 invalid input (reported as ``file:line:col: message``), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parcours", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check pathway files, report every error")
    p.add_argument("paths", nargs="+", metavar="PATH", help="pathway files or folders")
    p.add_argument("--quiet", "-q", action="store_true", help="print errors only")
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

    _records(sub)

    p = sub.add_parser("demo", help="the main job: validate, draw and replay the bundled "
                                    "pathways")
    p.add_argument("--out", default="parcours-out", help="folder for diagrams (default: "
                                                          "%(default)s)")
    p.set_defaults(handler="flows.commands.demo:demo")
    return parser


def _records(sub: argparse._SubParsersAction) -> None:
    """Coordinators' commands on the database (French help: coordinators read it)."""
    from flows.commands.cases import add_json, add_now, day, moment

    h = "flows.commands.records:"
    p = sub.add_parser("db", help="base de données")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", help="créer ou mettre à jour le schéma").set_defaults(
        handler=h + "db_upgrade")

    p = sub.add_parser("professionals", help="professionnels de santé")
    psub = p.add_subparsers(dest="pro_command", required=True, metavar="ACTION")
    q = psub.add_parser("import", help="importer un fichier CSV ou YAML (tout ou rien)")
    q.add_argument("file", metavar="FICHIER")
    q.set_defaults(handler=h + "professionals_import")

    p = sub.add_parser("patients", help="patients")
    psub = p.add_subparsers(dest="patient_command", required=True, metavar="ACTION")
    q = psub.add_parser("import", help="importer un fichier CSV ou YAML (tout ou rien)")
    q.add_argument("file", metavar="FICHIER")
    add_now(q)
    q.set_defaults(handler=h + "patients_import")

    p = sub.add_parser("careteam", help="équipe de soins d'un patient")
    psub = p.add_subparsers(dest="team_command", required=True, metavar="ACTION")
    q = psub.add_parser("set", help="confier un rôle à un professionnel")
    q.add_argument("--patient", required=True, help="id, INS ou identifiant local")
    q.add_argument("--role", required=True)
    q.add_argument("--professional", required=True, help="RPPS ou id")
    q.add_argument("--from", dest="start", type=day, help="début (défaut : aujourd'hui)")
    q.add_argument("--to", dest="end", type=day, help="fin (facultatif)")
    add_now(q)
    q.set_defaults(handler=h + "careteam_set")

    p = sub.add_parser("enroll", help="inscrire un patient dans un parcours")
    p.add_argument("--patient", required=True, help="id, INS ou identifiant local")
    p.add_argument("--pathway", required=True, help="clé du parcours publié")
    p.add_argument("--force", action="store_true", help="ignorer le critère d'éligibilité")
    p.add_argument("--event-id", help="identifiant d'idempotence")
    add_now(p)
    p.set_defaults(handler=h + "enroll")

    p = sub.add_parser("observe", help="enregistrer une observation clinique")
    p.add_argument("--patient", required=True)
    p.add_argument("--code", required=True, help="code LOINC (ex. 4548-4) ou clé (hba1c)")
    p.add_argument("--value", required=True)
    p.add_argument("--unit")
    p.add_argument("--at", type=moment, help="date de l'observation (défaut : --now)")
    p.add_argument("--source", help="laboratoire, cabinet…")
    p.add_argument("--event-id", help="identifiant d'idempotence")
    add_now(p)
    p.set_defaults(handler=h + "observe")

    p = sub.add_parser("event", help="admission, sortie ou événement de parcours")
    p.add_argument("name", metavar="EVENEMENT", help="admission, discharge ou un événement "
                                                     "déclaré par le parcours")
    p.add_argument("--patient", help="pour admission et sortie")
    p.add_argument("--case", type=int, help="pour un événement de parcours")
    p.add_argument("--data", nargs="*", metavar="CLE=VALEUR")
    p.add_argument("--at", type=moment)
    p.add_argument("--event-id")
    add_now(p)
    p.set_defaults(handler=h + "event")

    p = sub.add_parser("tasks", help="lister les tâches")
    p.add_argument("--assignee", help="RPPS ou id du professionnel")
    p.add_argument("--role")
    p.add_argument("--case", type=int)
    p.add_argument("--status", help="open, requested, completed, cancelled…")
    p.add_argument("--overdue", action="store_true", help="seulement les tâches en retard")
    add_now(p)
    add_json(p)
    p.set_defaults(handler=h + "tasks")

    p = sub.add_parser("task", help="agir sur une tâche")
    tsub = p.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    q = tsub.add_parser("complete", help="terminer une tâche avec son résultat")
    q.add_argument("id", type=int)
    q.add_argument("--result", nargs="*", metavar="CLE=VALEUR")
    q.add_argument("--by", help="RPPS du professionnel")
    q.add_argument("--at", type=moment)
    q.add_argument("--event-id")
    add_now(q)
    q.set_defaults(handler=h + "task_complete")

    p = sub.add_parser("case", help="dossiers")
    csub = p.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    q = csub.add_parser("show", help="état, faits, tâches, minuteries et historique")
    q.add_argument("id", type=int)
    add_now(q)
    add_json(q)
    q.set_defaults(handler=h + "case_show")
    q = csub.add_parser("close", help="clore un dossier")
    q.add_argument("id", type=int)
    q.add_argument("--reason", required=True, help="décès, déménagement, retrait…")
    add_now(q)
    q.set_defaults(handler=h + "case_close")

    p = sub.add_parser("pathways", help="parcours publiés")
    psub = p.add_subparsers(dest="pathways_command", required=True, metavar="ACTION")
    q = psub.add_parser("publish", help="publier des fichiers (nouvelle version si modifiés)")
    q.add_argument("files", nargs="+", metavar="FICHIER")
    add_now(q)
    q.set_defaults(handler=h + "pathways_publish")
    q = psub.add_parser("list", help="versions et dossiers ouverts")
    add_json(q)
    q.set_defaults(handler=h + "pathways_list")

    p = sub.add_parser("advance", help="déclencher les minuteries échues (sans Prefect)")
    p.add_argument("--batch-size", type=int, default=None)
    add_now(p)
    add_json(p)
    p.set_defaults(handler=h + "advance")


def _resolve(spec: str) -> Handler:
    import importlib

    module, _, name = spec.partition(":")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _resolve(args.handler)(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
