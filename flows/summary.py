"""The territory at a glance, in French: what the demo prints at the end.

The counts come from ``engine.store.overview`` (read-only): cases by pathway and
state, tasks by role, overdue tasks, notifications by kind and outcome,
inbound events by status. Counts only, no patient.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from engine.store.db import transaction
from engine.store.overview import TerritoryCounts, territory_counts
from notifications import kinds
from notifications.outbox import DIGESTED, HELD

Summary = TerritoryCounts

#: outbox and inbox statuses, as coordinators read them
STATUS_LABELS = {
    "sent": "envoyées", "skipped": "sans objet", "pending": "en attente", "retry": "à réessayer",
    "deferred": "différées", HELD: "gardées pour le récapitulatif",
    DIGESTED: "regroupées dans un récapitulatif", "dead": "non remises",
    "sending": "en cours", "applied": "appliqués", "failed": "refusés",
    "duplicate": "doublons", "discarded": "écartés",
}


def collect(engine: Engine, now: datetime) -> Summary:
    with transaction(engine) as session:
        return territory_counts(session, now, "ouvertes")


def render(summary: Summary, console: object) -> None:
    """Print the French tables with ``rich`` (``console`` is a ``rich.console.Console``)."""
    from rich.table import Table

    print_ = console.print  # type: ignore[attr-defined]
    table = Table(title="Dossiers par parcours et état", title_justify="left")
    for column in ("parcours", "état", "dossiers"):
        table.add_column(column, justify="right" if column == "dossiers" else "left")
    for (pathway, state), n in sorted(summary.cases.items()):
        table.add_row(pathway, state, str(n))
    for (pathway, reason), n in sorted(summary.closed.items()):
        table.add_row(pathway, f"clos ({reason})", str(n))
    print_(table)

    table = Table(title="Tâches par rôle", title_justify="left")
    statuses = ["ouvertes", "completed", "cancelled"]
    for column in ("rôle", "ouvertes", "dont en retard", "terminées", "annulées"):
        table.add_column(column, justify="left" if column == "rôle" else "right")
    for role, counts in sorted(summary.tasks.items()):
        table.add_row(role, str(counts[statuses[0]]), str(summary.overdue[role]),
                      str(counts[statuses[1]]), str(counts[statuses[2]]))
    print_(table)
    print_(f"Tâches en retard : {sum(summary.overdue.values())}, dont {summary.escalated} "
           "signalée(s) au coordinateur")

    table = Table(title="Notifications", title_justify="left")
    outcomes = sorted({status for _, status in summary.outbox})
    table.add_column("type")
    for status in outcomes:
        table.add_column(STATUS_LABELS.get(status, status), justify="right")
    for kind in sorted({kind for kind, _ in summary.outbox}):
        table.add_row(kinds.label(kind),
                      *(str(summary.outbox[(kind, s)]) for s in outcomes))
    print_(table)
    sent = sum(n for (_, status), n in summary.outbox.items() if status == "sent")
    print_(f"Notifications envoyées : {sent} sur {sum(summary.outbox.values())} en file")
    print_("Événements entrants : " + (", ".join(
        f"{STATUS_LABELS.get(status, status)} {n}" for status, n
        in sorted(summary.inbox.items())) or "aucun"))


def how_to_look(db: Path, now: datetime, program: str = ".venv/bin/parcours") -> str:
    """How to look at a demo's data afterwards: the database to point at, the ``--now`` to
    give (the demo's last simulated day), the listing commands and the web workspace."""
    when = f"{now:%Y-%m-%dT%H:%M}"
    return "\n".join([
        f"Pour consulter les données de cette démonstration (son dernier jour : --now {when}) :",
        f"  export PARCOURS_DATABASE_URL={db}",
        f"  {program} cases --now {when}   # dossiers, étapes, retards",
        f"  {program} cases --overdue --now {when}   # dossiers ayant une tâche en retard",
        f"  {program} tasks --overdue --now {when}   # tâches en retard, par personne",
        f"  {program} professionals list --now {when}",
        f"  {program} patients search NOM   # sans accents ni majuscules",
        f"  {program} careteam show PATIENT --now {when}",
        f"  {program} case show DOSSIER --now {when}   # l'historique en français",
        f"  {program} task show TACHE --now {when}",
        "  (chaque commande accepte --json ; --help pour les filtres)",
        "Pour ouvrir l'espace web des professionnels et de la coordination sur cette "
        "démonstration (liens de connexion d'un médecin, d'une infirmière, d'un pharmacien et "
        "de la coordination) :",
        f"  {program} web --database {db} --now {when} --demo-links      "
        "# puis ouvrir un des liens",
    ])
