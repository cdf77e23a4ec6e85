"""``enroll_eligible``: enrol every patient who meets a pathway's eligibility, idempotently.

Which pathways: every published pathway whose definition has an
``eligibility`` expression (a pathway without one is entered by a
coordinator's decision or an event, never automatically), restricted to
``PARCOURS_FLOWS_AUTO_ENROLL`` when that is set, or to the ``pathways``
parameter. Which patients: those who never had a case in that pathway. A
patient whose case was closed (withdrawal, moving out, death) is therefore
never re-enrolled behind the coordinator's back, and running the flow twice
enrols nobody twice. ``CaseService.enroll_many`` evaluates the eligibility
and writes each batch of cases in one transaction. One Prefect task per
pathway, tagged with it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, tags, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from engine.store import overview, registry
from engine.store.db import transaction
from engine.store.service import EnrolReport
from flows import artifacts
from flows.advance import retry_transient
from flows.exceptions import run_batch, sanitized
from flows.workspace import Workspace, now_or_clock, open_workspace


def auto_pathways(ws: Workspace, wanted: list[str] | None) -> list[str]:
    """Published pathway keys whose latest version declares an eligibility expression."""
    allowed = wanted if wanted is not None else ws.flow_settings.auto_enroll
    with transaction(ws.engine) as session:
        found = [v.key for v in overview.latest_versions(session)
                 if registry.compiled(v).eligibility is not None]
    return [k for k in found if allowed is None or k in allowed]


def never_enrolled(ws: Workspace, pathway: str) -> list[int]:
    with transaction(ws.engine) as session:
        return overview.never_enrolled(session, pathway)


def has_work(ws: Workspace, now: datetime) -> bool:
    """Whether some patient was never enrolled in an automatic pathway."""
    keys = auto_pathways(ws, None)
    with transaction(ws.engine) as session:
        return overview.any_never_enrolled(session, keys)


@task(name="enroll-pathway", task_run_name="inscriptions · {pathway}", cache_policy=NO_CACHE,
      persist_result=False, retry_condition_fn=retry_transient)
def enroll_pathway(ws: Workspace, pathway: str, now: datetime) -> EnrolReport:
    candidates: list[int] = []

    def work() -> EnrolReport:
        candidates.extend(never_enrolled(ws, pathway))
        return ws.service.enroll_many(candidates, pathway, now,
                                      batch_size=ws.flow_settings.enroll_batch)

    report = run_batch(f"inscriptions {pathway}", 1, 0, work)
    get_run_logger().info("%s : %d candidat(s), %d inscrit(s), %d non éligible(s)", pathway,
                          len(candidates), report.enrolled, report.ineligible)
    return report


@flow(name="enroll-eligible", flow_run_name=artifacts.run_name("eligibility"),
      persist_result=False, log_prints=False)
def enroll_eligible(now: datetime | None = None, pathways: list[str] | None = None) -> Any:
    """Enrol the eligible patients of the territory into the automatic pathways."""
    return _enroll_eligible(now=now, pathways=pathways)


@sanitized
def _enroll_eligible(now: datetime | None = None, pathways: list[str] | None = None) -> Any:
    ws = open_workspace()
    moment = now_or_clock(now)
    fs = ws.flow_settings
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for key in auto_pathways(ws, pathways):
        with tags(artifacts.pathway_tag(key)):
            state = enroll_pathway.with_options(
                retries=fs.task_retries, retry_delay_seconds=fs.retry_delay_seconds)(
                ws, key, moment, return_state=True)
        report = state.result(raise_on_failure=False)
        if isinstance(report, EnrolReport):
            rows.append({"parcours": key, "inscrits": report.enrolled,
                         "non éligibles": report.ineligible, "déjà inscrits": report.already})
        else:
            failed.append(key)
            rows.append({"parcours": key, "inscrits": 0, "non éligibles": None,
                         "déjà inscrits": None, "erreur": getattr(report, "error_type", "?")})
    artifacts.table("enrolments", rows, f"Inscriptions automatiques — {artifacts.moment(moment)}")
    artifacts.tag_current_run(artifacts.pathway_tag(r["parcours"]) for r in rows)
    total = sum(r["inscrits"] for r in rows)
    message = f"{total} patient(s) inscrit(s) dans {len(rows)} parcours" + (
        f" ; en échec : {', '.join(failed)}" if failed else "")
    get_run_logger().info(message)
    return (Failed if failed else Completed)(message=message, data=rows)
