"""Tasks that outlive the state that created them (``outlives_state``, ``cancel:``)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from engine.case import Event, Subject, TaskCancelled, TaskCreated
from engine.clock import PARIS
from engine.pathway import load_file
from engine.runtime import Runtime

DATA = Path(__file__).parent / "data" / "runtime"
PATIENT = Subject(birth_date=date(1955, 6, 14), sex="F")


def at(day: int, month: int = 1) -> datetime:
    return datetime(2026, month, day, 9, tzinfo=PARIS)


def runtime() -> Runtime:
    return Runtime(load_file(str(DATA / "outliving.yaml")))


def test_outliving_task_survives_leaving_its_state() -> None:
    rt = runtime()
    case = rt.start(PATIENT, at(1)).case
    case = rt.apply(case, Event("observation:hba1c", at(2), 9.1, "%"), PATIENT).case
    first = {t.key for t in case.tasks}
    assert first == {"avis", "bilan"}
    # the next high result leaves and re-enters the state: 'bilan' is renewed, 'avis' kept
    out = rt.apply(case, Event("observation:hba1c", at(3), 9.4, "%"), PATIENT)
    cancelled = [e.key for e in out.of(TaskCancelled)]
    assert "avis" not in cancelled
    assert sorted(t.key for t in out.case.tasks) == ["avis", "avis", "bilan"]


def test_cancel_action_ends_every_open_task_of_its_kind() -> None:
    rt = runtime()
    case = rt.start(PATIENT, at(1)).case
    case = rt.apply(case, Event("observation:hba1c", at(2), 9.1, "%"), PATIENT).case
    out = rt.apply(case, Event("renoncement", at(4)), PATIENT)
    assert [(e.key, e.reason) for e in out.of(TaskCancelled)] == [
        ("avis", "cancelled by 'surveillance'")]
    assert [t.key for t in out.case.tasks] == ["bilan"]


def test_closing_the_case_ends_an_outliving_task() -> None:
    rt = runtime()
    case = rt.start(PATIENT, at(1)).case
    case = rt.apply(case, Event("observation:hba1c", at(2), 9.1, "%"), PATIENT).case
    out = rt.apply(case, Event("sortie", at(5)), PATIENT)
    assert {(e.key, e.reason) for e in out.of(TaskCancelled)} == {
        ("avis", "case closed"), ("bilan", "left state 'surveillance'")}
    assert out.case.tasks == () and out.case.closed


def test_ordinary_task_is_still_cancelled_on_leaving() -> None:
    rt = runtime()
    case = rt.start(PATIENT, at(1)).case
    out = rt.apply(case, Event("observation:hba1c", at(2), 9.1, "%"), PATIENT)
    assert [e.key for e in out.of(TaskCancelled)] == []  # bilan completed by the result
    assert [e.key for e in out.of(TaskCreated)] == ["avis", "bilan"]
