"""ISO-8601 durations with calendar arithmetic.

``P3M`` means three *calendar* months: 31 January + P1M is 28 (or 29)
February, not 31 days later. Years and months are added on the calendar,
weeks, days and the time part as exact spans.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.exceptions import DurationError

_PATTERN = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True, slots=True)
class Duration:
    """A parsed ISO-8601 duration; ``str()`` gives back the canonical text."""

    years: int = 0
    months: int = 0
    days: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: object) -> Duration:
        if not isinstance(text, str):
            raise DurationError(text)
        match = _PATTERN.match(text.strip())
        if match is None:
            raise DurationError(text)
        part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        return cls(
            years=part["years"],
            months=part["months"],
            days=part["weeks"] * 7 + part["days"],
            seconds=part["hours"] * 3600 + part["minutes"] * 60 + part["seconds"],
        )

    def add_to(self, moment: datetime, times: int = 1) -> datetime:
        """``moment`` plus ``times`` of this duration, months on the calendar."""
        total_months = (self.years * 12 + self.months) * times
        if total_months:
            moment = add_months(moment, total_months)
        return moment + timedelta(days=self.days * times, seconds=self.seconds * times)

    def approx_days(self) -> float:
        return self.years * 365.25 + self.months * 30.44 + self.days + self.seconds / 86400

    def __bool__(self) -> bool:
        return bool(self.years or self.months or self.days or self.seconds)

    def __str__(self) -> str:
        out = "P"
        if self.years:
            out += f"{self.years}Y"
        if self.months:
            out += f"{self.months}M"
        if self.days:
            out += f"{self.days}D"
        if self.seconds:
            hours, rest = divmod(self.seconds, 3600)
            minutes, seconds = divmod(rest, 60)
            out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
            out += f"{seconds}S" if seconds else ""
        return out if out != "P" else "PT0S"


def add_months(moment: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day to the end of a shorter month."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def is_duration(text: object) -> bool:
    return isinstance(text, str) and _PATTERN.match(text.strip()) is not None
