"""One-time sign-in links for the demo: a sample GP, nurse, pharmacist and the coordinator.

``parcours web --demo-links`` prints them, so that a newcomer can click through the tasks
``parcours demo`` created. Each sample is the professional of that profession with the
most open tasks. Demo links stay valid as long as a session (``session_hours``), not the
few minutes of a link sent by message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from engine.store import signin, worklist
from engine.store.db import transaction
from web.settings import WebSettings

SAMPLES = (("medecin", "médecin généraliste"), ("infirmier", "infirmier(ère)"),
           ("pharmacien", "pharmacien(ne)"), ("coordinateur", "coordination de la CPTS"))


@dataclass(frozen=True)
class DemoLink:
    label: str
    name: str
    open_tasks: int
    url: str


def demo_links(engine: Engine, settings: WebSettings, now: datetime) -> list[DemoLink]:
    from urllib.parse import urlencode

    links = []
    lifetime = timedelta(hours=settings.session_hours)
    with transaction(engine) as db:
        for profession, label in SAMPLES:
            pro = worklist.busiest(db, profession)
            if pro is None or pro.id is None:
                continue
            who = worklist.viewer(db, pro.id)
            count = len(worklist.inbox(db, who, now.date())) if who is not None else 0
            token = signin.issue(db, pro.id, now, lifetime)
            query = urlencode({"p": pro.id, "t": token, "suite": "/tasks"})
            links.append(DemoLink(label, f"{pro.given_names} {pro.family_name}", count,
                                  f"{settings.base_url.rstrip('/')}/connexion/lien?{query}"))
    return links
