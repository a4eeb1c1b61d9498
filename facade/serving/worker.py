"""The gunicorn worker of ``facade serve``: gthread, but a thread gets only whole requests.

gunicorn's gthread worker gives each new connection to a thread, which then reads the
request with blocking calls: a client that sends half a request line and stops holds
that thread until it gives up, and two such sockets stopped a 1-worker, 2-thread server. This worker
reads every connection in its event loop instead — new ones and kept-alive ones, TLS
handshakes included — and submits it to the thread pool only when framing.measure says
one whole request is buffered. A slow client then costs a buffer and a file descriptor,
and a connection that has not delivered its request within FACADE_CLIENT_TIMEOUT is
closed. The same look at each request head enforces the limits early and answers what
gunicorn would answer with an HTML page (400, 413, 414, 431, 501) with a FHIR
OperationOutcome instead, echoing nothing the client sent.
"""

from __future__ import annotations

import contextlib
import errno
import io
import selectors
import socket
import ssl
import time
from dataclasses import dataclass, field
from functools import partial

from gunicorn import sock as gunicorn_sock
from gunicorn import util as gunicorn_util
from gunicorn.http import errors as http_errors
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn.http.message import DEFAULT_MAX_HEADERFIELD_SIZE, Request
from gunicorn.http.parser import RequestParser
from gunicorn.workers.gthread import TConn, ThreadWorker

from ..config import Settings
from . import framing
from .answers import refusal_bytes

#: The Server header gunicorn writes on every answer names it (and used to carry its
#: version); say what the service is instead. gunicorn reads this module global per
#: response and has no setting for it.
gunicorn_wsgi.SERVER = "fhir-facade"


class _OneSendResponse(gunicorn_wsgi.Response):
    """gunicorn's answer writer, but the head goes out with the first body bytes: one
    system call where gunicorn makes two (each a release of the GIL that another
    thread takes, on every answer). A head with no body after it (HEAD, 304), or
    before a file sent with sendfile, goes out alone, as gunicorn sends it."""

    _head: bytes | None = None

    def process_headers(self, headers) -> None:
        """gunicorn checks every header of every answer (two expressions each); a pair
        it has passed before in this worker, as it is, is taken as it was then. Order
        is kept; only ordinary end-to-end headers are remembered."""
        append = self.headers.append
        for pair in headers:
            if type(pair) is tuple and pair in _PASSED:
                append(pair)
                continue
            before = len(self.headers)
            super().process_headers((pair,))
            if len(self.headers) > before and self.headers[-1] == pair \
                    and pair[0].lower() not in _SPECIAL and len(_PASSED) < _MOST_PASSED:
                _PASSED.add(pair)

    def send_headers(self) -> None:
        if self.headers_sent:
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._head = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def _emit_body(self, data: bytes) -> None:
        head, self._head = self._head, None
        if head is not None and not self.chunked:
            self.sock.sendall(head + data)
            return
        if head is not None:
            self.sock.sendall(head)
        super()._emit_body(data)

    def _send_head(self) -> None:
        head, self._head = self._head, None
        if head is not None:
            self.sock.sendall(head)

    def sendfile(self, respiter) -> bool:
        if not self.headers_sent:
            self.send_headers()
        self._send_head()
        return super().sendfile(respiter)

    def close(self) -> None:
        if not self.headers_sent:
            self.send_headers()
        self._send_head()
        super().close()


#: Header pairs gunicorn has passed as they are (not Content-Length, not hop-by-hop): the
#: same few on most answers. Bounded: an ETag or a request id varies, and fills it once.
_PASSED: set[tuple[str, str]] = set()
_MOST_PASSED = 1024
#: What gunicorn acts on beyond checking it: never taken from _PASSED.
_SPECIAL = frozenset({"content-length", "connection", "upgrade", "transfer-encoding"})

#: wsgi.create makes each answer's writer from this module global (the worker class
#: has no setting for it); only facade serve's workers import this module.
gunicorn_wsgi.Response = _OneSendResponse


def _http_date(timestamp: float | None = None) -> str:
    """gunicorn's Date header, formatted once a second rather than on every answer."""
    global _DATE
    if timestamp is not None:
        return _gunicorn_http_date(timestamp)
    second = int(time.time())
    formatted = _DATE
    if formatted[0] != second:
        formatted = _DATE = (second, _gunicorn_http_date(second))  # swapped in whole
    return formatted[1]


_DATE: tuple[int, str] = (0, "")
_gunicorn_http_date = gunicorn_util.http_date
gunicorn_util.http_date = _http_date  # read through the module by every answer's head

_READ_SIZE = 65536
#: Seconds a refused or finished connection is drained after our answer, at most.
_LINGER = 2.0


def limits_of(settings: Settings) -> framing.Limits:
    """The request limits the framing check enforces (FACADE_MAX_REQUEST_LINE, ...)."""
    return framing.Limits(request_line=settings.max_request_line,
                          header_bytes=settings.max_header_bytes,
                          header_fields=settings.max_header_fields,
                          body=settings.max_body)


def reads_plain_heads(cfg, limits: framing.Limits) -> bool:
    """Whether a plain request is read here, once (framing.plain_request): only when
    nothing in gunicorn's configuration makes its parser read one differently: no trusted
    proxy (forwarded and scheme headers), no PROXY protocol, its default header handling,
    and no field within the header byte limit that gunicorn would refuse."""
    return (not cfg.forwarded_allow_ips and cfg.proxy_protocol == "off"
            and cfg.header_map == "drop" and not cfg.strip_header_spaces
            and not cfg.permit_obsolete_folding and _takes_any_field_within(cfg, limits))


def _takes_any_field_within(cfg, limits: framing.Limits) -> bool:
    """plain_request measures the fields together, not one by one; gunicorn also refuses a
    single field line (its CRLF counted) over limit_request_field_size, where 0 means its
    default, not unlimited. No field within the total is refused if that is no lower."""
    per_field = cfg.limit_request_field_size or DEFAULT_MAX_HEADERFIELD_SIZE
    return per_field >= limits.header_bytes


class _BufferedRequest(Request):
    """The worker has already answered ``Expect: 100-continue`` (and refused any other
    expectation) while it buffered the body; gunicorn must not answer it again."""
    _policy_expect_continue = False


class _BufferedParser(RequestParser):
    mesg_class = _BufferedRequest


def _request_from(head: framing.PlainHead, cfg, client) -> _BufferedRequest:
    """gunicorn's request as its parser would have made it from the same bytes (see
    framing.plain_request, and tests/serving/test_plain_request.py, which compares the
    two)."""
    request = object.__new__(_BufferedRequest)  # its __init__ would parse the bytes again
    request.cfg = cfg
    request.unreader = None
    request.peer_addr = request.remote_addr = client
    request.req_number = 1
    request.proxy_protocol_info = None
    request.scheme = "https" if cfg.is_ssl else "http"
    request.must_close = False
    request._expected_100_continue = False
    request.method, request.uri = head.method, head.target
    request.path, request.query, request.fragment = head.path, head.query, ""
    request.version = head.version
    request.headers = head.fields
    request.trailers = []
    request.body = io.BytesIO(b"")
    return request


class _Prepared:
    """The parser of a connection whose request was read in the event loop: it yields
    that request; there is no body to finish."""

    def __init__(self, request: _BufferedRequest) -> None:
        self._request: _BufferedRequest | None = request

    def __iter__(self):
        return self

    def __next__(self) -> _BufferedRequest:
        request, self._request = self._request, None
        if request is None:
            raise StopIteration
        return request

    def finish_body(self, deadline: float | None = None) -> bool:
        return True


@dataclass(eq=False)
class _Reading:
    """A connection whose next request is being buffered (or, once answered and
    half-closed, whose remaining input is being drained: ``lingering``)."""
    conn: TConn
    deadline: float
    buffer: bytearray = field(default_factory=bytearray)
    handshaking: bool = False
    continued: bool = False
    lingering: bool = False


class FacadeWorker(ThreadWorker):

    def init_process(self) -> None:
        settings = Settings.load()
        self.client_timeout = settings.client_timeout
        self.limits = limits_of(settings)
        self.reading: dict[TConn, _Reading] = {}
        self.plain_heads = reads_plain_heads(self.cfg, self.limits)
        super().init_process()

    # -- connections come to the event loop, not to a thread --------------------------

    def accept(self, listener) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        handshaking = False
        if self.cfg.is_ssl:
            conn.sock = gunicorn_sock.ssl_context(self.cfg).wrap_socket(
                conn.sock, server_side=True, do_handshake_on_connect=False,
                suppress_ragged_eofs=self.cfg.suppress_ragged_eofs)
            handshaking = True
        conn.initialized = True  # TConn.init() would wrap and parse with blocking reads
        self._read(_Reading(conn, time.monotonic() + self.client_timeout,
                            handshaking=handshaking))

    def finish_request(self, conn, fs) -> None:
        try:
            keep = bool(fs.result()) if not fs.cancelled() else False
        except Exception:
            keep = False
        carry = getattr(conn, "carry", b"")
        if not keep or (not self.alive and not carry):
            self._close(conn, graceful=True)
            return
        conn.sock.setblocking(False)
        self._read(_Reading(conn, time.monotonic() + self.cfg.keepalive, bytearray(carry)))

    def murder_pending(self) -> None:
        """Close connections past their deadline (and idle ones when the worker stops);
        gunicorn's run loop calls this about once a second."""
        super().murder_pending()
        now = time.monotonic()
        for reading in list(self.reading.values()):
            if reading.deadline <= now or (not self.alive and not reading.buffer):
                self._unwatch(reading)
                if reading.buffer and not reading.handshaking and not reading.lingering:
                    self._refuse(reading.conn, framing.Refused(
                        408, f"the request did not arrive within {self.client_timeout:g} s"))
                else:
                    self._close(reading.conn)

    # -- buffering --------------------------------------------------------------------

    def _read(self, reading: _Reading) -> None:
        self.reading[reading.conn] = reading
        if reading.buffer:
            self._judge(reading)
            if reading.conn not in self.reading:
                return
        self.poller.register(reading.conn.sock, selectors.EVENT_READ,
                             partial(self._on_event, reading))

    def _on_event(self, reading: _Reading, _fileobj) -> None:
        if reading.lingering:
            self._drain(reading)
            return
        if reading.handshaking and not self._handshake(reading):
            return
        received, ended = self._receive(reading)
        if received is None:
            return
        if received:
            if not reading.buffer:  # a kept-alive connection starts a request: full time
                reading.deadline = time.monotonic() + self.client_timeout
            reading.buffer += received
        if ended and not isinstance(framing.measure(reading.buffer, self.limits),
                                    (framing.Complete, framing.Refused)):
            # The client closed its side with no whole request sent: nothing to answer.
            self._unwatch(reading)
            self._close(reading.conn)
            return
        # A client may half-close once its request is sent (RFC 9112 9.6): still answered.
        self._judge(reading)

    def _handshake(self, reading: _Reading) -> bool:
        try:
            reading.conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._watch(reading, selectors.EVENT_READ)
            return False
        except ssl.SSLWantWriteError:
            self._watch(reading, selectors.EVENT_WRITE)
            return False
        except (ssl.SSLError, OSError):
            self._unwatch(reading)
            self._close(reading.conn)
            return False
        reading.handshaking = False
        self._watch(reading, selectors.EVENT_READ)
        return True

    def _receive(self, reading: _Reading) -> tuple[bytes | None, bool]:
        """What the socket has now (b"" if nothing yet) and whether the client has closed
        its side; None once the connection is broken."""
        chunks = []
        ended = False
        tls = isinstance(reading.conn.sock, ssl.SSLSocket)  # may hold decrypted bytes
        try:
            while True:
                data = reading.conn.sock.recv(_READ_SIZE)
                if not data:
                    ended = True
                    break
                chunks.append(data)
                if len(data) < _READ_SIZE and not (tls and reading.conn.sock.pending()):
                    break  # nothing more buffered: epoll says when more comes
                if sum(map(len, chunks)) + len(reading.buffer) > self._most_buffered():
                    break
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except (ssl.SSLError, OSError):
            self._unwatch(reading)
            self._close(reading.conn)
            return None, True
        return b"".join(chunks), ended

    def _most_buffered(self) -> int:
        limits = self.limits
        return limits.request_line + limits.header_bytes + limits.body + 4096

    def _judge(self, reading: _Reading) -> None:
        head = framing.plain_request(reading.buffer, self.limits) if self.plain_heads else None
        if head is not None:  # one whole plain request, read at once
            self._unwatch(reading)
            self._enqueue(reading.conn, _Prepared(_request_from(head, self.cfg,
                                                                reading.conn.client)), b"")
            return
        verdict = framing.measure(reading.buffer, self.limits)
        if isinstance(verdict, framing.Incomplete):
            if verdict.continue_expected and not reading.continued:
                reading.continued = True
                self._send_quietly(reading.conn, b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        self._unwatch(reading)
        if isinstance(verdict, framing.Refused):
            self._refuse(reading.conn, verdict)
            return
        request = bytes(reading.buffer[:verdict.length])
        self._enqueue(reading.conn, _BufferedParser(self.cfg, [request], reading.conn.client),
                      bytes(reading.buffer[verdict.length:]))

    def _enqueue(self, conn: TConn, parser, carry: bytes) -> None:
        """To the thread pool, with the parser its thread reads the request from, and what
        came after the request (a pipelined next one) to start the next read with."""
        conn.carry = carry
        conn.parser = parser
        conn.data_ready = True
        self.enqueue_req(conn)

    # -- the request, whole, to the application --------------------------------------

    def handle_request(self, req, conn):
        """The body is read here, before the application: it is already in memory (at most
        FACADE_MAX_BODY), and a malformed one (a bad chunk or trailer) then raises here,
        answered 400 by handle_error, not inside the application, where it was a 500."""
        if req.body is not None:
            req.body = io.BytesIO(req.body.read())
        return super().handle_request(req, conn)

    # -- answering and closing --------------------------------------------------------

    def _refuse(self, conn: TConn, refused: framing.Refused) -> None:
        self.log.warning("Refused a request from ip=%s: %s %s", _ip(conn.client),
                         refused.status, refused.diagnostics)
        self._send_quietly(conn, refusal_bytes(refused.status, refused.diagnostics))
        self._close(conn, graceful=True)

    def handle_error(self, req, client, addr, exc) -> None:
        """What gunicorn's parser refuses after the framing check (an invalid header value,
        a bad chunk), answered as an OperationOutcome. gunicorn's own page and log line
        would quote the request line or header, which may carry a patient's details."""
        status, diagnostics = _client_error(exc)
        if status == 500:
            path = getattr(req, "path", None) or "(no path read)"
            self.log.exception("Error handling request %s", path)
        else:
            self.log.warning("Refused a request from ip=%s: %s %s", _ip(addr), status,
                             diagnostics)
        try:
            client.sendall(refusal_bytes(status, diagnostics))
        except OSError:
            self.log.debug("Failed to send the error answer.")

    def _send_quietly(self, conn: TConn, data: bytes) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            conn.sock.send(data)  # small: it fits the socket's buffer

    def _watch(self, reading: _Reading, events: int) -> None:
        try:
            self.poller.modify(reading.conn.sock, events, partial(self._on_event, reading))
        except KeyError:
            self.poller.register(reading.conn.sock, events, partial(self._on_event, reading))

    def _unwatch(self, reading: _Reading) -> None:
        self.reading.pop(reading.conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(reading.conn.sock)

    def _close(self, conn: TConn, graceful: bool = False) -> None:
        """``graceful``: half-close and drain what the client still sends for a moment, so
        the kernel does not answer unread input with a reset that destroys our answer
        (RFC 9112 9.6) — in the event loop, where gunicorn's own version would block."""
        if graceful:
            try:
                conn.sock.setblocking(False)
                conn.sock.shutdown(socket.SHUT_WR)
            except (OSError, ValueError):
                pass
            else:
                reading = _Reading(conn, time.monotonic() + _LINGER, lingering=True)
                self.reading[conn] = reading
                self._watch(reading, selectors.EVENT_READ)
                return
        self.nr_conns -= 1
        with contextlib.suppress(OSError):
            conn.close()

    def _drain(self, reading: _Reading) -> None:
        try:
            for _ in range(16):  # a bounded share of the loop; the deadline ends the rest
                if not reading.conn.sock.recv(_READ_SIZE):
                    break
            else:
                return
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (OSError, ssl.SSLError):
            pass
        self._unwatch(reading)
        self._close(reading.conn)


def _client_error(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName,
                        http_errors.ConfigurationProblem)):
        return 500, "the server failed to handle the request"
    if isinstance(exc, http_errors.ForbiddenProxyRequest):
        return 403, "the request is forbidden"
    if isinstance(exc, http_errors.LimitRequestLine):
        return 414, "the request line is too long"
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return 431, "the request's header fields are too large"
    if isinstance(exc, http_errors.UnsupportedTransferCoding):
        return 501, "the transfer coding is not supported"
    if isinstance(exc, (http_errors.InvalidChunkSize, http_errors.ChunkMissingTerminator,
                        http_errors.InvalidChunkExtension)):
        return 400, "the chunked body is malformed"
    if isinstance(exc, http_errors.ParseException):
        return 400, f"the request is malformed ({type(exc).__name__})"
    if isinstance(exc, ssl.SSLError):
        return 400, "the TLS connection failed"
    return 500, "the server failed to handle the request"


def _ip(address) -> str:
    return address[0] if isinstance(address, tuple) and address else str(address or "")
