"""``engine.clock.CalendarCache`` gives exactly what it remembers: the same wall clock, zone
and fold as the direct computation, whatever instants were asked before (equal instants in
other zones, the two sides of a daylight-saving fold)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import PARIS, CalendarCache, calendar_days, end_of_day, local_date
from engine.durations import Duration

ZONES = [PARIS, UTC, ZoneInfo("America/New_York"), timezone(timedelta(hours=5, minutes=30))]
DURATIONS = ["P1D", "P7D", "P1M", "P3M", "P1Y", "PT48H", "P1DT12H", "P2W", "PT30M"]


def same(a: datetime, b: datetime) -> bool:
    return (a, a.tzinfo, a.fold, a.utcoffset()) == (b, b.tzinfo, b.fold, b.utcoffset())


moments = st.builds(
    lambda naive, zone, fold: naive.replace(tzinfo=zone, fold=fold),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)),
    st.sampled_from(ZONES), st.integers(0, 1))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(DURATIONS), moments), min_size=1, max_size=30))
def test_cached_results_equal_direct_ones(asks: list[tuple[str, datetime]]) -> None:
    cache = CalendarCache(limit=8)  # small: forgetting is exercised too
    for text, moment in asks * 2:  # every question twice: computed, then remembered
        duration = Duration.parse(text)
        assert same(cache.add(duration, moment), duration.add_to(moment))
        assert same(cache.end_of_day(moment), end_of_day(moment))
        assert cache.local_date(moment) == local_date(moment)
        assert cache.days(moment, asks[0][1]) == calendar_days(moment, asks[0][1])


def test_equal_instants_in_other_zones_or_folds_are_not_confused() -> None:
    cache = CalendarCache()
    month = Duration.parse("P1M")
    paris = datetime(2026, 1, 31, 23, 30, tzinfo=PARIS)
    utc = paris.astimezone(UTC)  # the same instant: equal, and equal hashes
    assert paris == utc and hash(paris) == hash(utc)
    assert cache.add(month, paris) == datetime(2026, 2, 28, 23, 30, tzinfo=PARIS)
    assert same(cache.add(month, utc), month.add_to(utc))
    assert cache.add(month, utc).tzinfo is UTC
    first = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS)  # the hour that happens twice
    second = first.replace(fold=1)
    day = Duration.parse("PT1H")
    assert cache.add(day, first) != cache.add(day, second) or \
        cache.add(day, first).utcoffset() != cache.add(day, second).utcoffset()
    assert same(cache.add(day, second), day.add_to(second))
    assert same(cache.add(day, first), day.add_to(first))
