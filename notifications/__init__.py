"""Notifications: French Jinja2 templates, channels, preferences and outbox dispatch.

Layout (one module per step)::

    settings.py     NotificationSettings (PARCOURS_NOTIFY_*): channel URLs, backoff, quiet hours
    kinds.py        French labels and templates of the outbox kinds (``engine.outbox``)
    preferences.py  each professional's channels, digest mode and quiet hours
    views.py        what a message is about, as plain values
    loading.py      …loaded from the database for a batch of outbox rows
    context.py      …turned into template names (patient data only for secure channels)
    formatting.py   French dates, E.164 phones, the message token of an idempotency key
    render.py       the sandboxed Jinja2 environment; templates/ holds the French texts
    channels/       SMTP (e-mail, MSSanté), Apprise (webhooks, SMS), console, in-memory;
                    ``channels/registry.py``: the one table of channel names → factories
    outbox.py       claiming rows with a lease, recording results, the backoff schedule
    delivery.py     the decision for one row: skip, hold, defer, send, retry, dead-letter
    dispatch.py     dispatch_pending(): the loop the Prefect flow calls
    digest.py       queue_daily_digests()
    preview.py      a message rendered for a real task, not sent (parcours notify preview)
    exceptions.py   NotificationError and its tree

The public API is ``dispatch_pending`` (with its ``DispatchReport``),
``queue_daily_digests`` and ``NotificationSettings``, resolved on first use so that
importing one small module of the package (the channel names, say) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from notifications.digest import DigestReport, queue_daily_digests
    from notifications.dispatch import DispatchReport, dispatch_pending
    from notifications.settings import NotificationSettings

__all__ = ["DigestReport", "DispatchReport", "NotificationSettings", "dispatch_pending",
           "queue_daily_digests"]
_WHERE = {"DigestReport": "digest", "queue_daily_digests": "digest",
          "DispatchReport": "dispatch", "dispatch_pending": "dispatch",
          "NotificationSettings": "settings"}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'notifications' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"notifications.{module}"), name)
    globals()[name] = value
    return value
