"""Who sees what: every page and action × (assigned professional, other member of the
care team, professional outside it, coordinator, signed out).

Allowed → 200 (or the case link's 303 to the patient page); not theirs → the same 404 as
for something that does not exist; signed out → 303 to the sign-in page. A refused action
writes nothing; a refused read is not written to the access log.
"""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.store.db import transaction
from engine.store.tables import (
    AccessLogRow,
    CaseEvent,
    ObservationRow,
    OutboxRow,
    Patient,
    TaskRow,
)
from tests.web.conftest import COORDINATOR, GP, MARIE, NURSE, OUTSIDER, Web, csrf_of

ACTORS = {"assigned": NURSE, "care_team": GP, "outsider": OUTSIDER,
          "coordinator": COORDINATOR, "signed_out": None}
OK, MISSING, SIGN_IN, CASE_LINK, REFUSED_INPUT = 200, 404, "sign-in", 303, 400

#: page → expected answer for assigned, care team, outsider, coordinator, signed out
PAGES = {
    "/tasks": (OK, OK, OK, OK, SIGN_IN),
    "/tasks/{task}": (OK, MISSING, MISSING, OK, SIGN_IN),
    "/patients/{patient}": (OK, OK, MISSING, OK, SIGN_IN),
    "/cases/{case}": (CASE_LINK, CASE_LINK, MISSING, CASE_LINK, SIGN_IN),
    "/coordination": (MISSING, MISSING, MISSING, OK, SIGN_IN),
    "/coordination/journal": (MISSING, MISSING, MISSING, OK, SIGN_IN),
    "/coordination/parametres": (MISSING, MISSING, MISSING, OK, SIGN_IN),
    "/outbox/{message}": (MISSING, MISSING, MISSING, OK, SIGN_IN),
    "/preferences": (OK, OK, OK, OK, SIGN_IN),
}

#: action → (form data, expected answer for the same five actors)
ACTIONS = {
    "/tasks/{task}/prendre": ({}, (OK, MISSING, MISSING, OK, SIGN_IN)),
    "/tasks/{task}/terminer": ({"resultat_grade": "1", "cle": "KEY"},
                               (OK, MISSING, MISSING, OK, SIGN_IN)),
    "/tasks/{task}/refuser": ({"motif": "patiente suivie ailleurs"},
                              (OK, MISSING, MISSING, REFUSED_INPUT, SIGN_IN)),
    "/tasks/{task}/observation": ({"code": "4548-4", "valeur": "6,5", "cle": "KEY"},
                                  (OK, MISSING, MISSING, OK, SIGN_IN)),
    "/patients/{patient}/observation": ({"code": "4548-4", "valeur": "6,5", "cle": "KEY"},
                                        (OK, OK, MISSING, OK, SIGN_IN)),
    "/tasks/{task}/reattribuer": ({"professionnel": str(GP)},
                                  (MISSING, MISSING, MISSING, OK, SIGN_IN)),
    "/preferences": ({"canal_1": "email", "mode": "digest", "nouvelles_taches": "digest",
                      "heure_recapitulatif": "08:00"}, (OK, OK, OK, OK, SIGN_IN)),
}


def _fill(path: str, web: Web, task: int) -> str:
    with transaction(web.engine) as db:
        case = db.get(TaskRow, task).case_id  # type: ignore[union-attr]
        message = db.scalars(select(OutboxRow.id).where(OutboxRow.task_id == task)).first()
    return path.format(task=task, patient=MARIE, case=case, message=message)


def _check(response: object, expected: object, what: str) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    if expected == SIGN_IN:
        assert status == 303, what
        assert response.headers["location"].startswith("/connexion?suite=/"), what  # type: ignore[attr-defined]
    else:
        assert status == expected, f"{what}: {status}"
    if expected == MISSING:
        assert "Page introuvable" in response.text, what  # type: ignore[attr-defined]
        assert "Durand" not in response.text and "DURAND" not in response.text, what  # type: ignore[attr-defined]


def _counts(web: Web) -> dict[str, int]:
    with transaction(web.engine) as db:
        return {t.__tablename__: db.scalar(select(func.count()).select_from(t)) or 0  # type: ignore[attr-defined]
                for t in (TaskRow, CaseEvent, ObservationRow, OutboxRow)}


def _log_rows(web: Web, professional_id: int) -> int:
    with transaction(web.engine) as db:
        return db.scalar(select(func.count()).select_from(AccessLogRow).where(
            AccessLogRow.professional_id == professional_id)) or 0


@pytest.mark.parametrize("path", PAGES)
def test_pages(web: Web, path: str) -> None:
    task = web.marie_in_follow_up()
    url = _fill(path, web, task)
    for (actor, pid), expected in zip(ACTORS.items(), PAGES[path], strict=True):
        client = web.signed_in(pid)
        _check(client.get(url), expected, f"{actor} GET {url}")
        if expected == CASE_LINK:
            assert client.get(url).headers["location"] == f"/patients/{MARIE}"


def _post(client: TestClient, url: str, data: dict[str, str]) -> object:
    csrf = csrf_of(client.get("/connexion").text)
    form = {k: uuid.uuid4().hex if v == "KEY" else v for k, v in data.items()}
    return client.post(url, data={"csrf": csrf, **form})


@pytest.mark.parametrize("path", ACTIONS)
def test_refused_actions_write_nothing(web: Web, path: str) -> None:
    task = web.marie_in_follow_up()
    url = _fill(path, web, task)
    data, answers = ACTIONS[path]
    before = _counts(web)
    for (actor, pid), expected in zip(ACTORS.items(), answers, strict=True):
        if expected == OK:
            continue
        _check(_post(web.signed_in(pid), url, data), expected, f"{actor} POST {url}")
        assert _counts(web) == before, f"{actor} POST {url} wrote something"
        assert web.row(task).status == "requested"


@pytest.mark.parametrize("path,actor", [(p, a) for p, (_, answers) in ACTIONS.items()
                                        for a, e in zip(ACTORS, answers, strict=True)
                                        if e == OK])
def test_allowed_actions(web: Web, path: str, actor: str) -> None:
    task = web.marie_in_follow_up()
    url = _fill(path, web, task)
    response = _post(web.signed_in(ACTORS[actor]), url, ACTIONS[path][0])
    _check(response, OK, f"{actor} POST {url}")
    assert "C'est fait" in response.text  # type: ignore[attr-defined]


def test_out_of_team_reads_are_all_refused_and_never_logged(web: Web) -> None:
    web.marie_in_follow_up()
    web.service.enroll("P-002", "exemple-suivi", web.clock.now())  # GP's other patient
    outsider = web.signed_in(OUTSIDER)
    with transaction(web.engine) as db:
        tasks = list(db.scalars(select(TaskRow.id)))
        patients = list(db.scalars(select(Patient.id)))
    urls = [f"/tasks/{t}" for t in tasks] + [f"/patients/{p}" for p in patients] + \
        ["/tasks/999999", "/patients/999999", "/tasks/abc"]
    for url in urls:
        _check(outsider.get(url), MISSING, f"outsider GET {url}")
    assert _log_rows(web, OUTSIDER) == 0
    inbox = outsider.get("/tasks").text
    assert "Aucune tâche ouverte" in inbox and "DURAND" not in inbox


def test_every_allowed_read_is_logged_with_who_what_and_where(web: Web) -> None:
    task = web.marie_in_follow_up()
    nurse = web.signed_in(NURSE)
    nurse.get(f"/tasks/{task}")
    nurse.get(f"/patients/{MARIE}")
    nurse.get("/tasks")  # the inbox is not a patient's file
    with transaction(web.engine) as db:
        rows = list(db.scalars(select(AccessLogRow).order_by(AccessLogRow.id)))
    assert [(r.professional_id, r.action, r.patient_id, r.task_id) for r in rows] == [
        (NURSE, "read_task", MARIE, task), (NURSE, "read_patient", MARIE, None)]
    assert all(r.client == "testclient" and r.at == web.clock.now() for r in rows)
    journal = web.signed_in(COORDINATOR).get("/coordination/journal")
    assert journal.status_code == 200
    assert journal.text.count("Anne Bernard") == 2 and "tâche consultée" in journal.text
