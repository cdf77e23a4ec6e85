"""Channels: where a rendered message goes (see ``base.Channel``).

``build_channels`` (``registry.py``: the one name → factory table) makes the configured
ones from ``NotificationSettings``:

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
from notifications.channels.registry import build_channels

__all__ = ["Channel", "ConsoleChannel", "Medium", "MemoryChannel", "OutgoingMessage",
           "build_channels"]
