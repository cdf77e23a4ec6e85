"""When to try a message again: exponential backoff, capped, with a stable jitter.

The *n*-th failed attempt (1-based) waits ``base × factor^(n-1)`` seconds,
at most ``max``, plus up to ``jitter`` of that wait. The jitter is derived
from the message's idempotency key and the attempt number, not from a random
generator: when an SMTP server comes back after an outage the queued messages
do not all return at the same second, yet a test with an injected clock can
compute the exact schedule.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from notifications.settings import NotificationSettings


def retry_delay(attempt: int, key: str, settings: NotificationSettings) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1 = the first send)."""
    exponent = max(attempt - 1, 0)
    seconds = min(settings.backoff_base * settings.backoff_factor ** exponent,
                  settings.backoff_max)
    digest = hashlib.sha256(f"{key}#{attempt}".encode()).digest()
    spread = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
    return timedelta(seconds=seconds * (1 + settings.backoff_jitter * spread))


def next_attempt(now: datetime, attempt: int, key: str,
                 settings: NotificationSettings) -> datetime:
    return now + retry_delay(attempt, key, settings)


def schedule(key: str, settings: NotificationSettings) -> list[timedelta]:
    """Every wait a message can go through before it is dead-lettered."""
    return [retry_delay(n, key, settings) for n in range(1, settings.max_attempts)]
