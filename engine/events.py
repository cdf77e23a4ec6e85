"""The vocabulary of events: every event kind and how an event name is built and read.

This module is the only place where these words are spelled out; everything
else (checker, compiler, runtime, store, inbox, CLI, author tools) imports
them from here, so adding a kind of clinical event starts here. A test
(``tests/test_vocabulary.py``) fails if one of them is written as a string
literal anywhere else.

An event name is either

- a *bare* name: a built-in hospital event (``admission``, ``discharge``) or
  an event the pathway declares itself (``sortie``, ``deces``…); or
- ``KIND:KEY``: ``observation:hba1c`` (a result arrived), ``task_completed:bilan``
  (a task was done), ``timer:relance`` (a state's timer fired).

The inbox stores one *inbound* kind per row: an observation, a hospital
event, a task completion, or a pathway event (``event``).
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """The ``KIND`` of a ``KIND:KEY`` event name."""

    OBSERVATION = "observation"
    TASK_COMPLETED = "task_completed"
    TIMER = "timer"


OBSERVATION = EventKind.OBSERVATION
TASK_COMPLETED = EventKind.TASK_COMPLETED
TIMER = EventKind.TIMER
#: Every ``KIND`` an author may write before a colon.
KINDS: tuple[str, ...] = tuple(k.value for k in EventKind)

#: Built-in hospital events, known to every pathway without a declaration.
ADMISSION = "admission"
DISCHARGE = "discharge"
#: HL7 ADT A11 (cancel admit) and A13 (cancel discharge): undo what the event caused
ADMISSION_CANCELLED = "admission_cancelled"
DISCHARGE_CANCELLED = "discharge_cancelled"
HOSPITAL_EVENTS: tuple[str, ...] = (ADMISSION, DISCHARGE, ADMISSION_CANCELLED,
                                    DISCHARGE_CANCELLED)
#: a cancellation → the hospital event it cancels
CANCELS: dict[str, str] = {ADMISSION_CANCELLED: ADMISSION, DISCHARGE_CANCELLED: DISCHARGE}

#: The typed data of a hospital event (``event.data.FIELD`` in guards).
STAY = "stay"
PLANNED = "planned"
REASON = "reason"
DESTINATION = "destination"
HOSPITAL_FIELDS: tuple[str, ...] = (STAY, PLANNED, REASON, DESTINATION)
#: where a patient goes on discharge
DESTINATIONS: tuple[str, ...] = ("domicile", "ehpad", "ssr", "had", "autre_etablissement",
                                 "deces")

#: The event a migration to another pathway version applies (``Runtime.enter``): what
#: guards and ``set:`` expressions of the states it enters see as ``event.name``.
MIGRATION = "migration"

#: Inbox row kinds: what an interface or an import may deliver.
PATHWAY_EVENT = "event"
#: A message from an interface kept as received (HL7 v2, FHIR): refused at the door, or
#: one that changes no case (A08 identity update, A05 pre-admission); ``retry`` reads it
#: again (after the coordinator has, say, linked the hospital's identifier to a patient).
MESSAGE = "message"
INBOUND_KINDS: tuple[str, ...] = (OBSERVATION.value, ADMISSION, DISCHARGE, ADMISSION_CANCELLED,
                                  DISCHARGE_CANCELLED, TASK_COMPLETED.value, PATHWAY_EVENT,
                                  MESSAGE)


def name(kind: EventKind, key: str) -> str:
    """``name(OBSERVATION, 'hba1c')`` → ``'observation:hba1c'``."""
    return f"{kind.value}:{key}"


def observation(key: str) -> str:
    return name(EventKind.OBSERVATION, key)


def task_completed(key: str) -> str:
    return name(EventKind.TASK_COMPLETED, key)


def timer(key: str) -> str:
    return name(EventKind.TIMER, key)


def parse(event_name: str) -> tuple[str, str]:
    """``'observation:hba1c'`` → ``('observation', 'hba1c')``; ``'sortie'`` → ``('sortie', '')``."""
    head, _, key = event_name.partition(":")
    return head, key


def key_of(event_name: str, kind: EventKind) -> str | None:
    """The KEY of ``event_name`` when it is of ``kind``, else None."""
    head, key = parse(event_name)
    return key if head == kind.value and key else None


def is_hospital(event_name: str) -> bool:
    return event_name in HOSPITAL_EVENTS
