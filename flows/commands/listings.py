"""Coordinators' listings, so that nothing needs SQL: ``parcours cases``, ``patients search``,
``professionals list``, ``careteam show``, ``task show`` and ``tasks``.

The queries are ``engine.store.listings``'; here only French text. Each listing shows a
page (``--limit``, ``--offset``) and says how many more there are; ``--json`` prints one
JSON document on standard output and nothing else.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.clock import local_date
from flows.commands import labels
from flows.commands.common import Settings, dump, engine_of, fmt, guarded, now_of

if TYPE_CHECKING:
    from engine.store.listings import Page


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _cut(text: str | None, width: int) -> str:
    text = text or "—"
    return text if len(text) <= width else text[:width - 1] + "…"


def _footer(page: Page, one: str, many: str) -> None:
    print(f"{page.total} {one if page.total == 1 else many}"
          + (f", {len(page.rows)} affiché(s)" if page.more or page.offset else ""))
    if page.more:
        print(f"… {page.more} de plus : --offset {page.offset + len(page.rows)} pour la suite "
              f"(ou --limit)")


@guarded
def cases(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.listings import list_cases

    with transaction(engine_of(Settings())) as session:
        page = list_cases(session, now_of(args), pathway=args.pathway, state=args.state,
                          overdue=args.overdue, closed=args.closed, limit=args.limit,
                          offset=args.offset)
    if args.json:
        dump(page.as_dict())
        return 0
    if not page.total:
        print("aucun dossier" + (" ne correspond à ces critères" if args.pathway or args.state
                                 or args.overdue else ""))
        return 0
    print(f"{'dossier':>7}  {'patient':<26} {'parcours':<22} {'ouvert le':<10}  "
          f"{'tâches':>6} {'retard':>6}  étapes")
    for row in page.rows:
        status = f"clos ({row['close_reason']}) " if row["closed_at"] else ""
        print(f"{row['id']:>7}  {_cut(row['patient'], 26):<26} {_cut(row['pathway'], 22):<22} "
              f"{fmt(row['opened_at'])[:10]:<10}  {row['open_tasks']:>6} "
              f"{row['overdue_tasks']:>6}  {status}{' · '.join(row['state_titles'])}")
    _footer(page, "dossier", "dossiers")
    return 0


@guarded
def patients_search(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.listings import search_patients

    with transaction(engine_of(Settings())) as session:
        page = search_patients(session, args.text, limit=args.limit, offset=args.offset)
    if args.json:
        dump(page.as_dict())
        return 0
    if not page.total:
        print("aucun patient ne correspond (nom, date de naissance JJ/MM/AAAA, INS ou "
              "identifiant local)")
        return 0
    print(f"{'id':>6}  {'nom':<32} {'naissance':<10}  {'INS':<15}  {'id local':<12}  "
          "parcours ouverts")
    for row in page.rows:
        name = f"{row['family_name'].upper()} {row['given_names']}"
        print(f"{row['id']:>6}  {_cut(name, 32):<32} {_day(row['birth_date']):<10}  "
              f"{row['ins'] or '—':<15}  {_cut(row['local_id'], 12):<12}  "
              f"{', '.join(row['open_pathways']) or 'aucun'}")
    _footer(page, "patient", "patients")
    return 0


@guarded
def professionals_list(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.listings import list_professionals

    active = {"oui": True, "non": False, None: None}[args.active]
    with transaction(engine_of(Settings())) as session:
        page = list_professionals(session, now_of(args), role=args.role, active=active,
                                  text=args.search, limit=args.limit, offset=args.offset)
    if args.json:
        dump(page.as_dict())
        return 0
    if not page.total:
        print("aucun professionnel ne correspond")
        return 0
    print(f"{'id':>5}  {'RPPS':<11}  {'nom':<28} {'profession':<20} {'actif':<5}  "
          f"{'tâches':>6} {'retard':>6}  contact")
    for row in page.rows:
        name = f"{row['given_names']} {row['family_name']}"
        contact = row["mssante"] or row["email"] or row["phone"] or "—"
        print(f"{row['id']:>5}  {row['rpps']:<11}  {_cut(name, 28):<28} "
              f"{_cut(row['profession'], 20):<20} {'oui' if row['active'] else 'non':<5}  "
              f"{row['open_tasks']:>6} {row['overdue_tasks']:>6}  {contact}")
    _footer(page, "professionnel", "professionnels")
    return 0


@guarded
def careteam_show(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.listings import care_team

    today = local_date(now_of(args))
    with transaction(engine_of(Settings())) as session:
        team = care_team(session, args.patient, today)
    if args.json:
        dump(team)
        return 0
    patient = team["patient"]
    ids = ", ".join(f"{label} {patient[key]}" for key, label in (("ins", "INS"),
                                                                  ("local_id", "id local"))
                    if patient[key])
    print(f"Équipe de soins de {patient['name']} (patient {patient['id']}"
          f"{', ' + ids if ids else ''}) au {_day(today)}")
    if not team["members"]:
        print("  aucun membre (parcours careteam set --patient … --role … --professional …)")
        return 0
    for member in team["members"]:
        since = f"depuis le {_day(member['start_date'])}" if member["current"] else \
            f"à partir du {_day(member['start_date'])}" if member["upcoming"] else \
            f"du {_day(member['start_date'])} au {_day(member['end_date'])}"
        until = f" jusqu'au {_day(member['end_date'])}" if member["current"] and \
            member["end_date"] else ""
        inactive = " (professionnel désactivé)" if not member["active"] else ""
        contact = member["mssante"] or member["email"] or member["phone"] or ""
        flag = "" if member["current"] else "  [ancien]" if not member["upcoming"] \
            else "  [à venir]"
        print(f"  {member['role_title']:<24} {member['name']} (RPPS {member['rpps']})"
              f"{inactive} {since}{until}{' · ' + contact if contact else ''}{flag}")
    return 0


@guarded
def task_show(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.listings import task_detail

    with transaction(engine_of(Settings())) as session:
        task = task_detail(session, args.id, now_of(args))
    if args.json:
        dump(task)
        return 0
    late = f" — EN RETARD de {task['days_overdue']} j" if task["overdue"] else ""
    print(f"Tâche {task['id']} : {task['title']}")
    print(f"  statut : {labels.task_status(task['status'])}{late}")
    print(f"  échéance : {fmt(task['due_at'])} · créée le {fmt(task['created_at'])}")
    print(f"  dossier {task['case_id']} · parcours {task['pathway_title']} "
          f"({task['pathway']}) · étape « {task['state_title']} »")
    print(f"  patient : {task['patient']} (patient {task['patient_id']})")
    who = task["assignee"] or "personne"
    vacant = " (rôle vacant dans l'équipe de soins : confiée à la coordination)" \
        if task["unassigned_role"] else ""
    print(f"  rôle : {task['role_title']} · confiée à {who}{vacant}")
    if task["description"]:
        print(f"  consigne : {task['description']}")
    if task["declined_by"]:
        print(f"  refusée par {task['declined_by_name']} le {fmt(task['declined_at'])} : "
              f"{task['decline_reason'] or 'sans motif'}")
    if task["result"]:
        print("  résultat : " + ", ".join(f"{k} = {_value(v)}" for k, v in
                                          task["result"].items()))
    if task["closed_at"]:
        by = f" par {task['closed_by_name']}" if task["closed_by_name"] else ""
        why = f" ({task['close_reason']})" if task["close_reason"] else ""
        print(f"  close le {fmt(task['closed_at'])}{by}{why}")
    if task["history"]:
        print("  historique :")
        for item in task["history"]:
            who = f" par {item['actor_name']}" if item["actor_name"] else ""
            print(f"    {fmt(item['at'])}  {labels.history(item['kind'])}{who}")
    return 0


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")
    return str(value)


@guarded
def tasks(args: argparse.Namespace) -> int:
    from engine.store.db import transaction
    from engine.store.listings import check_paging, professional_names
    from engine.store.queries import count_tasks, list_tasks, professional_id
    from engine.store.tables import TASK_STATUSES

    now = now_of(args)
    status = labels.choice(args.status, labels.TASK_STATUS_OPTIONS, ("open", *TASK_STATUSES),
                           "statut")
    check_paging(args.limit, args.offset)
    with transaction(engine_of(Settings())) as session:
        assignee = professional_id(session, args.assignee) if args.assignee else None
        filters: dict[str, Any] = {"assignee": assignee, "role": args.role,
                                   "case_id": args.case, "status": status,
                                   "overdue": args.overdue}
        found = list_tasks(session, now, limit=args.limit, offset=args.offset, **filters)
        total = count_tasks(session, now, **filters)
        names = professional_names(session, {t["assignee_id"] for t in found
                                             if t["assignee_id"] is not None})
    for task in found:
        task["assignee"] = names.get(task["assignee_id"] or 0, "")
    if args.json:
        dump(found)
        return 0
    if not found:
        print("aucune tâche")
        return 0
    print(f"{'id':>6}  {'dossier':>7}  {'statut':<15} {'échéance':<16}  {'confiée à':<22} "
          f"{'rôle':<18} tâche")
    for task in found:
        late = f" EN RETARD ({task['days_overdue']} j)" if task["overdue"] else ""
        flag = " (rôle vacant → coordination)" if task["unassigned_role"] else ""
        print(f"{task['id']:>6}  {task['case_id']:>7}  "
              f"{labels.task_status(task['status']):<15} {fmt(task['due_at']):<16}  "
              f"{_cut(task['assignee'] or 'personne', 22):<22} {_cut(task['role'], 18):<18} "
              f"{task['title']}{late}{flag}")
    from engine.store.listings import Page

    _footer(Page(found, total, args.limit, args.offset), "tâche", "tâches")
    return 0


#: rows of a listing page at a terminal (the parser must not import ``engine.store.listings``:
#: ``parcours validate`` stays light)
PAGE = 50


def add_paging(parser: argparse.ArgumentParser, limit: int = PAGE) -> None:
    parser.add_argument("--limit", type=int, default=limit,
                        help="lignes affichées au plus (défaut : %(default)s)")
    parser.add_argument("--offset", type=int, default=0,
                        help="sauter ce nombre de lignes (page suivante)")
