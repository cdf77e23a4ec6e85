"""Handlers of the coordinators' database commands (see ``flows.cli``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from engine import events
from engine.clock import local_date
from flows.commands import labels
from flows.commands.common import (
    Settings,
    bounded_int,
    dump,
    engine_of,
    fmt,
    guarded,
    now_of,
    pairs,
    service,
)

if TYPE_CHECKING:
    from engine.store.service import Applied


@guarded
def db_upgrade(args: argparse.Namespace) -> int:
    from engine.store.migrate import current_revision, upgrade

    settings = Settings()
    engine = engine_of(settings, create=True)
    upgrade(engine)
    print(f"base {engine.url.render_as_string(hide_password=True)} à jour "
          f"(révision {current_revision(engine)})")
    return 0


@guarded
def professionals_import(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.imports import import_professionals

    with transaction(engine_of(Settings())) as session:
        created, updated = import_professionals(session, args.file, args.encoding)
    print(f"{created} professionnel(s) créé(s), {updated} mis à jour")
    return 0


@guarded
def patients_import(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.imports import import_patients

    with transaction(engine_of(Settings())) as session:
        created, updated = import_patients(session, args.file, now_of(args), args.encoding)
    print(f"{created} patient(s) créé(s), {updated} mis à jour")
    return 0


@guarded
def patients_link(args: argparse.Namespace) -> int:
    from engine.intake.model import Identifier
    from engine.store.db import transaction
    from engine.store.identity import link
    from engine.store.service import find_patient

    with transaction(engine_of(Settings())) as session:
        patient = find_patient(session, args.patient)
        link(session, patient.id or 0, [Identifier(args.value, args.system, "PI")],
             now_of(args))
    print(f"identifiant {args.value} ({args.system}) rattaché au patient {patient.id} ; "
          "relancez les messages refusés : parcours inbox retry --all-failed")
    return 0


@guarded
def careteam_set(args: argparse.Namespace) -> int:
    from engine.store.careteam import set_member
    from engine.store.db import transaction

    start = args.start or local_date(now_of(args))
    with transaction(engine_of(Settings())) as session:
        message = set_member(session, args.patient, args.role, args.professional, start,
                             args.end)
    print(message)
    return 0


@guarded
def enroll(args: argparse.Namespace) -> int:
    svc = service(args)
    result = svc.enroll(args.patient, args.pathway, now_of(args), event_id=args.event_id,
                        check_eligibility=not args.force)
    print(_applied(result, f"patient {args.patient} inscrit"))
    return 0


@guarded
def observe(args: argparse.Namespace) -> int:
    now = now_of(args)
    result = service(args).observe(args.patient, args.code, args.value, args.unit,
                                   args.at or now, now, source=args.source,
                                   event_id=args.event_id)
    print(_applied(result, "observation enregistrée"))
    return 0


def _hospital_options(args: argparse.Namespace) -> dict[str, Any]:
    """--stay, --planned/--unplanned, --reason, --destination as typed hospital data."""
    given = {events.STAY: args.stay, events.PLANNED: args.planned, events.REASON: args.reason,
             events.DESTINATION: args.destination}
    return {key: value for key, value in given.items() if value is not None}


@guarded
def event(args: argparse.Namespace) -> int:
    now = now_of(args)
    svc = service(args)
    data = pairs(args.data)
    if events.is_hospital(args.name):
        data.update(_hospital_options(args))
        if not args.patient:
            print("erreur : --patient est requis pour une admission ou une sortie",
                  file=sys.stderr)
            return 1
        result = svc.hospital_event(args.patient, args.name, args.at or now, now, data=data,
                                    event_id=args.event_id)
    else:
        if args.case is None:
            print("erreur : --case est requis pour un événement de parcours", file=sys.stderr)
            return 1
        result = svc.pathway_event(args.case, args.name, args.at or now, now, data=data,
                                   event_id=args.event_id)
    print(_applied(result, f"événement {args.name} enregistré"))
    return 0


@guarded
def task_complete(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.queries import professional_id
    from engine.store.writer import Actor

    now = now_of(args)
    svc = service(args)
    actor = Actor()
    if args.by:
        with transaction(svc.engine) as session:
            actor = Actor("professional", professional_id(session, args.by))
    result = svc.complete_task(args.id, pairs(args.result), args.at or now, now, actor=actor,
                               event_id=args.event_id)
    print(_applied(result, f"tâche {args.id} terminée"))
    return 0


@guarded
def case_show(args: argparse.Namespace) -> int:
    from engine import narrative
    from engine.store.db import transaction
    from engine.store.listings import professional_names, state_titles
    from engine.store.queries import show_case

    with transaction(engine_of(Settings())) as session:
        view = show_case(session, args.id, now_of(args))
        timeline = narrative.render_text(narrative.case_timeline(session, args.id))
        titles = state_titles(session, args.id)
        tasks = view["open_tasks"] + view["closed_tasks"]
        names = professional_names(session, {t["assignee_id"] for t in tasks
                                             if t["assignee_id"] is not None}
                                   | {h["actor_id"] for h in view["history"]
                                      if h["actor_id"] is not None})
    if args.json:
        dump(view)
        return 0
    status = f"clos le {fmt(view['closed_at'])} ({view['close_reason']})" if view["closed_at"] \
        else "ouvert"
    print(f"Dossier {view['id']} · parcours {view['pathway']} v{view['version']} · "
          f"patient {view['patient_id']} · {status}")
    print(f"  étapes en cours : {', '.join(titles.get(s, s) for s in view['states'])}")
    facts = {k: v for k, v in view["facts"].items() if v is not None}
    print(f"  valeurs : {', '.join(f'{k} = {v}' for k, v in facts.items()) or '—'}")
    print(f"  prochaine échéance : {fmt(view['next_due_at'])}")
    print("  tâches ouvertes :" + ("" if view["open_tasks"] else " aucune"))
    for task in view["open_tasks"]:
        who = names.get(task["assignee_id"] or 0, "personne")
        print(f"    n° {task['id']} {task['title']} — {labels.task_status(task['status'])}, "
              f"confiée à {who}, échéance {fmt(task['due_at'])}"
              f"{' EN RETARD' if task['overdue'] else ''}")
    print("  minuteries :" + ("" if view["timers"] else " aucune"))
    for timer in view["timers"]:
        every = f" (tous les {timer['every']})" if timer["every"] else ""
        print(f"    {timer['name']} le {fmt(timer['fire_at'])}{every}")
    print("  historique :")  # the same French timeline as the coordinator's web page
    for line in timeline.splitlines():
        print(f"    {line}")
    return 0


@guarded
def case_close(args: argparse.Namespace) -> int:
    service(args).close_case(args.id, args.reason, now_of(args))
    print(f"dossier {args.id} clos ({args.reason})")
    return 0


@guarded
def pathways_publish(args: argparse.Namespace) -> int:
    svc = service(args)
    now = now_of(args)
    from engine.pathway.reader import read_source

    for file in args.files:
        text = read_source(file)  # a folder, unreadable or non-UTF-8 file: located error
        published = svc.publish(text, file, now)
        verb = "publié" if published.created else "inchangé"
        print(f"{file} : {published.key} v{published.version} {verb}")
    return 0


@guarded
def pathways_list(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.queries import list_pathways

    with transaction(engine_of(Settings())) as session:
        found = list_pathways(session)
    if args.json:
        dump(found)
        return 0
    for item in found:
        print(f"{item['key']:<30} v{item['version']:<3} publié le {fmt(item['published_at'])}  "
              f"{item['open_cases']} dossier(s) ouvert(s)  {item['title']}")
    if not found:
        print("aucun parcours publié (parcours pathways publish FICHIER)")
    return 0


@guarded
def advance(args: argparse.Namespace) -> int:
    now = now_of(args)
    svc = service(args)
    done = [0]

    def progress(count: int) -> None:  # on standard error: --json keeps stdout clean
        done[0] += count
        print(f"\r  {done[0]} dossier(s) avancé(s)…", end="", flush=True, file=sys.stderr)

    report = svc.advance(now, batch_size=args.batch_size, progress=progress,
                         workers=args.workers)
    if done[0]:
        print(file=sys.stderr)
    if args.json:
        dump({"cases": report.cases, "batches": report.batches, "counts": report.counts,
              "failures": report.failures})
        return 0
    print(f"{report.cases} dossier(s) avancé(s) en {report.batches} lot(s) au {fmt(now)}")
    for kind, count in sorted(report.counts.items()):
        print(f"  {labels.history(kind)} : {count}")
    for case_id, error in report.failures.items():
        print(f"  échec dossier {case_id} : {error}")
    return 1 if report.failures else 0


def _applied(result: Applied, done: str) -> str:
    if result.duplicate:
        return "déjà appliqué (même identifiant d'événement) : rien n'a changé"
    parts = ", ".join(f"{labels.history(k)} : {v}" for k, v in sorted(result.counts.items()))
    cases = ", ".join(map(str, result.case_ids)) or "aucun"
    return f"{done} · dossier(s) {cases}" + (f" · {parts}" if parts else "")


def register(sub: argparse._SubParsersAction) -> None:
    """Coordinators' commands on the database (French help: coordinators read it)."""
    from flows.commands.common import add_json, add_now, day, moment
    from flows.commands.listings import add_paging

    h = "flows.commands.records:"
    ls = "flows.commands.listings:"
    p = sub.add_parser("db", help="base de données")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    dbsub.add_parser("upgrade", help="créer ou mettre à jour le schéma").set_defaults(
        handler=h + "db_upgrade")

    p = sub.add_parser("professionals", help="professionnels de santé")
    psub = p.add_subparsers(dest="pro_command", required=True, metavar="ACTION")
    q = psub.add_parser("import", help="importer un fichier CSV ou YAML (tout ou rien)")
    q.add_argument("file", metavar="FICHIER")
    q.add_argument("--encoding", help="encodage du fichier (défaut : détecté ; utf-8, cp1252, "
                   "latin-1, utf-16…)")
    q.set_defaults(handler=h + "professionals_import")
    q = psub.add_parser("list", help="lister les professionnels, avec leurs tâches ouvertes "
                                     "et en retard")
    q.add_argument("--role", help="profession (infirmier) ou rôle tenu dans une équipe de "
                                  "soins (medecin_traitant)")
    q.add_argument("--active", choices=("oui", "non"), help="seulement les actifs (oui) ou "
                                                            "les désactivés (non)")
    q.add_argument("--search", metavar="TEXTE", help="mots du nom (sans accents ni "
                                                     "majuscules) ou RPPS")
    add_paging(q)
    add_now(q)
    add_json(q)
    q.set_defaults(handler=ls + "professionals_list")

    p = sub.add_parser("patients", help="patients")
    psub = p.add_subparsers(dest="patient_command", required=True, metavar="ACTION")
    q = psub.add_parser("import", help="importer un fichier CSV ou YAML (tout ou rien)")
    q.add_argument("file", metavar="FICHIER")
    q.add_argument("--encoding", help="encodage du fichier (défaut : détecté ; utf-8, cp1252, "
                   "latin-1, utf-16…)")
    add_now(q)
    q.set_defaults(handler=h + "patients_import")
    q = psub.add_parser("search", help="chercher un patient par nom (sans accents ni "
                                       "majuscules), date de naissance, INS ou id local")
    q.add_argument("text", metavar="TEXTE", help="« lefebvre julie », 12/03/1950, "
                                                 "195031234567890 ou P-002")
    add_paging(q)
    add_json(q)
    q.set_defaults(handler=ls + "patients_search")

    q = psub.add_parser("link", help="rattacher l'identifiant d'un établissement (IPP) à un "
                                     "patient, pour les messages HL7 v2 / FHIR sans INS qualifiée")
    q.add_argument("--patient", required=True, help="identifiant interne, INS ou local")
    q.add_argument("--system", required=True, help="autorité d'affectation (OID ou espace)")
    q.add_argument("--value", required=True, help="identifiant dans l'établissement")
    add_now(q)
    q.set_defaults(handler=h + "patients_link")

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
    q = psub.add_parser("show", help="afficher l'équipe de soins d'un patient")
    q.add_argument("patient", metavar="PATIENT", help="id, INS ou identifiant local")
    add_now(q)
    add_json(q)
    q.set_defaults(handler=ls + "careteam_show")

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
    p.add_argument("name", metavar="EVENEMENT", help="admission, discharge, "
                                                     "admission_cancelled, discharge_cancelled "
                                                     "ou un événement déclaré par le parcours")
    p.add_argument("--patient", help="pour admission et sortie")
    p.add_argument("--case", type=int, help="pour un événement de parcours")
    p.add_argument("--data", nargs="*", metavar="CLE=VALEUR")
    p.add_argument("--stay", help="identifiant du séjour hospitalier (admission, sortie, "
                                  "annulations)")
    planned = p.add_mutually_exclusive_group()
    planned.add_argument("--planned", dest="planned", action="store_true", default=None,
                         help="séjour programmé")
    planned.add_argument("--unplanned", dest="planned", action="store_false",
                         help="séjour non programmé")
    p.add_argument("--reason", help="motif du séjour")
    p.add_argument("--destination", choices=events.DESTINATIONS, help="destination de sortie")
    p.add_argument("--at", type=moment)
    p.add_argument("--event-id")
    add_now(p)
    p.set_defaults(handler=h + "event")

    p = sub.add_parser("tasks", help="lister les tâches (avec le nom de la personne à qui "
                                     "elles sont confiées)")
    p.add_argument("--assignee", help="RPPS ou id du professionnel")
    p.add_argument("--role", help="rôle dans l'équipe de soins (medecin_traitant…)")
    p.add_argument("--case", type=int, help="numéro de dossier")
    p.add_argument("--status", metavar="STATUT",
                   help="ouvertes, a-faire, prises, en-cours, en-attente, refusees, "
                        "terminees, annulees")
    p.add_argument("--overdue", action="store_true", help="seulement les tâches en retard")
    add_paging(p, 500)
    add_now(p)
    add_json(p)
    p.set_defaults(handler=ls + "tasks")

    p = sub.add_parser("cases", help="lister les dossiers : patient, étapes en cours, tâches "
                                     "ouvertes et en retard")
    p.add_argument("--pathway", help="clé du parcours publié")
    p.add_argument("--state", metavar="ETAT", help="identifiant d'étape du parcours "
                                                   "(suivi.glycemie inclut ses sous-étapes)")
    p.add_argument("--overdue", action="store_true",
                   help="seulement les dossiers ayant une tâche en retard")
    p.add_argument("--closed", action="store_true", help="inclure les dossiers clos")
    add_paging(p)
    add_now(p)
    add_json(p)
    p.set_defaults(handler=ls + "cases")

    p = sub.add_parser("task", help="agir sur une tâche")
    tsub = p.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    q = tsub.add_parser("show", help="afficher une tâche : patient, étape, personne, "
                                     "historique")
    q.add_argument("id", type=int, metavar="NUMERO")
    add_now(q)
    add_json(q)
    q.set_defaults(handler=ls + "task_show")
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
    p.add_argument("--batch-size", type=bounded_int(1, 100_000), default=None)
    p.add_argument("--workers", type=bounded_int(1, 64), default=2,
                   help="lots traités en parallèle sur PostgreSQL (défaut : 2)")
    add_now(p)
    add_json(p)
    p.set_defaults(handler=h + "advance")
