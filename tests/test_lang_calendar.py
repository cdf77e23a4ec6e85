"""Calendar arithmetic in guards: ``days_between`` and ``within`` count Paris calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.case import Event, Subject, Transitioned
from engine.clock import PARIS
from engine.pathway import load_text
from engine.pathway.datefuncs import days_between, within
from engine.runtime import Runtime


def paris(day: int, month: int = 3, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PARIS)


def test_days_between_counts_calendar_days_not_24_hour_periods() -> None:
    # 23:30 → 00:30 the next day: one calendar day, one hour
    assert days_between(paris(1, hour=23, minute=30), paris(2, hour=0, minute=30)) == 1
    assert days_between(paris(2), paris(1)) == -1
    assert days_between(date(2026, 3, 1), "2026-03-31") == 30
    assert days_between(None, paris(1)) is None


def test_days_between_uses_the_paris_date_of_utc_moments() -> None:
    # 22:30 UTC on 1 March is 23:30 in Paris (1 March); 23:30 UTC is already 2 March in Paris
    assert days_between(datetime(2026, 3, 1, 22, 30, tzinfo=UTC), paris(2)) == 1
    assert days_between(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), paris(2)) == 0


@pytest.mark.parametrize(("now", "expected"), [
    (paris(31, hour=15), True),          # day 30 in the afternoon
    (paris(31, hour=23, minute=59), True),
    (paris(1, month=4, hour=0, minute=5), False),  # day 31
])
def test_within_counts_the_last_calendar_day_whole(now: datetime, expected: bool) -> None:
    assert within(paris(1, hour=18), "P30D", now) is expected


def test_within_in_hours_is_an_exact_span() -> None:
    assert within(paris(1, hour=18), "PT48H", paris(3, hour=17)) is True
    assert within(paris(1, hour=18), "PT48H", paris(3, hour=19)) is False


def test_within_months_on_the_calendar() -> None:
    assert within(date(2026, 1, 31), "P1M", paris(28, month=2, hour=22)) is True
    assert within(date(2026, 1, 31), "P1M", paris(1, month=3, hour=1)) is False
    assert within(None, "P1M", paris(1)) is None


PATHWAY = """
key: test-calendrier
version: 1
title: Fenêtre de réadmission
parameters:
  fenetre: {type: duration, default: P30D, description: Fenêtre de réadmission}
facts:
  sortie: {type: date}
events:
  sortie_hopital: {title: Sortie}
  readmission: {title: Réadmission}
initial: suivi
states:
  suivi:
    transitions:
      - on: sortie_hopital
        set: {sortie: "event.date"}
      - on: readmission
        guard: within(facts.sortie, params.fenetre) and days_between(facts.sortie, now) >= 0
        to: precoce
      - on: readmission
        to: tardive
  precoce: {final: true}
  tardive: {final: true}
"""


@pytest.mark.parametrize(("day", "month", "target"), [
    (31, 3, "precoce"), (1, 4, "tardive")])
def test_guard_reads_a_duration_parameter_on_the_calendar(day: int, month: int,
                                                          target: str) -> None:
    rt = Runtime(load_text(PATHWAY))
    subject = Subject()
    case = rt.start(subject, paris(1, hour=8)).case
    case = rt.apply(case, Event("sortie_hopital", paris(1, hour=18)), subject).case
    out = rt.apply(case, Event("readmission", paris(day, month, hour=15)), subject)
    assert out.of(Transitioned)[-1].target == target
