"""Typed hospital events: one stay, delivered once; a cancellation undoes what it caused.

An admission or a discharge carries ``stay`` (the hospital's stay identifier:
interfaces should always send it; without it there is no idempotence and no
undo; a cancellation requires it), ``planned`` (boolean), ``reason`` (text) and, for a discharge,
``destination`` (one of ``events.DESTINATIONS``). The case remembers, per stay
and per kind, when the event was applied and the case as it was just before
(``Case.stays``, persisted in the ``memory`` column), so that

- the same stay delivered twice changes nothing (idempotent per stay + kind);
- ``admission_cancelled`` / ``discharge_cancelled`` (HL7 A11 / A13) undo it as
  far as they can: the states, facts and timers come back as they were (timers
  re-armed at their former times), the tasks the event created and still open
  are cancelled, and a ``HospitalEventUndone`` effect (a history line) says what
  was undone and which tasks it had closed cannot be reopened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine import events
from engine.case import (
    Case,
    Effect,
    Event,
    HospitalEventUndone,
    Outcome,
    TaskCancelled,
    TaskCreated,
    TimerCancelled,
    TimerSet,
    jsonable,
)
from engine.exceptions import InvalidEventDataError

#: how many stays a case remembers (the oldest are forgotten first)
MAX_STAYS = 10


def check_data(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The typed data of a hospital event, or ``InvalidEventDataError`` in French."""
    unknown = sorted(set(data) - set(events.HOSPITAL_FIELDS))
    if unknown:
        raise InvalidEventDataError(f"{kind} : champ(s) inconnu(s) {', '.join(unknown)} ; "
                                    f"champs possibles : {', '.join(events.HOSPITAL_FIELDS)}")
    stay = data.get(events.STAY)
    if (stay is not None or kind in events.CANCELS) and (
            not isinstance(stay, str) or not stay.strip() or len(stay) > 64):
        required = "est obligatoire pour une annulation" if kind in events.CANCELS else "est"
        raise InvalidEventDataError(f"{kind} : l'identifiant du séjour (stay) {required} "
                                    "un texte de 1 à 64 caractères")
    out: dict[str, Any] = {events.STAY: stay.strip()} if isinstance(stay, str) else {}
    if kind in events.CANCELS:
        extra = sorted(set(data) - {events.STAY})
        if extra:
            raise InvalidEventDataError(f"{kind} : seul le séjour (stay) est attendu, pas "
                                        f"{', '.join(extra)}")
        return out
    planned = data.get(events.PLANNED)
    if planned is not None and not isinstance(planned, bool):
        raise InvalidEventDataError(f"{kind} : 'planned' vaut vrai (programmé) ou faux "
                                    f"(non programmé), pas {planned!r}")
    reason = data.get(events.REASON)
    if reason is not None and (not isinstance(reason, str) or len(reason) > 200):
        raise InvalidEventDataError(f"{kind} : le motif (reason) est un texte de 200 "
                                    "caractères au plus")
    destination = data.get(events.DESTINATION)
    if destination is not None and kind != events.DISCHARGE:
        raise InvalidEventDataError(f"{kind} : la destination ne concerne que la sortie")
    if destination is not None and destination not in events.DESTINATIONS:
        raise InvalidEventDataError(f"destination de sortie inconnue {destination!r} ; "
                                    f"possibles : {', '.join(events.DESTINATIONS)}")
    out.update({k: v for k, v in ((events.PLANNED, planned), (events.REASON, reason),
                                  (events.DESTINATION, destination)) if v is not None})
    return out


def stay_of(event: Event) -> str | None:
    stay = event.data.get(events.STAY) if events.is_hospital(event.name) else None
    return stay if isinstance(stay, str) else None


def already_applied(case: Case, event: Event) -> bool:
    """This stay's event (or cancellation) was applied, and not undone since."""
    stay = stay_of(event)
    record = case.stays.get(stay, {}).get(event.name) if stay is not None else None
    return record is not None and not record.get("undone")


def remember(before: Case, outcome: Outcome, event: Event) -> Outcome:
    """The outcome with the stay recorded on its case: what to restore, what was created."""
    stay = stay_of(event)
    if stay is None or event.name in events.CANCELS:
        return outcome
    record = {"at": event.at.isoformat(), "before": _snapshot(before),
              "created": [e.ref for e in outcome.effects if isinstance(e, TaskCreated)],
              "closed": [[e.ref, e.key] for e in outcome.effects
                         if isinstance(e, TaskCancelled)]}
    stays = {k: dict(v) for k, v in outcome.case.stays.items()}
    stays.setdefault(stay, {})[event.name] = record
    for cancel, original in events.CANCELS.items():  # a new delivery may be cancelled again
        if original == event.name:
            stays[stay].pop(cancel, None)
    while len(stays) > MAX_STAYS:
        del stays[next(iter(stays))]
    return Outcome(_with(outcome.case, stays=stays), outcome.effects)


def undo(case: Case, event: Event) -> Outcome:
    """Undo the admission or discharge a cancellation names, as far as possible."""
    stay = stay_of(event) or ""
    original = events.CANCELS[event.name]
    record = case.stays.get(stay, {}).get(original)
    if record is None or record.get("undone"):
        why = "déjà annulé" if record else "inconnu pour ce dossier"
        return Outcome(case, (HospitalEventUndone(event.at, original, stay, (), (), (),
                                                  f"rien à annuler : séjour {why}"),))
    before = Case.from_dict(record["before"])
    effects: list[Effect] = []
    created = set(record["created"])
    reason = f"{original} annulée (séjour {stay})"
    tasks = []
    for task in case.tasks:
        if task.ref in created:
            effects.append(TaskCancelled(event.at, task.ref, task.key, reason))
        else:
            tasks.append(task)
    effects += _timer_changes(case, before, event.at)
    closed = tuple(ref for ref, _ in record["closed"])
    effects.append(HospitalEventUndone(
        event.at, original, stay, before.active, tuple(e.ref for e in effects
                                                       if isinstance(e, TaskCancelled)),
        closed, "tâches fermées par l'événement non rouvertes" if closed else ""))
    stays = {k: dict(v) for k, v in case.stays.items()}
    stays[stay][original] = {**record, "undone": event.at.isoformat()}
    stays[stay][event.name] = {"at": event.at.isoformat()}
    restored = Case(before.active, dict(before.facts), before.timers, tuple(tasks), case.seq,
                    case.closed_at, case.history, stays)
    return Outcome(restored, tuple(effects))


def _timer_changes(now_case: Case, before: Case, at: datetime) -> list[Effect]:
    current = {(t.state, t.name): t for t in now_case.timers}
    former = {(t.state, t.name): t for t in before.timers}
    out: list[Effect] = [TimerCancelled(at, t.name, t.state)
                         for slot, t in current.items() if former.get(slot) != t]
    out += [TimerSet(t.name, t.state, t.fire_at) for slot, t in former.items()
            if current.get(slot) != t]
    return out


def _snapshot(case: Case) -> dict[str, Any]:
    data = case.to_dict()
    return {k: data[k] for k in ("active", "facts", "timers", "zone") if k in data}


def _with(case: Case, *, stays: Mapping[str, Any]) -> Case:
    return Case(case.active, case.facts, case.timers, case.tasks, case.seq, case.closed_at,
                case.history, jsonable(stays))
