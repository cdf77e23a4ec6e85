"""Send a one-time sign-in link through the professional's own channels, at once.

The link is a secret, so it is rendered and sent here and never written to the outbox
(which only ever holds what may be re-sent). The professional's channel preferences
choose the channel, as for any message (``notifications.delivery``); quiet hours do not
apply, since the professional asked for the link a moment ago. In the embedded default
the console channel writes the message where the demo's other messages go.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from engine.store.tables import Professional
from notifications import kinds
from notifications.channels import build_channels
from notifications.delivery import Delivery
from notifications.exceptions import NotificationError, PreferencesError
from notifications.loading import recipient_view
from notifications.preferences import parse_preferences
from notifications.render import Renderer
from notifications.views import MessageData
from web.context import WebContext


def sign_in_url(ctx: WebContext, professional_id: int, token: str, next_path: str) -> str:
    from urllib.parse import urlencode

    query = urlencode({"p": professional_id, "t": token, "suite": next_path})
    return f"{ctx.settings.base_url.rstrip('/')}/connexion/lien?{query}"


def send_link(ctx: WebContext, pro: Professional, link: str, now: datetime) -> str | None:
    """Send ``link``; the channel it went out on, or None if no channel could take it."""
    if ctx.channels is None:
        ctx.channels = build_channels(ctx.notify_settings)
    channels = ctx.channels
    delivery = Delivery(ctx.engine, ctx.notify_settings, channels,
                        Renderer(ctx.notify_settings.templates_dir), now)
    recipient = recipient_view(pro)
    key = "sign-in:" + hashlib.sha256(link.encode()).hexdigest()[:24]
    data = MessageData(row_id=0, kind=kinds.SIGN_IN_LINK, idempotency_key=key,
                       created_at=now, recipient=recipient,
                       payload={"link": link, "minutes": int(ctx.settings.link_minutes)})
    try:
        prefs = parse_preferences(recipient.preferences, ctx.notify_settings)
    except PreferencesError:
        prefs = parse_preferences({}, ctx.notify_settings)
    for name in delivery.candidates(prefs, data):
        channel = channels[name]
        try:
            channel.send(delivery.message(channel, data))
        except NotificationError:
            continue
        return name
    return None
