"""Typed hospital events: stay identifiers, idempotence per stay, cancellations undone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine import events
from engine.case import (
    Case,
    Event,
    HospitalEventUndone,
    Subject,
    TaskCancelled,
    TimerSet,
)
from engine.clock import PARIS
from engine.exceptions import InvalidEventDataError
from engine.hospital import check_data
from engine.pathway import load_file
from engine.runtime import Runtime

DATA = Path(__file__).parent / "data" / "runtime"
PATIENT = Subject()
START = datetime(2026, 3, 2, 8, tzinfo=PARIS)


def runtime() -> Runtime:
    return Runtime(load_file(str(DATA / "hospital.yaml")))


def day(n: int) -> datetime:
    return START + timedelta(days=n)


def admission(n: int, stay: str = "S1", **data: object) -> Event:
    return Event(events.ADMISSION, day(n), data={events.STAY: stay, **data})


def discharge(n: int, stay: str = "S1", **data: object) -> Event:
    return Event(events.DISCHARGE, day(n), data={events.STAY: stay, **data})


def admitted() -> tuple[Runtime, Case]:
    rt = runtime()
    case = rt.start(PATIENT, START).case
    return rt, rt.apply(case, admission(1, planned=False, reason="décompensation"),
                        PATIENT).case


def test_typed_data_reaches_guards_and_facts() -> None:
    rt, case = admitted()
    assert case.active == ("hospitalise",) and case.facts["programme"] is False
    case = rt.apply(case, discharge(5, destination="domicile"), PATIENT).case
    assert case.facts["destination"] == "domicile"


def test_the_same_stay_delivered_twice_changes_nothing() -> None:
    rt, case = admitted()
    again = rt.apply(case, admission(1, planned=False), PATIENT)
    assert again.effects == () and again.case == case
    case = rt.apply(case, discharge(5), PATIENT).case
    twice = rt.apply(case, discharge(6), PATIENT)
    assert twice.effects == () and [t.key for t in twice.case.tasks] == ["lettre",
                                                                        "consultation"]


def test_a_new_stay_is_a_new_admission() -> None:
    rt, case = admitted()
    case = rt.apply(case, discharge(5), PATIENT).case
    case = rt.apply(case, admission(20, stay="S2"), PATIENT).case
    assert case.facts["sejours"] == 2 and case.active == ("hospitalise",)


def test_cancelled_discharge_restores_the_stay_and_cancels_its_tasks() -> None:
    rt, case = admitted()
    hospitalised = case
    case = rt.apply(case, discharge(5), PATIENT).case
    out = rt.apply(case, Event(events.DISCHARGE_CANCELLED, day(6),
                               data={events.STAY: "S1"}), PATIENT)
    assert out.case.active == ("hospitalise",)
    assert sorted(e.key for e in out.of(TaskCancelled)) == ["consultation", "lettre"]
    assert out.case.tasks == ()
    # the stay's 30-day timer is back at its former time
    assert out.case.timers == hospitalised.timers
    assert [t.name for t in out.of(TimerSet)] == ["sejour_long"]
    (line,) = out.of(HospitalEventUndone)
    assert (line.event, line.stay, line.restored) == ("discharge", "S1", ("hospitalise",))
    # the discharge can now be received again (a corrected one)
    again = rt.apply(out.case, discharge(7, destination="ehpad"), PATIENT)
    assert again.case.active == ("sorti",) and again.case.facts["destination"] == "ehpad"


def test_cancelled_admission_goes_back_to_the_previous_state_and_facts() -> None:
    rt, case = admitted()
    out = rt.apply(case, Event(events.ADMISSION_CANCELLED, day(2), data={events.STAY: "S1"}),
                   PATIENT)
    assert out.case.active == ("domicile",)
    assert out.case.facts["sejours"] == 0
    assert [t.name for t in out.case.timers] == ["bilan_annuel"]
    twice = rt.apply(out.case, Event(events.ADMISSION_CANCELLED, day(3),
                                     data={events.STAY: "S1"}), PATIENT)
    assert twice.effects == ()  # the same cancellation delivered twice


def test_cancelling_an_unknown_stay_says_so_and_changes_nothing() -> None:
    rt, case = admitted()
    out = rt.apply(case, Event(events.DISCHARGE_CANCELLED, day(2), data={events.STAY: "X9"}),
                   PATIENT)
    assert out.case.active == case.active
    assert "rien à annuler" in out.of(HospitalEventUndone)[0].note


def test_stays_survive_serialisation() -> None:
    _, case = admitted()
    assert Case.from_dict(case.to_dict()).stays == case.stays


@pytest.mark.parametrize(("kind", "data", "message"), [
    (events.ADMISSION, {"stay": ""}, "séjour"),
    (events.ADMISSION, {"stay": "S1", "planned": "oui"}, "programmé"),
    (events.ADMISSION, {"stay": "S1", "destination": "domicile"}, "que la sortie"),
    (events.DISCHARGE, {"stay": "S1", "destination": "plage"}, "destination de sortie inconnue"),
    (events.DISCHARGE, {"stay": "S1", "motif": "x"}, "champ\\(s\\) inconnu"),
    (events.ADMISSION_CANCELLED, {}, "obligatoire pour une annulation"),
])
def test_bad_hospital_data_is_refused_in_french(kind: str, data: dict[str, object],
                                                message: str) -> None:
    with pytest.raises(InvalidEventDataError, match=message):
        check_data(kind, data)
    rt, case = admitted()
    with pytest.raises(InvalidEventDataError, match=message):
        rt.apply(case, Event(kind, day(3), data=data), PATIENT)
