"""Checks that no task, request or result can end without a rule saying how.

- ``no-ending-rule``: a task declared ``outlives_state: true`` survives the
  state that created it, so something else must end it: a ``completed_by``
  event, a transition on ``task_completed:KEY`` (the professional's result
  drives the pathway), or a ``cancel:`` action naming it. Closing the case
  ends it too, but a case may run for years: that alone is not a rule.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine import events
from engine.exceptions import Diagnostic
from engine.pathway.checkcontext import CheckContext, action_blocks, transitions


def _cancelled_somewhere(ctx: CheckContext) -> set[str]:
    return {key for _, block, _ in action_blocks(ctx) for key in block.cancel}


def _result_driven(ctx: CheckContext) -> set[str]:
    out = set()
    for _, _, transition, _ in transitions(ctx):
        key = events.key_of(transition.on, events.TASK_COMPLETED)
        if key is not None:
            out.add(key)
    return out


def check_task_endings(ctx: CheckContext) -> Iterator[Diagnostic]:
    """An outliving task needs a rule that ends it (completion or an explicit cancel)."""
    cancelled, driven = _cancelled_somewhere(ctx), _result_driven(ctx)
    for key, task in ctx.pathway.tasks.items():
        if not task.outlives_state or task.completing_events():
            continue
        if key in cancelled or key in driven:
            continue
        yield ctx.error(("tasks", key, "outlives_state"), f"task {key!r} outlives its state "
                        "but nothing ends it: add 'completed_by', a transition on "
                        f"'{events.task_completed(key)}', or a 'cancel: [{key}]' action",
                        "no-ending-rule", key=True, element=key)

