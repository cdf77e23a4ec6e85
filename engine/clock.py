"""Injected time. No engine code reads the wall clock except ``SystemClock``."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time, timezone-aware (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests, replays and simulations."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = ensure_aware(moment)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def ensure_aware(moment: datetime) -> datetime:
    """Interpret a naive datetime in the territory's zone (Europe/Paris)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=PARIS)


# -- the territory's calendar ----------------------------------------------------------------
# Every calendar notion (an age, "within 30 days", "on the day of discharge", a deadline in
# days) is read on the Europe/Paris date, never on the UTC date: 00:30 in Paris on a
# birthday is still the previous day in UTC.

#: the last instant of a calendar day on the wall clock (a deadline "in 7 days" ends there)
END_OF_DAY = time(23, 59, 59, 999999)


def local_date(moment: datetime | date, zone: ZoneInfo = PARIS) -> date:
    """The calendar date of ``moment`` in the territory (a date is returned as it is)."""
    if isinstance(moment, datetime):
        return ensure_aware(moment).astimezone(zone).date()
    return moment


def calendar_days(start: datetime | date, end: datetime | date, zone: ZoneInfo = PARIS) -> int:
    """Calendar days from ``start`` to ``end`` on the territory's dates (not 24-hour spans)."""
    return (local_date(end, zone) - local_date(start, zone)).days


def end_of_day(moment: datetime, zone: ZoneInfo = PARIS) -> datetime:
    """The last instant of ``moment``'s calendar day in the territory, in ``moment``'s zone."""
    last = datetime.combine(local_date(moment, zone), END_OF_DAY, tzinfo=zone)
    return last if moment.tzinfo in (None, zone) else last.astimezone(moment.tzinfo)


def days_overdue(due_at: datetime, now: datetime, zone: ZoneInfo = PARIS) -> int:
    """Calendar days a deadline is past: 0 until it passes, then the days since its date.

    A task due on Tuesday (deadline 23:59:59.999999 that day) is 1 day late on Wednesday,
    from midnight; never "0 days late" the night it falls due.
    """
    return max(calendar_days(due_at, now, zone), 0) if now > due_at else 0


class Addable(Hashable, Protocol):
    """A calendar duration (``engine.durations.Duration``) as the cache sees it."""

    def add_to(self, moment: datetime, times: int = 1) -> datetime: ...


class CalendarCache:
    """Calendar arithmetic remembered per (duration, instant), where it repeats.

    A sweep applies the same delays at the same instants to thousands of cases (every
    timer armed at 08:00 today, every task created then gets the same due date), and
    adding months on the Paris wall clock or finding the end of a day costs microseconds
    each time. The key holds the instant's time zone and fold besides the instant, so a
    result is reused only for the very same wall clock and zone (two equal instants in
    different zones give results in their own zones). Bounded: forgotten when full.
    """

    __slots__ = ("_added", "_dates", "_ends", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._added: dict[tuple[Hashable, datetime, object, int], datetime] = {}
        self._ends: dict[tuple[datetime, object, int], datetime] = {}
        self._dates: dict[tuple[datetime, object, int], date] = {}
        self._limit = limit

    def local_date(self, moment: datetime) -> date:
        """``local_date(moment)``: the territory's calendar date of an instant."""
        key = (moment, moment.tzinfo, moment.fold)
        found = self._dates.get(key)
        if found is None:
            if len(self._dates) >= self._limit:
                self._dates.clear()
            found = self._dates[key] = local_date(moment)
        return found

    def days(self, start: datetime, end: datetime) -> int:
        """``calendar_days(start, end)``."""
        return (self.local_date(end) - self.local_date(start)).days

    def add(self, duration: Addable, moment: datetime) -> datetime:
        """``duration.add_to(moment)``."""
        key = (duration, moment, moment.tzinfo, moment.fold)
        found = self._added.get(key)
        if found is None:
            if len(self._added) >= self._limit:
                self._added.clear()
            found = self._added[key] = duration.add_to(moment)
        return found

    def end_of_day(self, moment: datetime) -> datetime:
        """``end_of_day(moment)`` in the territory's zone."""
        key = (moment, moment.tzinfo, moment.fold)
        found = self._ends.get(key)
        if found is None:
            if len(self._ends) >= self._limit:
                self._ends.clear()
            found = self._ends[key] = end_of_day(moment)
        return found
