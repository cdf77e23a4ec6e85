"""The console/file channel of the embedded default.

``ConsoleChannel`` writes each message to ``FOLDER/TOKEN.txt`` (headers, then
the text body) and/or prints it: the demo shows what would be sent without a
mail server. The file is named after the idempotency token, so a resend after
a crash overwrites the same file instead of adding one. By default messages
are rendered as for a channel that is not secure (no patient data on disk
beyond the database); ``PARCOURS_NOTIFY_CONSOLE_SECURE=true`` shows the
MSSanté version.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from notifications.channels import registry
from notifications.channels.base import Medium, OutgoingMessage
from notifications.exceptions import TransientDeliveryError
from notifications.views import RecipientView


def as_text(message: OutgoingMessage) -> str:
    headers = [f"To: {message.recipient_name} <{message.address}>",
               f"Subject: {message.subject}", f"Date: {message.sent_at.isoformat()}",
               f"Idempotency-Key: {message.token}", f"X-Parcours-Kind: {message.kind}",
               f"X-Parcours-Channel: {message.channel}"]
    return "\n".join(headers) + "\n\n" + message.text


class ConsoleChannel:
    name = registry.CONSOLE
    medium: Medium = "email"

    def __init__(self, folder: Path | None = None, *, stdout: bool = False,
                 secure: bool = False, stream: TextIO | None = None) -> None:
        self.folder = folder
        self.stdout = stdout or folder is None
        self.secure = secure
        self.stream = stream

    def address(self, recipient: RecipientView) -> str | None:
        return recipient.mssante or recipient.email or recipient.phone or f"#{recipient.id}"

    def send(self, message: OutgoingMessage) -> None:
        text = as_text(message)
        if self.folder is not None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                target = self.folder / f"{message.token}.txt"
                partial = target.with_suffix(".part")
                partial.write_text(text, encoding="utf-8")
                partial.replace(target)
            except OSError as exc:
                raise TransientDeliveryError(self.name, f"écriture impossible dans "
                                                        f"{self.folder} ({exc.strerror})") \
                    from exc
        if self.stdout:
            print(text + "\n" + "─" * 72, file=self.stream or sys.stdout)

    def close(self) -> None:
        """Nothing kept between messages."""
