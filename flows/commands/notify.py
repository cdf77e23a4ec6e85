"""``parcours notify`` (send what is due, preview, digests) and ``parcours outbox``.

Human output is in French for coordinators; ``--json`` gives data. Channel
settings come from the environment (``PARCOURS_NOTIFY_*``, see
``notifications.settings``); with none set, messages go to the console.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from engine import outbox as outbox_kinds
from flows.commands import labels
from flows.commands.common import bounded_int, dump, engine_of, fmt, guarded, now_of
from notifications import kinds
from notifications.channels import registry as channel_names

if TYPE_CHECKING:
    from notifications.dispatch import DispatchReport

OUTCOMES = {"sent": "envoyé(s)", "retry": "à réessayer", "deferred": "différé(s) (heures de "
            "silence)", "held": "gardé(s) pour le récapitulatif", "skipped": "sans objet "
            "(tâche close)", "dead": "en échec définitif"}
ROW_STATUSES = {"pending": "en attente", "sending": "en cours", "sent": "envoyé",
                "skipped": "sans objet", "digest": "pour récap.", "digested": "dans un récap.",
                "dead": "en échec"}


@guarded
def notify(args: argparse.Namespace) -> int:
    from engine.settings import Settings
    from notifications import NotificationSettings, dispatch_pending

    now = now_of(args)
    report = dispatch_pending(engine_of(Settings()), NotificationSettings(), now,
                              batch_size=args.batch_size)
    if args.json:
        dump(report.as_dict())
        return 0
    print(_summary(report, fmt(now)))
    return 0


def _summary(report: DispatchReport, when: str) -> str:
    lines = [f"notifications au {when} : {report.claimed} message(s) traité(s) en "
             f"{report.batches} lot(s)"]
    for status, label in OUTCOMES.items():
        if report.count(status):
            lines.append(f"  {label} : {report.count(status)}")
    channels = {c: n.get("sent", 0) for c, n in report.by_channel.items() if n.get("sent")}
    if channels:
        lines.append("  par canal : " + ", ".join(f"{c} {n}" for c, n in sorted(
            channels.items())))
    if report.failed_ids:
        lines.append(f"  messages en échec (la coordination est prévenue) : "
                     f"{', '.join(map(str, report.failed_ids))} ; voir parcours outbox "
                     f"--status en-echec")
    for warning, count in report.warnings.items():
        lines.append(f"  attention : {warning} × {count}")
    return "\n".join(lines)


@guarded
def preview(args: argparse.Namespace) -> int:
    from engine.settings import Settings
    from notifications import NotificationSettings
    from notifications.preview import preview as build

    shown = build(engine_of(Settings()), NotificationSettings(), args.template, args.task,
                  now_of(args), channel=args.channel, recipient_id=args.recipient,
                  message=args.message)
    if args.json:
        dump(shown.__dict__)
        return 0
    secure = "sécurisé : détails du patient inclus" if shown.secure else \
        "non sécurisé : aucune donnée de santé"
    print(f"[aperçu {args.template} · canal {shown.channel} ({secure})]")
    if shown.subject:
        print(f"Objet : {shown.subject}\n")
    print(shown.html if args.html and shown.html else shown.text)
    return 0


@guarded
def digest(args: argparse.Namespace) -> int:
    from engine.settings import Settings
    from notifications import NotificationSettings, queue_daily_digests

    report = queue_daily_digests(engine_of(Settings()), now_of(args),
                                 settings=NotificationSettings())
    if args.json:
        dump(report.__dict__)
        return 0
    print(f"{report.digests} récapitulatif(s) préparé(s) regroupant {report.items} "
          f"message(s) ; ils partiront au prochain `parcours notify`")
    return 0


@guarded
def outbox(args: argparse.Namespace) -> int:
    from engine.settings import Settings
    from notifications.outbox import list_rows

    statuses = [labels.choice(s, labels.OUTBOX_STATUS_OPTIONS,
                              tuple(labels.OUTBOX_STATUS_OPTIONS.values()), "statut") or s
                for s in args.status] if args.status else args.status
    rows = list_rows(engine_of(Settings()), statuses=statuses, kind=args.kind,
                     limit=args.limit)
    if args.json:
        dump(rows)
        return 0
    if not rows:
        print("aucun message")
        return 0
    print(f"{'id':>6}  {'statut':<14} {'type':<18} {'destinataire':<24} {'canal':<8} "
          f"{'essais':>6}  {'quand':<16}  erreur")
    for row in rows:
        print(_line(row))
    print(f"{len(rows)} message(s)")
    return 0


def _line(row: dict[str, Any]) -> str:
    when = row["sent_at"] or row["next_attempt_at"]
    who = row["recipient"] or "—"
    error = (row["last_error"] or "")[:60]
    return (f"{row['id']:>6}  {ROW_STATUSES.get(row['status'], row['status']):<14} "
            f"{kinds.label(row['kind'])[:18]:<18} {who[:24]:<24} {row['channel'] or '—':<8} "
            f"{row['attempts']:>6}  {fmt(when):<16}  {error}")


def register(sub: argparse._SubParsersAction) -> None:
    """Notification commands (French help: coordinators read it)."""
    from flows.commands.common import add_json, add_now

    h = "flows.commands.notify:"
    p = sub.add_parser("notify", help="envoyer les notifications dues (une passe), "
                                      "aperçu d'un modèle, récapitulatifs")
    p.add_argument("--batch-size", type=bounded_int(1, 100_000), default=None,
                   help="messages par lot")
    add_now(p)
    add_json(p)
    p.set_defaults(handler=h + "notify")
    nsub = p.add_subparsers(dest="notify_command", metavar="ACTION")
    q = nsub.add_parser("preview", help="afficher un message sans l'envoyer")
    q.add_argument("template", metavar="MODELE", help=", ".join(outbox_kinds.TEMPLATES))
    q.add_argument("--task", type=int, required=True, help="id de la tâche")
    q.add_argument("--channel", default=channel_names.MSSANTE,
                   choices=tuple(channel_names.PREVIEWS),
                   help="rendu pour ce canal (défaut : %(default)s)")
    q.add_argument("--recipient", type=int, help="id du destinataire (défaut : le "
                                                 "professionnel de la tâche)")
    q.add_argument("--message", help="texte d'un message de parcours")
    q.add_argument("--html", action="store_true", help="afficher la partie HTML")
    add_now(q)
    add_json(q)
    q.set_defaults(handler=h + "preview")
    q = nsub.add_parser("digest", help="regrouper les messages gardés en récapitulatifs "
                                       "(un par jour et par professionnel, après "
                                       "l'heure des récapitulatifs)")
    add_now(q)
    add_json(q)
    q.set_defaults(handler=h + "digest")

    p = sub.add_parser("outbox", help="messages à envoyer, envoyés ou en échec")
    p.add_argument("--status", nargs="*", metavar="STATUT",
                   help=", ".join(labels.OUTBOX_STATUS_OPTIONS))
    p.add_argument("--kind", help="task_assigned, task_reminder, …")
    p.add_argument("--limit", type=bounded_int(1, 10_000), default=100)
    add_json(p)
    p.set_defaults(handler=h + "outbox")
