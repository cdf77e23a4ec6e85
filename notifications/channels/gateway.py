"""Webhooks and SMS gateways through Apprise.

The channel's URL comes from settings (a secret) and may hold placeholders
filled per message: ``{phone}`` (E.164, for SMS gateways) and ``{rpps}``
(the recipient's RPPS number, for webhooks). For the generic HTTP schemes
(``json``, ``xml``, ``form`` and their ``s`` variants) the idempotency token
is added as an
``Idempotency-Key`` header with Apprise's ``+Header=value`` URL syntax, and
for ``json`` also in the body (``:idempotency_key=…``) along with the
recipient's RPPS and the message kind, so a receiver can drop a resend.

Apprise's ``send`` only answers True/False; the reason is read from what its
plugin logs at WARNING level (``error=503``, "Connection error"), captured
with ``apprise.LogCapture`` for the duration of the call. HTTP 5xx, 408,
429 and connection errors are retryable; other 4xx replies are not. The
captured log text itself is never stored (it may quote the request).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from notifications.channels.base import Medium, OutgoingMessage, import_apprise
from notifications.exceptions import (
    ChannelConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from notifications.formatting import e164
from notifications.views import RecipientView

HEADER_SCHEMES = ("json", "jsons", "xml", "xmls", "form", "forms")
_RETRYABLE_HTTP = {408, 425, 429}


class AppriseChannel:
    def __init__(self, name: str, url: str, *, medium: Medium, secure: bool = False) -> None:
        self.name = name
        self.url = url
        self.medium = medium
        self.secure = secure
        self.scheme = url.split("://", 1)[0].lower()
        if "://" not in url:
            raise ChannelConfigError(name, "URL Apprise attendue (json://…, jsons://…)")
        if medium == "sms" and "{phone}" not in url:
            raise ChannelConfigError(name, "l'URL d'une passerelle SMS doit contenir {phone}")
        self._check(self._fill("+33600000000"))

    def address(self, recipient: RecipientView) -> str | None:
        if self.medium == "sms":
            return e164(recipient.phone) if recipient.phone else None
        return recipient.rpps or str(recipient.id)

    def _fill(self, address: str) -> str:
        """The URL for one recipient: ``address`` is the phone (SMS) or the RPPS (webhook)."""
        value = quote(address, safe="+")
        return self.url.replace("{phone}", value).replace("{rpps}", value)

    def _check(self, url: str) -> None:
        apprise = import_apprise()
        with apprise.LogCapture(level=logging.WARNING):  # our message says it better
            plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise ChannelConfigError(self.name, f"URL non reconnue par Apprise (schéma "
                                                f"{self.scheme!r})")

    def message_url(self, message: OutgoingMessage) -> str:
        url = self._fill(message.address)
        if self.scheme not in HEADER_SCHEMES:
            return url
        extras = [f"+Idempotency-Key={message.token}"]
        if self.scheme.startswith("json"):
            extras += [f":idempotency_key={message.token}", f":kind={quote(message.kind)}",
                       f":recipient={quote(message.address, safe='+')}"]
        return url + ("&" if "?" in url else "?") + "&".join(extras)

    def send(self, message: OutgoingMessage) -> None:
        apprise = import_apprise()
        plugin = apprise.Apprise.instantiate(self.message_url(message))
        if plugin is None:
            raise PermanentDeliveryError(self.name, "adresse refusée par Apprise")
        title = "" if self.medium == "sms" else message.subject
        with apprise.LogCapture(level=logging.WARNING) as log:
            delivered = plugin.send(body=message.text, title=title)
        if not delivered:
            raise classify(self.name, log.getvalue())

    def close(self) -> None:
        """Nothing kept between messages."""


def classify(channel: str, log: str) -> DeliveryError:
    """Why an Apprise plugin failed, from its WARNING lines."""
    status = re.search(r"error=(\d{3})", log)
    if status:
        code = int(status.group(1))
        if code >= 500 or code in _RETRYABLE_HTTP:
            return TransientDeliveryError(channel, f"le serveur a répondu HTTP {code}", code)
        return PermanentDeliveryError(channel, f"le serveur a refusé le message (HTTP {code})",
                                      code)
    if re.search(r"connection error|timed out|timeout", log, re.IGNORECASE):
        return TransientDeliveryError(channel, "connexion impossible avec le serveur")
    return TransientDeliveryError(channel, "échec d'envoi sans cause connue (Apprise)")
