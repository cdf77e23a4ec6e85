"""Expiry is never silent: ``on_expiry`` messages and the ``silent-expiry`` check."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from engine.case import Event, Notification, Subject, TaskCancelled
from engine.clock import PARIS
from engine.pathway import check_file, load_file, load_text
from engine.runtime import Runtime

WARNINGS = Path(__file__).parent / "data" / "warnings"
PATIENT = Subject()
START = datetime(2026, 3, 2, 8, tzinfo=PARIS)


def runtime() -> Runtime:
    return Runtime(load_file(str(WARNINGS / "silent-expiry.yaml")))


def test_a_task_dropped_by_a_timer_sends_its_on_expiry_message() -> None:
    rt = runtime()
    case = rt.start(PATIENT, START).case
    out = rt.advance(case, PATIENT, START + timedelta(days=62))
    dropped = {e.key for e in out.of(TaskCancelled)}
    assert {"avis", "bilan"} <= dropped
    messages = [(n.roles, n.message) for n in out.of(Notification)]
    assert (("coordinateur",), "Avis non obtenu dans le délai") in messages
    assert (("coordinateur",), "Demande de rappel non traitée") in messages


def test_no_on_expiry_message_when_the_task_is_left_by_a_professional_event() -> None:
    rt = runtime()
    case = rt.start(PATIENT, START).case
    case = rt.advance(case, PATIENT, START + timedelta(days=62)).case
    echo = next(t for t in case.tasks if t.key == "echo")
    out = rt.apply(case, Event("task_completed:echo", START + timedelta(days=63), task=echo.ref),
                   PATIENT)
    assert [e.key for e in out.of(TaskCancelled)] == ["consultation"]
    assert out.of(Notification) == []


def test_only_the_requests_nobody_hears_of_are_flagged() -> None:
    _, problems = check_file(str(WARNINGS / "silent-expiry.yaml"))
    flagged = {p.message.split("'")[3] for p in problems if p.check == "silent-expiry"}
    assert flagged == {"echo", "consultation"}  # not 'rappel' (notify), 'avis', 'bilan'


RENEWED = """
key: mini
version: 1
title: Relance
roles:
  medecin: {title: Médecin traitant}
tasks:
  rappel: {title: Rappeler le patient, role: medecin, due: P7D}
initial: attente
states:
  attente:
    ongoing: true
    on_enter:
      tasks: [rappel]
    timers:
      relance: {after: P14D}
    transitions:
      - on: timer:relance
        to: attente
"""


def test_a_request_renewed_by_re_entering_its_state_is_not_an_expiry() -> None:
    from engine.pathway import check_text

    _, problems = check_text(RENEWED)
    assert [p.check for p in problems] == []


def test_renewing_a_request_on_a_timer_sends_no_expiry_message() -> None:
    text = RENEWED.replace("due: P7D}", "due: P7D, on_expiry: {to: [medecin], message: "
                           "Rappel expiré}}")
    rt = Runtime(load_text(text))
    case = rt.start(PATIENT, START).case
    out = rt.advance(case, PATIENT, START + timedelta(days=15))
    assert [e.key for e in out.of(TaskCancelled)] == ["rappel"]
    assert [t.key for t in out.case.tasks] == ["rappel"]
    assert out.of(Notification) == []
