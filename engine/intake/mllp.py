"""MLLP (the minimal lower layer protocol of HL7 v2 over TCP): a listener and a client.

The listener serves many connections at once (asyncio, python-hl7's MLLP
block reader and writer); on each connection, messages are handled one after
the other in the order received. ``handle`` (bytes in, ACK bytes out) runs in
a worker thread and returns only once the message is durably stored; if it
raises, no ACK is sent and the connection is closed, so the sender sends the
message again: a message is never acknowledged and then lost.

The client (``send``) is plain blocking sockets: one message, wait for its
ACK, the next; it needs neither asyncio nor Prefect.
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
MAX_MESSAGE = 4 * 1024 * 1024


async def _serve_connection(reader: MLLPStreamReader, writer: asyncio.StreamWriter,
                            handle: Handler) -> None:
    loop = asyncio.get_running_loop()
    peer = writer.get_extra_info("peername")
    try:
        while True:
            try:
                block = await reader.readblock()
            except asyncio.IncompleteReadError:
                return  # the peer closed the connection
            except (InvalidBlockError, ValueError) as exc:
                log.warning("MLLP %s : trame invalide (%s), connexion fermée", peer,
                            type(exc).__name__)
                return
            ack = await loop.run_in_executor(None, handle, block)
            writer.write(START_BLOCK + ack + END_BLOCK + CARRIAGE_RETURN)
            await writer.drain()
    except Exception as exc:  # the store failed: no ACK, the sender will resend
        log.error("MLLP %s : message non enregistré (%s), connexion fermée sans ACK", peer,
                  type(exc).__name__)
    finally:
        writer.close()


async def start(handle: Handler, host: str, port: int,
                tls: ssl.SSLContext | None = None) -> asyncio.Server:
    """Listen on host:port (``port`` 0: any free port, see ``server.sockets``)."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    def factory() -> asyncio.StreamReaderProtocol:
        reader = MLLPStreamReader(limit=MAX_MESSAGE)

        def connected(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = loop.create_task(_serve_connection(reader, writer, handle))
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


def _read_block(sock: socket.socket) -> bytes:
    buffer = b""
    while not buffer.endswith(END_BLOCK + CARRIAGE_RETURN):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connexion fermée avant l'ACK")
        buffer += chunk
    return buffer.lstrip(START_BLOCK)[:-2]


def send(host: str, port: int, messages: list[bytes], timeout: float = 30.0,
         tls: ssl.SSLContext | None = None) -> Iterator[Sent]:
    """Send messages on one connection, each after the previous one's ACK."""
    with socket.create_connection((host, port), timeout=timeout) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one small block per ACK
        sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
        for message in messages:
            sock.sendall(START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN)
            ack = _read_block(sock)
            control = message.split(b"\r", 1)[0].split(b"|")
            yield Sent(control[9].decode("latin-1") if len(control) > 9 else "",
                       ack_code(ack), ack)
