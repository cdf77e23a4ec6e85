"""The coordinator's exports: the list of CSV downloads, the monthly activity report of a
pathway (page and CSV), and the access log (page, filters, CSV).

Every CSV goes through ``web.csv_export`` (UTF-8 with BOM, ``;``, French headers). The
access log filters on the professional, the patient (number) and a date range (Paris
days, both included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from engine.store import access, worklist
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.report import MonthlyReport, monthly_report, parse_month
from web.auth.guard import coordinator
from web.context import WebContext, context_of
from web.csv_export import Cell, csv_response
from web.pages import render
from web.routes.coord_dashboard import month_fr

router = APIRouter()

REPORT_HEADERS = ["Parcours", "Mois", "Patients inclus", "Dossiers clos",
                  "Dossiers ouverts en fin de mois", "Tâches terminées",
                  "dont dans les délais", "Part dans les délais (%)",
                  "Délai médian de réalisation (jours)", "Retard médian (jours)",
                  "Tâches échues non faites", "Hospitalisations",
                  "Réhospitalisations à 30 jours"]
JOURNAL_HEADERS = ["Quand", "Professionnel", "N° professionnel", "Action", "Patient",
                   "N° patient", "N° tâche", "Depuis"]


@router.get("/coordination/exports")
def exports_page(request: Request) -> Response:
    coordinator(request)
    ctx = context_of(request)
    with transaction(ctx.engine) as db:
        titles = sorted(worklist.pathway_titles(db).items())
    return render(request, "coord_exports.html", titles=titles,
                  month=_previous_month(ctx.today()).strftime("%Y-%m"))


def _previous_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass
class ReportRequest:
    pathways: list[tuple[str, str]]
    month: date | None
    error: str


def _report_request(ctx: WebContext, parcours: str, mois: str) -> ReportRequest:
    with transaction(ctx.engine) as db:
        titles = sorted(worklist.pathway_titles(db).items())
    chosen = [(k, t) for k, t in titles if not parcours or k == parcours]
    if parcours and not chosen:
        return ReportRequest([], None, "Parcours : choisissez un parcours publié dans la liste.")
    try:
        month = parse_month(mois) if mois else _previous_month(ctx.today())
    except InputError as exc:
        return ReportRequest(chosen, None, "Mois : " + str(exc))
    return ReportRequest(chosen, month, "")


def _reports(ctx: WebContext, wanted: ReportRequest) -> list[tuple[str, MonthlyReport]]:
    if wanted.month is None:
        return []
    with transaction(ctx.engine) as db:
        return [(title, monthly_report(db, key, wanted.month, ctx.zone))
                for key, title in wanted.pathways]


@router.get("/coordination/rapport")
def report_page(request: Request, parcours: str = "", mois: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    wanted = _report_request(ctx, parcours, mois)
    with transaction(ctx.engine) as db:
        titles = sorted(worklist.pathway_titles(db).items())
    month = wanted.month or _previous_month(ctx.today())
    return render(request, "coord_report.html", status=400 if wanted.error else 200,
                  error=wanted.error, reports=_reports(ctx, wanted), titles=titles,
                  parcours=parcours, mois=mois or month.strftime("%Y-%m"),
                  month_label=month_fr(month.strftime("%Y-%m")))


@router.get("/coordination/rapport.csv")
def report_csv(request: Request, parcours: str = "", mois: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    wanted = _report_request(ctx, parcours, mois)
    if wanted.error:
        return render(request, "error.html", status=400, message=wanted.error)
    rows: list[list[Cell]] = [
        [title, r.month.strftime("%m/%Y"), r.patients_enrolled, r.cases_closed, r.open_at_end,
         r.tasks_completed, r.tasks_on_time,
         round(100 * r.on_time_share, 1) if r.on_time_share is not None else None,
         r.median_days_to_complete, r.median_days_late, r.due_still_open, r.admissions,
         r.readmissions_30d] for title, r in _reports(ctx, wanted)]
    month = wanted.month.strftime("%Y-%m") if wanted.month else ""
    return csv_response(f"rapport-mensuel-{month}", REPORT_HEADERS, rows, zone=ctx.zone)


# -- access log ------------------------------------------------------------------------------


@dataclass
class JournalFilter:
    patient: str
    professionnel: str
    du: str
    au: str
    error: str = ""


def _day(text: str, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{what} : une date JJ/MM/AAAA (le sélecteur de date du navigateur)"
                         ) from exc


def _journal(request: Request, f: JournalFilter) -> tuple[list[access.AccessEntry], str]:
    ctx = context_of(request)
    try:
        if f.patient and not f.patient.isdigit():
            raise InputError("N° de patient : des chiffres seulement (le numéro affiché sur "
                             "la page du patient)")
        since, until = _day(f.du, "Du"), _day(f.au, "Au")
        if since and until and until < since:
            raise InputError("Au : la date de fin précède la date de début")
    except InputError as exc:
        return [], str(exc)
    with transaction(ctx.engine) as db:
        entries = access.read_log(
            db, patient_id=int(f.patient) if f.patient else None,
            professional_id=int(f.professionnel) if f.professionnel.isdigit() else None,
            since=datetime.combine(since, time(), ctx.zone) if since else None,
            until=datetime.combine(until + timedelta(days=1), time(), ctx.zone)
            if until else None, limit=1000)
    return entries, ""


@router.get("/coordination/journal")
def journal(request: Request, patient: str = "", professionnel: str = "", du: str = "",
            au: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    f = JournalFilter(patient.strip(), professionnel.strip(), du.strip(), au.strip())
    entries, error = _journal(request, f)
    with transaction(ctx.engine) as db:
        pros = worklist.professionals(db)
    query = "&".join(f"{k}={v}" for k, v in (("patient", f.patient),
                                              ("professionnel", f.professionnel),
                                              ("du", f.du), ("au", f.au)) if v.isascii() and v)
    return render(request, "journal.html", status=400 if error else 200, entries=entries,
                  error=error, filters=f, professionals=pros, query=query)


@router.get("/coordination/journal.csv")
def journal_csv(request: Request, patient: str = "", professionnel: str = "", du: str = "",
                au: str = "") -> Response:
    coordinator(request)
    ctx = context_of(request)
    entries, error = _journal(request, JournalFilter(patient.strip(), professionnel.strip(),
                                                     du.strip(), au.strip()))
    if error:
        return render(request, "error.html", status=400, message=error)
    rows: list[list[Cell]] = [[e.at, e.professional_name, e.professional_id, e.action_label,
                               e.patient_name, e.patient_id, e.task_id, e.client]
                              for e in entries]
    return csv_response("journal-des-acces", JOURNAL_HEADERS, rows, zone=ctx.zone,
                        day=ctx.today())
