"""Recording an observation for a patient (HbA1c, weight, NT-proBNP…) from a page.

The codes offered are those of the pathways the patient follows, with their units; the
value is checked by the case service against the code's type and plausible range (its
French messages), a French decimal comma is accepted, and a date in the future is
refused. Without a time, an observation of today is recorded now, an earlier one at noon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from starlette.datastructures import FormData

from engine.store.exceptions import InputError
from engine.store.service import Applied
from engine.store.worklist import Viewer
from engine.store.writer import Actor
from web import forms
from web.context import WebContext


@dataclass(frozen=True)
class ObservationForm:
    code: str = ""
    value: str = ""
    day: str = ""
    error: str = ""


def record_observation(ctx: WebContext, who: Viewer, patient_id: int,
                       form: FormData) -> tuple[Applied | None, ObservationForm]:
    filled = ObservationForm(_text(form.get("code")), _text(form.get("valeur")).strip(),
                             _text(form.get("date")).strip())
    key = _text(form.get("cle"))
    problem = _missing(filled) or ("" if forms.valid_key(key) else
                                   "formulaire incomplet : rechargez la page")
    if problem:
        return None, ObservationForm(filled.code, filled.value, filled.day, problem)
    now = ctx.now()
    try:
        at = _moment(ctx, filled.day, now)
        applied = ctx.service.observe(patient_id, filled.code, filled.value, None, at, now,
                                      source="web", actor=Actor("professional", who.id),
                                      event_id=f"web:observation:{patient_id}:{key}")
    except InputError as exc:
        return None, ObservationForm(filled.code, filled.value, filled.day, str(exc))
    return applied, ObservationForm()


def _missing(filled: ObservationForm) -> str:
    if not filled.code:
        return "Observation : choisissez ce qui a été mesuré"
    if not filled.value:
        return "Valeur : champ obligatoire"
    return ""


def _moment(ctx: WebContext, day: str, now: datetime) -> datetime:
    if not day:
        return now
    when = forms.parse_date("Date de l'observation", day)
    if when == ctx.today():
        return now
    return datetime.combine(when, time(12, 0), tzinfo=ctx.zone)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
