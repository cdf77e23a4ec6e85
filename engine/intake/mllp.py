"""MLLP (the minimal lower layer protocol of HL7 v2 over TCP): a listener and a client.

The listener serves many connections at once (asyncio, python-hl7's MLLP
block reader and writer); on each connection, messages are handled one after
the other in the order received. ``handle`` (bytes in, ACK bytes out) runs in
a worker thread and returns only once the message is durably stored; if it
raises, no ACK is sent and the connection is closed, so the sender sends the
message again: a message is never acknowledged and then lost.

Group commit: when the sender has pipelined messages (several complete blocks
already wait in the connection's buffer), ``handle_many`` stores them all in one
transaction and their ACKs are sent after it, in the order of the messages (at
most ``MAX_BATCH`` at a time). If it raises, nothing of the batch was stored and
the messages are handled again one by one with ``handle``: those before a
failing one are acknowledged, the failing one gets no ACK and the connection is
closed, as without pipelining.

The client (``send``) is plain blocking sockets: one message, wait for its
ACK, the next (``window`` > 1: up to that many messages sent ahead of their
ACKs, which come back in the same order); it needs neither asyncio nor Prefect.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hl7.mllp import InvalidBlockError
from hl7.mllp.streams import END_BLOCK, START_BLOCK, MLLPStreamReader

from engine.intake.exceptions import UnreadableMessage

log = logging.getLogger("parcours.mllp")
CARRIAGE_RETURN = b"\r"
Handler = Callable[[bytes], bytes]
BatchHandler = Callable[[list[bytes]], list[bytes]]
MAX_MESSAGE = 4 * 1024 * 1024
#: most messages stored in one transaction (group commit) on one connection
MAX_BATCH = 64
_END = END_BLOCK + CARRIAGE_RETURN


class _Reader(MLLPStreamReader):
    def has_block(self) -> bool:
        """A whole block is already received (``readblock`` will not wait)."""
        return _END in self._buffer


async def _next_blocks(reader: _Reader) -> tuple[list[bytes], Exception | None]:
    """The next block, and those already received after it (at most ``MAX_BATCH``); with
    the framing error that ended them, if any (the blocks before it are still handled)."""
    blocks: list[bytes] = []
    try:
        blocks.append(await reader.readblock())
        while len(blocks) < MAX_BATCH and reader.has_block():
            blocks.append(await reader.readblock())
    except (asyncio.IncompleteReadError, InvalidBlockError, ValueError) as exc:
        return blocks, exc
    return blocks, None


async def _serve_connection(reader: _Reader, writer: asyncio.StreamWriter, handle: Handler,
                            handle_many: BatchHandler | None) -> None:
    loop = asyncio.get_running_loop()
    peer = writer.get_extra_info("peername")
    try:
        while True:
            blocks, ended = await _next_blocks(reader)
            acks: list[bytes] = []
            if len(blocks) > 1 and handle_many is not None:
                try:
                    acks = await loop.run_in_executor(None, handle_many, blocks)
                except Exception as exc:  # nothing stored: one by one, as without pipelining
                    log.warning("MLLP %s : lot de %d messages non enregistré (%s), repris un "
                                "par un", peer, len(blocks), type(exc).__name__)
            if acks:
                writer.write(b"".join(START_BLOCK + ack + _END for ack in acks))
            else:
                for block in blocks:
                    ack = await loop.run_in_executor(None, handle, block)
                    writer.write(START_BLOCK + ack + _END)
            await writer.drain()
            if isinstance(ended, asyncio.IncompleteReadError):
                return  # the peer closed the connection
            if ended is not None:
                log.warning("MLLP %s : trame invalide (%s), connexion fermée", peer,
                            type(ended).__name__)
                return
    except Exception as exc:  # the store failed: no ACK, the sender will resend
        log.error("MLLP %s : message non enregistré (%s), connexion fermée sans ACK", peer,
                  type(exc).__name__)
    finally:
        writer.close()


async def start(handle: Handler, host: str, port: int,
                tls: ssl.SSLContext | None = None,
                handle_many: BatchHandler | None = None) -> asyncio.Server:
    """Listen on host:port (``port`` 0: any free port, see ``server.sockets``);
    ``handle_many``: messages already pipelined by the sender stored together."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def factory() -> asyncio.StreamReaderProtocol:
        reader = _Reader(limit=MAX_MESSAGE)

        def connected(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = loop.create_task(_serve_connection(reader, writer, handle, handle_many))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        return asyncio.StreamReaderProtocol(reader, connected)

    return await loop.create_server(factory, host, port, ssl=tls)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


# -- client ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    control_id: str
    ack_code: str
    ack: bytes


def split_messages(data: bytes) -> Iterator[bytes]:
    """The messages of a file: each starts with ``MSH|``; line ends become ``\\r``."""
    text = data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    for chunk in re.split(rb"\r+(?=MSH\|)", text.strip(b"\r\x0b\x1c")):
        chunk = chunk.strip(b"\r")
        if chunk:
            yield chunk + b"\r"


def ack_code(ack: bytes) -> str:
    for segment in ack.split(b"\r"):
        if segment.startswith(b"MSA|"):
            return segment.split(b"|")[1].decode("ascii", "replace")
    raise UnreadableMessage("réponse sans segment MSA")


class _Acks:
    """The ACK blocks of a connection, one after the other (several may come in one read)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def next(self) -> bytes:
        while (end := self.buffer.find(_END)) < 0:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connexion fermée avant l'ACK")
            self.buffer += chunk
        block, self.buffer = self.buffer[:end], self.buffer[end + len(_END):]
        return block.lstrip(START_BLOCK)


def send(host: str, port: int, messages: list[bytes], timeout: float = 30.0,
         tls: ssl.SSLContext | None = None, window: int = 1) -> Iterator[Sent]:
    """Send messages on one connection, each after the previous one's ACK; with ``window``
    > 1, up to ``window`` messages are sent before their ACKs are read (pipelining: the
    ACKs come back in the order of the messages; ``parcours mllp`` stores the messages it
    already holds in one transaction). An ACK is yielded only once received: if the
    connection breaks, the messages after the last one yielded are to be sent again."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one small block per ACK
        sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
        acks, window, sent = _Acks(sock), max(window, 1), 0
        for n, message in enumerate(messages):
            if sent - n <= window // 2 and sent < len(messages):
                # the window refilled in one write once half of it is acknowledged: fewer
                # system calls, and the listener finds those messages together
                ahead = messages[sent:n + window]
                sock.sendall(b"".join(START_BLOCK + m + _END for m in ahead))
                sent += len(ahead)
            ack = acks.next()
            control = message.split(b"\r", 1)[0].split(b"|")
            yield Sent(control[9].decode("latin-1") if len(control) > 9 else "",
                       ack_code(ack), ack)
