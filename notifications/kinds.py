"""Outbox kinds as professionals read them: French labels and the template of each kind.

The kinds themselves are owned by the engine (``engine.outbox``), which writes the
rows; they are re-exported here for the dispatch code.
"""

from __future__ import annotations

from engine.outbox import (
    ALWAYS_IMMEDIATE,
    DAILY_DIGEST,
    DELIVERY_FAILURE,
    HOSPITAL_ADMISSION,
    HOSPITAL_DISCHARGE,
    KINDS,
    OPEN_TASK_ONLY,
    PATHWAY_MESSAGE,
    PATHWAY_TEMPLATES,
    SIGN_IN_LINK,
    TASK_ASSIGNED,
    TASK_CANCELLED,
    TASK_DECLINED,
    TASK_KINDS,
    TASK_OVERDUE,
    TASK_REMINDER,
    TEMPLATES,
)

__all__ = ["ALWAYS_IMMEDIATE", "DAILY_DIGEST", "DELIVERY_FAILURE", "HOSPITAL_ADMISSION",
           "HOSPITAL_DISCHARGE", "KINDS", "LABELS", "OPEN_TASK_ONLY", "PATHWAY_MESSAGE",
           "PATHWAY_TEMPLATES", "SIGN_IN_LINK", "TASK_ASSIGNED", "TASK_CANCELLED", "TASK_DECLINED",
           "TASK_KINDS", "TASK_OVERDUE", "TASK_REMINDER", "TEMPLATES", "label", "template_of"]

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
