"""Property: a random case of version 1 migrated by the identity mapping to a copy of
version 1 is the same case, byte for byte (its JSON), and the only effect is the history
line. Random cases come from the same random event sequences as ``test_properties``."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.case import Case, Event, Migrated, ObservationValue, Subject
from engine.migration import Mapping, Move, migrate_case
from engine.pathway import load_text
from engine.runtime import Runtime
from tests.test_properties import (
    KINDS,
    PARAMETERS,
    PATHWAYS,
    START,
    _custom,
    _fields,
    _gap,
    _observe,
)

COPIES = {name: load_text(p.source + "\n# a copy of version 1\n", f"{name}-copy.yaml")
          for name, p in PATHWAYS.items()}


def random_case(data: st.DataObject, name: str, runtime: Runtime) -> tuple[Case, Subject,
                                                                             datetime]:
    pathway = runtime.pathway
    subject = Subject(date(1955, 3, 2), data.draw(st.sampled_from(["F", "M"])))
    case, now = runtime.start(subject, START).case, START
    for _ in range(data.draw(st.integers(0, 25), label="steps")):
        if case.closed:
            break
        now = data.draw(_gap(now), label="at")
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        event: Event | None = None
        if kind == "complete":
            open_now = runtime.advance(case, subject, now).case.tasks
            if open_now:
                task = data.draw(st.sampled_from(open_now), label="task")
                result = data.draw(_fields(pathway.tasks[task.key].result), label="result")
                event = Event(f"task_completed:{task.key}", now, task=task.ref, result=result)
        elif kind == "observe":
            event = _observe(data, pathway, now)
        elif kind == "event":
            event = _custom(data, pathway, now)
        elif kind in ("admission", "discharge"):
            event = Event(kind, now)
        outcome = (runtime.advance(case, subject, now) if event is None
                   else runtime.apply(case, event, subject))
        case = outcome.case
        if event is not None and event.name.startswith("observation:"):
            observations = {**subject.observations,
                            event.name.partition(":")[2]: ObservationValue(event.value, now,
                                                                           event.unit)}
            subject = Subject(subject.birth_date, subject.sex, subject.conditions, observations)
    return case, subject, now


@pytest.mark.parametrize("name", sorted(PATHWAYS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_identity_migration_changes_nothing_but_the_version(name: str,
                                                            data: st.DataObject) -> None:
    params = data.draw(PARAMETERS[name], label="parameters")
    old, new = Runtime(PATHWAYS[name], params), Runtime(COPIES[name], params)
    case, subject, now = random_case(data, name, old)
    result = migrate_case(case, Mapping.implicit(PATHWAYS[name].key), old, new, subject, now,
                          1, 2, run=9)
    if case.closed:
        assert not isinstance(result, Move) and result.reason == "dossier clos"
        return
    assert isinstance(result, Move)
    assert result.case.to_dict() == case.to_dict()
    assert result.effects == (Migrated(now, 1, 2, 9, "passé de la version 1 à la version 2",
                                       case.active, case.active),)
    assert not (result.cancelled or result.created or result.rearmed or result.armed
                or result.dropped or result.entered or result.retargeted)
    assert sorted(result.states) == sorted((s, s) for s in case.active)
