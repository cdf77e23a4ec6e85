"""The bounded observation history a case keeps for its guards (``history.KEY…``).

The compiler finds which kinds the guards read and how far back
(``engine.pathway.history``); ``Retention`` resolves that with the case's
parameters, and the runtime records each observation of those kinds on the
case, dropping what no guard can read any more. Guards therefore never need
the database: the case carries the few values they use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.case import ObservationValue
from engine.durations import Duration
from engine.pathway.datefuncs import within
from engine.pathway.history import ROOT, Needs

__all__ = ["ROOT", "HistoryView", "Retention", "record", "views"]

History = Mapping[str, tuple[ObservationValue, ...]]


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of one kind a case keeps: the ``count`` newest values, and every value
    within the longest of ``windows``."""

    count: int
    windows: tuple[Duration, ...]

    @classmethod
    def resolve(cls, needs: Needs, params: Mapping[str, Any]) -> Retention:
        counts = [_param(c, params) if isinstance(c, str) else c for c in needs.counts]
        windows = tuple(Duration.parse(_param(w, params) if w.startswith("params.") else w)
                        for w in needs.windows)
        return cls(max([1, *(int(c) for c in counts)]), windows)

    def keeps(self, index: int, entry: ObservationValue, now: datetime) -> bool:
        return index < self.count or any(within(entry.at, w, now) for w in self.windows)


def _param(ref: str, params: Mapping[str, Any]) -> Any:
    return params[ref.removeprefix("params.")]


def record(entries: tuple[ObservationValue, ...], new: ObservationValue, now: datetime,
           retention: Retention) -> tuple[ObservationValue, ...]:
    """``entries`` (newest first) with ``new`` in its place by date, pruned at ``now``."""
    merged = sorted([*entries, new], key=lambda e: e.at, reverse=True)
    return tuple(e for i, e in enumerate(merged) if retention.keeps(i, e, now))


class HistoryView:
    """What ``history.KEY`` gives a guard: the case's values of one kind, newest first."""

    __slots__ = ("_entries", "_now")

    def __init__(self, entries: tuple[ObservationValue, ...], now: datetime) -> None:
        self._entries = entries
        self._now = now

    def _window(self, delay: Any) -> list[Any]:
        return [e.value for e in self._entries
                if e.at <= self._now and within(e.at, delay, self._now)]

    def last(self, count: int) -> list[Any]:
        return [e.value for e in self._entries[:count]]

    @property
    def last_date(self) -> datetime | None:
        return self._entries[0].at if self._entries else None

    def min(self, within: Any) -> Any:
        return min(self._window(within), default=None)

    def max(self, within: Any) -> Any:
        return max(self._window(within), default=None)

    def count(self, within: Any) -> int:
        return len(self._window(within))

    def any(self, within: Any, above: Any = None, below: Any = None) -> bool:
        return any((above is None or v > above) and (below is None or v < below)
                   for v in self._window(within))


def views(history: History, keys: tuple[str, ...], now: datetime) -> dict[str, HistoryView]:
    return {key: HistoryView(history.get(key, ()), now) for key in keys}
