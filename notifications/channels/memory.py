"""An in-memory channel for tests (the ``MockTransport`` of this package)."""

from __future__ import annotations

from collections.abc import Callable

from notifications.channels.base import Medium, OutgoingMessage
from notifications.exceptions import DeliveryError
from notifications.views import RecipientView


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
