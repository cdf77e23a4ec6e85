"""ISO-8601 durations with calendar arithmetic.

``P3M`` means three *calendar* months: 31 January + P1M is 28 (or 29)
February, not 31 days later. Years, months, weeks and days are added on the
wall clock of the territory (Europe/Paris), whatever the time zone of the
moment they are added to: 09:00 + P3M is 09:00 three months later, also
across a daylight-saving change and also when the moment is in UTC or in a
fixed offset read back from storage. The time part (``PT12H``) is an exact
span. The result keeps the time zone of its input.

Durations longer than ``MAX_YEARS`` are refused: no care pathway waits a
century, and the calendar ends at year 9999.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from engine.clock import PARIS
from engine.exceptions import DurationError

MAX_YEARS = 100

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
        duration = cls(
            years=part["years"],
            months=part["months"],
            days=part["weeks"] * 7 + part["days"],
            seconds=part["hours"] * 3600 + part["minutes"] * 60 + part["seconds"],
        )
        if duration.approx_days() > MAX_YEARS * 365.25:
            raise DurationError(text, f"longer than {MAX_YEARS} years")
        return duration

    def add_to(self, moment: datetime, times: int = 1) -> datetime:
        """``moment`` plus ``times`` of this duration, calendar parts on the Paris wall clock."""
        zone = moment.tzinfo
        local = moment if zone is None or zone is PARIS else moment.astimezone(PARIS)
        try:
            total_months = (self.years * 12 + self.months) * times
            if total_months:
                local = add_months(local, total_months)
            if self.days:
                local += timedelta(days=self.days * times)  # same zone: wall-clock days
            if self.seconds:
                span = timedelta(seconds=self.seconds * times)
                local = local + span if zone is None else (local.astimezone(UTC) + span)
        except (ValueError, OverflowError) as exc:
            raise DurationError(str(self), f"{times} × {self} from {moment.isoformat()} "
                                "goes beyond the calendar") from exc
        return local if zone is None or local.tzinfo is zone else local.astimezone(zone)

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
    """Whether ``Duration.parse(text)`` succeeds."""
    try:
        Duration.parse(text)
    except DurationError:
        return False
    return True
