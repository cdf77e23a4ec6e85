"""After an action, say what happened next in the pathway, from what the service returned.

« Nouvelle tâche : Prescrire le dosage de l'HbA1c (Médecin traitant : Paul Martin), à
faire avant le jeudi 12 mars 2026. » · « Le parcours passe à l'étape « Suivi ». » ·
« Prochaine échéance du parcours : le lundi 6 avril 2026. »
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.store.service import Applied
from notifications.formatting import date_fr
from web.views import professional_name, role_title, state_title


def describe(db: Session, applied: Applied, done: str) -> list[str]:
    if applied.duplicate:
        return ["Ce formulaire avait déjà été envoyé : il n'a été appliqué qu'une fois, "
                "rien n'a changé."]
    lines = [done]
    for task in applied.tasks_created:
        who = professional_name(db, task.get("assignee_id"))
        role = role_title(db, task["case_id"], task["role"])
        lines.append(f"Nouvelle tâche : {task['title']} ({role}{' : ' + who if who else ''}),"
                     f" à faire avant le {date_fr(task['due_at'])}.")
    for case_id in applied.case_ids:
        for state in dict.fromkeys(s for c, s in applied.entered if c == case_id):
            lines.append(f"Le parcours passe à l'étape « {state_title(db, case_id, state)} ».")
        due = applied.next_due.get(case_id)
        if due is not None:
            lines.append(f"Prochaine échéance du parcours : le {date_fr(due)}.")
    if len(lines) == 1 and not applied.case_ids:
        lines.append("Aucun parcours en cours de ce patient n'utilise cette observation.")
    return lines
