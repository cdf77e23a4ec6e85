"""The territory's calendar (issue 10): ages, days, deadlines and schedules on Paris dates.

Every calendar notion is read on the Europe/Paris date, never the UTC one: at
00:30 in Paris (23:30 or 22:30 UTC the day before) it is already the next day.
Checked at the midnight boundary in winter (UTC+1) and summer (UTC+2) time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.case import Event, Subject
from engine.clock import calendar_days, days_overdue, end_of_day, local_date
from engine.pathway import load_file, load_text
from engine.pathway.expressions import days_since
from engine.runtime import Runtime

PARIS = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parents[1]
HEART = ROOT / "pathways" / "insuffisance-cardiaque-65.yaml"
HOSPITAL = ROOT / "pathways" / "hospitalisation-sujet-age.yaml"

#: 00:30 in Paris on a birthday, written in UTC (the day before there)
WINTER = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)    # 2 March 00:30 CET
SUMMER = datetime(2026, 7, 13, 22, 30, tzinfo=UTC)   # 14 July 00:30 CEST


@pytest.mark.parametrize(("moment", "expected"), [
    (WINTER, date(2026, 3, 2)), (SUMMER, date(2026, 7, 14)),
    (datetime(2026, 3, 1, 22, 59, tzinfo=UTC), date(2026, 3, 1)),
    (datetime(2026, 7, 13, 21, 59, tzinfo=UTC), date(2026, 7, 13)),
], ids=["winter-after-midnight", "summer-after-midnight", "winter-before", "summer-before"])
def test_local_date_is_the_paris_date(moment: datetime, expected: date) -> None:
    assert local_date(moment) == expected


@pytest.mark.parametrize(("born", "moment", "age"), [
    (date(1961, 3, 2), WINTER, 65), (date(1951, 7, 14), SUMMER, 75),
    (date(1961, 3, 2), WINTER - timedelta(hours=1), 64),
    (date(1951, 7, 14), SUMMER - timedelta(hours=1), 74),
], ids=["65-winter", "75-summer", "65-eve", "75-eve"])
def test_age_on_the_paris_birthday(born: date, moment: datetime, age: int) -> None:
    assert Subject(born).age_at(moment) == age


@pytest.mark.parametrize(("path", "born", "moment"), [
    (HEART, date(1961, 3, 2), WINTER), (HOSPITAL, date(1951, 7, 14), SUMMER),
], ids=["heart-failure-65-winter", "hospital-75-summer"])
def test_enrolled_at_0030_on_the_birthday_is_eligible(path: Path, born: date,
                                                      moment: datetime) -> None:
    runtime = Runtime(load_file(str(path)))
    assert runtime.is_eligible(Subject(born), moment)
    assert not runtime.is_eligible(Subject(born), moment - timedelta(hours=1))


def test_days_since_counts_paris_calendar_days() -> None:
    discharge = datetime(2026, 3, 10, 22, 0, tzinfo=PARIS)
    assert days_since(discharge, datetime(2026, 3, 11, 8, 0, tzinfo=PARIS)) == 1
    # day 30 in the afternoon is still day 30; day 31 just after midnight is 31
    assert days_since(discharge, datetime(2026, 4, 9, 16, 0, tzinfo=PARIS)) == 30
    assert days_since(discharge, datetime(2026, 4, 10, 0, 5, tzinfo=PARIS)) == 31
    # the same moments written in UTC give the same answer
    assert days_since(discharge.astimezone(UTC),
                      datetime(2026, 4, 9, 22, 30, tzinfo=UTC)) == 31
    assert days_since(date(2026, 7, 13), SUMMER) == 1
    assert calendar_days(SUMMER - timedelta(hours=1), SUMMER) == 1


def test_observation_days_ago_is_in_calendar_days() -> None:
    pathway = load_text(_OBS_PATHWAY, "obs.yaml")
    runtime = Runtime(pathway)
    start = datetime(2026, 3, 1, 20, 0, tzinfo=PARIS)
    case = runtime.start(Subject(), start).case
    evening = datetime(2026, 3, 1, 23, 0, tzinfo=PARIS)
    case = runtime.apply(case, Event("observation:poids", evening, value=70, unit="kg"),
                         Subject()).case
    from engine.case import ObservationValue

    subject = Subject(observations={"poids": ObservationValue(70, evening, "kg")})
    # two hours later, after midnight: "yesterday" (1), though less than 24 hours ago
    out = runtime.apply(case, Event("verifier", evening + timedelta(hours=2)), subject)
    assert out.case.facts["jours"] == 1


_OBS_PATHWAY = """\
key: test-jours
version: 1
title: Jours calendaires
roles: {infirmier: {title: Infirmier}}
facts: {jours: {type: integer}}
observations: {poids: {code: 29463-7, title: Poids, unit: kg}}
events: {verifier: {title: Vérifier}}
initial: suivi
states:
  suivi:
    ongoing: true
    transitions:
      - on: observation:poids
      - on: verifier
        set: {jours: "obs.poids.days_ago"}
"""


# -- deadlines in calendar days --------------------------------------------------------------


_DUE_PATHWAY = """\
key: test-echeances
version: 1
title: Échéances
roles: {infirmier: {title: Infirmier}}
tasks:
  en_jours: {title: Sous 7 jours, role: infirmier, due: P7D}
  en_mois: {title: Sous un mois, role: infirmier, due: P1M}
  en_heures: {title: Sous 48 heures, role: infirmier, due: PT48H}
initial: debut
states:
  debut:
    ongoing: true
    on_enter: {tasks: [en_jours, en_mois, en_heures]}
"""


def test_due_in_days_ends_with_the_paris_day_and_hours_stay_exact() -> None:
    runtime = Runtime(load_text(_DUE_PATHWAY, "due.yaml"))
    created = datetime(2026, 3, 3, 1, 4, tzinfo=UTC)  # 02:04 in Paris, a Tuesday
    due = {t.key: t.due_at for t in runtime.start(Subject(), created).case.tasks}
    assert due["en_jours"].astimezone(PARIS) == datetime(
        2026, 3, 10, 23, 59, 59, 999999, tzinfo=PARIS)
    assert due["en_mois"].astimezone(PARIS).date() == date(2026, 4, 3)
    assert due["en_mois"].astimezone(PARIS).hour == 23
    assert due["en_heures"] == created + timedelta(hours=48)


def test_deadline_across_the_summer_time_change() -> None:
    runtime = Runtime(load_text(_DUE_PATHWAY, "due.yaml"))
    created = datetime(2026, 3, 25, 23, 30, tzinfo=UTC)  # 00:30 on the 26th, CET
    due = {t.key: t.due_at for t in runtime.start(Subject(), created).case.tasks}
    local = due["en_jours"].astimezone(PARIS)
    assert (local.date(), local.hour, local.minute) == (date(2026, 4, 2), 23, 59)
    assert local.utcoffset() == timedelta(hours=2)  # summer time by then


def test_overdue_is_counted_in_calendar_days() -> None:
    due = end_of_day(datetime(2026, 3, 10, 2, 4, tzinfo=PARIS))
    assert days_overdue(due, datetime(2026, 3, 10, 23, 0, tzinfo=PARIS)) == 0  # not late yet
    assert days_overdue(due, datetime(2026, 3, 11, 0, 1, tzinfo=PARIS)) == 1
    assert days_overdue(due, datetime(2026, 3, 13, 9, 0, tzinfo=PARIS)) == 3
    exact = datetime(2026, 3, 10, 14, 0, tzinfo=PARIS)
    assert days_overdue(exact, datetime(2026, 3, 10, 13, 0, tzinfo=PARIS)) == 0


# -- `after` timers keep their schedule ------------------------------------------------------


_AFTER_PATHWAY = """\
key: test-apres
version: 1
title: Minuterie après
roles: {infirmier: {title: Infirmier}}
tasks: {controle: {title: Contrôle, role: infirmier, due: P15D}}
initial: attente
states:
  attente:
    ongoing: true
    timers:
      trimestre: {after: P3M}
    transitions:
      - on: timer:trimestre
        to: attente
        tasks: [controle]
"""


def test_after_timer_rearmed_by_its_own_firing_does_not_drift() -> None:
    runtime = Runtime(load_text(_AFTER_PATHWAY, "after.yaml"))
    start = datetime(2026, 1, 31, 9, 0, tzinfo=PARIS)
    case = runtime.start(Subject(), start).case
    fired = []
    for month in (5, 8, 11):
        out = runtime.advance(case, Subject(), datetime(2026, month, 15, tzinfo=PARIS))
        fired += [e.at.date() for e in out.effects if e.kind == "timer_fired"]
        case = out.case
    assert fired == [date(2026, 4, 30), date(2026, 7, 31), date(2026, 10, 31)]
    assert case.timers[0].fire_at == datetime(2027, 1, 31, 9, 0, tzinfo=PARIS)
    assert case.timers[0].anchor == start


def test_after_timer_catching_up_stays_on_schedule() -> None:
    runtime = Runtime(load_text(_AFTER_PATHWAY, "after.yaml"))
    start = datetime(2026, 1, 31, 9, 0, tzinfo=PARIS)
    out = runtime.advance(runtime.start(Subject(), start).case, Subject(),
                          datetime(2027, 2, 1, tzinfo=PARIS))
    assert [e.at.date() for e in out.effects if e.kind == "timer_fired"] == [
        date(2026, 4, 30), date(2026, 7, 31), date(2026, 10, 31), date(2027, 1, 31)]


def test_after_timer_entered_by_another_event_starts_a_new_schedule() -> None:
    text = _AFTER_PATHWAY.replace("tasks: [controle]\n", "tasks: [controle]\n"
                                  "      - on: relancer\n        to: attente\n")
    text = text.replace("tasks: {controle", "events: {relancer: {title: Relancer}}\n"
                        "tasks: {controle")
    runtime = Runtime(load_text(text, "after.yaml"))
    start = datetime(2026, 1, 31, 9, 0, tzinfo=PARIS)
    case = runtime.start(Subject(), start).case
    again = datetime(2026, 2, 10, 9, 0, tzinfo=PARIS)
    case = runtime.apply(case, Event("relancer", again), Subject()).case
    assert case.timers[0].fire_at == datetime(2026, 5, 10, 9, 0, tzinfo=PARIS)
    assert case.timers[0].anchor == again
