"""Every error the notifications package raises, under one root.

::

    ParcoursError                           engine.exceptions: root of everything
    └── NotificationError                   a message could not be prepared or sent
        ├── TemplateRenderError             a template is missing, wrong or unsafe
        ├── PreferencesError                a professional's preferences are not valid
        │   └── InvalidPreferencesError     …as entered: one French message per field
        ├── ChannelConfigError              a channel's settings are wrong (URL, sender)
        └── DeliveryError                   a channel refused or failed to take a message
            ├── TransientDeliveryError      may pass: connection refused, SMTP 4xx, HTTP 5xx
            └── PermanentDeliveryError      will not pass: invalid address, SMTP 5xx, HTTP 4xx

Third-party exceptions (``smtplib``, ``OSError``, Jinja2, an Apprise failure)
are translated where they happen (``notifications.channels``, ``render``)
and raised ``from`` the original. ``retryable`` tells the dispatcher whether
to try again later (with backoff) or to dead-letter the message at once.
Messages never carry patient data: only ids, channels and the server's reply.
"""

from __future__ import annotations

from engine.exceptions import ParcoursError


class NotificationError(ParcoursError):
    """A message could not be prepared or sent."""


class TemplateRenderError(NotificationError):
    """A template is missing, refers to an undefined name, or tried to leave the sandbox."""

    def __init__(self, template: str, reason: str) -> None:
        self.template = template
        self.reason = reason
        super().__init__(f"modèle {template!r} : {reason}")


class PreferencesError(NotificationError):
    """A professional's ``preferences`` JSON is not valid; ``allowed`` says what is."""

    def __init__(self, problem: str, allowed: str) -> None:
        self.problem = problem
        self.allowed = allowed
        super().__init__(f"préférences invalides : {problem} ; attendu : {allowed}")


class InvalidPreferencesError(PreferencesError):
    """Preferences entered by a professional were refused: ``problems`` maps each field
    (``channels``, ``digest_time``, ``quiet_hours.sms.start``…) to a French message."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__(" ; ".join(self.problems.values()),
                         "les valeurs proposées par la page « Mes préférences »")


class ChannelConfigError(NotificationError):
    """A channel's settings are wrong: unparsable URL, missing sender, unknown channel."""

    def __init__(self, channel: str, problem: str) -> None:
        self.channel = channel
        self.problem = problem
        super().__init__(f"canal {channel!r} mal configuré : {problem}")


class DeliveryError(NotificationError):
    """A channel failed to take a message; ``code`` is the SMTP or HTTP status if any."""

    def __init__(self, channel: str, reason: str, code: int | None = None) -> None:
        self.channel = channel
        self.reason = reason
        self.code = code
        status = f" ({code})" if code is not None else ""
        super().__init__(f"{channel}{status} : {reason}")


class TransientDeliveryError(DeliveryError):
    """The failure may pass (connection refused, timeout, SMTP 4xx, HTTP 5xx or 429)."""

    retryable = True


class PermanentDeliveryError(DeliveryError):
    """The failure will not pass by retrying (invalid address, SMTP 5xx, HTTP 4xx)."""

    retryable = False
