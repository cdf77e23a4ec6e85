"""Benchmark of the notifications: template rendering, and outbox dispatch to a local SMTP server.

Run: ``.venv/bin/python benchmarks/notify.py [--messages N] [--only sqlite|postgresql]``

1. *Rendering*: the French ``task_assigned`` message for a secure channel
   (subject, plain text and HTML from the sandboxed Jinja2 templates) and
   its SMS, from views already loaded: messages/s.
2. *Dispatch*: N patients enrolled in ``benchmarks/pathways/bench-suivi.yaml``
   and advanced once give N ``task_assigned`` outbox rows for one GP, who is
   reached by e-mail.
   ``dispatch_pending`` drains them (claim in batches, load, render, send,
   record each row in its own transaction) to an aiosmtpd server on loopback
   running in another process, which counts what it accepts. Reported in
   messages/s, once with that SMTP server and once with an in-memory channel
   (the cost of the outbox itself), on SQLite and PostgreSQL. A baseline
   gives the ceiling of this SMTP server: ``smtplib`` alone sending a
   prepared message over one connection.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    BENCH_T0,
    bench_territory,
    drop_pg_database,
    fresh_pg_database,
    machine,
    peak_rss_mib,
)
from notifications import dispatch_pending
from notifications.channels import MemoryChannel
from notifications.context import build_context
from notifications.links import Links
from notifications.render import Renderer
from notifications.settings import NotificationSettings
from notifications.views import MessageData, PatientView, RecipientView, TaskView

T0 = BENCH_T0
DUE = T0 + timedelta(days=40)  # the pathway's timer has fired: a task per case


def _smtp_server(port: int, counter: Any, ready: Any) -> None:
    """A counting SMTP sink (aiosmtpd), in its own process so it does not share our GIL."""
    import asyncio

    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    asyncio.run(asyncio.sleep(10**6))


def bench_render(count: int) -> dict[str, float]:
    renderer = Renderer()
    recipient = RecipientView(1, "Martin", "Paul", "medecin", "10000000001", "p@example.fr")
    patient = PatientView("Durand", "Marie", date(1950, 3, 12), "F")
    task = TaskView(7, 3, "Réaliser le bilan initial", "medecin_traitant", "Médecin traitant",
                    "requested", T0 + timedelta(days=15), "Bilan initial à faire.", 1,
                    "Paul Martin", False, "Suivi")
    data = MessageData(1, "task_assigned", "task:7:assigned:1", T0, recipient, {}, 3, task,
                       patient, "Suivi")
    links = Links("https://parcours.cpts.example")
    results = {}
    for name, work in (("email (subject + text + HTML)", lambda: renderer.email(
            "task_assigned", build_context(data, secure=True, links=links, now=T0,
                                           sender="CPTS"))),
                       ("SMS", lambda: renderer.sms("task_assigned", build_context(
                           data, secure=False, links=links, now=T0, sender="CPTS")))):
        work()  # compile the templates once
        started = time.perf_counter()
        for _ in range(count):
            work()
        results[name] = count / (time.perf_counter() - started)
    return results


def bench_raw_smtp(port: int, count: int) -> float:
    """The ceiling: ``smtplib`` alone sending a prepared 2 kB message, one connection."""
    import smtplib

    message = b"Subject: test\r\n\r\n" + b"Une ligne de texte du message.\r\n" * 64
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        started = time.perf_counter()
        for _ in range(count):
            smtp.sendmail("parcours@cpts.example.fr", ["gp@example.fr"], message)
        return count / (time.perf_counter() - started)


def _territory(url: str, count: int) -> Any:
    engine, service = bench_territory(url, count)
    assert service.advance(DUE, batch_size=2000).cases == count  # one task each
    return engine


def bench_dispatch(url: str, count: int, batch: int, smtp_port: int | None,
                   received: Callable[[], int]) -> dict[str, float]:
    engine = _territory(url, count)
    settings = NotificationSettings(
        base_url="https://parcours.cpts.example", console=False, batch_size=batch,
        email_url=f"mailto://127.0.0.1:{smtp_port}?from=parcours@cpts.example.fr"
        if smtp_port else None)
    channels = None if smtp_port else {"email": MemoryChannel("email")}
    before = received()
    started = time.perf_counter()
    report = dispatch_pending(engine, settings, DUE + timedelta(hours=1), channels=channels)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert report.sent == count, report.as_dict()
    if smtp_port:
        assert received() - before == count, (received() - before, count)
    return {"messages": count, "seconds": elapsed, "rate": count / elapsed}


def _database(kind: str, work: Callable[[str], dict[str, float]]) -> dict[str, float]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            return work(f"sqlite:///{tmp}/bench.db")
    url, name = fresh_pg_database()
    try:
        return work(url)
    finally:
        drop_pg_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--renders", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    print(f"notifications benchmark · {datetime.now(UTC):%Y-%m-%d} · {machine()}")
    for name, rate in bench_render(args.renders).items():
        print(f"render {name:<31} {rate:8.0f} messages/s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    counter, ready = multiprocessing.Value("i", 0), multiprocessing.Event()
    server = multiprocessing.Process(target=_smtp_server, args=(port, counter, ready),
                                     daemon=True)
    server.start()
    ready.wait(30)
    try:
        print(f"baseline: smtplib alone to the SMTP server {bench_raw_smtp(port, 2000):8.0f} "
              "messages/s", flush=True)
        for kind in ("sqlite", "postgresql"):
            if args.only not in (None, kind):
                continue
            for label, smtp in (("in-memory channel", None), ("local SMTP server", port)):
                r = _database(kind, lambda url, smtp=smtp: bench_dispatch(  # type: ignore[misc]
                    url, args.messages, args.batch, smtp, lambda: int(counter.value)))
                print(f"dispatch {kind:<10} {label:<18} {r['messages']:>6} messages in "
                      f"{r['seconds']:5.1f} s = {r['rate']:6.0f} messages/s", flush=True)
    finally:
        server.terminate()
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
