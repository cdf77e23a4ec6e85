"""What every channel is: a small Protocol, and the message it is handed.

A channel takes one rendered message and either delivers it or raises a
``DeliveryError`` saying whether retrying can help. ``MemoryChannel`` is the
in-memory one for tests (the ``MockTransport`` of this package). It knows whether it is
*secure* (MSSanté: patient details allowed) and which body it sends
(``email``: subject, text and HTML; ``sms``: the short text).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Literal, Protocol

from notifications.exceptions import DeliveryError
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


def import_apprise() -> ModuleType:
    """Apprise, imported on first use (``parcours validate`` never pays for it).

    Apprise 1.13 imports the standard library's deprecated ``imghdr`` module
    for its PGP support; that one warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        import apprise
        import apprise.plugins.email  # the e-mail URL parser
    return apprise


class MemoryChannel:
    """Keeps what it is given; ``failures`` (errors or a function of the message) make
    the next sends fail, for tests."""

    def __init__(self, name: str = "email", *, secure: bool = False, medium: Medium = "email",
                 field: str = "email",
                 failures: list[DeliveryError] | None = None,
                 fail_when: Callable[[OutgoingMessage], DeliveryError | None] | None = None
                 ) -> None:
        self.name = name
        self.secure = secure
        self.medium = medium
        self.field = field
        self.failures = list(failures or [])
        self.fail_when = fail_when
        self.sent: list[OutgoingMessage] = []
        self.attempts: list[OutgoingMessage] = []

    def address(self, recipient: RecipientView) -> str | None:
        value = getattr(recipient, self.field, None)
        return str(value) if value else None

    def send(self, message: OutgoingMessage) -> None:
        self.attempts.append(message)
        if self.failures:
            raise self.failures.pop(0)
        if self.fail_when is not None and (error := self.fail_when(message)) is not None:
            raise error
        self.sent.append(message)

    def close(self) -> None:
        """Nothing to release."""
