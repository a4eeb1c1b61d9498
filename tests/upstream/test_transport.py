"""SocketTransport against small scripted TCP peers: reconnects, timeouts, broken replies."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

import pytest

from facade.upstream.errors import (
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from facade.upstream.transport import MissedSlot, SocketTransport, Timeouts, send_deadline


class Peer:
    """A TCP server running ``script(connection, number)`` for each connection."""

    def __init__(self, script: Callable[[socket.socket, int], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, args=(script,), daemon=True)
        self._thread.start()

    def _serve(self, script) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(script, connection, self.connections),
                             daemon=True).start()

    @staticmethod
    def _run(script, connection: socket.socket, number: int) -> None:
        with connection, contextlib.suppress(OSError):
            script(connection, number)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def peer():
    peers = []

    def start(script):
        peers.append(Peer(script))
        return peers[-1]
    yield start
    for started in peers:
        started.close()


def read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_reconnects_after_the_peer_closed_an_idle_connection(peer):
    def one_reply_then_close(connection, number):
        read_line(connection)
        connection.sendall(f"<R>{number}</R>\n".encode())
    server = peer(one_reply_then_close)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    assert transport.exchange(b"<Q/>") == b"<R>1</R>"
    time.sleep(0.1)  # the peer has closed by now
    assert transport.exchange(b"<Q/>") == b"<R>2</R>"
    transport.close()


def test_keeps_one_connection_for_many_requests(peer):
    def echo_forever(connection, number):
        while read_line(connection):
            connection.sendall(b"<R>ok</R>\r\n")
    server = peer(echo_forever)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 5))
    started = time.monotonic()
    for _ in range(5):
        assert transport.exchange(b"<Q/>") == b"<R>ok</R>"
    assert server.connections == 1
    # The idle-connection check must not wait: it once sat out the read timeout.
    assert time.monotonic() - started < 2.5
    transport.close()


def test_no_reply_is_a_timeout_not_a_hang_and_the_connection_is_dropped(peer):
    def silent_first(connection, number):
        read_line(connection)
        if number > 1:
            connection.sendall(b"<R/>\n")
        else:
            time.sleep(1.5)
    server = peer(silent_first)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 0.3))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout, match="no reply"):
        transport.exchange(b"<Q/>")
    assert time.monotonic() - started < 1.0
    assert transport.exchange(b"<Q/>") == b"<R/>"  # on a new connection
    assert server.connections == 2
    transport.close()


def test_reply_arriving_slowly_in_pieces_is_assembled(peer):
    def dribble(connection, number):
        read_line(connection)
        for piece in (b"<R>", b"<A>1</A>", b"\n<B/>", b"</R", b">\n"):
            connection.sendall(piece)
            time.sleep(0.02)
    server = peer(dribble)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    assert transport.exchange(b"<Q/>") == b"<R><A>1</A>\n<B/></R>"
    transport.close()


def test_peer_closing_mid_reply_is_a_connection_error(peer):
    def half_reply(connection, number):
        read_line(connection)
        connection.sendall(b"<R><A>")
    server = peer(half_reply)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    with pytest.raises(UpstreamConnectionError, match="closed the connection"):
        transport.exchange(b"<Q/>")


def test_oversized_reply_is_a_protocol_error(peer):
    def flood(connection, number):
        read_line(connection)
        connection.sendall(b"<R>" + b"x" * 300_000)
    server = peer(flood)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2), max_document=100_000)
    with pytest.raises(UpstreamProtocolError, match="exceeds"):
        transport.exchange(b"<Q/>")


def test_two_replies_to_one_request_is_a_protocol_error(peer):
    def chatty(connection, number):
        read_line(connection)
        connection.sendall(b"<R/>\n<R/>\n")
    server = peer(chatty)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    with pytest.raises(UpstreamProtocolError, match="more than one"):
        transport.exchange(b"<Q/>")


def test_nothing_listening_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = SocketTransport("127.0.0.1", port, Timeouts(1, 1))
    with pytest.raises(UpstreamConnectionError, match="cannot connect"):
        transport.exchange(b"<Q/>")


def test_a_request_never_queues_behind_another_threads_slow_reply(peer):
    """A request leaves when its slot starts: a second thread gets a connection of its own."""
    arrived: list[tuple[int, float]] = []

    def slow_first(connection, number):
        while read_line(connection):
            arrived.append((number, time.monotonic()))
            time.sleep(0.5 if number == 1 else 0)
            connection.sendall(b"<R/>\n")
    server = peer(slow_first)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    slow = threading.Thread(target=transport.exchange, args=(b"<Q/>",))
    slow.start()
    time.sleep(0.1)
    sent = time.monotonic()
    assert transport.exchange(b"<Q/>") == b"<R/>"
    assert [n for n, _ in arrived] == [1, 2] and arrived[1][1] - sent < 0.2
    slow.join()
    assert transport.exchange(b"<Q/>") == b"<R/>"  # an idle connection reused
    assert server.connections == 2
    transport.close()


def test_close_drops_connections_in_use_when_they_come_back(peer):
    def slow_echo(connection, number):
        while read_line(connection):
            time.sleep(0.2)
            connection.sendall(b"<R/>\n")
    server = peer(slow_echo)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    busy = threading.Thread(target=transport.exchange, args=(b"<Q/>",))
    busy.start()
    time.sleep(0.05)
    transport.close()
    busy.join()
    transport.exchange(b"<Q/>")
    assert server.connections == 2  # the one in use at close() was not reused
    transport.close()


def test_a_request_past_its_send_deadline_is_not_sent(peer):
    received: list[bytes] = []

    def record(connection, number):
        while line := read_line(connection):
            received.append(line)
            connection.sendall(b"<R/>\n")
    server = peer(record)
    transport = SocketTransport("127.0.0.1", server.port, Timeouts(1, 2))
    token = send_deadline.set(time.monotonic() - 0.001)
    try:
        with pytest.raises(MissedSlot):
            transport.exchange(b"<Q/>")
    finally:
        send_deadline.reset(token)
    assert transport.exchange(b"<Q/>") == b"<R/>"  # the unused connection is reused
    time.sleep(0.05)
    assert received == [b"<Q/>\n"] and server.connections == 1
    transport.close()
