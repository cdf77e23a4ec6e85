"""Channels: where a rendered message goes (see ``base.Channel``).

``build_channels`` makes the configured ones from ``NotificationSettings``:

==========  ===========================================  ======  ========
name        transport                                    secure  body
==========  ===========================================  ======  ========
mssante     SMTP to the MSSanté operator (``smtp.py``)   yes     e-mail
email       SMTP (``smtp.py``)                           no [#]  e-mail
sms         an Apprise SMS gateway (``gateway.py``)      no      SMS
webhook     an Apprise ``json://`` endpoint              no [#]  e-mail
console     files and/or stdout (``console.py``)         no [#]  e-mail
==========  ===========================================  ======  ========

.. [#] unless the settings say otherwise (``EMAIL_SECURE``…).
"""

from __future__ import annotations

from notifications.channels.base import Channel, Medium, MemoryChannel, OutgoingMessage
from notifications.channels.console import ConsoleChannel
from notifications.settings import NotificationSettings

__all__ = ["Channel", "ConsoleChannel", "Medium", "MemoryChannel", "OutgoingMessage",
           "build_channels"]


def build_channels(settings: NotificationSettings) -> dict[str, Channel]:
    """Every configured channel, by name; ChannelConfigError if a URL is wrong."""
    from notifications.channels.gateway import AppriseChannel
    from notifications.channels.smtp import SmtpChannel, parse_url

    channels: dict[str, Channel] = {}
    for name, url, secure in (("mssante", settings.mssante_url, True),
                              ("email", settings.email_url, settings.email_secure)):
        if url is not None:
            channels[name] = SmtpChannel(
                name, parse_url(name, url.get_secret_value()), secure=secure,
                sender_name=settings.sender_name, address_field=name,  # type: ignore[arg-type]
                timeout=settings.smtp_timeout, message_id_domain=settings.message_id_domain)
    if settings.sms_url is not None:
        channels["sms"] = AppriseChannel("sms", settings.sms_url.get_secret_value(),
                                         medium="sms")
    if settings.webhook_url is not None:
        channels["webhook"] = AppriseChannel("webhook", settings.webhook_url.get_secret_value(),
                                             medium="email", secure=settings.webhook_secure)
    if "console" in settings.configured():
        channels["console"] = ConsoleChannel(settings.console_dir,
                                             stdout=settings.console_stdout,
                                             secure=settings.console_secure)
    return channels
