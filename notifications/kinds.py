"""The vocabulary of outbox ``kind`` values and what each one means for dispatch.

Rows are written by the engine (``task_assigned``, ``task_cancelled``, a
pathway's ``notify`` action as ``pathway_message`` or the ``template`` its
author named), by the escalation flow (``task_reminder``, ``task_overdue``)
and by this package (``daily_digest``, ``delivery_failure``).
"""

from __future__ import annotations

from engine.store.task_actions import DECLINED_NOTICE

TASK_ASSIGNED = "task_assigned"
TASK_REMINDER = "task_reminder"
TASK_OVERDUE = "task_overdue"
TASK_CANCELLED = "task_cancelled"
PATHWAY_MESSAGE = "pathway_message"
DAILY_DIGEST = "daily_digest"
DELIVERY_FAILURE = "delivery_failure"
#: A professional declined a task (written by ``engine.store.task_actions``): to the
#: coordinator, who can reassign it.
TASK_DECLINED = DECLINED_NOTICE
#: A one-time sign-in link to the web workspace (``web.auth``): sent at once, never stored
#: in the outbox (the link is a secret); the link is ``payload["link"]``.
SIGN_IN_LINK = "sign_in_link"

#: Variants of ``pathway_message`` a pathway author may name in ``notify: template:``.
HOSPITAL_ADMISSION = "hospital_admission"
HOSPITAL_DISCHARGE = "hospital_discharge"

KINDS = (TASK_ASSIGNED, TASK_REMINDER, TASK_OVERDUE, TASK_CANCELLED, PATHWAY_MESSAGE,
         DAILY_DIGEST, DELIVERY_FAILURE, TASK_DECLINED, SIGN_IN_LINK)
PATHWAY_TEMPLATES = (PATHWAY_MESSAGE, HOSPITAL_ADMISSION, HOSPITAL_DISCHARGE)
TEMPLATES = (*KINDS, HOSPITAL_ADMISSION, HOSPITAL_DISCHARGE)

#: Kinds about one task: not sent once the task is closed (cancelled, completed…).
TASK_KINDS = (TASK_ASSIGNED, TASK_REMINDER, TASK_OVERDUE, TASK_CANCELLED)
#: Kinds whose message is moot once their task is closed.
OPEN_TASK_ONLY = (TASK_ASSIGNED, TASK_REMINDER, TASK_OVERDUE)
#: Kinds never held for a daily digest.
ALWAYS_IMMEDIATE = (DAILY_DIGEST, DELIVERY_FAILURE, SIGN_IN_LINK)

LABELS = {
    TASK_ASSIGNED: "nouvelle tâche",
    TASK_REMINDER: "rappel de tâche",
    TASK_OVERDUE: "tâche en retard",
    TASK_CANCELLED: "tâche annulée",
    PATHWAY_MESSAGE: "message du parcours",
    HOSPITAL_ADMISSION: "hospitalisation",
    HOSPITAL_DISCHARGE: "sortie d'hospitalisation",
    DAILY_DIGEST: "récapitulatif quotidien",
    DELIVERY_FAILURE: "échec d'envoi",
    TASK_DECLINED: "tâche refusée",
    SIGN_IN_LINK: "lien de connexion",
}


def template_of(kind: str) -> str:
    """The template that renders ``kind``: an unknown pathway template falls back to
    ``pathway_message`` (the author's text is in the payload either way)."""
    return kind if kind in TEMPLATES else PATHWAY_MESSAGE


def label(kind: str) -> str:
    return LABELS.get(kind, LABELS[PATHWAY_MESSAGE])
