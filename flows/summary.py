"""The territory at a glance, in French: what the demo prints at the end.

Read-only queries over the application database: cases by pathway and
state, tasks by role, overdue tasks, notifications by kind and outcome,
inbound events by status. Counts only, no patient.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select

from engine.store.db import transaction
from engine.store.tables import OPEN_TASK_STATUSES, CaseRow, InboxRow, OutboxRow, TaskRow
from notifications.outbox import DIGESTED, HELD

#: French labels of outbox kinds and statuses (the notifications package owns the vocabulary)
KIND_LABELS = {"task_assigned": "nouvelle tâche", "task_reminder": "rappel",
               "task_overdue": "retard → coordinateur", "task_cancelled": "tâche annulée",
               "pathway_message": "message du parcours", "daily_digest": "récapitulatif",
               "delivery_failure": "échec d'envoi"}


@dataclass
class Summary:
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)      # (pathway, state)
    closed: Counter[tuple[str, str]] = field(default_factory=Counter)     # (pathway, reason)
    tasks: dict[str, Counter[str]] = field(default_factory=dict)          # role → status → n
    overdue: Counter[str] = field(default_factory=Counter)                # role → n
    escalated: int = 0
    outbox: Counter[tuple[str, str]] = field(default_factory=Counter)     # (kind, status)
    inbox: Counter[str] = field(default_factory=Counter)                  # status → n


#: outbox and inbox statuses, as coordinators read them
STATUS_LABELS = {
    "sent": "envoyées", "skipped": "sans objet", "pending": "en attente", "retry": "à réessayer",
    "deferred": "différées", HELD: "gardées pour le récapitulatif",
    DIGESTED: "regroupées dans un récapitulatif", "dead": "non remises",
    "sending": "en cours", "applied": "appliqués", "failed": "refusés",
    "duplicate": "doublons",
}


def collect(engine: Engine, now: datetime) -> Summary:
    out = Summary()
    with transaction(engine) as session:
        for key, states, closed, reason in session.execute(
                select(CaseRow.pathway_key, CaseRow.active_states, CaseRow.closed_at,
                       CaseRow.close_reason)):
            if closed is not None:
                out.closed[(key, reason or "clos")] += 1
                continue
            for state in states or ["?"]:
                out.cases[(key, state)] += 1
        for role, status, n in session.execute(
                select(TaskRow.role, TaskRow.status, func.count())
                .group_by(TaskRow.role, TaskRow.status)):
            bucket = "ouvertes" if status in OPEN_TASK_STATUSES else status
            out.tasks.setdefault(role, Counter())[bucket] += n
        for role, n, escalated in session.execute(
                select(TaskRow.role, func.count(), func.count(TaskRow.escalated_at))
                .where(TaskRow.status.in_(OPEN_TASK_STATUSES), TaskRow.due_at < now)  # type: ignore[attr-defined]
                .group_by(TaskRow.role)):
            out.overdue[role] = n
            out.escalated += escalated
        for kind, status, n in session.execute(
                select(OutboxRow.kind, OutboxRow.status, func.count())
                .group_by(OutboxRow.kind, OutboxRow.status)):
            out.outbox[(kind, status)] = n
        for status, n in session.execute(select(InboxRow.status, func.count())
                                         .group_by(InboxRow.status)):
            out.inbox[status] = n
    return out


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
        table.add_row(KIND_LABELS.get(kind, kind),
                      *(str(summary.outbox[(kind, s)]) for s in outcomes))
    print_(table)
    sent = sum(n for (_, status), n in summary.outbox.items() if status == "sent")
    print_(f"Notifications envoyées : {sent} sur {sum(summary.outbox.values())} en file")
    print_("Événements entrants : " + (", ".join(
        f"{STATUS_LABELS.get(status, status)} {n}" for status, n
        in sorted(summary.inbox.items())) or "aucun"))
