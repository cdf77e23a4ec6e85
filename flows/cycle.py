"""``cpts_cycle``: one turn of the territory, its steps in ONE flow run.

1. ``inbound``: what arrived (results, admissions, completed tasks);
2. ``eligibility``: new eligible patients (their latest results already in);
3. ``advance``: timers due;
4. ``escalation``: reminders, then escalations to the coordinator;
5. ``notify``: everything the steps above queued.

Each step is the body of its own flow (``process_inbound_events``…), run
inside the cycle's flow run: its batches are task runs of the cycle, its
artifacts and tags land on the cycle. A subflow per step added nothing but
Prefect's fixed cost (a flow run is several API calls and state changes,
about ten times a task run), so there is none. A step first asks the
database whether it has work (one indexed probe: a pending inbound event, a
due case, a due reminder, a message to send, a patient never enrolled); when
it has none it is skipped without any run and its row says so.

Each step runs even if an earlier one failed (their work is independent and
each one's failures stay in the database for the next turn); the cycle ends
*Failed* if any step did, *Completed* named « Terminé avec refus » when the
inbox refused events, else *Completed*; the message gives the counts and a
table artifact lists the steps. In production each flow has its own schedule
(``parcours serve``); the cycle is for the demo, for catching up after
downtime, and for a manual run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed, State

from flows import advance, artifacts, dispatch, eligibility, escalation, inbound
from flows.config import FlowSettings
from flows.exceptions import OrchestrationError, sanitized
from flows.workspace import Workspace, now_or_clock, open_workspace


@dataclass(frozen=True)
class Step:
    """A step of the cycle: whether it has work, and its flow's body."""

    has_work: Callable[[Workspace, datetime], bool]
    run: Callable[[datetime], Any]


def _step(module: Any, body: str) -> Step:
    # looked up when called, so that a patched module function is the one that runs
    return Step(lambda ws, now: module.has_work(ws, now),
                lambda now: getattr(module, body)(now=now))


STEPS: dict[str, Step] = {
    "inbound": _step(inbound, "_process_inbound_events"),
    "eligibility": _step(eligibility, "_enroll_eligible"),
    "advance": _step(advance, "_advance_due_cases"),
    "escalation": _step(escalation, "_escalate_overdue"),
    "notify": _step(dispatch, "_dispatch_notifications"),
}
SKIPPED = "rien à faire"


@flow(name="cpts-cycle", flow_run_name=artifacts.run_name("cycle"),
      task_runner=advance._thread_pool(FlowSettings().workers),
      persist_result=False, log_prints=False)
def cpts_cycle(now: datetime | None = None, steps: list[str] | None = None) -> Any:
    """Run the steps (default: all, in order) at ``now``."""
    return _cpts_cycle(now=now, steps=steps)


def _attempt(name: str, step: Step, ws: Workspace, moment: datetime) -> State[Any] | None:
    """The step's final state, or None when it had nothing to do. An error of the step
    (already reduced to its type by ``sanitized``) makes a Failed state with its text."""
    def run() -> State[Any] | None:
        return step.run(moment) if step.has_work(ws, moment) else None
    run.__name__ = f"étape {name}"
    try:
        return sanitized(run)()
    except OrchestrationError as exc:  # our own message: ids, counts and error types only
        return Failed(message=f"{type(exc).__name__} : {exc}")


def _row(name: str, state: State[Any] | None) -> dict[str, Any]:
    if state is None:
        return {"étape": name, "état": artifacts.FlowText("sautée"),
                "résultat": artifacts.FlowText(SKIPPED)}
    label = ("en échec" if not state.is_completed() else
             "terminée avec refus" if state.name == artifacts.WITH_REFUSALS else "terminée")
    return {"étape": name, "état": artifacts.FlowText(label),
            "résultat": artifacts.FlowText(state.message or "")}


@sanitized
def _cpts_cycle(now: datetime | None = None, steps: list[str] | None = None) -> Any:
    moment = now_or_clock(now)
    wanted = steps or list(STEPS)
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        return Failed(message=f"étape(s) inconnue(s) {', '.join(unknown)} ; possibles : "
                              f"{', '.join(STEPS)}")
    ws = open_workspace()
    results: dict[str, Any] = {}
    rows = []
    for name in (s for s in STEPS if s in wanted):
        state = _attempt(name, STEPS[name], ws, moment)
        results[name] = None if state is None else state.result(raise_on_failure=False)
        rows.append(_row(name, state))
    artifacts.table("cycle-steps", rows, f"Cycle CPTS du {artifacts.moment(moment)}")
    return _final(rows, results)


def _final(rows: list[dict[str, Any]], results: dict[str, Any]) -> State[Any]:
    failed = [r["étape"] for r in rows if r["état"] == "en échec"]
    refused = [r["étape"] for r in rows if r["état"] == "terminée avec refus"]
    skipped = [r["étape"] for r in rows if r["état"] == "sautée"]
    message = (f"étape(s) en échec : {', '.join(failed)}" if failed
               else "toutes les étapes terminées")
    if refused:
        message += " ; " + " ; ".join(f"{r['étape']} : {r['résultat']}" for r in rows
                                      if r["étape"] in refused)
    if skipped:
        message += f" ; sans travail : {', '.join(skipped)}"
    get_run_logger().info(message)
    if failed:
        return Failed(message=message, data=results)
    if refused:
        return Completed(name=artifacts.WITH_REFUSALS, message=message, data=results)
    return Completed(message=message, data=results)
