"""Property-based tests: random event sequences never break a case's invariants.

Hypothesis drives a compiled pathway with random mixes of observations (random
valid values), completions of a random open task (random valid result), custom
events (random valid data), admission/discharge and time jumps from an hour to
18 months, at strictly increasing times. After every step:

(a) every active state is a declared atomic state and the active states form a
    valid configuration (one active child per active compound state, every
    region of an active parallel state active);
(b) every open task belongs to an active state, and no task survives a step
    that exited its state;
(c) every timer belongs to an active state and fires after the step's time;
(d) a closed case has no open task and no timer;
(e) ``Case.to_dict`` / ``Case.from_dict`` round-trips, and the case read back
    gives the same outcome for the next step as the case kept in memory.

Two pathways: the bundled example, and ``PROPERTIES_PATHWAY`` below (nested
parallel regions, self transitions, transitions to an ancestor and across
regions, internal and recurring-timer transitions).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.case import Case, Event, ObservationValue, Outcome, Subject, Transitioned
from engine.durations import add_months
from engine.pathway import load_file, load_text
from engine.pathway.compiler import CompiledPathway
from engine.pathway.model import FieldSpec, Observation
from engine.pathway.statetree import ROOT
from engine.runtime import Runtime

EXAMPLE = Path(__file__).resolve().parents[1] / "pathways" / "examples" / "exemple-suivi.yaml"
PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 1, 5, 9, 0, tzinfo=PARIS)
MAX_STEPS = 40

PROPERTIES_PATHWAY = """\
key: test-proprietes
version: 1
title: Parcours de test des propriétés
description: Régions parallèles imbriquées, transitions réflexives et vers un ancêtre.
parameters:
  poids_max: {type: number, default: 100, unit: kg, description: Poids d'alerte}
  delai_relance: {type: duration, default: P2W, description: Délai de relance}
roles:
  medecin: {title: Médecin traitant}
  infirmier: {title: Infirmier}
facts:
  pesees: {type: integer, default: 0}
  niveau: {type: integer}
observations:
  poids: {code: 29463-7, title: Poids, unit: kg, minimum: 20, maximum: 300}
  pas: {code: 8480-6, title: Pression artérielle systolique, unit: mmHg, minimum: 50,
        maximum: 250}
events:
  reevaluer:
    title: Réévaluation
    data:
      niveau: {type: integer, minimum: 0, maximum: 3}
      note: {type: text, required: false}
  pause: {title: Pause de la surveillance du poids}
  reprise: {title: Reprise de la surveillance du poids}
  transfert: {title: Transfert vers la pause}
  sortie: {title: Sortie du parcours}
tasks:
  evaluer:
    title: Évaluer le patient
    role: medecin
    due: P7D
    result:
      niveau: {type: integer, minimum: 0, maximum: 3}
  peser:
    title: Peser le patient
    role: infirmier
    due: P1M
    completed_by: observation:poids
  controler:
    title: Contrôler la tension
    role: infirmier
    due: P14D
    reminder: P7D
    escalation: P21D
    result:
      normale: {type: boolean}
      commentaire: {type: text, required: false}
  rappeler:
    title: Rappeler le patient
    role: medecin
    due: P2D
initial: accueil
states:
  accueil:
    on_enter:
      tasks: [evaluer]
    transitions:
      - on: task_completed:evaluer
        to: suivi
        set: {niveau: "event.result.niveau"}
  suivi:
    parallel: true
    timers:
      bilan: {every: P6M}
    transitions:
      - on: sortie
        to: fin
      - on: timer:bilan                 # internal transition on a parallel state
        tasks: [rappeler]
      - on: reevaluer                   # self transition of a parallel state
        guard: "event.data.niveau >= 3"
        to: suivi
        set: {niveau: "event.data.niveau"}
      - on: reevaluer
        set: {niveau: "event.data.niveau"}
    states:
      poids:
        initial: surveillance
        transitions:
          - on: pause                   # declared on a region
            to: pause
        states:
          surveillance:
            initial: mesure
            timers:
              pesee: {every: P1M}
            transitions:
              - on: timer:pesee         # self transition of a compound state
                guard: "facts.pesees > 3"
                to: surveillance
                set: {pesees: 0}
            states:
              mesure:
                on_enter:
                  tasks: [peser]
                transitions:
                  - on: observation:poids
                    guard: "obs.poids.value > params.poids_max"
                    to: alerte
                  - on: observation:poids   # self transition of an atomic state
                    to: mesure
                    set: {pesees: "facts.pesees + 1"}
              alerte:
                on_enter:
                  notify:
                    - {to: [medecin], message: Poids au-dessus du seuil}
                timers:
                  relance: {after: delai_relance}
                transitions:
                  - on: timer:relance       # to an ancestor
                    to: surveillance
                  - on: observation:poids
                    guard: "event.value <= params.poids_max"
                    to: mesure
          pause:
            transitions:
              - on: reprise
                to: surveillance
      tension:
        parallel: true                  # a parallel state inside a parallel state
        states:
          mesures:
            initial: attente
            states:
              attente:
                timers:
                  controle: {after: P3M}
                transitions:
                  - on: timer:controle
                    to: controle
              controle:
                on_enter:
                  tasks: [controler]
                transitions:
                  - on: task_completed:controler
                    guard: "event.result.normale"
                    to: attente
                  - on: task_completed:controler
                    to: controle
                  - on: transfert           # across regions of 'suivi'
                    to: suivi.poids.pause
          alertes:
            initial: calme
            states:
              calme:
                transitions:
                  - on: observation:pas
                    guard: "event.value >= 180"
                    to: vigilance
              vigilance:
                timers:
                  vigilance_fin: {after: P1M}
                transitions:
                  - on: observation:pas
                    guard: "event.value < 140"
                    to: calme
                  - on: timer:vigilance_fin  # to an ancestor that is parallel
                    to: tension
                  - on: admission
                    to: hospitalise
                  - on: observation:pas      # to its own region
                    guard: "obs.pas.days_ago == 0 and event.value > 220"
                    to: alertes
              hospitalise:
                transitions:
                  - on: discharge
                    to: calme
  fin:
    final: true
"""

PATHWAYS: dict[str, CompiledPathway] = {
    "exemple-suivi": load_file(str(EXAMPLE)),
    "proprietes": load_text(PROPERTIES_PATHWAY, "test-proprietes.yaml"),
}


# -- strategies ------------------------------------------------------------------------------


def _value(kind: str, minimum: float | None, maximum: float | None,
           choices: list[Any] | None) -> st.SearchStrategy[Any]:
    if kind == "integer":
        low = int(minimum) if minimum is not None else -1000
        return st.integers(low, int(maximum) if maximum is not None else low + 2000)
    if kind == "number":
        return st.floats(minimum if minimum is not None else -1e6,
                         maximum if maximum is not None else 1e6, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "choice":
        return st.sampled_from(choices or ["x"])
    if kind == "date":
        return st.dates(date(2000, 1, 1), date(2030, 12, 31))
    return st.text("abcdéèà ", max_size=12)


def _observation_value(spec: Observation) -> st.SearchStrategy[Any]:
    return _value(spec.type, spec.minimum, spec.maximum, spec.choices)


@st.composite
def _fields(draw: st.DrawFn, spec: Mapping[str, FieldSpec]) -> dict[str, Any]:
    out = {}
    for name, field_spec in spec.items():
        if field_spec.required or draw(st.booleans()):
            out[name] = draw(_value(field_spec.type, field_spec.minimum, field_spec.maximum,
                                    field_spec.choices))
    return out


@st.composite
def _gap(draw: st.DrawFn, now: datetime) -> datetime:
    """A later moment: minutes to hours, days, or whole calendar months (up to 18)."""
    scale = draw(st.sampled_from(["minutes", "hours", "days", "months"]))
    if scale == "months":
        return add_months(now, draw(st.integers(1, 18)))
    size = {"minutes": 59, "hours": 23, "days": 120}[scale]
    return now + timedelta(**{scale: draw(st.integers(1, size))})


KINDS = ["observe"] * 4 + ["complete"] * 4 + ["wait"] * 2 + ["event"] + ["admission",
                                                                          "discharge"] * 2

#: CPTS overrides drawn for each run, so that deep states are reached too
PARAMETERS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "exemple-suivi": st.fixed_dictionaries({}, optional={
        "max_failures": st.integers(1, 3),
        "hba1c_target": st.sampled_from([6.5, 7.0, 8.0]),
        "hba1c_interval": st.sampled_from(["P1M", "P3M", "P6M"]),
    }),
    "proprietes": st.fixed_dictionaries({}, optional={
        "poids_max": st.sampled_from([60, 100, 150]),
        "delai_relance": st.sampled_from(["PT12H", "P2W", "P2M"]),
    }),
}


# -- invariants ------------------------------------------------------------------------------


def _active_states(pathway: CompiledPathway, case: Case) -> set[str]:
    active = set(case.active)
    for leaf in case.active:
        active.update(pathway.states[leaf].ancestors)
    return active


def check_configuration(pathway: CompiledPathway, case: Case) -> set[str]:
    """(a): declared atomic leaves, each once, forming a valid configuration."""
    tree = pathway.tree
    assert case.active, "no active state"
    assert len(set(case.active)) == len(case.active), f"duplicate leaves {case.active}"
    for leaf in case.active:
        assert leaf in tree.nodes and leaf != ROOT, f"undeclared state {leaf!r}"
        assert not tree.nodes[leaf].children, f"active leaf {leaf!r} is not atomic"
    active = _active_states(pathway, case)
    for sid in [ROOT, *active]:
        node = tree.nodes[sid]
        if not node.children:
            continue
        on = [child for child in node.children if child in active]
        if node.state.parallel:
            assert on == node.children, f"parallel {sid!r}: regions {on} of {node.children}"
        else:
            assert len(on) == 1, f"compound {sid or 'root'!r} has active children {on}"
    return active


def check_invariants(pathway: CompiledPathway, before: Case, case: Case, now: datetime,
                     exited: set[str]) -> None:
    active = check_configuration(pathway, case)
    for task in case.tasks:                                              # (b)
        assert task.state in active, f"task {task.ref} open in left state {task.state!r}"
    survivors = {t.ref for t in before.tasks} & {t.ref for t in case.tasks}
    for task in case.tasks:
        if task.ref in survivors:
            assert task.state not in exited, f"task {task.ref} survived leaving {task.state!r}"
    assert len({t.ref for t in case.tasks}) == len(case.tasks)
    for timer in case.timers:                                            # (c)
        assert timer.state in active, f"timer {timer.name} armed in left state {timer.state!r}"
        assert timer.fire_at > now, f"timer {timer.name} at {timer.fire_at} <= {now}"
    assert len({(t.state, t.name) for t in case.timers}) == len(case.timers)
    if case.closed:                                                      # (d)
        assert not case.tasks and not case.timers
        assert any(pathway.states[leaf].top_final for leaf in case.active)
    else:
        assert not any(pathway.states[leaf].top_final for leaf in case.active)
    data = case.to_dict()                                                # (e)
    assert Case.from_dict(data) == case
    assert Case.from_dict(data).to_dict() == data


# -- the property ----------------------------------------------------------------------------


def _observe(data: st.DataObject, pathway: CompiledPathway, at: datetime) -> Event:
    key = data.draw(st.sampled_from(sorted(pathway.definition.observations)), label="obs")
    spec = pathway.definition.observations[key]
    value = data.draw(_observation_value(spec), label="value")
    return Event(f"observation:{key}", at, value=value, unit=spec.unit)


def _custom(data: st.DataObject, pathway: CompiledPathway, at: datetime) -> Event:
    name = data.draw(st.sampled_from(sorted(pathway.definition.events)), label="event")
    values = data.draw(_fields(pathway.definition.events[name].data), label="data")
    return Event(name, at, data=values)


def _step(runtime: Runtime, case: Case, subject: Subject, event: Event | None,
          now: datetime) -> Outcome:
    if event is None:
        return runtime.advance(case, subject, now)
    return runtime.apply(case, event, subject)


def run_random_sequence(data: st.DataObject, name: str) -> None:
    pathway = PATHWAYS[name]
    runtime = Runtime(pathway, data.draw(PARAMETERS[name], label="parameters"))
    subject = Subject(date(1955, 3, 2), data.draw(st.sampled_from(["F", "M"])))
    outcome = runtime.start(subject, START)
    case, now = outcome.case, START
    check_invariants(pathway, Case(()), case, now, set())
    for _ in range(data.draw(st.integers(1, MAX_STEPS), label="steps")):
        if case.closed:
            break
        now = data.draw(_gap(now), label="at")
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        if kind == "complete":
            # choose among the tasks open at that time (timers due before may add some);
            # the event is applied to the case as it was, so apply fires those timers itself
            open_now = runtime.advance(case, subject, now).case.tasks
            if not open_now:
                kind = "wait"
            else:
                task = data.draw(st.sampled_from(open_now), label="task")
                result = data.draw(_fields(pathway.tasks[task.key].result), label="result")
                event: Event | None = Event(f"task_completed:{task.key}", now, task=task.ref,
                                            result=result)
        if kind == "observe":
            event = _observe(data, pathway, now)
        elif kind == "event":
            event = _custom(data, pathway, now)
        elif kind in ("admission", "discharge"):
            event = Event(kind, now)
        elif kind == "wait":
            event = None
        before = case
        outcome = _step(runtime, case, subject, event, now)
        # (e) a case read back from storage behaves exactly as the one kept in memory
        stored = _step(runtime, Case.from_dict(case.to_dict()), subject, event, now)
        assert stored.case.to_dict() == outcome.case.to_dict()
        assert [e.to_dict() for e in stored.effects] == [e.to_dict() for e in outcome.effects]
        case = outcome.case
        exited = {s for e in outcome.of(Transitioned) for s in e.exited}
        check_invariants(pathway, before, case, now, exited)
        if event is not None and event.name.startswith("observation:"):
            observations = dict(subject.observations)
            observations[event.name.partition(":")[2]] = ObservationValue(
                event.value, now, event.unit)
            subject = Subject(subject.birth_date, subject.sex, subject.conditions, observations)


@pytest.mark.parametrize("name", sorted(PATHWAYS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_event_sequences_keep_the_case_consistent(name: str, data: st.DataObject,
                                                         ) -> None:
    run_random_sequence(data, name)
