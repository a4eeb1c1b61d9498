"""How request documents reach a SystmOne client: the transport seam.

A transport exchanges one request document for one response document. The
client above it knows nothing about sockets, so unit tests use
``InMemoryTransport`` and everything else ``SocketTransport``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from ..protocol.framing import DEFAULT_MAX_DOCUMENT, FrameDecoder, FrameTooLarge, encode_frame
from .errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamTimeout

#: The latest moment (time.monotonic) the current request may still be sent: the caller's
#: throttle slot plus its margin. Checked immediately before the bytes go out, after every
#: step that could stall (a connection to open, a busy interpreter): a request that would
#: leave later is not sent at all (MissedSlot), so it can never crowd the next slot.
send_deadline: ContextVar[float | None] = ContextVar("facade_send_deadline", default=None)
#: When the current request's bytes went out (time.time), for the breach watch.
sent_at: ContextVar[float | None] = ContextVar("facade_sent_at", default=None)


class MissedSlot(Exception):
    """The request was not sent: its throttle slot had passed. Book another and retry."""


def check_deadline() -> None:
    deadline = send_deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise MissedSlot(f"{(time.monotonic() - deadline) * 1000:.0f} ms past the slot")
    sent_at.set(time.time())


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait to connect, and for a whole reply to arrive."""

    connect: float = 5.0
    read: float = 30.0


DEFAULT_TIMEOUTS = Timeouts()


class Transport(Protocol):
    def exchange(self, request: bytes) -> bytes:
        """Send one document and return the next document received.

        Raises UpstreamTimeout, UpstreamConnectionError or UpstreamProtocolError.
        """

    def close(self) -> None: ...


class SocketTransport:
    """Persistent TCP connections to one SystmOne client, one exchange at a time each.

    Concurrent exchanges (threads of one worker) each take an idle connection
    or open one, so a request sent at its booked slot never queues behind
    another thread's reply. After a timeout or any failure that connection is
    dropped: a late reply to an abandoned request must never be read as the
    answer to the next one. ``close()`` drops every connection, including
    those in use when they come back.
    """

    def __init__(self, host: str, port: int, timeouts: Timeouts = DEFAULT_TIMEOUTS,
                 max_document: int = DEFAULT_MAX_DOCUMENT, max_idle: int = 4) -> None:
        self.address = (host, port)
        self.timeouts = timeouts
        self.max_document = max_document
        self.max_idle = max_idle
        self._idle: list[socket.socket] = []
        self._generation = 0  # bumped by close(): older connections are not reused
        self._lock = threading.Lock()

    def exchange(self, request: bytes) -> bytes:
        connection, generation = self._take()
        frame = encode_frame(request)
        try:
            check_deadline()
        except MissedSlot:
            self._give_back(connection, generation)  # unused: still good
            raise
        try:
            connection.sendall(frame)
            reply = self._receive(connection)
        except OSError as error:
            connection.close()
            raise UpstreamConnectionError(f"connection to {self._name} failed: {error}") from None
        except BaseException:
            connection.close()
            raise
        self._give_back(connection, generation)
        return reply

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for connection in idle:
            connection.close()

    @property
    def _name(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    def _take(self) -> tuple[socket.socket, int]:
        while True:
            with self._lock:
                generation = self._generation
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(), generation
            if not _closed_by_peer(connection):
                return connection, generation
            connection.close()

    def _give_back(self, connection: socket.socket, generation: int) -> None:
        with self._lock:
            if generation == self._generation and len(self._idle) < self.max_idle:
                self._idle.append(connection)
                return
        connection.close()

    def _connect(self) -> socket.socket:
        try:
            connection = socket.create_connection(self.address, self.timeouts.connect)
        except TimeoutError:
            raise UpstreamTimeout(
                f"no connection to {self._name} within {self.timeouts.connect:g} s") from None
        except OSError as error:
            raise UpstreamConnectionError(f"cannot connect to {self._name}: {error}") from None
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def _receive(self, connection: socket.socket) -> bytes:
        decoder = FrameDecoder(self.max_document)
        deadline = time.monotonic() + self.timeouts.read
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamTimeout(
                    f"no reply from {self._name} within {self.timeouts.read:g} s "
                    "(SystmOne drops throttled messages without replying)")
            connection.settimeout(remaining)
            try:
                data = connection.recv(256 * 1024)
            except TimeoutError:
                continue
            if not data:
                raise UpstreamConnectionError(f"{self._name} closed the connection mid-reply")
            try:
                documents = decoder.feed(data)
            except FrameTooLarge as error:
                raise UpstreamProtocolError(f"reply from {self._name}: {error}") from None
            if documents:
                if len(documents) > 1 or decoder.pending:
                    raise UpstreamProtocolError(f"{self._name} sent more than one reply")
                return documents[0]


def _closed_by_peer(connection: socket.socket) -> bool:
    """True when an idle connection was closed by the peer, or holds bytes nobody asked for.

    A non-blocking peek (not select(), which fails for descriptors above 1023).
    """
    connection.settimeout(0)  # a timeout would make the peek wait for data
    try:
        return len(connection.recv(1, socket.MSG_PEEK)) in (0, 1)
    except BlockingIOError:
        return False  # open and quiet: the normal case
    except OSError:
        return True


class InMemoryTransport:
    """Hands each request to a function; for unit tests.

    The handler returns the response document, or None for "no reply", which
    surfaces as the same UpstreamTimeout a real throttled message causes.
    """

    def __init__(self, handler: Callable[[bytes], bytes | None]) -> None:
        self.handler = handler
        self.requests: list[bytes] = []

    def exchange(self, request: bytes) -> bytes:
        check_deadline()
        self.requests.append(request)
        response = self.handler(request)
        if response is None:
            raise UpstreamTimeout("no reply (in-memory transport)")
        return response

    def close(self) -> None:
        pass
