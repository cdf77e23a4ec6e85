"""The territory dashboard: state counts kept by the database, read without the cases' JSON;
charts as SVG; the latest Prefect runs, or a French sentence when Prefect does not answer;
the monthly activity report on a hand-built territory. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import event, insert, select, text, update

from engine import events
from engine.store import dashboard
from engine.store.db import transaction
from engine.store.exceptions import InputError
from engine.store.overview import territory_counts
from engine.store.report import monthly_report, parse_month
from engine.store.tables import CaseEvent, CaseRow, PathwayVersion, TaskRow
from tests.web.conftest import COORDINATOR, NOW, T0, Web, csrf_of, sign_in
from web.flow_runs import latest_runs

GLYCEMIE_WAIT, FEET_EXAM = "suivi.glycemie.attente", "suivi.pieds.examen"


def _both_enrolled(web: Web) -> None:
    web.marie_in_follow_up()                                   # in the parallel follow-up
    web.service.enroll("P-002", "exemple-suivi", T0)           # still at inclusion


def test_state_counts_follow_every_write_and_count_regions_as_such(web: Web) -> None:
    _both_enrolled(web)
    with transaction(web.engine) as db:
        counts = dashboard.state_counts(db)["exemple-suivi"]
        slow = territory_counts(db, NOW, "ouvertes").cases    # the JSON of every case
        assert counts == Counter({s: n for (k, s), n in slow.items() if k == "exemple-suivi"})
        assert counts == Counter({"inclusion": 1, GLYCEMIE_WAIT: 1, FEET_EXAM: 1})
        assert dashboard.open_case_counts(db) == {"exemple-suivi": 2}
    # the foot exam done: the state moves, in the same transaction as the case
    web.service.complete_task(web.task("examen_pieds"), {"grade": 0}, NOW, NOW)
    with transaction(web.engine) as db:
        assert dashboard.state_counts(db)["exemple-suivi"]["suivi.pieds.annuel"] == 1
        assert FEET_EXAM not in dashboard.state_counts(db)["exemple-suivi"]
        marie = db.scalars(select(CaseRow.id).where(CaseRow.patient_id == 1)).one()
    web.service.close_case(marie, "déménagement", NOW)
    with transaction(web.engine) as db:
        assert dashboard.state_counts(db) == {"exemple-suivi": Counter({"inclusion": 1})}
        assert dashboard.open_case_counts(db) == {"exemple-suivi": 1}


def test_the_page_says_region_x_n_cases_in_state_y(web: Web) -> None:
    _both_enrolled(web)
    page = web.signed_in(COORDINATOR).get("/coordination/tableau-de-bord")
    assert page.status_code == 200
    assert "<strong>2</strong> dossier(s) ouvert(s)" in page.text
    assert "région glycemie : 1 dossier dans l'état attente" in page.text
    assert "région pieds : 1 dossier dans l'état examen" in page.text
    assert "Inclusion" in page.text
    csv = web.signed_in(COORDINATOR).get("/coordination/tableau-de-bord/etats.csv").text
    assert "Suivi d'exemple;glycemie;attente;1" in csv


def _statements(web: Web, work: object) -> list[str]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(web.engine, "before_cursor_execute", record)
    try:
        with transaction(web.engine) as db:
            work(db)  # type: ignore[operator]
    finally:
        event.remove(web.engine, "before_cursor_execute", record)
    return seen


def test_the_dashboard_reads_no_case_json_and_a_fixed_number_of_queries(web: Web) -> None:
    _both_enrolled(web)

    def build(db: object) -> None:
        dashboard.board(db, NOW, NOW.date())  # type: ignore[arg-type]

    few = _statements(web, build)
    with transaction(web.engine) as db:   # twenty more cases, written straight to the table
        version = db.scalars(select(PathwayVersion.id)).one()
        db.execute(insert(CaseRow), [
            {"patient_id": 3, "pathway_version_id": version, "pathway_key": "exemple-suivi",
             "active_states": [GLYCEMIE_WAIT, FEET_EXAM], "facts": {}, "memory": {}, "seq": 0,
             "opened_at": T0, "row_version": 1} for _ in range(20)])
        assert dashboard.state_counts(db)["exemple-suivi"][FEET_EXAM] == 21
    more = _statements(web, build)
    assert len(few) == len(more) <= 10   # BEGIN included
    assert not any("active_states" in s for s in more), "a query read the cases' JSON"


def test_state_counts_use_the_index_only(web: Web) -> None:
    _both_enrolled(web)
    with transaction(web.engine) as db:
        sql = ("SELECT pathway_key, state, count(*) FROM case_state "
               "GROUP BY pathway_key, state")
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(r[0] for r in db.execute(text("EXPLAIN " + sql)))
            assert "Index Only Scan using ix_case_state_pathway_state" in plan, plan
        else:
            plan = "\n".join(str(r[-1]) for r in db.execute(text("EXPLAIN QUERY PLAN " + sql)))
            assert "COVERING INDEX ix_case_state_pathway_state" in plan, plan
        assert "pathway_case" not in plan


def test_charts_are_svg_images_without_script(web: Web) -> None:
    _both_enrolled(web)
    client = web.signed_in(COORDINATOR)
    for chart in ("roles", "mois"):
        response = client.get(f"/coordination/graphiques/{chart}.svg")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert "<svg" in response.text and "<script" not in response.text
    assert "infirmier" in client.get("/coordination/graphiques/roles.svg").text


def test_monthly_task_counts(web: Web) -> None:
    task = web.marie_in_follow_up()
    with transaction(web.engine) as db:
        months = dashboard.monthly_tasks(db, NOW, NOW.date())
        roles = dashboard.task_counts(db, NOW)[1]
    assert list(months)[-1] == "2026-01" and len(months) == 12
    assert months["2026-01"] == (2, 1, 0)      # two created, the initial assessment done
    assert roles == {"infirmier": (1, 0)}
    assert task


def _prefect(handler: object) -> httpx.MockTransport:
    return httpx.MockTransport(handler)  # type: ignore[arg-type]


def test_latest_flow_runs_from_prefect() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/flow_runs/filter"):
            body = json.loads(request.content)
            assert body["sort"] == "START_TIME_DESC"
            return httpx.Response(200, json=[
                {"flow_id": "f1", "name": "inbound 2026-03-02 09:00", "state_type": "COMPLETED",
                 "state_name": "Refused events", "start_time": "2026-03-02T08:00:00+00:00",
                 "state": {"message": "3 refused: inbox 4, 5, 6"}},
                {"flow_id": "f1", "name": "older", "state_type": "COMPLETED",
                 "state_name": "Completed", "start_time": "2026-03-01T08:00:00+00:00"},
                {"flow_id": "f2", "name": "advance 2026-03-02 09:00", "state_type": "COMPLETED",
                 "state_name": "Completed", "start_time": "2026-03-02T07:00:00+00:00"}])
        return httpx.Response(200, json=[{"id": "f1", "name": "process-inbound-events"},
                                         {"id": "f2", "name": "advance-cases"}])

    runs = latest_runs("http://prefect.test/api", 1.0, transport=_prefect(answer))
    assert runs.problem == ""
    assert [(r.flow, r.name, r.clean) for r in runs.runs] == [
        ("advance-cases", "advance 2026-03-02 09:00", True),
        ("process-inbound-events", "inbound 2026-03-02 09:00", False)]
    assert runs.runs[1].message == "3 refused: inbox 4, 5, 6"


def test_prefect_unreachable_is_said_in_french_and_the_page_renders(web: Web) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    assert "Prefect ne répond pas" in latest_runs("http://x/api", 1.0,
                                                  transport=_prefect(down)).problem
    client = web.client(prefect_api_url="http://127.0.0.1:9/api", prefect_timeout=0.5)
    sign_in(client, web, COORDINATOR)
    page = client.get("/coordination/tableau-de-bord")
    assert page.status_code == 200
    assert "Prefect ne répond pas pour le moment" in page.text
    assert "Tâches par mois" in page.text


# -- the monthly report --------------------------------------------------------------------


def _hand_built(web: Web) -> str:
    """March 2026, pathway exemple-suivi, by hand (times in UTC, far from month edges):

    - Marie (1) enrolled 2 March, Jean (2) enrolled 10 March, Julie (3) enrolled in
      February and her case closed 20 March;
    - tasks completed in March: 4, of which 3 on time; creation → completion 2, 4, 6 and
      10 days (median 5); the late one 3 days late; one task due 25 March still open;
    - Jean admitted 1 March (after a discharge 15 February: readmission), discharged
      5 March, admitted again 25 March (readmission); Marie admitted 12 March, first stay.
    """
    with transaction(web.engine) as db:
        version = db.scalars(select(PathwayVersion.id)).one()
        at = lambda d, h=10: datetime(2026, *d, h, tzinfo=UTC)  # noqa: E731
        cases = {}
        for patient, opened, closed in ((1, (3, 2), None), (2, (3, 10), None),
                                        (3, (2, 10), (3, 20))):
            cases[patient] = db.execute(insert(CaseRow).values(
                patient_id=patient, pathway_version_id=version, pathway_key="exemple-suivi",
                active_states=["inclusion"], facts={}, memory={}, seq=0, opened_at=at(opened),
                closed_at=at(closed) if closed else None, row_version=1)
                .returning(CaseRow.id)).scalar_one()
        tasks = [  # (case, created, due, closed or None)
            (1, (3, 2), (3, 10), (3, 4)),     # 2 days, on time
            (1, (3, 3), (3, 10), (3, 7)),     # 4 days, on time
            (2, (3, 10), (3, 20), (3, 16)),   # 6 days, on time
            (2, (3, 11), (3, 18), (3, 21)),   # 10 days, 3 days late
            (2, (3, 12), (3, 25), None),      # due in March, still open
            (1, (2, 1), (2, 10), (2, 5)),     # February: not counted
        ]
        for n, (patient, created, due, closed) in enumerate(tasks):
            db.execute(insert(TaskRow).values(
                case_id=cases[patient], ref=f"t{n}", key=f"t{n}", state="inclusion",
                title="t", role="medecin_traitant", status="completed" if closed else "requested",
                created_at=at(created), due_at=at(due), closed_at=at(closed) if closed else None,
                expected_result={}))
        for patient, kind, day in ((2, events.DISCHARGE, (2, 15)), (2, events.ADMISSION, (3, 1)),
                                   (2, events.DISCHARGE, (3, 5)), (2, events.ADMISSION, (3, 25)),
                                   (1, events.ADMISSION, (3, 12))):
            db.execute(insert(CaseEvent).values(
                case_id=cases[patient], at=at(day), recorded_at=at(day), actor_kind="system",
                kind=kind, data={}))
        db.execute(update(CaseRow).where(CaseRow.id == cases[3]).values(closed_at=at((3, 20))))
    return "exemple-suivi"


def test_the_monthly_report_on_a_hand_built_territory(web: Web) -> None:
    key = _hand_built(web)
    with transaction(web.engine) as db:
        report = monthly_report(db, key, date(2026, 3, 1))
    assert (report.patients_enrolled, report.cases_closed, report.open_at_end) == (2, 1, 2)
    assert (report.tasks_completed, report.tasks_on_time) == (4, 3)
    assert report.on_time_share == 0.75
    assert (report.median_days_to_complete, report.median_days_late) == (5.0, 3.0)
    assert report.due_still_open == 1
    assert (report.admissions, report.readmissions_30d) == (3, 2)
    page = web.signed_in(COORDINATOR).get(f"/coordination/rapport?parcours={key}&mois=2026-03")
    assert page.status_code == 200
    assert "4, dont 3 dans les délais (75 %)" in page.text
    assert "2 sur 3 hospitalisation(s)" in page.text
    csv = web.signed_in(COORDINATOR).get("/coordination/rapport.csv?mois=2026-03").text
    assert csv.splitlines()[1] == "Suivi d'exemple;03/2026;2;1;2;4;3;75;5;3;1;3;2"


def test_a_report_without_hospital_events_says_so(web: Web) -> None:
    web.marie_in_follow_up()
    with transaction(web.engine) as db:
        report = monthly_report(db, "exemple-suivi", date(2026, 1, 1))
    assert report.readmissions_30d is None and report.patients_enrolled == 1
    bad = web.signed_in(COORDINATOR).get("/coordination/rapport?mois=mars")
    assert bad.status_code == 400 and "AAAA-MM" in bad.text
    with pytest.raises(InputError, match="AAAA-MM"):
        parse_month("2026/03")


def test_the_counts_are_kept_for_counts_ttl_and_a_coordinator_change_recomputes_them(
        web: Web) -> None:
    _both_enrolled(web)
    client = web.signed_in(COORDINATOR)
    page = client.get("/coordination/tableau-de-bord")
    assert "<strong>2</strong> dossier(s) ouvert(s)" in page.text
    assert "recalculés au plus toutes les 30 secondes" in page.text
    with transaction(web.engine) as db:
        marie, other = db.scalars(select(CaseRow.id).order_by(CaseRow.id)).all()
    web.service.close_case(other, "déménagement", NOW)     # not through the web pages
    kept = client.get("/coordination/tableau-de-bord")
    assert "<strong>2</strong> dossier(s) ouvert(s)" in kept.text      # within the ttl
    fresh = web.client(counts_ttl=0)
    sign_in(fresh, web, COORDINATOR)
    assert "<strong>1</strong> dossier(s) ouvert(s)" in fresh.get(
        "/coordination/tableau-de-bord").text
    closed = client.post(f"/coordination/cases/{marie}/cloture",
                         data={"csrf": csrf_of(page.text), "motif": "déménagement"})
    assert closed.status_code == 200
    after = client.get("/coordination/tableau-de-bord")
    assert "<strong>0</strong> dossier(s) ouvert(s)" in after.text
