"""The simulator's TCP server: many connections, one FIFO worker.

A SystmOne client processes at most one request per second and queues the
rest, so every connection's documents go into one queue and a single worker
takes them in arrival order, starting each no sooner than ``request_interval``
after the previous one. Requests are delayed, never rejected. Replies go back
on the connection the request came from, each terminated by a newline.

Each request is stamped when it arrives: the GetPatientRecord window is counted
between arrivals (dispatcher.RecordGate). So that a slow request being processed
cannot delay the stamping of those arriving meanwhile, requests are processed (and
audited) on a thread of their own, one at a time, while the event loop reads.

Bad input costs the sender, never the server: a malformed document gets an
error envelope, an oversized one an error envelope and a closed connection, a
half-sent one is dropped when its sender disconnects. Requests still queued
when their sender disconnects are abandoned unprocessed (audited as such), so
a client that gave up cannot spend the next one's GetPatientRecord allowance,
and one connection may have at most MAX_QUEUED requests waiting: beyond that
the simulator stops reading from it until its queue drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from facade.protocol.envelope import Request, Response, error_body, new_response_uid
from facade.protocol.framing import FrameDecoder, FrameTooLarge, encode_frame
from facade.protocol.xmlsafe import parse_document

from .config import SimulatorConfig
from .dispatcher import Dispatcher, Outcome
from .messages import error_text
from .store import SimulatorStore

log = logging.getLogger(__name__)
READ_SIZE = 64 * 1024
MAX_QUEUED = 32


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    closed: bool = False
    name: str = ""
    queued: int = 0
    drained: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class _Job:
    document: bytes
    connection: _Connection
    arrived: float  # on the dispatcher's clock


class SimulatorServer:
    def __init__(self, dispatcher: Dispatcher, store: SimulatorStore,
                 config: SimulatorConfig) -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.config = config
        self.address: tuple[str, int] | None = None
        self._queue: asyncio.Queue[_Job] | None = None
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[_Connection] = set()
        #: The one thread requests are processed on (the dispatcher's state is not shared).
        self._processor = ThreadPoolExecutor(1, thread_name_prefix="simulator-processor")

    async def start(self) -> tuple[str, int]:
        self._queue = asyncio.Queue()
        self._server = await asyncio.start_server(
            self._serve_connection, self.config.host, self.config.port, reuse_address=True)
        self.address = self._server.sockets[0].getsockname()[:2]
        self._worker = asyncio.create_task(self._work(), name="simulator-worker")
        return self.address

    async def serve_until(self, stop: asyncio.Event) -> None:
        await stop.wait()
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.writer.close()
            await self._server.wait_closed()
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        self._processor.shutdown(wait=True)

    # -- connections -----------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        connection = _Connection(writer, name=f"{peer[0]}:{peer[1]}" if peer else "?")
        self._connections.add(connection)
        decoder = FrameDecoder(self.config.max_request, detect_malformed=True)
        try:
            while not connection.closed:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                try:
                    documents = decoder.feed(data)
                except FrameTooLarge:
                    self._reject_oversized(connection)
                    break
                for document in documents:
                    connection.queued += 1
                    self._queue.put_nowait(_Job(document, connection,
                                                self.dispatcher.clock()))
                while connection.queued >= MAX_QUEUED and not connection.closed:
                    connection.drained.clear()
                    await connection.drained.wait()
            leftover = decoder.flush()
            if leftover:
                log.info("%s disconnected mid-document (%d bytes dropped)",
                         connection.name, len(leftover))
        except (ConnectionError, OSError):
            pass
        finally:
            connection.closed = True
            connection.drained.set()
            self._connections.discard(connection)
            with contextlib.suppress(Exception):
                writer.close()

    def _reject_oversized(self, connection: _Connection) -> None:
        message, permanent = error_text("too_large", limit=self.config.max_request)
        reply = Response("", "", "", "", new_response_uid(), error_body(message, permanent))
        self._send(connection, reply.to_bytes())
        self.store.record_message(request_uid="", response_uid=reply.response_uid, device_id="",
                                  function="", outcome="error", error=message,
                                  request_xml=b"", response_xml=reply.to_bytes())
        connection.closed = True

    # -- the worker --------------------------------------------------------------

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        next_start = loop.time()
        while True:
            job = await self._queue.get()
            job.connection.queued -= 1
            job.connection.drained.set()
            if job.connection.closed:
                self._abandon(job)
                continue
            delay = next_start - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            next_start = loop.time() + self.config.request_interval
            outcome = await loop.run_in_executor(self._processor, self.dispatcher.handle,
                                                 job.document, job.arrived)
            if outcome.reply is not None and not job.connection.closed:
                self._send(job.connection, outcome.reply)
            # After the reply has gone, off the client's clock. (TPP's audit
            # screen also shows messages only some time after they happened.)
            await loop.run_in_executor(self._processor, self._audit, job.document, outcome)

    def _abandon(self, job: _Job) -> None:
        """A request whose sender disconnected before its turn: audited, not processed."""
        request = _peek_request(job.document)
        self.store.record_message(request_uid=request.request_uid, response_uid="",
                                  device_id=request.device_id, function=request.function,
                                  outcome="abandoned", error="sender disconnected before its turn",
                                  request_xml=job.document, response_xml=None)

    def _send(self, connection: _Connection, reply: bytes) -> None:
        try:
            connection.writer.write(encode_frame(reply))
        except (ConnectionError, RuntimeError, OSError):
            connection.closed = True

    def _audit(self, document: bytes, outcome: Outcome) -> None:
        try:
            self.store.record_message(
                request_uid=outcome.request_uid, response_uid=outcome.response_uid,
                device_id=outcome.device_id, function=outcome.function, outcome=outcome.outcome,
                error=outcome.error, request_xml=document, response_xml=outcome.reply)
        except Exception:  # the audit must never stop the client answering
            log.exception("message audit write failed")


def _peek_request(document: bytes) -> Request:
    """The envelope fields of a request, for the audit; empty when unreadable."""
    try:
        return Request.from_element(parse_document(document))
    except ValueError:
        return Request("", "", "", "", "")


class RunningSimulator:
    """A simulator served from a background thread: for tests, benches and ``facade demo``."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        assert self.server.address is not None
        return self.server.address

    def start(self, timeout: float = 30.0) -> RunningSimulator:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulator did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread; again, once stopped, does nothing."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: stopped
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(10)

    def __enter__(self) -> RunningSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as error:  # e.g. the port is taken
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        await self.server.serve_until(self._stop)
