"""Compare a scenario step's expectations with the case as stored.

Each expectation that does not hold becomes one ``Diagnostic`` at the line of
the expectation, saying at which date, what was expected and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine import outbox
from engine.authoring.scenarios.model import Bounds, Expect, MessageExpect, TaskExpect
from engine.authoring.scenarios.snapshot import MessageSeen, Snapshot, TaskSeen
from engine.authoring.timeline import as_datetime
from engine.clock import PARIS
from engine.exceptions import Diagnostic
from engine.pathway.reader import Document

#: outbox kind → what a scenario calls it; a row with a text is a pathway ``message``, any
#: other row about a task tells its assignee it was given to them (``attribution``)
_KINDS = {outbox.TASK_REMINDER: "rappel", outbox.TASK_OVERDUE: "escalade",
          outbox.TASK_CANCELLED: "annulation", outbox.TASK_ASSIGNED: "attribution"}
DEFAULT_KIND = "message"


@dataclass(frozen=True)
class Located:
    """Where an expectation stands (file, path) and the date it is checked at."""

    doc: Document
    path: tuple[Any, ...]
    at: str

    def error(self, sub: tuple[Any, ...], message: str, key: bool = False) -> Diagnostic:
        return self.doc.diagnostic((*self.path, *sub), f"at {self.at}: {message}", "scenario",
                                   key=key)


def compare(expect: Expect, seen: Snapshot, where: Located, out: list[Diagnostic]) -> int:
    """Append a diagnostic per unmet expectation to ``out``; return how many were checked."""
    checks = _states(expect, seen, where, out)
    if expect.closed is not None:
        checks += 1
        if expect.closed != seen.closed:
            wanted, found = ("closed" if flag else "open" for flag in (expect.closed,
                                                                       seen.closed))
            out.append(where.error(("closed",), f"expected the case {wanted}, it is {found}"))
    for j, task in enumerate(expect.tasks):
        checks += 1
        problem = _task_problem(task, seen.tasks)
        if problem:
            out.append(where.error(("tasks", j), problem))
    for j, key in enumerate(expect.no_tasks):
        checks += 1
        still = [t for t in seen.tasks if t.key == key]
        if still:
            out.append(where.error(("no_tasks", j), f"expected no open task {key!r}, found "
                                   f"{len(still)} ({_task_text(still[0])})"))
    checks += _counts(expect, seen, where, out) + _facts(expect, seen, where, out)
    checks += _statuses(expect, seen, where, out)
    checks += _messages(expect, seen, where, out)
    return checks


def _states(expect: Expect, seen: Snapshot, where: Located, out: list[Diagnostic]) -> int:
    active = ", ".join(seen.active) or "none"
    for j, state in enumerate(expect.states):
        if not seen.is_active(state):
            out.append(where.error(("states", j), f"expected state {state!r} to be active; "
                                   f"active states: {active}"))
    for j, state in enumerate(expect.not_states):
        if seen.is_active(state):
            out.append(where.error(("not_states", j), f"expected state {state!r} not to be "
                                   f"active; active states: {active}"))
    return len(expect.states) + len(expect.not_states)


def _task_problem(expect: TaskExpect, tasks: list[TaskSeen]) -> str | None:
    same_key = [t for t in tasks if t.key == expect.key]
    if expect.count is not None and len(same_key) != expect.count:
        return (f"expected {expect.count} open task(s) {expect.key!r}, found {len(same_key)}"
                f"{_open_list(tasks)}")
    if expect.at_most is not None and len(same_key) > expect.at_most:
        return (f"expected at most {expect.at_most} open task(s) {expect.key!r}, found "
                f"{len(same_key)}{_open_list(tasks)}")
    if not same_key:
        return None if expect.count == 0 or expect.at_most is not None else \
            f"expected an open task {expect.key!r}, found none{_open_list(tasks)}"
    if any(_task_matches(expect, t) for t in same_key):
        return None
    wanted = ", ".join(f"{k} {v}" for k, v in _task_wanted(expect).items())
    found = "; ".join(_task_text(t) for t in same_key)
    return f"open task {expect.key!r}: expected {wanted}; found {found}"


def _task_wanted(expect: TaskExpect) -> dict[str, Any]:
    wanted: dict[str, Any] = {"role": expect.role, "assignee": expect.assignee,
                              "unassigned": expect.unassigned,
                              "due": _moment_text(expect.due) if expect.due else None}
    return {k: v for k, v in wanted.items() if v is not None}


def _task_matches(expect: TaskExpect, task: TaskSeen) -> bool:
    return ((expect.role is None or expect.role == task.role)
            and (expect.assignee is None or expect.assignee == task.assignee)
            and (expect.unassigned is None or expect.unassigned == task.unassigned)
            and (expect.due is None or _same_moment(expect.due, task.due)))


def _task_text(task: TaskSeen) -> str:
    flag = ", unassigned" if task.unassigned else ""
    return (f"role {task.role}, assignee {task.assignee}{flag}, due "
            f"{task.due:%Y-%m-%d %H:%M}")


def _open_list(tasks: list[TaskSeen]) -> str:
    keys = sorted({t.key for t in tasks})
    return f"; open tasks: {', '.join(keys) or 'none'}"


def _counts(expect: Expect, seen: Snapshot, where: Located, out: list[Diagnostic]) -> int:
    for key, wanted in expect.created.items():
        got = seen.created.get(key, 0)
        if isinstance(wanted, Bounds) and not wanted.holds(got):
            out.append(where.error(("created", key), f"expected {wanted.text()} task(s) "
                                   f"{key!r} created since enrolment, found {got}", key=True))
        elif isinstance(wanted, int) and got != wanted:
            out.append(where.error(("created", key), f"expected {wanted} task(s) {key!r} "
                                   f"created since enrolment, found {got}", key=True))
    return len(expect.created)


def _statuses(expect: Expect, seen: Snapshot, where: Located, out: list[Diagnostic]) -> int:
    for key, wanted in expect.task_status.items():
        got = seen.last_status.get(key)
        if got != wanted:
            found = f"it is {got}" if got else "no such task was ever created"
            out.append(where.error(("task_status", key), f"expected the latest task {key!r} "
                                   f"to be {wanted}; {found}", key=True))
    return len(expect.task_status)


def _facts(expect: Expect, seen: Snapshot, where: Located, out: list[Diagnostic]) -> int:
    for name, wanted in expect.facts.items():
        if name not in seen.facts:
            out.append(where.error(("facts", name), f"unknown fact {name!r}; facts: "
                                   f"{', '.join(seen.facts) or 'none'}", key=True))
        elif not _same_value(wanted, seen.facts[name]):
            out.append(where.error(("facts", name), f"fact {name!r}: expected {wanted!r}, "
                                   f"found {seen.facts[name]!r}"))
    return len(expect.facts)


def _messages(expect: Expect, seen: Snapshot, where: Located, out: list[Diagnostic]) -> int:
    if expect.notifications is None:
        return 0
    sent = "; ".join(_message_text(m) for m in seen.messages) or "none"
    if not expect.notifications and any(_kind(m) == DEFAULT_KIND for m in seen.messages):
        out.append(where.error(("notifications",), f"expected no message, sent: {sent}"))
    for j, message in enumerate(expect.notifications):
        n = sum(_message_matches(message, m) for m in seen.messages)
        if message.count is not None and n != message.count:
            problem = f"expected {message.count} message(s)"
        elif message.at_most is not None and n > message.at_most:
            problem = f"expected at most {message.at_most} message(s)"
        elif message.count is None and message.at_most is None and not n:
            problem = "expected a message"
        else:
            continue
        out.append(where.error(("notifications", j), f"{problem} {_message_wanted(message)}; "
                               f"found {n}; sent during this step: {sent}"))
    return max(1, len(expect.notifications))


def _kind(message: MessageSeen) -> str:
    if message.message:
        return DEFAULT_KIND
    return _KINDS.get(message.kind, DEFAULT_KIND)


def _message_text(m: MessageSeen) -> str:
    about = f" ({m.task})" if m.task else ""
    return f"{_kind(m)}{about} {m.role} → {m.to}: {_short(m.message)}"


def _short(text: str, width: int = 50) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _message_matches(expect: MessageExpect, message: MessageSeen) -> bool:
    return ((expect.kind or DEFAULT_KIND) == _kind(message)
            and (expect.task is None or expect.task == message.task)
            and (expect.role is None or expect.role == message.role)
            and (expect.to is None or expect.to == message.to)
            and (expect.unassigned is None or expect.unassigned == message.unassigned)
            and (expect.contains is None or expect.contains.lower() in message.message.lower()))


def _message_wanted(expect: MessageExpect) -> str:
    parts = {"kind": expect.kind or DEFAULT_KIND, "task": expect.task, "role": expect.role,
             "to": expect.to, "unassigned": expect.unassigned,
             "containing": repr(expect.contains) if expect.contains else None}
    return ", ".join(f"{k} {v}" for k, v in parts.items() if v is not None) or "(any)"


# -- values ------------------------------------------------------------------------------------


def _moment_text(moment: date | datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if isinstance(moment, datetime) else f"{moment:%Y-%m-%d}"


def _same_moment(wanted: date | datetime, actual: datetime) -> bool:
    local = actual.astimezone(PARIS)
    if isinstance(wanted, datetime):
        return as_datetime(wanted) == local
    return local.date() == wanted


def _same_value(wanted: Any, actual: Any) -> bool:
    """Equal; a date matches a stored ISO date-time on that day; numbers to 1e-9."""
    if isinstance(wanted, date | datetime) and isinstance(actual, str):
        try:
            actual = datetime.fromisoformat(actual)
        except ValueError:
            return False
        if isinstance(wanted, datetime):
            return as_datetime(wanted) == actual.astimezone(PARIS)
        return actual.astimezone(PARIS).date() == wanted if actual.tzinfo else \
            actual.date() == wanted
    if isinstance(wanted, int | float) and isinstance(actual, int | float) \
            and not isinstance(wanted, bool) and not isinstance(actual, bool):
        return abs(wanted - actual) < 1e-9
    return bool(wanted == actual)
