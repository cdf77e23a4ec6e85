"""Territory-wide aggregates computed at most once per ``ttl`` seconds in each web process.

The dashboard's counts by state, role and month read every open task of the territory
(100 000 on a 50 000-patient one: about half a second of database time). Ten coordinators
refreshing it would spend the server on the same sums; instead each web process keeps the
last result for ``ttl`` seconds (``PARCOURS_WEB_COUNTS_TTL``, 30 by default; 0 turns the
cache off) and the page says when its figures were computed.

- fresh (younger than ``ttl``): served as is;
- stale but recent (younger than ``STALE_FACTOR × ttl``): served at once while one
  background thread computes the next value, so no request waits for the sums;
- older, or never computed: computed now, by one request; the others asking for the same
  key meanwhile wait for that result instead of computing it too.

A coordinator's change (any POST of the coordinator's pages) empties this process's cache;
the other processes catch up within ``ttl``. Lists that a coordinator acts on (« À
traiter ») are never cached: only counts are.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)
#: a stale value is served (and refreshed in the background) up to this many ttl old
STALE_FACTOR = 10


@dataclass
class _Entry:
    value: Any
    #: ``time.monotonic()`` when computed (age), and the wall clock (shown on the page)
    at: float
    computed_at: datetime
    refreshing: bool = False


class Snapshots:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        #: bumped by ``clear``: a value computed before a change is not kept after it
        self._generation = 0

    def get(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, datetime]:
        """The value for ``key`` and when it was computed (see the module docstring)."""
        if self.ttl <= 0:
            return compute(), datetime.now(UTC)
        with self._lock:
            entry = self._entries.get(key)
            age = time.monotonic() - entry.at if entry is not None else float("inf")
            if entry is not None and age <= self.ttl:
                return entry.value, entry.computed_at
            if entry is not None and age <= self.ttl * STALE_FACTOR:
                if not entry.refreshing:
                    entry.refreshing = True
                    threading.Thread(target=self._refresh, args=(key, compute, entry),
                                     name="parcours-snapshot", daemon=True).start()
                return entry.value, entry.computed_at
            computing = self._computing.setdefault(key, threading.Lock())
        with computing:
            with self._lock:  # computed by another request while this one waited?
                entry = self._entries.get(key)
                if entry is not None and time.monotonic() - entry.at <= self.ttl:
                    return entry.value, entry.computed_at
                generation = self._generation
            return self._store(key, compute(), generation)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def _store(self, key: Hashable, value: T, generation: int) -> tuple[T, datetime]:
        entry = _Entry(value, time.monotonic(), datetime.now(UTC))
        with self._lock:
            if generation == self._generation:
                self._entries[key] = entry
        return value, entry.computed_at

    def _refresh(self, key: Hashable, compute: Callable[[], Any], entry: _Entry) -> None:
        with self._lock:
            generation = self._generation
        try:
            self._store(key, compute(), generation)
        except Exception:  # the stale value stays; the next request tries again
            log.exception("dashboard counts: refresh failed (key %s)", key[0] if isinstance(
                key, tuple) and key else "?")
            with self._lock:
                entry.refreshing = False
