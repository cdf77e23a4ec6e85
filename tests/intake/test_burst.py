"""kill -9 of ``parcours mllp`` during a burst of 1 000 messages: no acknowledged message lost.

A client sends 1 000 admissions (distinct stays) on one connection, each after the
previous ACK; the listener is killed (SIGKILL) once a few hundred are acknowledged,
restarted, and the client resends from the first message it has no ACK for (the one in
flight may have been stored: it is then acknowledged again and kept once). Every
acknowledged message, and every message in the end, is in the inbox exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine

from engine import events
from engine.intake import mllp
from tests.intake import world
from tests.intake.listener import Listener
from tests.intake.messages import adt

BURST = 1000
KILL_AFTER = 300


def _burst(start: int) -> list[bytes]:
    return [adt("A01", f"B{n:05d}", stay=f"SEJ{n:05d}", movement=f"MVT{n:05d}")
            .encode("latin-1") for n in range(start, BURST)]


def _send_until_cut(port: int, start: int, acked: list[str]) -> None:
    try:
        for sent in mllp.send("127.0.0.1", port, _burst(start), timeout=30):
            assert sent.ack_code == "AA"
            acked.append(sent.control_id)
    except OSError:
        return  # the listener died under us


@pytest.mark.slow
def test_kill_9_during_a_burst_loses_no_acknowledged_message(
        db_url: str, engine: Engine, tmp_path: Path) -> None:
    world.build(engine, tmp_path)
    first = Listener(db_url)
    acked: list[str] = []
    sender = threading.Thread(target=_send_until_cut, args=(first.port, 0, acked))
    sender.start()
    deadline = time.monotonic() + 120
    while len(acked) < KILL_AFTER and sender.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    first.kill()
    sender.join(timeout=30)
    assert KILL_AFTER <= len(acked) < BURST, "the kill must land during the burst"
    before_restart = list(acked)

    second = Listener(db_url)
    try:
        _send_until_cut(second.port, len(acked), acked)
    finally:
        assert "Traceback" not in second.stop()

    rows = world.inbox_rows(engine)
    messages = Counter(r.event_id.rsplit(":", 1)[-1] for r in rows if r.kind == events.MESSAGE)
    assert all(messages[control] == 1 for control in before_restart)
    assert len(acked) == BURST and set(messages) == {f"B{n:05d}" for n in range(BURST)}
    admissions = [r for r in rows if r.kind == events.ADMISSION]
    assert len(admissions) == BURST == len({r.event_id for r in admissions})
