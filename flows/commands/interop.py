"""Interface commands: the HL7 v2 MLLP listener and client, the FHIR file import.

``parcours mllp`` listens (host/port/TLS from settings, ``--port`` to
override; it prints the port it listens on); ``parcours mllp send FILE…``
sends files of HL7 v2 messages one by one, each after the previous one's ACK
(``--window N``: up to N sent ahead of their ACKs, which the listener stores together);
``parcours import fhir FILE_OR_FOLDER…`` imports FHIR bundles, each all or
nothing, with a French report per file (``--apply``: then enrol the imported
patients where eligible and apply the inbox). ``parcours fhir clients add|list|revoke``
manages the systems allowed to call the FHIR REST interface (``web/fhir``): the secret
is printed once, at ``add``, and only its hash is kept. None of them imports Prefect.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flows.commands.common import (
    Settings,
    add_json,
    add_now,
    bounded_int,
    dump,
    engine_of,
    fmt,
    guarded,
    now_of,
)


@guarded
def mllp_serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    from zoneinfo import ZoneInfo

    from engine.clock import SystemClock
    from engine.intake import mllp
    from engine.store.intake import respond, respond_many

    settings = Settings()
    engine = engine_of(settings, pre_ping=False)   # see make_engine: no ACK, resent
    zone, clock = ZoneInfo(settings.timezone), SystemClock()
    tls = mllp.tls_context(settings.mllp_tls_cert, settings.mllp_tls_key) \
        if settings.mllp_tls_cert and settings.mllp_tls_key else None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")

    def handle(raw: bytes) -> bytes:
        return respond(engine, raw, clock.now(), zone)

    def handle_many(raws: list[bytes]) -> list[bytes]:   # pipelined: one transaction
        return respond_many(engine, raws, clock.now(), zone)

    async def main() -> None:
        server = await mllp.start(handle, args.host or settings.mllp_host,
                                  settings.mllp_port if args.port is None else args.port, tls,
                                  handle_many)
        port = server.sockets[0].getsockname()[1]
        print(f"écoute MLLP sur {args.host or settings.mllp_host}:{port}"
              + (" (TLS)" if tls else ""), flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("arrêt de l'écoute MLLP", file=sys.stderr)
    return 0


def mllp_send(args: argparse.Namespace) -> int:
    from engine.intake import mllp

    settings = Settings()
    messages = [m for name in args.files for m in mllp.split_messages(Path(name).read_bytes())]
    tls = None
    if args.tls_ca:
        import ssl

        tls = ssl.create_default_context(cafile=args.tls_ca)
    counts: dict[str, int] = {}
    try:
        for sent in mllp.send(args.host or settings.mllp_host,
                              settings.mllp_port if args.port is None else args.port,
                              messages, timeout=args.timeout, tls=tls, window=args.window):
            counts[sent.ack_code] = counts.get(sent.ack_code, 0) + 1
            if sent.ack_code != "AA" or args.verbose:
                print(f"{sent.control_id} : {sent.ack_code} "
                      f"{_reason(sent.ack)}".rstrip(), flush=True)
    except OSError as exc:
        done = sum(counts.values())
        print(f"erreur : connexion MLLP interrompue après {done} message(s) acquitté(s) sur "
              f"{len(messages)} ({exc}) ; renvoyez les suivants", file=sys.stderr)
        return 1
    print(f"{len(messages)} message(s) envoyé(s) : "
          + ", ".join(f"{code} {n}" for code, n in sorted(counts.items())))
    return 0 if set(counts) <= {"AA"} else 1


def _reason(ack: bytes) -> str:
    for segment in ack.split(b"\r"):
        if segment.startswith(b"MSA|"):
            fields = segment.split(b"|")
            return fields[3].decode("latin-1") if len(fields) > 3 else ""
    return ""


def bundle_files(paths: list[str]) -> list[Path]:
    from engine.store.exceptions import InputError

    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(path.glob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{name} : fichier ou dossier introuvable")
    return files


@guarded
def import_fhir(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from engine.store.fhir_import import BundleReport, apply_imported, import_file
    from engine.store.service import CaseService

    settings = Settings()
    engine, now = engine_of(settings), now_of(args)
    files = bundle_files(args.paths)
    reports: list[BundleReport] = []
    failures: list[str] = []
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        bar = progress.add_task("import FHIR", total=len(files))
        for path in files:
            result = import_file(engine, path, now)
            (reports.append(result) if isinstance(result, BundleReport)
             else failures.append(result))
            progress.advance(bar)
    for report in reports:
        print(report.french())
    for failure in failures:
        print(f"erreur : {failure}", file=sys.stderr)
    print(f"{len(reports)} bundle(s) importé(s), {len(failures)} refusé(s) (rien n'a été "
          "écrit pour un bundle refusé)")
    if args.apply:
        print(apply_imported(CaseService(engine, settings), reports, now))
    return 0 if not failures else 1


@guarded
def fhir_client_add(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.fhir_clients import add_client

    scopes = [s for group in args.scope for s in group.split()]
    with transaction(engine_of(Settings())) as session:
        new = add_client(session, args.name, scopes, now_of(args))
    print(f"client FHIR {new.name!r} enregistré, portées : {' '.join(new.scopes)}\n"
          f"client_id     : {new.client_id}\n"
          f"client_secret : {new.secret}\n"
          "Notez le secret maintenant : il n'est conservé que sous forme d'empreinte et ne "
          "sera plus jamais affiché (perdu : révoquez ce client et créez-en un autre).")
    return 0


@guarded
def fhir_client_list(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.fhir_clients import list_clients

    with transaction(engine_of(Settings())) as session:
        clients = list_clients(session)
    if args.json:
        dump([{"name": c.name, "client_id": c.client_id, "scopes": c.scopes,
               "created_at": c.created_at, "revoked_at": c.revoked_at} for c in clients])
        return 0
    if not clients:
        print("aucun client FHIR (parcours fhir clients add NOM --scope …)")
    for c in clients:
        state = f"révoqué le {fmt(c.revoked_at)}" if c.revoked_at else "actif"
        print(f"{c.name}  {c.client_id}  {' '.join(c.scopes)}  créé le {fmt(c.created_at)}  "
              f"{state}")
    return 0


@guarded
def fhir_client_revoke(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.fhir_clients import revoke_client

    with transaction(engine_of(Settings())) as session:
        client = revoke_client(session, args.client, now_of(args))
        name = client.name
    print(f"client FHIR {name!r} révoqué : ses jetons ne sont plus acceptés")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    h = "flows.commands.interop:"
    p = sub.add_parser("mllp", help="HL7 v2 : écoute MLLP (ACK après enregistrement)")
    p.add_argument("--host", help="adresse (défaut : PARCOURS_MLLP_HOST)")
    p.add_argument("--port", type=bounded_int(0, 65_535),
                   help="port (défaut : PARCOURS_MLLP_PORT ; 0 : libre)")
    p.set_defaults(handler=h + "mllp_serve")
    msub = p.add_subparsers(dest="mllp_command", required=False, metavar="ACTION")
    q = msub.add_parser("send", help="envoyer des fichiers de messages HL7 v2")
    q.add_argument("files", nargs="+", metavar="FICHIER")
    q.add_argument("--host")
    q.add_argument("--port", type=bounded_int(1, 65_535))
    q.add_argument("--timeout", type=float, default=30.0)
    q.add_argument("--verbose", action="store_true", help="afficher chaque ACK")
    q.add_argument("--window", type=bounded_int(1, 1000), default=1, metavar="N",
                   help="envoyer jusqu'à N messages sans attendre leurs ACK (pipelining ; "
                        "les ACK reviennent dans l'ordre des messages ; défaut : 1, chaque "
                        "message après l'ACK du précédent)")
    q.add_argument("--tls-ca", metavar="PEM", help="MLLP sur TLS : certificat de l'autorité "
                                                   "qui a signé celui de l'écoute")
    q.set_defaults(handler=h + "mllp_send")

    p = sub.add_parser("import", help="importer des données d'autres systèmes")
    isub = p.add_subparsers(dest="import_command", required=True, metavar="FORMAT")
    q = isub.add_parser("fhir", help="bundles FHIR R4 (fichiers ou dossiers ; tout ou rien "
                                     "par bundle ; idempotent)")
    q.add_argument("paths", nargs="+", metavar="FICHIER_OU_DOSSIER")
    q.add_argument("--apply", action="store_true",
                   help="puis inscrire les patients éligibles et appliquer l'inbox")
    add_now(q)
    q.set_defaults(handler=h + "import_fhir")

    p = sub.add_parser("fhir", help="interface FHIR REST : systèmes autorisés")
    fsub = p.add_subparsers(dest="fhir_command", required=True, metavar="OBJET")
    q = fsub.add_parser("clients", help="clients OAuth2 (client credentials) de l'interface "
                                        "FHIR")
    csub = q.add_subparsers(dest="clients_command", required=True, metavar="ACTION")
    r = csub.add_parser("add", help="enregistrer un système ; son secret est affiché une "
                                    "seule fois")
    r.add_argument("name", metavar="NOM", help="nom du système (moteur d'interfaces, "
                                               "plateforme régionale…)")
    r.add_argument("--scope", action="append", required=True, metavar="PORTÉE",
                   help="portée SMART system/RESSOURCE.ACTION, répétable ou séparée par des "
                        "espaces : system/*.write system/Patient.read system/Task.read …")
    add_now(r)
    r.set_defaults(handler=h + "fhir_client_add")
    r = csub.add_parser("list", help="lister les clients (jamais leurs secrets)")
    add_json(r)
    r.set_defaults(handler=h + "fhir_client_list")
    r = csub.add_parser("revoke", help="révoquer un client : ses jetons sont refusés aussitôt")
    r.add_argument("client", metavar="NOM_OU_CLIENT_ID")
    add_now(r)
    r.set_defaults(handler=h + "fhir_client_revoke")
