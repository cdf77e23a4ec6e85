"""ISO-8601 durations: parsing, refusal of bad texts, calendar arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.clock import PARIS
from engine.durations import Duration, add_months, is_duration
from engine.exceptions import DurationError, ParcoursError


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P3M", Duration(months=3)),
        ("P1Y", Duration(years=1)),
        ("P2W", Duration(days=14)),
        ("P14D", Duration(days=14)),
        ("PT12H", Duration(seconds=12 * 3600)),
        ("PT30M", Duration(seconds=30 * 60)),
        ("PT45S", Duration(seconds=45)),
        ("P1Y2M3DT4H5M6S", Duration(years=1, months=2, days=3, seconds=4 * 3600 + 5 * 60 + 6)),
        ("P1W2D", Duration(days=9)),
        (" P3M ", Duration(months=3)),
    ],
    ids=lambda value: repr(value) if isinstance(value, str) else "",
)
def test_parse(text: str, expected: Duration) -> None:
    assert Duration.parse(text) == expected
    assert is_duration(text)


@pytest.mark.parametrize(
    "text",
    ["P", "PT", "P3X", "3M", "", None, "p3m", "P-1M", "P1.5Y", "P1H", "PT1D", "P3M1Y", "P1MT",
     "P 3M", 3, ["P3M"]],
    ids=repr,
)
def test_invalid_text_raises_with_the_allowed_forms(text: object) -> None:
    with pytest.raises(DurationError, match=r"P3M .*P1Y, P2W, P14D or PT12H") as info:
        Duration.parse(text)
    assert info.value.text == text
    assert repr(text) in str(info.value)
    assert not is_duration(text)


def test_duration_error_is_a_parcours_error_and_a_value_error() -> None:
    with pytest.raises(ParcoursError):
        Duration.parse("P3X")
    with pytest.raises(ValueError, match="invalid duration"):
        Duration.parse("P3X")
    assert DurationError("x").retryable is False


# -- text round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("P3M", "P3M"),
        ("P1Y", "P1Y"),
        ("P14D", "P14D"),
        ("P2W", "P14D"),
        ("PT12H", "PT12H"),
        ("PT90M", "PT1H30M"),
        ("P1Y2M3DT4H5M6S", "P1Y2M3DT4H5M6S"),
        ("PT0S", "PT0S"),
        ("P0D", "PT0S"),
    ],
)
def test_str_gives_the_canonical_text(text: str, canonical: str) -> None:
    duration = Duration.parse(text)
    assert str(duration) == canonical
    assert Duration.parse(str(duration)) == duration


def test_zero_duration_is_false() -> None:
    assert not Duration.parse("PT0S")
    assert not Duration()
    assert Duration.parse("PT1S")


# -- calendar arithmetic -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "text", "expected"),
    [
        (paris(2026, 1, 31, 9), "P1M", paris(2026, 2, 28, 9)),
        (paris(2028, 1, 31, 9), "P1M", paris(2028, 2, 29, 9)),       # leap year
        (paris(2026, 1, 31, 9), "P2M", paris(2026, 3, 31, 9)),
        (paris(2026, 3, 31, 9), "P1M", paris(2026, 4, 30, 9)),
        (paris(2026, 11, 30, 9), "P3M", paris(2027, 2, 28, 9)),      # across the year
        (paris(2026, 12, 15, 9), "P1M", paris(2027, 1, 15, 9)),
        (paris(2028, 2, 29, 9), "P1Y", paris(2029, 2, 28, 9)),       # from 29 February
        (paris(2028, 2, 29, 9), "P4Y", paris(2032, 2, 29, 9)),
        (paris(2026, 1, 5, 9), "P1Y2M3DT4H5M6S", paris(2027, 3, 8, 13, 5, 6)),
        (paris(2026, 1, 5, 9), "P2W", paris(2026, 1, 19, 9)),
        (paris(2026, 1, 5, 9), "PT12H", paris(2026, 1, 5, 21)),
        (paris(2026, 1, 31, 9), "P1M1D", paris(2026, 3, 1, 9)),      # months first, then days
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_calendar_arithmetic(start: datetime, text: str, expected: datetime) -> None:
    assert Duration.parse(text).add_to(start) == expected


def test_months_keep_the_paris_wall_clock_across_daylight_saving() -> None:
    # 5 January is in winter time (UTC+1), 5 April in summer time (UTC+2)
    due = Duration.parse("P3M").add_to(paris(2026, 1, 5, 9))
    assert (due.hour, due.utcoffset()) == (9, timedelta(hours=2))


def test_times_counts_from_the_anchor_without_drift() -> None:
    every_month = Duration.parse("P1M")
    start = paris(2026, 1, 31, 9)
    assert every_month.add_to(start, times=2) == paris(2026, 3, 31, 9)
    assert every_month.add_to(start, times=3) == paris(2026, 4, 30, 9)
    assert Duration.parse("P1W").add_to(start, times=4) == paris(2026, 2, 28, 9)


def test_add_months_clamps_and_goes_backwards() -> None:
    assert add_months(datetime(2026, 3, 31), -1) == datetime(2026, 2, 28)
    assert add_months(datetime(2026, 1, 15), -1) == datetime(2025, 12, 15)
    assert add_months(datetime(2026, 1, 15), 24) == datetime(2028, 1, 15)


def test_arithmetic_keeps_the_time_zone_of_its_input() -> None:
    utc = datetime(2026, 1, 31, 8, tzinfo=UTC)
    assert Duration.parse("P1M").add_to(utc) == datetime(2026, 2, 28, 8, tzinfo=UTC)
    assert Duration.parse("P1M").add_to(utc).tzinfo is UTC
    fixed = timezone(timedelta(hours=1))
    assert Duration.parse("P1D").add_to(datetime(2026, 1, 1, tzinfo=fixed)).tzinfo is fixed
    assert Duration.parse("P1D").add_to(datetime(2026, 1, 1)).tzinfo is None


@pytest.mark.parametrize(
    "zone", [PARIS, UTC, timezone(timedelta(hours=1))], ids=["paris", "utc", "fixed-offset"])
@pytest.mark.parametrize("text", ["P3M", "P6M", "P90D", "P13W"])
def test_calendar_parts_follow_the_paris_wall_clock_whatever_the_zone(
        zone: object, text: str) -> None:
    # 09:00 in Paris in winter, given in several zones (a case read back from storage
    # has fixed offsets; the system clock gives UTC): the result is 09:00 in Paris in summer.
    start = paris(2026, 1, 20, 9).astimezone(zone)  # type: ignore[arg-type]
    due = Duration.parse(text).add_to(start).astimezone(PARIS)
    assert (due.hour, due.minute) == (9, 0)
    assert due.utcoffset() == timedelta(hours=2)


def test_time_part_is_an_exact_span_across_daylight_saving() -> None:
    # the night of 28 to 29 March 2026 has 23 hours in Paris
    start = paris(2026, 3, 28, 21)
    end = Duration.parse("PT12H").add_to(start)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=12)
    assert Duration.parse("PT12H").add_to(start) == paris(2026, 3, 29, 10)
    assert Duration.parse("P1D").add_to(start) == paris(2026, 3, 29, 21)


@pytest.mark.parametrize("text", ["P101Y", "P1201M", "P36526D", "P99999Y"])
def test_durations_longer_than_a_century_are_refused(text: str) -> None:
    with pytest.raises(DurationError, match="longer than 100 years"):
        Duration.parse(text)
    assert not is_duration(text)
    assert is_duration("P100Y")


def test_arithmetic_beyond_the_calendar_raises_a_duration_error() -> None:
    with pytest.raises(DurationError, match="goes beyond the calendar"):
        Duration.parse("P100Y").add_to(datetime(9950, 1, 1, tzinfo=PARIS))
    with pytest.raises(DurationError, match="goes beyond the calendar"):
        Duration.parse("P1D").add_to(datetime(9999, 12, 31, tzinfo=UTC))


def test_approx_days() -> None:
    assert Duration.parse("P1Y").approx_days() == pytest.approx(365.25)
    assert Duration.parse("P3M").approx_days() == pytest.approx(91.32)
    assert Duration.parse("P1DT12H").approx_days() == pytest.approx(1.5)
