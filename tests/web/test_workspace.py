"""The workspace at work: completing a task moves the case and says what comes next; the
inbox; taking, declining and reassigning a task; the layering of ``web``."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine.store.db import transaction
from engine.store.tables import CaseRow, OutboxRow, TaskRow
from tests.db.world import T0
from tests.web.conftest import (
    COORDINATOR,
    GP,
    MARIE,
    NURSE,
    OUTSIDER,
    ROOT,
    Web,
    post_form,
)
from web.routes import tasks as tasks_routes


def test_completing_a_task_moves_the_case_and_says_what_comes_next(web: Web) -> None:
    web.service.enroll("195031234567890", "exemple-suivi", T0)
    task = web.task("bilan_initial")
    gp = web.signed_in(GP)
    done = post_form(gp, f"/tasks/{task}", f"/tasks/{task}/terminer", key=True)
    assert done.status_code == 200  # type: ignore[attr-defined]
    html = done.text  # type: ignore[attr-defined]
    assert "Tâche terminée, résultat enregistré." in html
    assert "Nouvelle tâche : Examiner les pieds (monofilament) et grader le risque " \
           "(Infirmier : Anne Bernard), à faire au plus tard le dimanche 8 février 2026." in html
    assert "Le parcours passe à l&#39;étape « Suivi »." in html
    assert "Prochaine échéance du parcours : le mercredi 8 avril 2026." in html
    with transaction(web.engine) as db:
        case = db.scalars(select(CaseRow)).one()
    assert "suivi.pieds.examen" in case.active_states and web.row(task).status == "completed"
    assert web.row(task).closed_by == GP

    exam = web.task("examen_pieds")
    nurse = web.signed_in(NURSE)
    graded = post_form(nurse, f"/tasks/{exam}", f"/tasks/{exam}/terminer",
                       {"resultat_grade": "2"}, key=True)
    assert "étape « prevention »" in graded.text  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        case = db.scalars(select(CaseRow)).one()
    assert "suivi.pieds.prevention" in case.active_states and case.facts["foot_grade"] == 2


def test_inbox_overdue_first_with_days_late_filters_and_counts(web: Web) -> None:
    web.marie_in_follow_up()  # exam due 5 February (T0 + 1 month)
    web.service.enroll("P-002", "exemple-suivi", T0)  # Jean: GP's assessment, due 20 January
    web.clock.set(T0 + timedelta(days=32, hours=15))  # 6 February, 23:00 UTC = 7th in Paris
    nurse = web.signed_in(NURSE).get("/tasks").text
    assert "en retard de 2 jours" in nurse and "MOREAU" not in nurse
    gp_page = web.signed_in(GP)
    html = gp_page.get("/tasks").text
    assert html.count('<li class="task') == 1 and "en retard de 18 jours" in html
    web.clock.set(T0 + timedelta(days=1))
    html = gp_page.get("/tasks").text
    assert "en retard de" not in html and "<strong>0</strong> en retard" in html
    coordinator = web.signed_in(COORDINATOR)
    assert "Aucune tâche ouverte" in coordinator.get("/tasks").text
    filtered = gp_page.get("/tasks?patient=999").text
    assert "Aucune tâche ouverte pour ce filtre" in filtered
    by_pathway = gp_page.get("/tasks?parcours=exemple-suivi").text
    assert "<strong>1</strong> tâche(s) ouverte(s)" in by_pathway


def test_open_task_of_my_role_is_listed_and_can_be_taken(web: Web) -> None:
    task = web.marie_in_follow_up()
    with transaction(web.engine) as db:  # assigned elsewhere (e.g. before a team change)
        row = db.get(TaskRow, task)
        assert row is not None
        row.assignee_id = COORDINATOR
    nurse = web.signed_in(NURSE)
    assert "non attribuée à vous" in nurse.get("/tasks").text
    taken = post_form(nurse, f"/tasks/{task}", f"/tasks/{task}/prendre")
    assert "vous vous occupez de cette tâche" in taken.text  # type: ignore[attr-defined]
    row = web.row(task)
    assert (row.status, row.assignee_id, row.accepted_at) == ("accepted", NURSE,
                                                              web.clock.now())
    assert "prise en charge" in nurse.get("/tasks").text


def test_declined_task_goes_to_the_coordinator_who_reassigns_it(web: Web) -> None:
    task = web.marie_in_follow_up()
    nurse = web.signed_in(NURSE)
    declined = post_form(nurse, f"/tasks/{task}", f"/tasks/{task}/refuser",
                         {"motif": "Patiente suivie par un autre cabinet"})
    assert "la coordination de la CPTS est prévenue" in declined.text  # type: ignore[attr-defined]
    row = web.row(task)
    assert (row.status, row.assignee_id, row.declined_by) == ("declined", COORDINATOR, NURSE)
    with transaction(web.engine) as db:
        notice = db.scalars(select(OutboxRow).where(OutboxRow.kind == "task_declined")).one()
    assert notice.recipient_id == COORDINATOR and notice.task_id == task
    assert web.signed_in(OUTSIDER).get(f"/tasks/{task}").status_code == 404
    coordinator = web.signed_in(COORDINATOR)
    page = coordinator.get("/coordination").text
    assert "Patiente suivie par un autre cabinet" in page and f'id="refusee-{task}"' in page
    done = post_form(coordinator, "/coordination", f"/tasks/{task}/reattribuer",
                     {"professionnel": str(OUTSIDER)})
    assert "confiée à Luc Petit" in done.text  # type: ignore[attr-defined]
    row = web.row(task)
    assert (row.status, row.assignee_id) == ("requested", OUTSIDER)
    with transaction(web.engine) as db:
        told = db.scalars(select(OutboxRow).where(OutboxRow.kind == "task_assigned",
                                                  OutboxRow.recipient_id == OUTSIDER)).one()
    assert told.task_id == task
    luc = web.signed_in(OUTSIDER)
    assert luc.get(f"/tasks/{task}").status_code == 200
    assert luc.get(f"/patients/{MARIE}").status_code == 200
    assert "Aucune tâche refusée" in coordinator.get("/coordination").text


def test_web_never_imports_prefect_or_flows() -> None:
    code = ("import sys, web, web.app; web.app.create_app; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_inbox_lists_one_page_at_a_time_most_urgent_first(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks_routes, "INBOX_PAGE", 1)
    web.service.enroll("195031234567890", "exemple-suivi", T0)
    web.service.enroll("P-002", "exemple-suivi", T0)       # two initial assessments for the GP
    gp = web.signed_in(GP)
    first = gp.get("/tasks").text
    assert first.count('<li class="task') == 1 and "Tâches 1 à 1 sur 2" in first
    assert "<strong>2</strong> tâche(s) ouverte(s)" in first       # the counts cover all pages
    assert 'href="/tasks?page=2"' in first and "page-precedente" not in first
    second = gp.get("/tasks?page=2").text
    assert second.count('<li class="task') == 1 and "Tâches 2 à 2 sur 2" in second
    assert 'href="/tasks?page=1"' in second and "page-suivante" not in second
    titles = {line for line in (first + second).splitlines() if 'id="tache-' in line}
    assert len(titles) == 2                                          # each task once
    assert "Tâches 2 à 2 sur 2" in gp.get("/tasks?page=99").text   # past the end: the last
    assert gp.get("/tasks?page=abc").status_code == 404   # as every malformed address
    only_one = gp.get("/tasks?parcours=exemple-suivi&page=1").text  # filters kept in links
    assert 'href="/tasks?parcours=exemple-suivi&amp;page=2"' in only_one
