"""A readable French timeline of a patient's or a case's history.

Every history line (``case_event``) the engine writes becomes a French sentence: the date
in Paris time, who did it (name and profession), task titles rather than keys, state
titles rather than ids, values with their units and a decimal comma. Lines written by one
event (an observation, the transition it caused, the task that transition created…) share
their case, effective time and recording time: they make one entry, their sentences joined
by « ; », e.g.

    12/03/2026 09:00 — HbA1c 7,8 % enregistrée par Anne Bernard, infirmier·ère ;
    passage à l'étape « Cible dépassée » ; « Revoir le traitement » demandée au
    Dr Paul Martin (Médecin traitant) pour le 12/04/2026

``patient_timeline`` and ``case_timeline`` read what they need with one set of queries
(cases, their pathway versions, history, tasks, professionals); the sentences are pure
functions of those rows (``entries``). A kind of line this module does not know still gets
a generic sentence: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine import events
from engine.case import HospitalEventUndone, TaskCancelled
from engine.clock import PARIS, ensure_aware
from engine.pathway.compiler import ALWAYS, CompiledPathway
from engine.store import people, queue, registry, results, task_actions
from engine.store.tables import (
    CaseEvent,
    CaseRow,
    PathwayVersion,
    Professional,
    TaskRow,
)

#: ``case_event.kind`` written by the engine outside the owners imported above.
ENROLMENT, TRANSITION, TASK_CREATED, TASK_COMPLETED = ("enrolment", "transition",
                                                       "task_created", "task_completed")
TIMER_FIRED, FACT_SET, NOTIFICATION, GUARD_FAILED = ("timer_fired", "fact_set",
                                                     "notification", "guard_failed")
CASE_CLOSED, ADVANCE_FAILED = "case_closed", "advance_failed"
#: the reason ``Writer`` gives a case that reached a final state
FINAL_STATE = "final state"
#: the prefix ``CaseService.close_case`` gives the reason of the tasks it cancels
CASE_CLOSED_PREFIX = "case closed: "

ROLE_FALLBACK = {"coordinateur": "coordination"}


@dataclass(frozen=True)
class Line:
    """One history row, as read (plain data: tests build them by hand)."""

    id: int
    case_id: int
    at: datetime
    recorded_at: datetime
    actor_kind: str
    actor_id: int | None
    kind: str
    from_state: str | None = None
    to_state: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    name: str
    profession: str


@dataclass
class Context:
    """What the sentences need besides the lines: pathway of each case, task titles,
    professionals, and the reason each closed case was closed."""

    pathways: dict[int, CompiledPathway] = field(default_factory=dict)
    tasks: dict[int, str] = field(default_factory=dict)
    people: dict[int, Person] = field(default_factory=dict)
    close_reasons: dict[int, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    case_id: int
    pathway: str
    #: the sentences of the lines written together, in order
    sentences: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def date(self) -> str:
        return f"{self.at.astimezone(PARIS):%d/%m/%Y}"

    @property
    def time(self) -> str:
        return f"{self.at.astimezone(PARIS):%H:%M}"

    @property
    def text(self) -> str:
        sentence = " ; ".join(self.sentences)
        return sentence[:1].upper() + sentence[1:]


# -- formatting ------------------------------------------------------------------------------

def number_fr(value: Any) -> str:
    """``7.8`` → ``7,8``; ``7.0`` → ``7``; text and booleans as French words."""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        text = f"{value:g}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")
        return text.replace(".", ",")
    if value is None:
        return "—"
    return str(value)


def day_fr(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return f"{ensure_aware(value).astimezone(PARIS):%d/%m/%Y}"
    return str(value)


def _quoted(text: str) -> str:
    return f"« {text} »"


class _Sentences:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- names ---------------------------------------------------------------------------------

    def pathway(self, case_id: int) -> CompiledPathway | None:
        return self.ctx.pathways.get(case_id)

    def state(self, case_id: int, state: str | None) -> str:
        if not state:
            return "?"
        pathway = self.pathway(case_id)
        titles = []
        for sid in state.split(", "):
            found = pathway.states.get(sid) if pathway else None
            titles.append(found.title if found and found.title else sid.replace("_", " "))
        return ", ".join(_quoted(t) for t in titles)

    def role(self, case_id: int, role: str) -> str:
        pathway = self.pathway(case_id)
        found = pathway.definition.roles.get(role) if pathway else None
        return found.title if found else ROLE_FALLBACK.get(role, role.replace("_", " "))

    def task(self, case_id: int, data: Mapping[str, Any]) -> str:
        task_id = data.get("task_id")
        if isinstance(task_id, int) and task_id in self.ctx.tasks:
            return _quoted(self.ctx.tasks[task_id])
        pathway = self.pathway(case_id)
        key = str(data.get("key") or "")
        if pathway is not None and key in pathway.tasks:
            return _quoted(pathway.tasks[key].title)
        return _quoted(key.replace("_", " ") or "tâche")

    def observation(self, case_id: int, code: str) -> tuple[str, str]:
        for pathway in [self.pathway(case_id), *self.ctx.pathways.values()]:
            if pathway is None:
                continue
            for spec in pathway.definition.observations.values():
                if spec.code == code:
                    return spec.title, spec.unit or ""
        return f"résultat {code}", ""

    def event(self, case_id: int, data: Mapping[str, Any]) -> str:
        """The event that closed a task: « le résultat HbA1c », « l'événement … »."""
        name = str(data.get("by_event"))
        key = events.key_of(name, events.OBSERVATION)
        pathway = self.pathway(case_id)
        if key is not None:
            spec = pathway.definition.observations.get(key) if pathway else None
            return f"le résultat {spec.title if spec else key}"
        defined = pathway.definition.events.get(name) if pathway else None
        return f"l'événement {_quoted(defined.title if defined else name)}"

    def person(self, pid: Any) -> Person | None:
        return self.ctx.people.get(pid) if isinstance(pid, int) else None

    def by(self, line: Line) -> str:
        """`` par Anne Bernard, infirmier·ère`` (empty for the system)."""
        who = self.person(line.actor_id)
        if who is not None:
            if who.profession == "medecin":
                return f" par le Dr {who.name}"
            return f" par {who.name}, {people.profession_fr(who.profession)}"
        if line.actor_kind == "coordinator":
            return " par la coordination"
        if line.actor_kind == "professional":
            return " par un professionnel"
        return ""

    def to(self, pid: Any, role: str = "") -> str:
        """``au Dr Paul Martin (Médecin traitant)`` / ``à Anne Bernard (infirmier·ère)``:
        the role in the pathway if given, else the profession."""
        who = self.person(pid)
        if who is None:
            return "à la coordination"
        if who.profession == "medecin":
            return f"au Dr {who.name}" + (f" ({role})" if role else "")
        return f"à {who.name} ({role or people.profession_fr(who.profession)})"

    # -- the sentences, one per kind ----------------------------------------------------------

    def enrolment(self, line: Line) -> str:
        pathway = self.pathway(line.case_id)
        title = pathway.definition.title if pathway else "?"
        return (f"inscription dans le parcours {_quoted(title)}{self.by(line)} ; "
                f"étape {self.state(line.case_id, line.to_state)}")

    def transition(self, line: Line) -> str:
        text = f"passage à l'étape {self.state(line.case_id, line.to_state)}"
        why = self.why(line.case_id, str(line.data.get("transition") or ""))
        return f"{text} ({why})" if why else text

    def why(self, case_id: int, tid: str) -> str:
        """The author's ``description`` of a transition (``state#index``), if any."""
        pathway = self.pathway(case_id)
        source, _, index = tid.rpartition("#")
        if pathway is None or not index.isdigit():
            return ""
        node = pathway.tree.nodes.get("" if source == ALWAYS else source)
        specs = node.state.transitions if node is not None else []
        return (specs[int(index)].description or "") if int(index) < len(specs) else ""

    def task_created(self, line: Line) -> str:
        d = line.data
        due = f" pour le {day_fr(d['due_at'])}" if d.get("due_at") else ""
        role = self.role(line.case_id, str(d.get("role") or ""))
        task = self.task(line.case_id, d)
        if d.get("unassigned_role"):
            return (f"{task} confiée à la coordination{due} : personne ne tient le rôle "
                    f"{_quoted(role)} dans l'équipe de soins")
        return f"{task} demandée {self.to(d.get('assignee_id'), role)}{due}"

    def task_completed(self, line: Line) -> str:
        d = line.data
        if d.get("by_event"):
            return f"{self.task(line.case_id, d)} close par {self.event(line.case_id, d)}"
        return f"{self.task(line.case_id, d)} terminée{self.by(line)}"

    def task_cancelled(self, line: Line) -> str:
        reason = str(line.data.get("reason") or "")
        if reason.startswith(CASE_CLOSED_PREFIX):
            reason = f"dossier clos ({reason.removeprefix(CASE_CLOSED_PREFIX)})"
        return f"{self.task(line.case_id, line.data)} annulée" + (f" : {reason}" if reason
                                                                  else "")

    def timer_fired(self, line: Line) -> str:
        return (f"délai {_quoted(str(line.data.get('timer', '?')).replace('_', ' '))} écoulé "
                f"à l'étape {self.state(line.case_id, line.from_state)}")

    def fact_set(self, line: Line) -> str:
        pathway = self.pathway(line.case_id)
        name = str(line.data.get("fact", "?"))
        fact = pathway.definition.facts.get(name) if pathway else None
        label = fact.description if fact is not None and fact.description else \
            name.replace("_", " ")
        return f"information notée : {label} = {number_fr(line.data.get('value'))}"

    def notification(self, line: Line) -> str:
        roles = [self.role(line.case_id, str(r)) for r in line.data.get("roles") or ()]
        return "message envoyé : " + (", ".join(roles) or "personne")

    def guard_failed(self, line: Line) -> str:
        return (f"une condition du parcours n'a pas pu être évaluée "
                f"({line.data.get('transition', '?')}) : {line.data.get('error', '')}")

    def case_closed(self, line: Line) -> str:
        reason = self.ctx.close_reasons.get(line.case_id)
        why = "fin du parcours" if reason in (None, FINAL_STATE) else f"motif : {reason}"
        return (f"dossier clos{self.by(line)} à l'étape "
                f"{self.state(line.case_id, line.to_state)} ({why})")

    def hospital_event_undone(self, line: Line) -> str:
        event = str(line.data.get("event") or "")
        what = {events.ADMISSION: "hospitalisation", events.DISCHARGE: "sortie"}.get(event,
                                                                                  event)
        return (f"{what} annulée par l'établissement : retour à l'étape "
                f"{self.state(line.case_id, line.to_state)}")

    def advance_failed(self, line: Line) -> str:
        retry = line.data.get("retry_at")
        return ("échec du traitement automatique du dossier"
                + (f" ; nouvel essai le {day_fr(retry)}" if retry else ""))

    def observation_line(self, line: Line) -> str:
        d = line.data
        title, unit = self.observation(line.case_id, str(d.get("code", "")))
        unit = str(d.get("unit") or unit or "")
        value = f"{number_fr(d.get('value'))}{' ' + unit if unit else ''}"
        return f"{title} {value} enregistrée{self.by(line)}"

    def observation_corrected(self, line: Line) -> str:
        d = line.data
        title, unit = self.observation(line.case_id, str(d.get("code", "")))
        unit = str(d.get("unit") or unit or "")
        return (f"{title} corrigée : {number_fr(d.get('avant'))} → "
                f"{number_fr(d.get('apres'))}{' ' + unit if unit else ''}{self.by(line)}")

    def hospital(self, line: Line) -> str:
        d = line.data
        stay = f" (séjour {d[events.STAY]})" if d.get(events.STAY) else ""
        words = {events.ADMISSION: "hospitalisation", events.DISCHARGE: "sortie d'hospitalisation",
                 events.ADMISSION_CANCELLED: "annonce d'hospitalisation annulée",
                 events.DISCHARGE_CANCELLED: "annonce de sortie annulée"}
        text = words.get(line.kind, line.kind) + stay
        if d.get(events.PLANNED):
            text += ", programmée"
        if d.get(events.DESTINATION):
            text += f", vers : {str(d[events.DESTINATION]).replace('_', ' ')}"
        return text + self.by(line)

    def pathway_event(self, line: Line) -> str:
        name = str(line.data.get("event") or "?")
        pathway = self.pathway(line.case_id)
        defined = pathway.definition.events.get(name) if pathway else None
        return f"événement {_quoted(defined.title if defined else name)}{self.by(line)}"

    def task_accepted(self, line: Line) -> str:
        return f"{self.task(line.case_id, line.data)} prise en charge{self.by(line)}"

    def task_declined(self, line: Line) -> str:
        reason = line.data.get("reason")
        return (f"{self.task(line.case_id, line.data)} refusée{self.by(line)}"
                + (f" : {reason}" if reason else ""))

    def task_reassigned(self, line: Line) -> str:
        return (f"{self.task(line.case_id, line.data)} confiée "
                f"{self.to(line.data.get('assignee_id'))}{self.by(line)}")

    def task_released(self, line: Line) -> str:
        who = self.person(line.data.get("professional_id"))
        name = who.name if who else "un professionnel"
        return (f"{self.task(line.case_id, line.data)} à réattribuer : {name} a été "
                f"désactivé(e){self.by(line)}")

    # -- the coordinator's work queue (engine.store.queue) ----------------------------------

    def role_filled(self, line: Line) -> str:
        d = line.data
        who = self.person(d.get("assignee_id"))
        role = _quoted(self.role(line.case_id, str(d.get("role") or "")))
        return (f"rôle {role} confié à {who.name if who else 'un professionnel'} : "
                f"{self.task(line.case_id, d)} lui revient{self.by(line)}")

    def inbound_corrected(self, line: Line) -> str:
        what = "corrigé puis appliqué" if line.data.get("corrected") else "appliqué de nouveau"
        return f"événement reçu n° {line.data.get('inbox_id')} {what}{self.by(line)}"

    def inbound_discarded(self, line: Line) -> str:
        reason = line.data.get("reason")
        return (f"événement reçu n° {line.data.get('inbox_id')} écarté{self.by(line)}"
                + (f" (motif : {reason})" if reason else ""))

    def message_resent(self, line: Line) -> str:
        address = " à une adresse corrigée" if line.data.get("address_changed") else ""
        return f"message n° {line.data.get('outbox_id')} renvoyé{address}{self.by(line)}"

    def timers_retried(self, line: Line) -> str:
        return f"échéances en échec relancées{self.by(line)}"

    def care_team_changed(self, line: Line) -> str:
        d = line.data
        role = _quoted(self.role(line.case_id, str(d.get("role") or "")))
        new, old = self.person(d.get("professional_id")), self.person(d.get("previous_id"))
        if d.get("change") == people.REMOVED:
            return (f"équipe de soins : {old.name if old else 'le titulaire'} n'est plus "
                    f"{role}{self.by(line)}")
        text = f"équipe de soins : {new.name if new else '?'} devient {role}"
        if old is not None:
            text += f" à la place de {old.name}"
        return text + self.by(line)

    def generic(self, line: Line) -> str:
        details = ", ".join(f"{k} = {number_fr(v)}" for k, v in line.data.items()
                            if isinstance(v, str | int | float | bool))
        return f"{line.kind.replace('_', ' ')}{self.by(line)}" + (f" ({details})" if details
                                                                   else "")


_S = _Sentences
#: kind → its sentence; every kind the engine writes has one (tests/test_narrative.py).
SENTENCES: dict[str, Callable[[_Sentences, Line], str]] = {
    ENROLMENT: _S.enrolment, TRANSITION: _S.transition, TASK_CREATED: _S.task_created,
    TASK_COMPLETED: _S.task_completed, TaskCancelled.kind: _S.task_cancelled,
    TIMER_FIRED: _S.timer_fired, FACT_SET: _S.fact_set, NOTIFICATION: _S.notification,
    GUARD_FAILED: _S.guard_failed, CASE_CLOSED: _S.case_closed,
    HospitalEventUndone.kind: _S.hospital_event_undone, ADVANCE_FAILED: _S.advance_failed,
    events.OBSERVATION.value: _S.observation_line,
    results.OBSERVATION_CORRECTED: _S.observation_corrected,
    **{kind: _S.hospital for kind in events.HOSPITAL_EVENTS},
    events.PATHWAY_EVENT: _S.pathway_event,
    task_actions.TASK_ACCEPTED: _S.task_accepted, task_actions.TASK_DECLINED: _S.task_declined,
    task_actions.TASK_REASSIGNED: _S.task_reassigned,
    people.TASK_RELEASED: _S.task_released, people.CARE_TEAM_CHANGED: _S.care_team_changed,
    queue.ROLE_FILLED: _S.role_filled, queue.INBOUND_CORRECTED: _S.inbound_corrected,
    queue.INBOUND_DISCARDED: _S.inbound_discarded, queue.MESSAGE_RESENT: _S.message_resent,
    queue.TIMERS_RETRIED: _S.timers_retried,
}


#: Kinds written *because of* the line before them (same case, same times): they join
#: its entry. Any other line starts an entry of its own.
CONSEQUENCES = frozenset({TRANSITION, TASK_CREATED, TaskCancelled.kind, NOTIFICATION,
                          FACT_SET, CASE_CLOSED, GUARD_FAILED, HospitalEventUndone.kind})


def _joins(line: Line, group: list[Line]) -> bool:
    if not group or (line.case_id, line.at, line.recorded_at) != \
            (group[0].case_id, group[0].at, group[0].recorded_at):
        return False
    return line.kind in CONSEQUENCES or (line.kind == TASK_COMPLETED
                                         and bool(line.data.get("by_event")))


def sentence(line: Line, ctx: Context) -> str:
    writer = _Sentences(ctx)
    render = SENTENCES.get(line.kind, _S.generic)
    return render(writer, line)


def entries(lines: Iterable[Line], ctx: Context) -> list[TimelineEntry]:
    """Lines (in history order) → entries, lines written together merged, oldest first."""
    out: list[TimelineEntry] = []
    group: list[Line] = []

    def flush() -> None:
        if group:
            first = group[0]
            pathway = ctx.pathways.get(first.case_id)
            out.append(TimelineEntry(
                ensure_aware(first.at), first.case_id,
                pathway.definition.title if pathway else "",
                tuple(sentence(line, ctx) for line in group),
                tuple(line.kind for line in group)))
            group.clear()

    for line in lines:
        if not _joins(line, group):
            flush()
        group.append(line)
    flush()
    return sorted(out, key=lambda e: e.at)


def render_text(items: Sequence[TimelineEntry]) -> str:
    """One line per entry: ``12/03/2026 09:00 — [Parcours] Sentence ; sentence``."""
    return "\n".join(f"{e.date} {e.time} — {e.text}" + (f" [{e.pathway}]" if e.pathway else "")
                     for e in items)


# -- reading ---------------------------------------------------------------------------------

def _timeline(session: Session, cases: list[CaseRow]) -> list[TimelineEntry]:
    if not cases:
        return []
    ids = [c.id or 0 for c in cases]
    versions = {v.id: v for v in session.scalars(select(PathwayVersion).where(
        col(PathwayVersion.id).in_({c.pathway_version_id for c in cases})))}
    ctx = Context(pathways={c.id or 0: registry.compiled(versions[c.pathway_version_id])
                            for c in cases},
                  close_reasons={c.id or 0: c.close_reason for c in cases})
    rows = list(session.scalars(select(CaseEvent).where(col(CaseEvent.case_id).in_(ids))
                                .order_by(col(CaseEvent.id))))
    ctx.tasks = {r[0] or 0: str(r[1]) for r in session.execute(
        select(col(TaskRow.id), col(TaskRow.title)).where(col(TaskRow.case_id).in_(ids)))}
    wanted: set[int] = set()
    for row in rows:
        if row.actor_id is not None:
            wanted.add(row.actor_id)
        for name in ("assignee_id", "professional_id", "previous_id"):
            if isinstance(row.data.get(name), int):
                wanted.add(row.data[name])
    if wanted:
        ctx.people = {p.id or 0: Person(f"{p.given_names} {p.family_name}", p.profession)
                      for p in session.scalars(select(Professional).where(
                          col(Professional.id).in_(wanted)))}
    lines = [Line(r.id or 0, r.case_id, r.at, r.recorded_at, r.actor_kind, r.actor_id, r.kind,
                  r.from_state, r.to_state, r.data or {}) for r in rows]
    return entries(lines, ctx)


def patient_timeline(session: Session, patient_id: int) -> list[TimelineEntry]:
    """Everything that happened in every case of the patient, oldest first."""
    cases = list(session.scalars(select(CaseRow).where(col(CaseRow.patient_id) == patient_id)
                                 .order_by(col(CaseRow.id))))
    return _timeline(session, cases)


def case_timeline(session: Session, case_id: int) -> list[TimelineEntry]:
    case = session.get(CaseRow, case_id)
    return _timeline(session, [case] if case is not None else [])
