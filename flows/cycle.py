"""``cpts_cycle``: one turn of the territory, the flows in order, as subflows.

1. ``process_inbound_events``: what arrived (results, admissions, completed tasks);
2. ``enroll_eligible``: new eligible patients (their latest results already in);
3. ``advance_due_cases``: timers due;
4. ``escalate_overdue``: reminders, then escalations to the coordinator;
5. ``dispatch_notifications``: everything the steps above queued.

Each step runs even if an earlier one failed (their work is independent and
each one's failures stay in the database for the next turn); the cycle ends
*Failed* if any step did, with a table of steps and their states. In
production each flow has its own schedule (``parcours serve``); the cycle is
for the demo, for catching up after downtime, and for a manual run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.states import Completed, Failed

from flows import artifacts
from flows.advance import advance_due_cases
from flows.dispatch import dispatch_notifications
from flows.eligibility import enroll_eligible
from flows.escalation import escalate_overdue
from flows.exceptions import sanitized
from flows.inbound import process_inbound_events
from flows.workspace import now_or_clock

STEPS: dict[str, Callable[..., Any]] = {
    "inbound": process_inbound_events,
    "eligibility": enroll_eligible,
    "advance": advance_due_cases,
    "escalation": escalate_overdue,
    "notify": dispatch_notifications,
}


@flow(name="cpts-cycle", flow_run_name=artifacts.run_name("cycle"), persist_result=False,
      log_prints=False)
def cpts_cycle(now: datetime | None = None, steps: list[str] | None = None) -> Any:
    """Run the steps (default: all, in order) at ``now``."""
    return _cpts_cycle(now=now, steps=steps)


@sanitized
def _cpts_cycle(now: datetime | None = None, steps: list[str] | None = None) -> Any:
    moment = now_or_clock(now)
    wanted = steps or list(STEPS)
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        return Failed(message=f"étape(s) inconnue(s) {', '.join(unknown)} ; possibles : "
                              f"{', '.join(STEPS)}")
    results: dict[str, Any] = {}
    rows = []
    for name in (s for s in STEPS if s in wanted):
        state = STEPS[name](now=moment, return_state=True)
        results[name] = state.result(raise_on_failure=False)
        rows.append({"étape": name, "état": state.type.value.lower(),
                     "résultat": artifacts.FlowText(state.message or "")})
    artifacts.table("cycle-steps", rows, f"Cycle CPTS du {artifacts.moment(moment)}")
    failed = [r["étape"] for r in rows if r["état"] != "completed"]
    message = "toutes les étapes terminées" if not failed else \
        f"étape(s) en échec : {', '.join(failed)}"
    get_run_logger().info(message)
    return (Failed if failed else Completed)(message=message, data=results)
