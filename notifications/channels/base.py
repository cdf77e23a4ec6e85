"""What every channel is: a small Protocol, and the message it is handed.

A channel takes one rendered message and either delivers it or raises a
``DeliveryError`` saying whether retrying can help. It knows whether it is
*secure* (MSSanté: patient details allowed) and which body it sends
(``email``: subject, text and HTML; ``sms``: the short text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from notifications.formatting import message_token
from notifications.views import RecipientView

Medium = Literal["email", "sms"]


@dataclass(frozen=True)
class OutgoingMessage:
    idempotency_key: str
    kind: str
    channel: str
    address: str
    recipient_name: str
    subject: str
    text: str
    html: str | None
    #: The dispatcher's ``now``: the e-mail's ``Date`` (no code reads the wall clock).
    sent_at: datetime

    @property
    def token(self) -> str:
        """The idempotency token sent with the message (header, Message-ID)."""
        return message_token(self.idempotency_key)


class Channel(Protocol):
    name: str
    secure: bool
    medium: Medium

    def address(self, recipient: RecipientView) -> str | None:
        """Where this recipient is reached on this channel; None if they cannot be."""

    def send(self, message: OutgoingMessage) -> None:
        """Deliver or raise ``TransientDeliveryError`` / ``PermanentDeliveryError``."""

    def close(self) -> None:
        """Release connections kept between messages of one dispatch run."""
