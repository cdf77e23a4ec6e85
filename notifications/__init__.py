"""Notifications: French Jinja2 templates, channels, preferences and outbox dispatch.

Layout (one module per step)::

    settings.py     NotificationSettings (PARCOURS_NOTIFY_*): channel URLs, backoff, quiet hours
    kinds.py        the outbox ``kind`` vocabulary
    preferences.py  each professional's channels, digest mode and quiet hours
    views.py        what a message is about, as plain values
    loading.py      …loaded from the database for a batch of outbox rows
    context.py      …turned into template names (patient data only for secure channels)
    links.py        every address a message points to (the web workspace's routes)
    formatting.py   French dates, E.164 phones, the message token of an idempotency key
    render.py       the sandboxed Jinja2 environment; templates/ holds the French texts
    channels/       SMTP (e-mail, MSSanté), Apprise (webhooks, SMS), console, in-memory
    outbox.py       claiming rows with a lease, recording results, the backoff schedule
    delivery.py     the decision for one row: skip, hold, defer, send, retry, dead-letter
    dispatch.py     dispatch_pending(): the loop the Prefect flow calls
    digest.py       queue_daily_digests()
    preview.py      a message rendered for a real task, not sent (parcours notify preview)
    exceptions.py   NotificationError and its tree

The public API is ``dispatch_pending`` (with its ``DispatchReport``),
``queue_daily_digests`` and ``NotificationSettings``.
"""

from notifications.digest import DigestReport, queue_daily_digests
from notifications.dispatch import DispatchReport, dispatch_pending
from notifications.settings import NotificationSettings

__all__ = ["DigestReport", "DispatchReport", "NotificationSettings", "dispatch_pending",
           "queue_daily_digests"]
