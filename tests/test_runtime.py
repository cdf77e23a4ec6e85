"""Runtime semantics on small pathways written in YAML (``tests/data/runtime``)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.case import (
    Case,
    CaseClosed,
    Entered,
    Event,
    FactSet,
    GuardFailed,
    ObservationValue,
    Outcome,
    Subject,
    TaskCancelled,
    TaskCompleted,
    TaskCreated,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Transitioned,
)
from engine.clock import PARIS, end_of_day
from engine.exceptions import (
    ClosedCaseError,
    EvaluationError,
    InvalidEventDataError,
    ParcoursError,
    RuntimeEventError,
    UnknownEventError,
)
from engine.pathway import load_file
from engine.pathway.compiler import CompiledPathway
from engine.runtime import Runtime

DATA = Path(__file__).parent / "data" / "runtime"
PATIENT = Subject(birth_date=date(1955, 6, 14), sex="F")


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PARIS)


START = at(2026, 1, 5)


_CACHE: dict[str, CompiledPathway] = {}


def pathway(name: str) -> CompiledPathway:
    if name not in _CACHE:
        _CACHE[name] = load_file(str(DATA / f"{name}.yaml"))
    return _CACHE[name]


class Run:
    """A case driven step by step, keeping the last outcome."""

    def __init__(self, name: str, start: datetime = START,
                 params: dict[str, Any] | None = None, subject: Subject = PATIENT) -> None:
        self.runtime = Runtime(pathway(name), params)
        self.subject = subject
        self.outcome = self.runtime.start(subject, start)

    @property
    def case(self) -> Case:
        return self.outcome.case

    def send(self, name: str, when: datetime, **kwargs: Any) -> Outcome:
        self.outcome = self.runtime.apply(self.case, Event(name, when, **kwargs), self.subject)
        return self.outcome

    def observe(self, key: str, value: Any, when: datetime) -> Outcome:
        outcome = self.send(f"observation:{key}", when, value=value)
        observations = {**self.subject.observations, key: ObservationValue(value, when)}
        self.subject = Subject(self.subject.birth_date, self.subject.sex,
                               self.subject.conditions, observations)
        return outcome

    def complete(self, key: str, when: datetime, **result: Any) -> Outcome:
        ref = self.task(key)
        return self.send(f"task_completed:{key}", when, task=ref, result=result)

    def advance(self, when: datetime) -> Outcome:
        self.outcome = self.runtime.advance(self.case, self.subject, when)
        return self.outcome

    def task(self, key: str) -> str:
        refs = [t.ref for t in self.case.tasks if t.key == key]
        assert len(refs) == 1, f"expected one open {key!r} task, got {refs}"
        return refs[0]

    def open_tasks(self) -> list[str]:
        return sorted(t.key for t in self.case.tasks)

    def timers(self) -> dict[str, datetime]:
        return {t.name: t.fire_at for t in self.case.timers}


def kinds(outcome: Outcome, kind: type) -> list[str]:
    return [getattr(e, "key", None) or getattr(e, "name", None) for e in outcome.of(kind)]


# -- enrolment and parallel regions ----------------------------------------------------------


def test_enrol_enters_the_initial_configuration_and_creates_entry_tasks() -> None:
    run = Run("hierarchy")
    assert run.case.active == ("groupe.a1",)
    entered = run.outcome.of(Entered)
    assert entered == [Entered(at(2026, 1, 5), ("groupe.a1",))]
    assert run.outcome.effects[0] == entered[0]
    created = run.outcome.of(TaskCreated)
    # the parent's entry actions run before the child's
    assert [(t.key, t.state) for t in created] == [("t_groupe", "groupe"), ("t_a1", "groupe.a1")]
    assert all(t.due_at == end_of_day(at(2026, 2, 5)) for t in created)  # end of the day
    assert run.timers() == {"groupe_limite": at(2027, 1, 5), "a1_relance": at(2026, 7, 5)}
    assert not run.case.closed


def test_parallel_regions_are_entered_together_and_each_handles_the_event() -> None:
    run = Run("hierarchy")
    run.send("poke", at(2026, 1, 6))          # a1's own poke: → a2
    run.send("poke", at(2026, 1, 7))          # a2 has none: the parent's poke → autre
    assert run.case.active == ("autre",)
    run.send("go", at(2026, 1, 8))
    assert run.case.active == ("para.r1.x", "para.r2.p")
    transition = run.outcome.of(Transitioned)[0]
    assert transition.entered == ("para", "para.r1", "para.r1.x", "para.r2", "para.r2.p")
    assert run.open_tasks() == ["t_p", "t_x"]
    assert run.timers() == {"r2_tick": at(2026, 2, 8)}
    run.send("go", at(2026, 1, 9))            # both regions move on the same event
    assert run.case.active == ("para.r1.y", "para.r2.q")
    assert {(t.source, t.target) for t in run.outcome.of(Transitioned)} == {
        ("para.r1.x", "para.r1.y"), ("para.r2.p", "para.r2.q")}
    assert run.open_tasks() == []
    assert run.timers() == {}


# -- leaving states ----------------------------------------------------------------------------


def test_leaving_a_state_cancels_its_open_tasks_and_timers() -> None:
    run = Run("hierarchy")
    outcome = run.send("go", at(2026, 1, 6))
    assert outcome.of(TaskCancelled) == [
        TaskCancelled(at(2026, 1, 6), run.outcome.of(TaskCancelled)[0].ref, "t_a1",
                      "left state 'groupe.a1'")]
    assert outcome.of(TimerCancelled) == [TimerCancelled(at(2026, 1, 6), "a1_relance",
                                                         "groupe.a1")]
    # the parent stays active: its task and timer are kept
    assert run.open_tasks() == ["t_a2", "t_groupe"]
    assert set(run.timers()) == {"groupe_limite"}
    # effects come in order: cancellations, then the transition, then entry
    order = [type(e) for e in outcome.effects]
    assert order.index(TaskCancelled) < order.index(Transitioned) < order.index(TaskCreated)


def test_leaving_through_an_ancestors_transition_cancels_the_descendants_too() -> None:
    run = Run("hierarchy")
    outcome = run.send("leave", at(2026, 2, 1))   # declared on 'groupe', active leaf is a1
    transition = outcome.of(Transitioned)[0]
    assert (transition.source, transition.target) == ("groupe", "fin")
    assert transition.exited == ("groupe.a1", "groupe")
    assert sorted(kinds(outcome, TaskCancelled)) == ["t_a1", "t_groupe"]
    assert sorted(kinds(outcome, TimerCancelled)) == ["a1_relance", "groupe_limite"]
    assert {c.reason for c in outcome.of(TaskCancelled)} == {
        "left state 'groupe.a1'", "left state 'groupe'"}


def test_leaving_a_parallel_state_cancels_every_regions_tasks_and_timers() -> None:
    run = Run("hierarchy")
    run.send("poke", at(2026, 1, 6))
    run.send("poke", at(2026, 1, 7))
    run.send("go", at(2026, 1, 8))
    outcome = run.send("leave", at(2026, 1, 9))
    assert sorted(kinds(outcome, TaskCancelled)) == ["t_p", "t_x"]
    assert kinds(outcome, TimerCancelled) == ["r2_tick"]
    assert outcome.of(Transitioned)[0].exited == (
        "para.r1.x", "para.r2.p", "para.r1", "para.r2", "para")
    assert run.case.active == ("fin",)


# -- which transition is taken -------------------------------------------------------------------


@pytest.mark.parametrize(("value", "target", "niveau"),
                         [(6.8, "bon", "bon"), (7.0, "bon", "bon"), (8.5, "moyen", "moyen"),
                          (9.0, "moyen", "moyen"), (12.0, "mauvais", "mauvais")])
def test_first_matching_guarded_transition_wins(value: float, target: str, niveau: str) -> None:
    run = Run("guards")
    outcome = run.observe("hba1c", value, at(2026, 1, 20))
    assert [t.target for t in outcome.of(Transitioned)] == [target]
    assert run.case.active == (target,)
    assert run.case.facts["niveau"] == niveau


def test_order_matters_an_unguarded_transition_shadows_the_next_ones() -> None:
    run = Run("order")
    outcome = run.observe("hba1c", 6.0, at(2026, 1, 20))   # would satisfy the second guard
    assert [t.transition for t in outcome.of(Transitioned)] == ["attente#0"]
    assert run.case.active == ("sans_garde",)


def test_a_descendants_own_transition_has_priority_over_its_ancestors() -> None:
    run = Run("hierarchy")
    outcome = run.send("poke", at(2026, 1, 6))
    assert [(t.transition, t.target) for t in outcome.of(Transitioned)] == [
        ("groupe.a1#1", "groupe.a2")]
    # without its own transition, the descendant uses its ancestor's
    outcome = run.send("poke", at(2026, 1, 7))
    assert [(t.transition, t.target) for t in outcome.of(Transitioned)] == [
        ("groupe#0", "autre")]


def test_an_event_no_active_state_handles_changes_nothing() -> None:
    run = Run("hierarchy")
    before = run.case
    outcome = run.send("up", at(2026, 1, 6))   # only a2 handles 'up'
    assert outcome.effects == ()
    assert outcome.case == before


def test_events_a_state_does_not_handle_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    # one log line per case and per event would flood the flows' logs
    run = Run("hierarchy")
    run.send("poke", at(2026, 1, 6))
    run.send("poke", at(2026, 1, 7))
    run.send("go", at(2026, 1, 8))                 # two regions
    with caplog.at_level(logging.WARNING):
        run.send("up", at(2026, 1, 9))             # no state handles it
        run.send("go", at(2026, 1, 10))            # each region handles it
        run.send("go", at(2026, 1, 11))            # no longer handled
    assert caplog.records == []


def test_internal_transition_keeps_the_state_and_runs_its_actions() -> None:
    run = Run("guards")
    tasks_before, timers_before = run.case.tasks, run.case.timers
    outcome = run.send("compter", at(2026, 1, 6))
    transition = outcome.of(Transitioned)[0]
    assert (transition.target, transition.exited, transition.entered) == (None, (), ())
    assert run.case.active == ("attente",)
    assert run.case.facts["compteur"] == 1
    assert (run.case.tasks, run.case.timers) == (tasks_before, timers_before)
    assert outcome.of(TaskCancelled) == outcome.of(TimerSet) == []
    run.send("compter", at(2026, 1, 7))
    assert run.case.facts["compteur"] == 2


def test_self_transition_re_enters_the_state() -> None:
    run = Run("guards")
    old_refs = {t.ref for t in run.case.tasks}
    assert run.timers() == {"attente_limite": at(2026, 2, 5)}
    outcome = run.send("relancer", at(2026, 1, 20))
    transition = outcome.of(Transitioned)[0]
    assert (transition.exited, transition.entered) == (("attente",), ("attente",))
    assert {c.ref for c in outcome.of(TaskCancelled)} == old_refs
    assert kinds(outcome, TimerCancelled) == ["attente_limite"]
    assert run.open_tasks() == ["bilan", "dosage"]
    assert not old_refs & {t.ref for t in run.case.tasks}   # new tasks, new refs
    assert run.timers() == {"attente_limite": at(2026, 2, 20)}   # re-armed from now


def test_transition_to_an_ancestor_exits_and_re_enters_it_by_default() -> None:
    run = Run("hierarchy")
    run.send("go", at(2026, 1, 6))
    assert run.case.active == ("groupe.a2",)
    outcome = run.send("up", at(2026, 1, 7))
    transition = outcome.of(Transitioned)[0]
    assert transition.exited == ("groupe.a2", "groupe")
    assert transition.entered == ("groupe", "groupe.a1")
    assert run.case.active == ("groupe.a1",)
    assert run.open_tasks() == ["t_a1", "t_groupe"]
    assert run.timers() == {"groupe_limite": at(2027, 1, 7), "a1_relance": at(2026, 7, 7)}


# -- timers ------------------------------------------------------------------------------------


def test_after_timer_fires_once_at_its_time() -> None:
    run = Run("timers", start=at(2026, 1, 5))
    assert run.timers()["rappel"] == at(2026, 1, 15)
    outcome = run.advance(at(2026, 1, 14))
    assert outcome.of(TimerFired) == []
    outcome = run.advance(at(2026, 1, 15))
    assert outcome.of(TimerFired) == [TimerFired(at(2026, 1, 15), "rappel", "actif")]
    created = outcome.of(TaskCreated)[0]
    assert (created.key, created.at, created.due_at) == ("relance", at(2026, 1, 15),
                                                         end_of_day(at(2026, 1, 22)))
    assert "rappel" not in run.timers()
    outcome = run.advance(at(2027, 1, 15))
    assert "rappel" not in kinds(outcome, TimerFired)


def test_recurring_timer_fires_each_period_from_its_schedule_without_drift() -> None:
    run = Run("timers", start=at(2026, 1, 5))
    fired = []
    # late checks: each firing keeps its own scheduled time, lateness never accumulates
    for check in [at(2026, 2, 7), at(2026, 3, 20), at(2026, 4, 5, 10), at(2026, 6, 1)]:
        fired += [(f.at, f.name) for f in run.advance(check).of(TimerFired)
                  if f.name == "mensuel"]
    assert [when for when, _ in fired] == [at(2026, 2, 5), at(2026, 3, 5), at(2026, 4, 5),
                                          at(2026, 5, 5)]
    assert run.timers()["mensuel"] == at(2026, 6, 5)
    assert run.case.facts["ticks"] == 4


def test_recurring_monthly_timer_armed_on_the_31st_keeps_its_day() -> None:
    run = Run("timers", start=at(2026, 1, 31))
    outcome = run.advance(at(2026, 5, 1))
    assert [f.at for f in outcome.of(TimerFired) if f.name == "mensuel"] == [
        at(2026, 2, 28), at(2026, 3, 31), at(2026, 4, 30)]


def test_recurring_timer_catches_up_over_a_long_gap_each_firing_at_its_own_time() -> None:
    run = Run("timers", start=at(2026, 1, 5))
    outcome = run.advance(at(2028, 1, 5, 8))
    monthly = [f for f in outcome.of(TimerFired) if f.name == "mensuel"]
    expected = [at(2026 + (m // 12), m % 12 + 1, 5) for m in range(1, 24)]
    assert [f.at for f in monthly] == expected
    # the transitions taken by each firing carry that firing's time
    assert [t.at for t in outcome.of(Transitioned) if t.event == "timer:mensuel"] == expected
    assert [f.at for f in outcome.of(FactSet)] == expected
    assert run.case.facts["ticks"] == 23
    assert run.timers() == {"mensuel": at(2028, 1, 5)}
    # the one-shot timer fired in time order among them
    names = [f.name for f in outcome.of(TimerFired)]
    assert names.index("rappel") == 0


def test_timers_are_never_in_the_past_after_an_event() -> None:
    run = Run("timers", start=at(2026, 1, 5))
    run.advance(at(2026, 9, 17, 15))
    assert all(t.fire_at > at(2026, 9, 17, 15) for t in run.case.timers)
    assert run.case.next_due == at(2026, 10, 5)


def test_timer_events_cannot_be_sent_from_outside() -> None:
    run = Run("timers")
    with pytest.raises(RuntimeEventError, match="fired by the runtime"):
        run.send("timer:mensuel", at(2026, 1, 6))


def test_due_timers_fire_before_the_event_that_follows_them() -> None:
    run = Run("hierarchy")
    # a1_relance (P6M) moves a1 → a2 on 5 July; a 'go' sent on 6 July finds a2
    outcome = run.send("go", at(2026, 7, 6))
    assert [(t.event, t.target) for t in outcome.of(Transitioned)] == [
        ("timer:a1_relance", "groupe.a2")]
    assert run.case.active == ("groupe.a2",)


def test_completing_a_task_closed_by_an_earlier_timer_is_refused() -> None:
    run = Run("hierarchy")
    ref = run.task("t_a1")
    with pytest.raises(RuntimeEventError, match=f"task '{ref}' was closed by a timer"):
        run.send("task_completed:t_a1", at(2026, 7, 6), task=ref)


# -- the end -------------------------------------------------------------------------------------


def test_a_top_level_final_state_closes_the_case() -> None:
    run = Run("guards")
    run.observe("hba1c", 6.5, at(2026, 1, 20))
    outcome = run.send("sortie", at(2026, 3, 1))
    assert outcome.of(CaseClosed) == [CaseClosed(at(2026, 3, 1), "fin")]
    assert run.case.closed
    assert run.case.closed_at == at(2026, 3, 1)
    assert run.case.active == ("fin",)
    assert run.case.tasks == ()
    assert run.case.timers == ()


def test_closing_cancels_what_is_still_open() -> None:
    run = Run("hierarchy")
    outcome = run.send("leave", at(2026, 1, 6))
    assert run.case.closed and run.case.tasks == () and run.case.timers == ()
    assert isinstance(outcome.effects[-1], CaseClosed)


@pytest.mark.parametrize("event", ["sortie", "compter", "observation:hba1c"])
def test_events_on_a_closed_case_raise(event: str) -> None:
    run = Run("guards")
    run.observe("hba1c", 6.5, at(2026, 1, 20))
    run.send("sortie", at(2026, 3, 1))
    with pytest.raises(ClosedCaseError, match=r"the case has ended .*'fin'"):
        run.send(event, at(2026, 3, 2), value=7.0)


def test_advancing_a_closed_case_does_nothing() -> None:
    run = Run("hierarchy")
    run.send("leave", at(2026, 1, 6))
    outcome = run.advance(at(2030, 1, 1))
    assert outcome.effects == ()
    assert outcome.case == run.case


# -- bad events ----------------------------------------------------------------------------------


def test_unknown_event_lists_the_allowed_ones() -> None:
    run = Run("guards")
    with pytest.raises(UnknownEventError, match="unknown event 'verifer'; this pathway knows: "
                       r".*observation:hba1c.*verifier") as info:
        run.send("verifer", at(2026, 1, 6))
    assert "task_completed:bilan" in info.value.allowed
    assert info.value.event == "verifer"


@pytest.mark.parametrize(
    ("value", "message"),
    [(25, r"HbA1c: 25 % is impossible; allowed between 3 and 20 %"),
     (2.9, r"HbA1c: 2.9 % is impossible; allowed between 3 and 20 %"),
     ("high", r"HbA1c: 'high' is not a number; expected a number between 3 and 20 %"),
     (None, r"HbA1c: None is not a number"),
     (True, r"HbA1c: True is not a number")],
    ids=["above", "below", "text", "missing", "boolean"])
def test_observation_out_of_range_or_not_a_number_is_refused(value: Any, message: str) -> None:
    run = Run("guards")
    before = run.case
    with pytest.raises(InvalidEventDataError, match=message):
        run.send("observation:hba1c", at(2026, 1, 6), value=value)
    assert run.case == before


@pytest.mark.parametrize(
    ("result", "message"),
    [({"score": 11}, r"field 'score'.*11 is impossible; allowed between 0 and 10"),
     ({"score": "5"}, r"field 'score'.*'5' is not a number"),
     ({"score": 2.5}, r"field 'score'.*2.5 is not a whole number"),
     ({}, r"missing field 'score' \(integer\)"),
     ({"score": 3, "note": 1}, r"unknown field\(s\) note; allowed: score")],
    ids=["out-of-range", "text", "not-whole", "missing", "unknown-field"])
def test_task_completion_with_a_bad_result_is_refused(result: dict[str, Any],
                                                      message: str) -> None:
    run = Run("guards")
    with pytest.raises(InvalidEventDataError, match=r"result of task 'bilan'.*" + message):
        run.complete("bilan", at(2026, 1, 6), **result)


def test_task_completion_with_a_good_result_is_recorded() -> None:
    run = Run("guards")
    ref = run.task("bilan")
    outcome = run.complete("bilan", at(2026, 1, 6), score=3)
    assert outcome.of(TaskCompleted) == [TaskCompleted(at(2026, 1, 6), ref, "bilan",
                                                       {"score": 3})]
    assert outcome.of(Transitioned) == []              # guard score >= 5 does not hold
    assert run.open_tasks() == ["dosage"]


def test_guard_reads_the_task_result() -> None:
    run = Run("guards")
    outcome = run.complete("bilan", at(2026, 1, 6), score=7)
    assert [t.target for t in outcome.of(Transitioned)] == ["mauvais"]


@pytest.mark.parametrize("task", [None, "bilan-99", "dosage-2"], ids=["none", "unknown", "other"])
def test_completing_a_task_that_is_not_open_is_refused(task: str | None) -> None:
    run = Run("guards")
    with pytest.raises(RuntimeEventError, match=r"no open task .* of kind 'bilan' in this "
                       r"case; open tasks: bilan-1"):
        run.send("task_completed:bilan", at(2026, 1, 6), task=task, result={"score": 1})


def test_completing_a_task_twice_is_refused() -> None:
    run = Run("guards")
    ref = run.task("bilan")
    run.complete("bilan", at(2026, 1, 6), score=1)
    with pytest.raises(RuntimeEventError, match=f"no open task '{ref}'.*open tasks: dosage-2"):
        run.send("task_completed:bilan", at(2026, 1, 7), task=ref, result={"score": 1})


def test_completed_by_completes_the_task_when_its_event_arrives() -> None:
    run = Run("guards")
    dosage = run.task("dosage")
    outcome = run.observe("hba1c", 6.5, at(2026, 1, 10))
    assert outcome.of(TaskCompleted) == [
        TaskCompleted(at(2026, 1, 10), dosage, "dosage", {}, "observation:hba1c")]
    # the other task of the state left is cancelled, not completed
    assert kinds(outcome, TaskCancelled) == ["bilan"]
    assert run.case.tasks == ()


def test_guard_that_errors_is_reported_and_its_transition_not_taken() -> None:
    run = Run("guards")
    outcome = run.send("verifier", at(2026, 1, 6))     # no HbA1c observed yet
    failed = outcome.of(GuardFailed)
    assert [(f.transition, f.at) for f in failed] == [("attente#3", at(2026, 1, 6))]
    assert "has no attribute 'value'" in failed[0].error
    assert outcome.of(Transitioned) == []
    assert run.case.active == ("attente",)


def test_a_failing_guard_seen_from_two_regions_is_reported_once() -> None:
    run = Run("parallel-guard")
    assert run.case.active == ("par.r1.a", "par.r2.b")
    outcome = run.send("go", at(2026, 1, 6))
    assert [f.transition for f in outcome.of(GuardFailed)] == ["par#0"]
    run.subject = Subject(observations={"hba1c": ObservationValue(9.1, at(2026, 1, 6))})
    outcome = run.send("go", at(2026, 1, 7))
    assert [t.transition for t in outcome.of(Transitioned)] == ["par#0"]   # taken once
    assert run.case.closed


def test_guard_reads_the_latest_observation_given_with_the_subject() -> None:
    run = Run("guards")
    run.subject = Subject(PATIENT.birth_date, PATIENT.sex,
                          observations={"hba1c": ObservationValue(8.5, at(2025, 12, 1))})
    outcome = run.send("verifier", at(2026, 1, 6))
    assert outcome.of(GuardFailed) == []
    assert [t.target for t in outcome.of(Transitioned)] == ["mauvais"]


def test_a_failing_fact_expression_raises_a_parcours_error_and_changes_nothing() -> None:
    run = Run("guards")
    run.outcome = Outcome(Case(run.case.active, {**run.case.facts, "compteur": None},
                               run.case.timers, run.case.tasks, run.case.seq), ())
    before = run.case
    with pytest.raises(EvaluationError, match=r"facts.compteur \+ 1.*TypeError"):
        run.send("compter", at(2026, 1, 6))
    assert run.case == before


# -- parameters, eligibility, facts -------------------------------------------------------------


def test_parameter_overrides_change_behaviour() -> None:
    default, strict = Run("guards"), Run("guards", params={"hba1c_target": 6.5})
    assert default.observe("hba1c", 6.8, at(2026, 1, 20)).of(Transitioned)[0].target == "bon"
    assert strict.observe("hba1c", 6.8, at(2026, 1, 20)).of(Transitioned)[0].target == "moyen"
    assert strict.runtime.params["hba1c_target"] == 6.5
    assert strict.runtime.params["age_min"] == 65          # others keep their defaults


def test_duration_parameter_override_changes_due_dates() -> None:
    default, longer = Run("guards"), Run("guards", params={"dosage_delai": "P1M"})
    due = {t.key: t.due_at for t in default.case.tasks}
    assert due["dosage"] == end_of_day(at(2026, 1, 20))
    assert {t.key: t.due_at for t in longer.case.tasks}["dosage"] == end_of_day(at(2026, 2, 5))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"hba1c_targt": 6.5}, r"unknown parameter 'hba1c_targt'; did you mean 'hba1c_target'\?; "
                            r"this pathway declares age_min, hba1c_target, dosage_delai"),
     ({"hba1c_target": "bas"}, r"parameter 'hba1c_target': expected number, got 'bas'"),
     ({"hba1c_target": True}, r"parameter 'hba1c_target': expected number, got a boolean"),
     ({"age_min": 65.5}, r"parameter 'age_min': expected integer, got 65.5"),
     ({"dosage_delai": "15 jours"}, r"parameter 'dosage_delai': expected an ISO-8601 duration"),
     ({"age_min": 5}, r"parameter 'age_min': 5 is below the minimum 18"),
     ({"age_min": 150}, r"parameter 'age_min': 150 is above the maximum 120")],
    ids=["unknown", "text-for-number", "boolean", "float-for-integer", "bad-duration",
         "below-minimum", "above-maximum"])
def test_bad_parameter_overrides_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Runtime(pathway("guards"), overrides)


def test_every_bad_override_is_reported_at_once() -> None:
    with pytest.raises(ValueError, match=r"unknown parameter 'x'.*; parameter 'age_min'"):
        Runtime(pathway("guards"), {"x": 1, "age_min": "old"})


@pytest.mark.parametrize(
    ("when", "eligible"),
    [(at(2026, 3, 9), False), (at(2026, 3, 10, 0), True), (at(2027, 1, 1), True)],
    ids=["day-before-birthday", "birthday", "after"])
def test_eligibility_uses_the_age_at_now(when: datetime, eligible: bool) -> None:
    runtime = Runtime(pathway("guards"))
    subject = Subject(birth_date=date(1961, 3, 10))
    assert runtime.is_eligible(subject, when) is eligible


def test_eligibility_follows_parameter_overrides() -> None:
    subject = Subject(birth_date=date(1961, 3, 10))
    assert not Runtime(pathway("guards")).is_eligible(subject, at(2026, 1, 1))
    assert Runtime(pathway("guards"), {"age_min": 60}).is_eligible(subject, at(2026, 1, 1))


def test_eligibility_that_cannot_be_evaluated_raises_a_parcours_error() -> None:
    with pytest.raises(EvaluationError, match=r"patient.age >= params.age_min.*TypeError"):
        Runtime(pathway("guards")).is_eligible(Subject(), at(2026, 1, 1))


def test_facts_are_set_from_expressions_including_days_since() -> None:
    run = Run("guards")
    assert run.case.facts == {"compteur": 0, "jours_depuis_hba1c": None, "niveau": None}
    run.subject = Subject(PATIENT.birth_date, PATIENT.sex,
                          observations={"hba1c": ObservationValue(8.0, at(2025, 12, 27))})
    outcome = run.send("compter", at(2026, 1, 6, 10))
    assert outcome.of(FactSet) == [FactSet(at(2026, 1, 6, 10), "compteur", 1),
                                   FactSet(at(2026, 1, 6, 10), "jours_depuis_hba1c", 10)]
    assert run.case.facts["jours_depuis_hba1c"] == 10


def test_days_since_without_an_observation_gives_none() -> None:
    run = Run("guards")
    run.send("compter", at(2026, 1, 6))
    assert run.case.facts["jours_depuis_hba1c"] is None


# -- time is injected, the machine is shared ------------------------------------------------------


def _script(start: datetime) -> list[Outcome]:
    run = Run("guards", start=start)
    outcomes = [run.outcome]
    outcomes.append(run.send("compter", start.replace(day=6)))
    outcomes.append(run.observe("hba1c", 8.1, start.replace(day=20)))
    outcomes.append(run.advance(start.replace(year=start.year + 1)))
    outcomes.append(run.send("sortie", start.replace(year=start.year + 1, day=2)))
    return outcomes


def test_same_inputs_give_same_outputs_whatever_the_wall_clock(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.clock import SystemClock

    def no_wall_clock(self: SystemClock) -> datetime:
        raise AssertionError("the runtime read the wall clock")

    monkeypatch.setattr(SystemClock, "now", no_wall_clock)
    first, second = _script(at(1990, 1, 1)), _script(at(1990, 1, 1))
    assert first == second
    assert [o.case.to_dict() for o in first] == [o.case.to_dict() for o in second]
    # another start date shifts every date and nothing else
    later = _script(at(2090, 1, 1))
    assert [o.case.active for o in later] == [o.case.active for o in first]
    assert later[0].case.tasks[0].due_at == end_of_day(at(2090, 1, 16))


def test_one_machine_is_shared_by_every_case() -> None:
    compiled = load_file(str(DATA / "guards.yaml"))
    machine = compiled.machine
    runtime = Runtime(compiled)
    for i in range(1000):
        outcome = runtime.start(PATIENT, at(2026, 1, 5))
        event = Event("observation:hba1c", at(2026, 1, 6), value=5 + (i % 10))
        outcome = runtime.apply(outcome.case, event, PATIENT)
        runtime.apply(outcome.case, Event("sortie", at(2026, 2, 1)), PATIENT)
    assert compiled.machine is machine
    assert len(machine.models) == 0


def test_cases_are_plain_data_that_survive_a_round_trip() -> None:
    run = Run("hierarchy")
    run.send("go", at(2026, 1, 6))
    restored = Case.from_dict(run.case.to_dict())
    assert restored == run.case


def test_a_case_read_back_from_storage_fires_its_timers_at_the_same_times() -> None:
    # storage gives back fixed UTC offsets (or UTC): a monthly timer armed in winter must
    # still fire at 09:00 Paris time in summer, as it does for the case kept in memory
    run = Run("timers", start=at(2026, 1, 5))
    stored = Case.from_dict(run.case.to_dict())
    in_memory = run.runtime.advance(run.case, PATIENT, at(2026, 8, 1))
    read_back = run.runtime.advance(stored, PATIENT, at(2026, 8, 1))
    assert [f.at for f in read_back.of(TimerFired)] == [f.at for f in in_memory.of(TimerFired)]
    assert {f.at.astimezone(PARIS).hour for f in read_back.of(TimerFired)} == {9}
    assert read_back.case.next_due == in_memory.case.next_due == at(2026, 8, 5)


def test_errors_raised_by_the_runtime_are_parcours_errors() -> None:
    run = Run("guards")
    for name, kwargs in [("nope", {}), ("observation:hba1c", {"value": 99}),
                         ("task_completed:bilan", {"task": "x"})]:
        with pytest.raises(ParcoursError):
            run.send(name, at(2026, 1, 6), **kwargs)


def test_completed_by_accepts_a_list_of_events() -> None:
    from engine.pathway.loader import check_text, load_text

    text = """\
key: liste
version: 1
title: Liste
roles: {medecin_traitant: {title: Médecin traitant}}
observations:
  ntprobnp: {code: 33762-6, title: NT-proBNP, unit: pg/mL, minimum: 0, maximum: 70000}
  bnp: {code: 30934-4, title: BNP, unit: pg/mL, minimum: 0, maximum: 5000}
tasks:
  dosage:
    title: Doser un peptide natriurétique
    role: medecin_traitant
    due: P15D
    completed_by: [observation:ntprobnp, observation:bnp]
initial: attente
states:
  attente:
    on_enter: {tasks: [dosage]}
    transitions:
      - {on: observation:bnp, to: fin}
      - {on: observation:ntprobnp, to: fin}
  fin: {final: true}
"""
    runtime = Runtime(load_text(text, "liste.yaml"))
    start = datetime(2026, 1, 5, 9, tzinfo=PARIS)
    case = runtime.start(Subject(), start).case
    outcome = runtime.apply(case, Event("observation:bnp", start + timedelta(days=2), value=20),
                            Subject())
    assert [(e.key, e.by_event) for e in outcome.of(TaskCompleted)] == [
        ("dosage", "observation:bnp")]
    _, problems = check_text(text.replace("observation:bnp]", "observation:bnpp]"), "x.yaml")
    assert [(p.line, p.column, p.check) for p in problems] == [(13, 54, "undefined-observation")]
