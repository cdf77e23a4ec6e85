"""The one registry of notification channels: name → factory.

Settings (which channels are configured), dispatch (``build_channels``), previews
and the command line all read the channel names from here. A new channel is one
entry in ``FACTORIES`` (plus its settings fields).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from notifications.channels.base import Channel, Medium
    from notifications.settings import NotificationSettings

MSSANTE: Final = "mssante"
EMAIL: Final = "email"
SMS = "sms"
WEBHOOK = "webhook"
CONSOLE = "console"
#: Every channel name, in the order settings list them.
NAMES = (MSSANTE, EMAIL, SMS, WEBHOOK, CONSOLE)
#: The channels a professional's message can be previewed on: name → (secure, medium).
PREVIEWS: dict[str, tuple[bool, Medium]] = {MSSANTE: (True, "email"), EMAIL: (False, "email"),
                                         SMS: (False, "sms")}

Factory = Callable[["NotificationSettings"], "Channel | None"]


def _smtp(name: str) -> Factory:
    def make(settings: NotificationSettings) -> Channel | None:
        from notifications.channels.smtp import SmtpChannel, parse_url

        url = settings.mssante_url if name == MSSANTE else settings.email_url
        if url is None:
            return None
        secure = True if name == MSSANTE else settings.email_secure
        return SmtpChannel(name, parse_url(name, url.get_secret_value()), secure=secure,
                           sender_name=settings.sender_name,
                           address_field=MSSANTE if name == MSSANTE else EMAIL,
                           timeout=settings.smtp_timeout,
                           message_id_domain=settings.message_id_domain)
    return make


def _sms(settings: NotificationSettings) -> Channel | None:
    from notifications.channels.gateway import AppriseChannel

    if settings.sms_url is None:
        return None
    return AppriseChannel(SMS, settings.sms_url.get_secret_value(), medium="sms")


def _webhook(settings: NotificationSettings) -> Channel | None:
    from notifications.channels.gateway import AppriseChannel

    if settings.webhook_url is None:
        return None
    return AppriseChannel(WEBHOOK, settings.webhook_url.get_secret_value(), medium="email",
                          secure=settings.webhook_secure)


def _console(settings: NotificationSettings) -> Channel | None:
    from notifications.channels.console import ConsoleChannel

    if CONSOLE not in settings.configured():
        return None
    return ConsoleChannel(settings.console_dir, stdout=settings.console_stdout,
                          secure=settings.console_secure)


FACTORIES: dict[str, Factory] = {MSSANTE: _smtp(MSSANTE), EMAIL: _smtp(EMAIL), SMS: _sms,
                                 WEBHOOK: _webhook, CONSOLE: _console}


def build_channels(settings: NotificationSettings) -> dict[str, Channel]:
    """Every configured channel, by name; ChannelConfigError if a URL is wrong."""
    channels: dict[str, Channel] = {}
    for name, factory in FACTORIES.items():
        channel = factory(settings)
        if channel is not None:
            channels[name] = channel
    return channels
