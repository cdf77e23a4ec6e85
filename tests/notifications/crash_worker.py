"""Drains the outbox to a loopback SMTP server; may kill itself at a chosen step.

Usage: python -m tests.notifications.crash_worker URL SMTP_PORT NOW KILL_AT JOURNAL

A step is a database statement, a commit, the start of a send or its end;
at step KILL_AT the process ends with ``os._exit`` (no cleanup, like a
``kill -9``). The journal gets ``sending TOKEN`` before each message is
handed to the SMTP server and ``sent TOKEN`` once the server accepted it.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from typing import TextIO

from sqlalchemy import event

from engine.store.db import make_engine
from notifications import dispatch_pending
from notifications.channels import OutgoingMessage, build_channels
from notifications.settings import NotificationSettings


class Steps:
    def __init__(self, kill_at: int, journal: TextIO) -> None:
        self.count = 0
        self.kill_at = kill_at
        self.journal = journal

    def step(self, *_args: object) -> None:
        self.count += 1
        if self.count == self.kill_at:
            os._exit(86)

    def note(self, line: str) -> None:
        self.journal.write(line + "\n")
        self.journal.flush()


class Recorded:
    """Wraps a channel: journal and a step around each send."""

    def __init__(self, inner, steps: Steps) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.steps = steps
        self.name, self.secure, self.medium = inner.name, inner.secure, inner.medium

    def address(self, recipient):  # type: ignore[no-untyped-def]
        return self.inner.address(recipient)

    def send(self, message: OutgoingMessage) -> None:
        self.steps.step()
        self.steps.note(f"sending {message.token}")
        self.inner.send(message)
        self.steps.note(f"sent {message.token}")
        self.steps.step()

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    url, port, now, kill_at, journal_path = sys.argv[1:6]
    settings = NotificationSettings(
        base_url="https://parcours.cpts.example", console=False, batch_size=4,
        mssante_url=f"mailto://127.0.0.1:{port}?from=cpts@cpts.mssante.fr",
        email_url=f"mailto://127.0.0.1:{port}?from=parcours@cpts.example.fr",
        lease_seconds=60, max_attempts=1000, new_tasks="immediate")
    engine = make_engine(url)
    with open(journal_path, "a", encoding="utf-8") as journal:
        steps = Steps(int(kill_at), journal)
        event.listen(engine, "before_cursor_execute", steps.step)
        event.listen(engine, "commit", steps.step)
        channels = {name: Recorded(channel, steps)
                    for name, channel in build_channels(settings).items()}
        dispatch_pending(engine, settings, datetime.fromisoformat(now), channels=channels)
        steps.note("done")


if __name__ == "__main__":
    main()
