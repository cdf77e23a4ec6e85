"""Checks that no task, request or result can end without a rule saying how.

- ``no-ending-rule``: a task declared ``outlives_state: true`` survives the
  state that created it, so something else must end it: a ``completed_by``
  event, a transition on ``task_completed:KEY`` (the professional's result
  drives the pathway), or a ``cancel:`` action naming it. Closing the case
  ends it too, but a case may run for years: that alone is not a rule.
- ``silent-expiry`` (a *warning* until the shipped pathways are corrected): a
  timer transition leaves a state whose request task is still open (the
  request expires) and nobody is told: the task has no ``on_expiry`` message
  and no ``escalation`` due no later than the timer, and the transition does
  not ``notify``. A task the target state creates again is renewed, not dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine import events
from engine.exceptions import Diagnostic
from engine.pathway.checkcontext import (
    CheckContext,
    action_blocks,
    resolve_duration,
    transitions,
)


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


# -- expiry ----------------------------------------------------------------------------------


def _task_owners(ctx: CheckContext) -> dict[str, set[str]]:
    """State id → keys of the tasks that belong to it (created on entry or by a transition
    into it, or by an internal transition of it)."""
    owners: dict[str, set[str]] = {}
    for node in ctx.tree.states():
        if node.state.on_enter is not None:
            owners.setdefault(node.id, set()).update(node.state.on_enter.tasks)
    for sid, _, transition, _ in transitions(ctx):
        owner = ctx.tree.resolve(transition.to, sid)[0] if transition.to else sid
        if owner is not None:
            owners.setdefault(owner, set()).update(transition.tasks)
    return owners


def _left(ctx: CheckContext, source: str, target: str) -> set[str]:
    """States a transition from ``source`` to ``target`` may leave (an over-approximation:
    the source's subtree and its ancestors below the common ancestor)."""
    tree = ctx.tree
    common = tree.lca(source, target)
    left = {n.id for n in tree.states() if tree.is_descendant(n.id, source)}
    left |= {a for a in tree.ancestors(source) if a and a != common
             and not tree.is_descendant(common, a)}
    return left


def _renewed(ctx: CheckContext, target: str) -> set[str]:
    """Tasks created again when ``target`` is entered (a request renewed, not dropped)."""
    tree = ctx.tree
    out: set[str] = set()
    for sid in [target, *tree.default_leaves(target), *tree.ancestors(target)]:
        block = tree.nodes[sid].state.on_enter
        if block is not None:
            out.update(block.tasks)
    return out


def _told(ctx: CheckContext, key: str, timer_delay: str | None) -> bool:
    """Someone hears of task ``key`` before a timer drops it: an ``on_expiry`` message, or an
    escalation to the coordinator due no later than the timer."""
    task = ctx.pathway.tasks[key]
    if task.on_expiry is not None:
        return True
    escalation = resolve_duration(ctx.pathway, task.escalation)
    delay = resolve_duration(ctx.pathway, timer_delay)
    return escalation is not None and delay is not None and \
        escalation.approx_days() <= delay.approx_days()


def check_silent_expiry(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A timer that moves the case on while a request task is open must tell someone."""
    owners = _task_owners(ctx)
    timers = {name: timer for node in ctx.tree.states()
              for name, timer in node.state.timers.items()}
    for sid, i, transition, path in transitions(ctx):
        name = events.key_of(transition.on, events.TIMER)
        if name is None or transition.to is None or transition.notify or name not in timers:
            continue
        target = ctx.tree.resolve(transition.to, sid)[0]
        if target is None or not sid:
            continue
        renewed = _renewed(ctx, target) | set(transition.tasks)
        delay = timers[name].after or timers[name].every
        for state in sorted(_left(ctx, sid, target)):
            for key in sorted(owners.get(state, set())):
                task = ctx.pathway.tasks.get(key)
                if task is None or task.outlives_state or key in renewed:
                    continue
                if not _told(ctx, key, delay):
                    yield ctx.warning((*path, "on"), f"timer {name!r} drops the open task {key!r} "
                                    "without telling anyone: give the task an 'on_expiry' "
                                    "message or an 'escalation' no later than the timer, or "
                                    "'notify' on this transition", "silent-expiry",
                                    element=f"{sid}#{i}")
