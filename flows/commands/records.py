"""Handlers of the coordinators' database commands (see ``flows.cli``)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from flows.commands.cases import (
    dump, engine_of, fmt, guarded, now_of, pairs, service,
)
from engine.settings import Settings


@guarded
def db_upgrade(args: argparse.Namespace) -> int:
    from engine.store.schema import current_revision, upgrade

    settings = Settings()
    engine = engine_of(settings)
    upgrade(engine)
    print(f"base {engine.url.render_as_string(hide_password=True)} à jour "
          f"(révision {current_revision(engine)})")
    return 0


@guarded
def professionals_import(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.imports import import_professionals

    with transaction(engine_of(Settings())) as session:
        created, updated = import_professionals(session, args.file)
    print(f"{created} professionnel(s) créé(s), {updated} mis à jour")
    return 0


@guarded
def patients_import(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.imports import import_patients

    with transaction(engine_of(Settings())) as session:
        created, updated = import_patients(session, args.file, now_of(args))
    print(f"{created} patient(s) créé(s), {updated} mis à jour")
    return 0


@guarded
def careteam_set(args: argparse.Namespace) -> int:
    from engine.store.careteam import set_member
    from engine.store.db import transaction

    start = args.start or now_of(args).date()
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


@guarded
def event(args: argparse.Namespace) -> int:
    now = now_of(args)
    svc = service(args)
    data = pairs(args.data)
    if args.name in ("admission", "discharge"):
        if not args.patient:
            print("erreur : --patient est requis pour une admission ou une sortie")
            return 1
        result = svc.hospital_event(args.patient, args.name, args.at or now, now, data=data,
                                    event_id=args.event_id)
    else:
        if args.case is None:
            print("erreur : --case est requis pour un événement de parcours")
            return 1
        result = svc.pathway_event(args.case, args.name, args.at or now, now, data=data,
                                   event_id=args.event_id)
    print(_applied(result, f"événement {args.name} enregistré"))
    return 0


@guarded
def tasks(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.queries import list_tasks, professional_id

    now = now_of(args)
    with transaction(engine_of(Settings())) as session:
        assignee = professional_id(session, args.assignee) if args.assignee else None
        found = list_tasks(session, now, assignee=assignee, role=args.role, case_id=args.case,
                           status=args.status, overdue=args.overdue)
    if args.json:
        dump(found)
        return 0
    if not found:
        print("aucune tâche")
        return 0
    print(f"{'id':>6}  {'dossier':>7}  {'statut':<10} {'échéance':<16}  {'rôle':<20} tâche")
    for task in found:
        late = " EN RETARD" if task["overdue"] else ""
        flag = " (rôle vacant → coordinateur)" if task["unassigned_role"] else ""
        print(f"{task['id']:>6}  {task['case_id']:>7}  {task['status']:<10} "
              f"{fmt(task['due_at']):<16}  {task['role']:<20} {task['title']}{late}{flag}")
    print(f"{len(found)} tâche(s)")
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
    from engine.store.db import transaction
    from engine.store.queries import show_case

    with transaction(engine_of(Settings())) as session:
        view = show_case(session, args.id, now_of(args))
    if args.json:
        dump(view)
        return 0
    status = f"clos le {fmt(view['closed_at'])} ({view['close_reason']})" if view["closed_at"] \
        else "ouvert"
    print(f"Dossier {view['id']} · parcours {view['pathway']} v{view['version']} · "
          f"patient {view['patient_id']} · {status}")
    print(f"  états actifs : {', '.join(view['states'])}")
    facts = {k: v for k, v in view["facts"].items() if v is not None}
    print(f"  faits : {', '.join(f'{k}={v}' for k, v in facts.items()) or '—'}")
    print(f"  prochaine échéance : {fmt(view['next_due_at'])}")
    print("  tâches ouvertes :" + ("" if view["open_tasks"] else " aucune"))
    for task in view["open_tasks"]:
        print(f"    #{task['id']} [{task['role']}] {task['title']} — échéance "
              f"{fmt(task['due_at'])}{' EN RETARD' if task['overdue'] else ''}")
    print("  minuteries :" + ("" if view["timers"] else " aucune"))
    for timer in view["timers"]:
        every = f" (tous les {timer['every']})" if timer["every"] else ""
        print(f"    {timer['name']} le {fmt(timer['fire_at'])}{every}")
    print("  historique :")
    for item in view["history"]:
        move = f" {item['from'] or ''} → {item['to'] or ''}" if item["from"] or item["to"] else ""
        print(f"    {fmt(item['at'])}  {item['kind']}{move}")
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
    for file in args.files:
        text = Path(file).read_text(encoding="utf-8")
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

    def progress(count: int) -> None:
        done[0] += count
        print(f"\r  {done[0]} dossier(s) avancé(s)…", end="", flush=True)

    report = svc.advance(now, batch_size=args.batch_size, progress=progress)
    if done[0]:
        print()
    if args.json:
        dump({"cases": report.cases, "batches": report.batches, "counts": report.counts,
              "failures": report.failures})
        return 0
    print(f"{report.cases} dossier(s) avancé(s) en {report.batches} lot(s) au {fmt(now)}")
    for kind, count in sorted(report.counts.items()):
        print(f"  {kind} : {count}")
    for case_id, error in report.failures.items():
        print(f"  échec dossier {case_id} : {error}")
    return 1 if report.failures else 0


def _applied(result, done: str) -> str:  # type: ignore[no-untyped-def]
    if result.duplicate:
        return "déjà appliqué (même identifiant d'événement) : rien n'a changé"
    parts = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items()))
    cases = ", ".join(map(str, result.case_ids)) or "aucun"
    return f"{done} · dossier(s) {cases}" + (f" · {parts}" if parts else "")


__all__ = ["timedelta"]
