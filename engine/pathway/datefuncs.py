"""Calendar arithmetic for guards, on the territory's calendar (Europe/Paris).

A clinical delay such as "readmitted within 30 days of discharge" counts
*calendar days* in Paris, not 24-hour periods: a discharge on 1 March at
18:00 and a readmission on 31 March at 15:00 are 30 days apart, although
fewer than 30 × 24 hours separate them.

``days_between(a, b)``  calendar days from ``a`` to ``b`` (negative if ``b`` is before ``a``)
``within(x, delay)``    ``now`` falls on or before the last day of ``delay`` counted from ``x``
                        (``delay``: ISO-8601 text or a duration parameter's value); a delay in
                        hours only (``PT48H``) is an exact span from ``x``

Both give ``none`` when a date is ``none``, so ``facts.sortie and within(…)``
reads naturally.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from engine.clock import PARIS, ensure_aware, local_date
from engine.durations import Duration

DateLike = date | datetime | str | None


def _parse(text: str) -> date | datetime:
    """ISO text: a datetime when it has a time part, else a date."""
    return datetime.fromisoformat(text) if "T" in text or " " in text \
        else date.fromisoformat(text)


def paris_date(moment: DateLike) -> date | None:
    """The Paris calendar date of a date, a datetime (naive = Paris) or ISO text."""
    if moment is None:
        return None
    return local_date(_parse(moment) if isinstance(moment, str) else moment)


def _moment(value: DateLike) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = _parse(value)
    if isinstance(value, datetime):
        return ensure_aware(value)
    return datetime.combine(value, time(12), PARIS)


def days_between(first: DateLike, second: DateLike) -> int | None:
    """Calendar days (Europe/Paris) from ``first`` to ``second``."""
    start, end = paris_date(first), paris_date(second)
    if start is None or end is None:
        return None
    return (end - start).days


def within(moment: DateLike, delay: Any, now: datetime | None) -> bool | None:
    """Whether ``now`` is at most ``delay`` after ``moment``, counted in calendar days."""
    start = _moment(moment)
    if start is None or now is None:
        return None
    duration = delay if isinstance(delay, Duration) else Duration.parse(delay)
    if not (duration.years or duration.months or duration.days):
        return now <= duration.add_to(start)
    last_day = paris_date(duration.add_to(start))
    today = paris_date(now)
    assert last_day is not None and today is not None
    return today <= last_day
