"""The MLLP listener's error boundary: a message whose handling fails gets no ACK (the
sender will resend it: never acknowledged and lost), the failure is logged by its type
only (the message may hold a patient's identity), and the listener goes on serving."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from engine.intake import mllp

GOOD = b"MSH|^~\\&|LAB|HOP|PARCOURS|CPTS|20260110090000||ORU^R01|OK1|P|2.5\rPID|||1\r"
BAD = b"MSH|^~\\&|LAB|HOP|PARCOURS|CPTS|20260110090000||ORU^R01|KO1|P|2.5\rPID|||Durand\r"


BATCHES: list[int] = []


def _handle(block: bytes) -> bytes:
    if b"Durand" in block:
        raise RuntimeError("store failed for Durand Marie 1950-03-12")
    return b"MSH|^~\\&|PARCOURS|CPTS|LAB|HOP|20260110090000||ACK|A1|P|2.5\rMSA|AA|OK1\r"


def _handle_many(blocks: list[bytes]) -> list[bytes]:
    """All or nothing, like one transaction."""
    BATCHES.append(len(blocks))
    return [_handle(block) for block in blocks]


@pytest.fixture
def listener() -> Iterator[int]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, object] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        server = await mllp.start(_handle, "127.0.0.1", 0, handle_many=_handle_many)
        box["port"], box["stop"] = server.sockets[0].getsockname()[1], stop
        started.set()
        await stop.wait()
        server.close()
        await server.wait_closed()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    assert started.wait(10)
    yield int(box["port"])  # type: ignore[call-overload]
    loop.call_soon_threadsafe(box["stop"].set)  # type: ignore[attr-defined]
    thread.join(5)
    loop.close()


def test_a_failed_message_gets_no_ack_and_the_listener_keeps_serving(
        listener: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="parcours.mllp")
    with pytest.raises(ConnectionError):
        list(mllp.send("127.0.0.1", listener, [BAD], timeout=10))
    assert any("RuntimeError" in r.getMessage() and "sans ACK" in r.getMessage()
               for r in caplog.records)
    assert "Durand" not in caplog.text
    sent = list(mllp.send("127.0.0.1", listener, [GOOD, GOOD], timeout=10))
    assert [s.ack_code for s in sent] == ["AA", "AA"]


def test_a_pipelined_batch_that_fails_is_handled_one_by_one(
        listener: int, caplog: pytest.LogCaptureFixture) -> None:
    """The batch fails as a whole (nothing stored); one by one, the messages before the
    failing one are acknowledged, the failing one and those after it are not."""
    caplog.set_level(logging.WARNING, logger="parcours.mllp")
    BATCHES.clear()
    acked = []
    with pytest.raises(ConnectionError):
        for sent in mllp.send("127.0.0.1", listener, [GOOD, GOOD, BAD, GOOD], timeout=10,
                              window=4):
            acked.append(sent.ack_code)
    assert acked == ["AA", "AA"] and BATCHES and BATCHES[0] > 1
    assert "Durand" not in caplog.text
    sent = list(mllp.send("127.0.0.1", listener, [GOOD] * 50, timeout=10, window=50))
    assert [s.ack_code for s in sent] == ["AA"] * 50 and max(BATCHES) > 1
