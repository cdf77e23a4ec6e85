"""« À traiter »: each fix of the coordinator's queue, on SQLite and PostgreSQL.

Every action: CSRF like the other forms, French validation that writes nothing, one
history line, a 303 back to the queue with a French confirmation.
"""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from engine import outbox
from engine.store import inbox, queue
from engine.store.db import transaction
from engine.store.tables import (
    CareTeamMember,
    CaseEvent,
    CaseRow,
    InboxRow,
    ObservationRow,
    OutboxRow,
    Professional,
    TaskRow,
)
from tests.web.conftest import COORDINATOR, GP, NOW, NURSE, T0, Web, csrf_of

JEAN = 2
PAGE = "/coordination/a-traiter"


def _post(client: TestClient, action: str, data: dict[str, str] | None = None) -> object:
    form = {"csrf": csrf_of(client.get(PAGE).text), **(data or {})}
    return client.post(action, data=form)


def _history(web: Web, kind: str) -> int:
    with transaction(web.engine) as db:
        return db.scalar(select(func.count()).select_from(CaseEvent)
                         .where(CaseEvent.kind == kind)) or 0


def _jean_without_nurse(web: Web) -> int:
    """Jean has a GP but no nurse: his foot exam waits for someone to hold the role."""
    web.service.enroll("P-002", "exemple-suivi", T0)
    web.service.complete_task(web.task("bilan_initial"), {}, T0, T0)
    task = web.task("examen_pieds")
    row = web.row(task)
    assert row.unassigned_role and row.assignee_id == COORDINATOR
    return task


def test_a_vacant_role_is_filled_from_the_queue_and_the_task_reaches_the_professional(
        web: Web) -> None:
    task = _jean_without_nurse(web)
    coordinator = web.signed_in(COORDINATOR)
    page = coordinator.get(PAGE).text
    assert f'action="/coordination/a-traiter/taches/{task}/role"' in page
    assert "Jean MOREAU" in page

    refused = _post(coordinator, f"{PAGE}/taches/{task}/role", {"professionnel": "x"})
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "choisissez un professionnel" in refused.text  # type: ignore[attr-defined]
    assert web.row(task).unassigned_role

    done = _post(coordinator, f"{PAGE}/taches/{task}/role", {"professionnel": str(NURSE)})
    assert done.status_code == 303  # type: ignore[attr-defined]
    assert done.headers["location"].startswith(f"{PAGE}?fait=role&id={task}")  # type: ignore[attr-defined]
    row = web.row(task)
    assert (row.assignee_id, row.unassigned_role, row.status) == (NURSE, False, "requested")
    with transaction(web.engine) as db:
        member = db.scalars(select(CareTeamMember).where(
            CareTeamMember.patient_id == JEAN, CareTeamMember.role == "infirmier")).one()
        told = db.scalars(select(OutboxRow).where(
            OutboxRow.task_id == task, OutboxRow.recipient_id == NURSE,
            OutboxRow.kind == outbox.TASK_ASSIGNED)).all()
    assert member.professional_id == NURSE and len(told) == 1
    assert _history(web, queue.ROLE_FILLED) == 1
    after = coordinator.get(done.headers["location"]).text  # type: ignore[attr-defined]
    assert "Anne BERNARD rejoint l&#39;équipe de soins" in after
    assert f"/taches/{task}/role" not in after
    # the nurse now sees it among her tasks
    assert f"/tasks/{task}" in web.signed_in(NURSE).get("/tasks").text


def test_a_declined_task_is_reassigned_from_the_queue(web: Web) -> None:
    task = web.marie_in_follow_up()
    web.service.decline_task(task, NURSE, "patiente suivie par un autre cabinet", NOW)
    coordinator = web.signed_in(COORDINATOR)
    assert "patiente suivie par un autre cabinet" in coordinator.get(PAGE).text
    done = _post(coordinator, f"{PAGE}/taches/{task}/reattribuer", {"professionnel": str(GP)})
    assert done.status_code == 303  # type: ignore[attr-defined]
    row = web.row(task)
    assert (row.assignee_id, row.status) == (GP, "requested")
    missing = _post(coordinator, f"{PAGE}/taches/999999/reattribuer", {"professionnel": "1"})
    assert missing.status_code == 404  # type: ignore[attr-defined]


def _refused_observation(web: Web, value: str, unit: str | None = "%") -> int:
    payload = {"code": "4548-4", "value": value} | ({"unit": unit} if unit else {})
    with transaction(web.engine) as db:
        row = inbox.enqueue(db, "observation", effective_at=NOW, received_at=NOW,
                            patient_ref="195031234567890", source="labo-test",
                            payload=payload)
    report = inbox.drain(web.service, NOW, 10)
    assert len(report.failed) == 1
    return row.id


def test_a_refused_observation_is_corrected_and_applied(web: Web) -> None:
    web.marie_in_follow_up()
    row_id = _refused_observation(web, "78")
    coordinator = web.signed_in(COORDINATOR)
    page = coordinator.get(PAGE).text
    assert f'id="erreur-{row_id}"' in page and "InputError" not in page
    # still wrong: refused again, nothing written
    again = _post(coordinator, f"{PAGE}/evenements/{row_id}/corriger", {"valeur": "45"})
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert "refusé à nouveau" in again.text  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        assert db.get(InboxRow, row_id).status == "failed"  # type: ignore[union-attr]
        assert db.scalar(select(func.count()).select_from(ObservationRow)) == 0
    done = _post(coordinator, f"{PAGE}/evenements/{row_id}/corriger",
                 {"valeur": "7,8", "unite": "%"})
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        row = db.get(InboxRow, row_id)
        assert row is not None and row.status == "applied" and row.error is None
        assert row.payload["received"]["value"] == "78"
        assert db.scalars(select(ObservationRow.value)).one() == 7.8
    assert _history(web, queue.INBOUND_CORRECTED) == 1


def test_a_refused_event_is_discarded_with_a_reason(web: Web) -> None:
    web.marie_in_follow_up()
    row_id = _refused_observation(web, "78", unit=None)   # interfaces may send no unit
    coordinator = web.signed_in(COORDINATOR)
    no_reason = _post(coordinator, f"{PAGE}/evenements/{row_id}/ecarter", {"motif": "  "})
    assert no_reason.status_code == 400  # type: ignore[attr-defined]
    assert "motif : obligatoire" in no_reason.text.lower()  # type: ignore[attr-defined]
    done = _post(coordinator, f"{PAGE}/evenements/{row_id}/ecarter",
                 {"motif": "doublon saisi à la main"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        row = db.get(InboxRow, row_id)
    assert row is not None and row.status == "discarded"
    assert "doublon saisi à la main" in (row.error or "")
    twice = _post(coordinator, f"{PAGE}/evenements/{row_id}/ecarter", {"motif": "encore"})
    assert twice.status_code == 400  # type: ignore[attr-defined]


def test_an_undelivered_message_is_resent_to_a_corrected_address(web: Web) -> None:
    task = web.marie_in_follow_up()
    with transaction(web.engine) as db:
        row_id = db.execute(insert(OutboxRow).values(
            idempotency_key=f"test:{uuid.uuid4()}", kind=outbox.TASK_ASSIGNED, task_id=task,
            case_id=web.row(task).case_id, recipient_id=NURSE, payload={}, status="dead",
            attempts=5, created_at=NOW, next_attempt_at=NOW, channel="email",
            last_error="550 mailbox unavailable").returning(OutboxRow.id)).scalar_one()
    coordinator = web.signed_in(COORDINATOR)
    assert "550 mailbox unavailable" in coordinator.get(PAGE).text
    bad = _post(coordinator, f"{PAGE}/messages/{row_id}/renvoyer", {"adresse": "anne@"})
    assert bad.status_code == 400  # type: ignore[attr-defined]
    assert "adresse de messagerie complète" in bad.text  # type: ignore[attr-defined]
    done = _post(coordinator, f"{PAGE}/messages/{row_id}/renvoyer",
                 {"adresse": "anne.bernard@cabinet.example.fr"})
    assert done.status_code == 303  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        row = db.get(OutboxRow, row_id)
        nurse = db.get(Professional, NURSE)
    assert row is not None and (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert nurse is not None and nurse.email == "anne.bernard@cabinet.example.fr"
    assert _history(web, queue.MESSAGE_RESENT) == 1


def test_a_case_whose_timers_failed_is_retried(web: Web) -> None:
    web.marie_in_follow_up()
    with transaction(web.engine) as db:
        case_id = db.scalars(select(CaseRow.id)).one()
        db.execute(insert(CaseEvent).values(
            case_id=case_id, at=NOW, recorded_at=NOW, actor_kind="system", kind="advance_failed",
            data={"error": "garde invalide"}))
        assert [f.case_id for f in queue.failed_timers(db)] == [case_id]
    coordinator = web.signed_in(COORDINATOR)
    assert "garde invalide" in coordinator.get(PAGE).text
    done = _post(coordinator, f"{PAGE}/dossiers/{case_id}/relancer")
    assert done.status_code == 303  # type: ignore[attr-defined]
    with transaction(web.engine) as db:
        assert queue.failed_timers(db) == []
    assert _history(web, queue.TIMERS_RETRIED) == 1


def test_overdue_tasks_are_grouped_by_professional_name(web: Web) -> None:
    task = web.marie_in_follow_up()
    with transaction(web.engine) as db:
        db.get(TaskRow, task).due_at = NOW.replace(year=2025)  # type: ignore[union-attr]
    page = web.signed_in(COORDINATOR).get(PAGE).text
    assert "Anne BERNARD — 1 tâche en retard" in page
    csv = web.signed_in(COORDINATOR).get(f"{PAGE}/retards.csv")
    assert csv.text.startswith("\ufeffTâche;N° tâche;Rôle;Échéance")
    assert "Anne BERNARD" in csv.text and "Marie DURAND" in csv.text


def test_actions_need_the_session_csrf_token(web: Web) -> None:
    task = _jean_without_nurse(web)
    coordinator = web.signed_in(COORDINATOR)
    coordinator.get(PAGE)
    response = coordinator.post(f"{PAGE}/taches/{task}/role",
                                data={"csrf": "forged", "professionnel": str(NURSE)})
    assert response.status_code == 403
    assert web.row(task).unassigned_role


def test_the_menu_totals_are_the_live_counts(web: Web, monkeypatch: object) -> None:
    """The page sums the per-professional overdue counts and counts the failed timers from
    its list: the menu must say what ``queue.counts`` says, also when the list is cut."""
    task = web.marie_in_follow_up()
    with transaction(web.engine) as db:
        db.get(TaskRow, task).due_at = NOW.replace(year=2025)  # type: ignore[union-attr]
        case_id = db.scalars(select(CaseRow.id)).one()
        db.execute(insert(CaseEvent).values(
            case_id=case_id, at=NOW, recorded_at=NOW, actor_kind="system", kind="advance_failed",
            data={"error": "garde invalide"}))
    with transaction(web.engine) as db:
        totals = queue.counts(db, NOW)
    assert totals["overdue"] >= 1 and totals["timers"] == 1
    coordinator = web.signed_in(COORDINATOR)
    for limit in (queue.LIMIT, 1):  # 1: the timers' list is cut, so they are counted again
        monkeypatch.setattr(queue, "LIMIT", limit)  # type: ignore[attr-defined]
        page = coordinator.get(PAGE).text
        assert f"Tâches en retard ({totals['overdue']})" in page
        assert f"Échéances en échec ({totals['timers']})" in page
