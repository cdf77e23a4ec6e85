"""French words of the coordinators' commands for the codes the engine stores.

Task statuses are FHIR codes (``requested``, ``completed``…), history kinds and inbox
statuses are English identifiers: the command line shows them in French and accepts
French words for its filters. Keys here are data (the stored codes); the vocabulary
itself stays in ``engine/events.py``, ``engine/case.py`` and ``engine/store/tables.py``.
"""

from __future__ import annotations

from engine.store.exceptions import InputError
from engine.text import fold

#: ``--status`` words of ``parcours tasks`` (accents optional) → stored status or ``open``
TASK_STATUS_OPTIONS = {"ouvertes": "open", "a-faire": "requested", "prises": "accepted",
                       "en-cours": "in-progress", "en-attente": "on-hold",
                       "refusees": "declined", "terminees": "completed",
                       "annulees": "cancelled", "en-echec": "failed"}

#: history (and count) kinds → French
HISTORY = {"enrolment": "inscription", "transition": "changement d'étape",
           "task_created": "tâche créée", "task_completed": "tâche terminée",
           "task_cancelled": "tâche annulée", "timer_fired": "échéance atteinte",
           "fact_set": "valeur enregistrée", "notification": "message aux professionnels",
           "guard_failed": "condition en erreur", "case_closed": "dossier clos",
           "hospital_event_undone": "événement hospitalier annulé",
           "advance_failed": "échec du passage automatique",
           "observation_corrected": "observation corrigée",
           "observation": "observation", "event": "événement de parcours",
           "admission": "entrée à l'hôpital", "discharge": "sortie d'hospitalisation",
           "admission_cancelled": "entrée à l'hôpital annulée",
           "discharge_cancelled": "sortie annulée", "task_declined": "tâche refusée",
           "task_accepted": "tâche prise en charge", "task_reassigned": "tâche réattribuée",
           "case_closed_by_coordinator": "dossier clos par la coordination",
           # the coordinator's queue (web/routes/coord_queue.py, engine/store/queue.py)
           "care_team_role_filled": "rôle pourvu dans l'équipe de soins par la coordination",
           "inbound_corrected": "événement entrant corrigé par la coordination",
           "inbound_discarded": "événement entrant écarté par la coordination",
           "message_resent": "message renvoyé par la coordination",
           "timers_retried": "échéances relancées par la coordination"}

#: statuses of the inbound events (``parcours inbox``)
INBOX_STATUS = {"pending": "en attente", "applied": "appliqué", "duplicate": "doublon",
                "failed": "refusé", "processing": "en cours", "discarded": "écarté"}
INBOX_STATUS_OPTIONS = {"en-attente": "pending", "appliques": "applied",
                        "doublons": "duplicate", "refuses": "failed", "ecartes": "discarded"}

#: actor kinds of the history
ACTOR = {"system": "le parcours", "professional": "un professionnel",
         "coordinator": "la coordination"}

def history(kind: str) -> str:
    """A history or count kind in French (an unknown one keeps its code, in quotes)."""
    return HISTORY.get(kind, f"« {kind} »")


def task_status(status: str) -> str:
    """A task's status in French (``engine.store.tables`` is imported only when needed: the
    command line's parser must stay light)."""
    from engine.store.tables import TASK_STATUS_TITLES

    return TASK_STATUS_TITLES.get(status, status)


def choice(text: str | None, options: dict[str, str], codes: tuple[str, ...],
           what: str) -> str | None:
    """A French filter word (or a stored code, for scripts) → the stored code."""
    if text is None:
        return None
    word = fold(text).replace(" ", "-").replace("_", "-")
    if word in options:
        return options[word]
    if text in codes:
        return text
    raise InputError(f"{what} {text!r} inconnu ; valeurs possibles : {', '.join(options)}")

#: ``--status`` words of ``parcours outbox`` → stored statuses of the outbox
OUTBOX_STATUS_OPTIONS = {"en-attente": "pending", "en-cours": "sending", "envoyes": "sent",
                         "sans-objet": "skipped", "pour-recap": "digest",
                         "dans-un-recap": "digested", "en-echec": "dead"}
