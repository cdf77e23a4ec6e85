"""``parcours web``: serve the professionals' web workspace with uvicorn.

Host, port, workers and the public base URL come from settings (``PARCOURS_WEB_*``) or the
options below; the database from ``PARCOURS_DATABASE_URL`` or ``--database``. Each worker
builds the app from the environment (``web.app:app_from_environment``): no state is kept
in a process, so several workers, or machines behind a proxy, serve the same sessions.
``--demo-links`` prints one-time sign-in links for a sample GP, nurse, pharmacist and the
coordinator (``parcours demo`` shows the command). uvicorn and the app are imported only
when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from flows.commands.common import bounded_int, guarded


def _environment(args: argparse.Namespace) -> None:
    if args.database:
        from engine.store.urls import database_url

        os.environ["PARCOURS_DATABASE_URL"] = database_url(args.database)
        messages = Path(args.database).resolve().with_name("messages")
        if "://" not in args.database and messages.is_dir():  # the demo's folder
            os.environ.setdefault("PARCOURS_NOTIFY_CONSOLE_DIR", str(messages))
    for option, name in (("host", "HOST"), ("port", "PORT"), ("workers", "WORKERS"),
                         ("base_url", "BASE_URL"), ("now", "NOW")):
        value = getattr(args, option)
        if value is not None:
            os.environ[f"PARCOURS_WEB_{name}"] = str(value)
    if not any(os.environ.get(f"PARCOURS_{n}BASE_URL") for n in ("WEB_", "")) and \
            (args.host or args.port):  # links point at where this server listens
        os.environ["PARCOURS_WEB_BASE_URL"] = \
            f"http://{args.host or '127.0.0.1'}:{args.port or 8000}"


@guarded
def serve(args: argparse.Namespace) -> int:
    _environment(args)
    from engine.clock import FixedClock, SystemClock, ensure_aware
    from engine.settings import Settings
    from engine.store.db import make_engine
    from web.exceptions import WebConfigError
    from web.settings import WebSettings, resolve_secret

    web, settings = WebSettings(), Settings()
    make_engine(settings.database_url, create=False).dispose()  # refuse a missing database
    try:
        resolve_secret(web, settings.database_url)
    except WebConfigError as exc:
        print(f"parcours web : {exc}", file=sys.stderr)
        return 1
    if args.demo_links:
        from web.demo import demo_links

        engine = make_engine(settings.database_url)
        clock = FixedClock(ensure_aware(web.now)) if web.now else SystemClock()
        links = demo_links(engine, web, clock.now())
        engine.dispose()
        print("Liens de connexion à usage unique (valables "
              f"{web.session_hours:g} h, un seul clic chacun) :")
        for link in links:
            print(f"  {link.label} · {link.name} ({link.open_tasks} tâche(s) ouverte(s)) :\n"
                  f"    {link.url}")
        if not links:
            print("  aucun professionnel dans cette base : lancez d'abord parcours demo")
    if args.links_only:
        return 0
    import uvicorn

    from web.logs import log_config

    print(f"Parcours · espace des professionnels : {web.base_url} (Ctrl+C pour arrêter)")
    uvicorn.run("web.app:app_from_environment", factory=True, host=web.host, port=web.port,
                workers=web.workers, log_config=log_config(), proxy_headers=True,
                forwarded_allow_ips=web.forwarded_allow_ips, server_header=False)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("web", help="servir l'espace web des professionnels et de la "
                                   "coordination (uvicorn)")
    p.add_argument("--database", help="adresse de la base ou fichier SQLite "
                                      "(défaut : PARCOURS_DATABASE_URL)")
    p.add_argument("--host", help="défaut : PARCOURS_WEB_HOST ou 127.0.0.1")
    p.add_argument("--port", type=int, help="défaut : PARCOURS_WEB_PORT ou 8000")
    p.add_argument("--workers", type=bounded_int(1, 64), help="processus uvicorn (défaut : 1)")
    p.add_argument("--base-url", help="adresse publique, utilisée dans les liens et pour les "
                                      "cookies Secure")
    p.add_argument("--now", metavar="DATE_HEURE",
                   help="figer l'horloge, heure de Paris (par exemple le dernier jour de la "
                        "démonstration : 2026-02-15T08:00) ; pour les démonstrations, "
                        "jamais en production")
    p.add_argument("--demo-links", action="store_true",
                   help="afficher des liens de connexion à usage unique pour un médecin, "
                        "une infirmière, un pharmacien et la coordination")
    p.add_argument("--links-only", action="store_true",
                   help="avec --demo-links : afficher les liens et quitter sans servir")
    p.set_defaults(handler="flows.commands.web:serve")
