"""The dashboard's counts cache (``web.snapshots``): fresh, stale-while-refreshed, too old,
cleared by a coordinator's change, off with a ttl of 0; one computation for concurrent
requests. Then the dashboard page itself: its counts are kept for ``counts_ttl`` seconds,
it says when they were computed, and a coordinator's POST recomputes them."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from web import snapshots
from web.snapshots import Snapshots


class Counter:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls, self.delay, self.lock = 0, delay, threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        return n


def _age(cache: Snapshots, key: object, seconds: float) -> None:
    entry = cache._entries[key]
    entry.at -= seconds


def test_a_fresh_value_is_served_without_computing_again() -> None:
    cache, compute = Snapshots(30), Counter()
    first, at = cache.get("k", compute)
    again, at2 = cache.get("k", compute)
    assert (first, again, compute.calls) == (1, 1, 1) and at == at2
    assert cache.get("other", compute)[0] == 2  # keys are separate


def test_a_stale_value_is_served_at_once_and_refreshed_in_the_background() -> None:
    cache, compute = Snapshots(30), Counter(delay=0.2)
    cache.get("k", compute)
    _age(cache, "k", 31)
    started = time.monotonic()
    value, _ = cache.get("k", compute)
    assert value == 1 and time.monotonic() - started < 0.15   # not waited for
    assert cache.get("k", compute)[0] == 1                     # one refresh at a time
    deadline = time.monotonic() + 5
    while cache.get("k", compute)[0] == 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.get("k", compute)[0] == 2 and compute.calls == 2


def test_a_value_too_old_is_computed_before_answering() -> None:
    cache, compute = Snapshots(30), Counter()
    cache.get("k", compute)
    _age(cache, "k", 30 * snapshots.STALE_FACTOR + 1)
    assert cache.get("k", compute)[0] == 2


def test_concurrent_first_requests_compute_once() -> None:
    cache, compute = Snapshots(30), Counter(delay=0.2)
    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(lambda _: cache.get("k", compute)[0], range(8)))
    assert values == [1] * 8 and compute.calls == 1


def test_clear_forgets_and_a_value_computed_before_it_is_not_kept() -> None:
    cache = Snapshots(30)
    release, entered = threading.Event(), threading.Event()

    def slow() -> str:
        entered.set()
        release.wait(5)
        return "before the change"

    worker = threading.Thread(target=cache.get, args=("k", slow))
    worker.start()
    entered.wait(5)
    cache.clear()             # a coordinator changed something meanwhile
    release.set()
    worker.join(5)
    assert cache.get("k", lambda: "after the change")[0] == "after the change"


def test_a_failed_refresh_keeps_the_stale_value_and_tries_again() -> None:
    cache = Snapshots(30)
    cache.get("k", lambda: "old")
    _age(cache, "k", 31)

    def broken() -> str:
        raise RuntimeError("database away")
    assert cache.get("k", broken)[0] == "old"
    deadline = time.monotonic() + 5
    while cache._entries["k"].refreshing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.get("k", lambda: "new")[0] == "old"   # this call starts the next refresh
    deadline = time.monotonic() + 5
    while cache.get("k", lambda: "new")[0] == "old" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.get("k", lambda: "new")[0] == "new"


@pytest.mark.parametrize("ttl", [0, 0.0])
def test_ttl_zero_computes_every_time(ttl: float) -> None:
    cache, compute = Snapshots(ttl), Counter()
    assert [cache.get("k", compute)[0] for _ in range(3)] == [1, 2, 3]
