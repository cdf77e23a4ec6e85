"""Commands of the Prefect layer: run a flow once, serve the deployments, the inbox.

``parcours flow NAME`` runs one flow now (Prefect's temporary local server
unless ``PREFECT_API_URL`` is set); ``parcours serve`` serves every
deployment on its schedule; ``parcours inbox …`` receives events into the
durable inbox (applied by the ``inbound`` flow), lists them and retries the
failed ones. Prefect is imported inside the handlers only.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from engine import events
from flows.commands import labels
from flows.commands.common import (
    Settings,
    add_json,
    add_now,
    bounded_int,
    dump,
    engine_of,
    fmt,
    guarded,
    moment,
    now_of,
    pairs,
)

#: deployment names (``flows.deploy.NAMES``; not imported here, to keep start-up light)
DEPLOYMENTS = ("advance", "inbound", "notify", "escalation", "eligibility", "cycle")
FLOWS = {"advance": ("flows.advance", "advance_due_cases"),
         "inbound": ("flows.inbound", "process_inbound_events"),
         "escalation": ("flows.escalation", "escalate_overdue"),
         "eligibility": ("flows.eligibility", "enroll_eligible"),
         "notify": ("flows.dispatch", "dispatch_notifications"),
         "cycle": ("flows.cycle", "cpts_cycle")}


#: Prefect's final state types, as coordinators read them
FLOW_STATES = {"COMPLETED": "terminé", "FAILED": "en échec", "CRASHED": "interrompu",
               "CANCELLED": "annulé", "CANCELLING": "en cours d'annulation",
               "PAUSED": "en pause", "RUNNING": "en cours", "PENDING": "en attente",
               "SCHEDULED": "planifié"}


@guarded
def run_flow(args: argparse.Namespace) -> int:
    import importlib

    from flows.prefect_settings import local_runs, where_runs_go

    engine_of(Settings()).dispose()  # a missing database is refused, never created empty
    module, name = FLOWS[args.name]
    flow = getattr(importlib.import_module(module), name)
    params: dict[str, Any] = {"now": now_of(args)}
    if args.name == "advance":
        from prefect.task_runners import ThreadPoolTaskRunner

        params["batch_size"] = args.batch_size
        if args.workers:
            flow = flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=args.workers))
    print(where_runs_go(), file=sys.stderr)
    with local_runs():
        state = flow(**params, return_state=True)
    from flows.artifacts import WITH_REFUSALS

    if args.json:
        dump({"state": state.type.value, "name": state.name, "message": state.message})
    else:
        word = FLOW_STATES.get(state.type.value, state.type.value.lower())
        if state.name == WITH_REFUSALS:  # completed, but something was refused: say so
            word = WITH_REFUSALS.lower()
        print(f"{args.name} : {word} — {state.message}")
    return 0 if state.is_completed() else 1


@guarded
def serve(args: argparse.Namespace) -> int:
    from flows.config import FlowSettings
    from flows.deploy import deployments, healthy, start_server, stop_server

    settings = FlowSettings()
    server = None
    url = os.environ.get("PREFECT_API_URL") or _profile_api_url()
    if url:
        state = "répond" if healthy(url) else "NE RÉPOND PAS"
        print(f"serveur Prefect : {url} (PREFECT_API_URL) — {state}")
    else:
        print(f"PREFECT_API_URL n'est pas défini : démarrage d'un serveur Prefect local sur "
              f"http://{settings.server_host}:{settings.server_port} …", flush=True)
        server, url = start_server(settings.server_host, settings.server_port)
        print(f"serveur Prefect local : {url} ; interface : "
              f"http://{settings.server_host}:{settings.server_port}")
    os.environ["PREFECT_API_URL"] = url  # for this process and the runs it starts
    try:
        from prefect import serve as prefect_serve
        from prefect.settings import temporary_settings

        with temporary_settings(updates={"api.url": url}):
            found = deployments(settings, args.only, paused=args.paused)
            print("déploiements : " + ", ".join(f"{d.flow_name}/{d.name}" for d in found)
                  + (" (en pause)" if args.paused else ""), flush=True)
            prefect_serve(*found, limit=args.limit, print_starting_message=False)
    finally:
        if server is not None:
            stop_server(server)
    return 0


def _profile_api_url() -> str | None:
    from flows.prefect_settings import api_url

    return api_url()


# -- the inbox ---------------------------------------------------------------------------------


def _enqueue(args: argparse.Namespace, kind: str, **fields: Any) -> int:
    from engine.store.db import transaction
    from engine.store.inbox import enqueue

    now = now_of(args)
    with transaction(engine_of(Settings())) as session:
        received = enqueue(session, kind, effective_at=args.at or now, received_at=now,
                           event_id=args.event_id, source=getattr(args, "source", None),
                           **fields)
    if received.created:
        print(f"reçu dans l'inbox (ligne {received.id}, événement {received.event_id}) ; "
              "appliqué au prochain passage du flux inbound (parcours flow inbound)")
    else:
        print(f"déjà reçu (ligne {received.id}, même identifiant d'événement) : rien n'a changé")
    return 0


@guarded
def inbox_observe(args: argparse.Namespace) -> int:
    return _enqueue(args, events.OBSERVATION, patient_ref=args.patient,
                    payload={"code": args.code, "value": args.value, "unit": args.unit})


@guarded
def inbox_event(args: argparse.Namespace) -> int:
    data = pairs(args.data)
    if events.is_hospital(args.name):
        return _enqueue(args, args.name, patient_ref=args.patient, payload={"data": data})
    return _enqueue(args, events.PATHWAY_EVENT, case_id=args.case,
                    payload={"name": args.name, "data": data})


@guarded
def inbox_complete(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.queries import professional_id
    from engine.store.writer import Actor

    actor = Actor()
    if args.by:
        with transaction(engine_of(Settings())) as session:
            actor = Actor("professional", professional_id(session, args.by))
    return _enqueue(args, events.TASK_COMPLETED, task_id=args.id, actor=actor,
                    payload={"result": pairs(args.result)})


@guarded
def inbox_list(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.inbox import counts, list_rows

    with transaction(engine_of(Settings())) as session:
        status = labels.choice(args.status, labels.INBOX_STATUS_OPTIONS,
                               tuple(labels.INBOX_STATUS), "statut")
        rows = list_rows(session, status, args.limit)
        totals = counts(session)
    if args.json:
        dump({"counts": totals, "rows": [
            {"id": r.id, "event_id": r.event_id, "kind": r.kind, "patient_ref": r.patient_ref,
             "case_id": r.case_id, "task_id": r.task_id, "payload": r.payload,
             "effective_at": r.effective_at, "received_at": r.received_at,
             "status": r.status, "attempts": r.attempts, "error": r.error,
             "processed_at": r.processed_at} for r in rows]})
        return 0
    print(", ".join(f"{labels.INBOX_STATUS.get(k, k)} : {v}" for k, v in sorted(totals.items()))
          or "inbox vide")
    for r in rows:
        target = f"patient {r.patient_ref}" if r.patient_ref else \
            f"dossier {r.case_id}" if r.case_id else f"tâche {r.task_id}" if r.task_id else \
            (r.source or "")[:20]
        print(f"{r.id:>6}  {labels.INBOX_STATUS.get(r.status, r.status):<10} "
              f"{labels.history(r.kind):<24} {target:<20} {fmt(r.effective_at)}"
              f"  essais {r.attempts}" + (f"\n        erreur : {r.error}" if r.error else ""))
    return 0


@guarded
def inbox_retry(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.inbox import retry

    if not args.ids and not args.all_failed:
        print("erreur : donnez des numéros de ligne ou --all-failed", file=sys.stderr)
        return 1
    with transaction(engine_of(Settings())) as session:
        count = retry(session, None if args.all_failed else args.ids)
    print(f"{count} événement(s) remis en attente ; appliqués au prochain passage du flux "
          "inbound")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    h = "flows.commands.orchestration:"
    p = sub.add_parser("flow", help="lancer un flux Prefect une fois (advance, inbound, "
                                    "escalation, eligibility, notify, cycle)")
    p.add_argument("name", choices=sorted(FLOWS), metavar="FLUX")
    p.add_argument("--batch-size", type=bounded_int(1, 100_000), help="dossiers par lot (advance)")
    p.add_argument("--workers", type=bounded_int(1, 64), help="lots en parallèle (advance)")
    add_now(p)
    add_json(p)
    p.set_defaults(handler=h + "run_flow")

    p = sub.add_parser("serve", help="servir les déploiements Prefect planifiés "
                                     "(PREFECT_API_URL ou serveur local sur 127.0.0.1:4200)")
    p.add_argument("--only", nargs="+", choices=DEPLOYMENTS, metavar="DEPLOIEMENT",
                   help=f"parmi {', '.join(DEPLOYMENTS)}")
    p.add_argument("--paused", action="store_true", help="sans planification (lancement "
                                                         "manuel ou run_deployment)")
    p.add_argument("--limit", type=bounded_int(1, 1_000), default=None,
                   help="exécutions simultanées au plus")
    p.set_defaults(handler=h + "serve")

    p = sub.add_parser("inbox", help="événements entrants : recevoir, lister, rejouer")
    isub = p.add_subparsers(dest="inbox_command", required=True, metavar="ACTION")
    q = isub.add_parser("observe", help="recevoir une observation")
    q.add_argument("--patient", required=True)
    q.add_argument("--code", required=True)
    q.add_argument("--value", required=True)
    q.add_argument("--unit")
    q.add_argument("--source")
    _event_options(q)
    q.set_defaults(handler=h + "inbox_observe")
    q = isub.add_parser("event", help="recevoir une admission, une sortie ou un événement "
                                      "de parcours")
    q.add_argument("name", metavar="EVENEMENT")
    q.add_argument("--patient")
    q.add_argument("--case", type=int)
    q.add_argument("--data", nargs="*", metavar="CLE=VALEUR")
    q.add_argument("--source")
    _event_options(q)
    q.set_defaults(handler=h + "inbox_event")
    q = isub.add_parser("complete", help="recevoir la réalisation d'une tâche")
    q.add_argument("id", type=int)
    q.add_argument("--result", nargs="*", metavar="CLE=VALEUR")
    q.add_argument("--by", help="RPPS du professionnel")
    _event_options(q)
    q.set_defaults(handler=h + "inbox_complete")
    q = isub.add_parser("list", help="lister les événements reçus")
    q.add_argument("--status", metavar="STATUT",
                   help=", ".join(labels.INBOX_STATUS_OPTIONS))
    q.add_argument("--limit", type=bounded_int(1, 10_000), default=50)
    add_json(q)
    q.set_defaults(handler=h + "inbox_list")
    q = isub.add_parser("retry", help="remettre en attente des événements refusés")
    q.add_argument("ids", type=int, nargs="*", metavar="LIGNE")
    q.add_argument("--all-failed", action="store_true")
    q.set_defaults(handler=h + "inbox_retry")


def _event_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", type=moment, help="date de l'événement (défaut : --now)")
    parser.add_argument("--event-id", help="identifiant d'idempotence")
    add_now(parser)
