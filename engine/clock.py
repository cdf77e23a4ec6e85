"""Injected time. No engine code reads the wall clock except ``SystemClock``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
