"""A counting TCP proxy in front of a SystmOne client (or the simulator): the independent
count of upstream traffic.

It forwards bytes both ways unchanged and reads a copy of each request document
with the product's own sans-IO protocol code (framing, hardened XML parsing,
the envelope, GetPatientRecord's Filter), logging when it arrived (monotonic
clock, taken as the chunk completing the document is read, before it is passed
on), its function, for GetPatientRecord whether the filter is exempt from the
record throttle (``RecordFilter.exempt_from_record_throttle`` with today's
local date, the rule the simulator applies), the identity asked for, and for
PatientSearch its criteria. Replies are matched to requests by RequestUID, so
a request SystmOne dropped (no reply) shows as unanswered.

When the facade side of a connection closes, the upstream side is closed too
(SystmOne then abandons what that connection still had queued), and the other
way round.

Two ways to run it, same log:

- in process (tests): ``CountingProxy(("127.0.0.1", 40700)).start()`` runs an
  asyncio loop in a thread; ``.requests`` is a snapshot of the log;
- in its own process (benchmarks, so the load generator's threads cannot
  delay its clock readings): ``ProxyProcess(...)`` runs
  ``python bench/countingproxy.py --upstream HOST:PORT --log FILE`` and reads the
  JSON-lines log it writes.

``breaches(requests, request_interval, record_interval, tolerance)`` lists every
pair of consecutive requests to one endpoint that came closer than the
intervals allow.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facade.protocol import functions as fn
from facade.protocol.envelope import Request
from facade.protocol.framing import FrameDecoder, FrameTooLarge
from facade.protocol.xmlsafe import MalformedDocument, parse_document

_REQUEST_UID = re.compile(rb"<RequestUID>\s*([^<]*?)\s*</RequestUID>")
_CHUNK = 256 * 1024


@dataclass
class Logged:
    """One request document seen on its way to the endpoint."""

    seq: int
    at: float  # time.monotonic() when its last byte arrived
    endpoint: str
    connection: int
    function: str  # "(malformed)" when it could not be read
    exempt: bool | None = None  # GetPatientRecord: exempt from the record throttle?
    identity: str | None = None  # GetPatientRecord: "NHSNumber:999..."
    criteria: str | None = None  # PatientSearch: "Surname=..;DateOfBirth=.."
    request_uid: str = ""
    replied_at: float | None = None  # None: no reply (yet)
    error_reply: bool | None = None

    @property
    def full_record(self) -> bool:
        """A non-exempt GetPatientRecord: the scarce kind."""
        return self.function == fn.GET_PATIENT_RECORD and self.exempt is False


def describe(document: bytes, today: dt.date) -> dict:
    """Function, exemption, identity and criteria of one request document."""
    try:
        request, _ = Request.read(parse_document(document))
    except (MalformedDocument, ValueError):
        return {"function": "(malformed)"}
    facts: dict = {"function": request.function or "(none)", "request_uid": request.request_uid}
    try:
        if request.function == fn.GET_PATIENT_RECORD:
            record = fn.RecordRequest.from_parameters(request.parameters)
            facts["exempt"] = record.exempt_from_record_throttle(today)
            if record.identity is not None:
                facts["identity"] = f"{record.identity.kind}:{record.identity.value}"
        elif request.function == fn.PATIENT_SEARCH:
            criteria = fn.PatientSearchCriteria.from_parameters(request.parameters)
            facts["criteria"] = ";".join(f"{k}={v}" for k, v in criteria.given().items())
    except ValueError:  # a bad filter or date: the endpoint answers it with an error
        facts.setdefault("exempt", False if request.function == fn.GET_PATIENT_RECORD else None)
    return facts


class CountingProxy:
    """The proxy in this process: an asyncio loop in a daemon thread."""

    def __init__(self, upstream: tuple[str, int] | str, *, host: str = "127.0.0.1",
                 port: int = 0, name: str | None = None,
                 today: Callable[[], dt.date] = dt.date.today,
                 on_event: Callable[[dict], None] | None = None) -> None:
        if isinstance(upstream, str):
            up_host, _, up_port = upstream.rpartition(":")
            upstream = (up_host, int(up_port))
        self.upstream = upstream
        self.host, self.port = host, port
        self.name = name or f"{upstream[0]}:{upstream[1]}"
        self.today = today
        self.on_event = on_event
        self._log: list[Logged] = []
        self._lock = threading.Lock()
        self._seq = itertools.count()
        self._connections = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopped: asyncio.Event | None = None

    # -- life cycle -------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> CountingProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(ready))
            except BaseException as error:
                failure.append(error)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"proxy {self.name}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            raise RuntimeError(f"counting proxy did not start: {failure[:1]}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def requests(self) -> list[Logged]:
        """A snapshot of the log, in arrival order."""
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        with self._lock:
            self._log.clear()

    # -- serving ----------------------------------------------------------------

    async def _serve(self, ready: threading.Event) -> None:
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopped.wait()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        connection = next(self._connections)
        up_writer = None
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                return
            pending: dict[str, Logged] = {}
            pumps = {asyncio.ensure_future(self._requests(reader, up_writer, connection,
                                                          pending)),
                     asyncio.ensure_future(self._replies(up_reader, writer, pending))}
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for stream in (writer, up_writer):
                if stream is not None:
                    stream.close()
            self._tasks.discard(task)

    async def _requests(self, reader, up_writer, connection: int,
                        pending: dict[str, Logged]) -> None:
        decoder: FrameDecoder | None = FrameDecoder()
        while data := await reader.read(_CHUNK):
            at = time.monotonic()
            up_writer.write(data)
            if decoder is not None:
                try:
                    documents = decoder.feed(data)
                except FrameTooLarge:
                    documents, decoder = [], None
                for document in documents:
                    entry = Logged(seq=next(self._seq), at=at, endpoint=self.name,
                                   connection=connection,
                                   **describe(document, self.today()))
                    if entry.request_uid:
                        pending[entry.request_uid] = entry
                    with self._lock:
                        self._log.append(entry)
                    if self.on_event is not None:
                        self.on_event({"event": "request", **asdict(entry)})
            await up_writer.drain()

    async def _replies(self, up_reader, writer, pending: dict[str, Logged]) -> None:
        decoder: FrameDecoder | None = FrameDecoder(max_size=256 * 1024 * 1024)
        while data := await up_reader.read(_CHUNK):
            at = time.monotonic()
            writer.write(data)
            if decoder is not None:
                try:
                    documents = decoder.feed(data)
                except FrameTooLarge:
                    documents, decoder = [], None
                for document in documents:
                    uid = _REQUEST_UID.search(document, 0, 4096)
                    entry = pending.pop(uid.group(1).decode("utf-8", "replace"), None) \
                        if uid else None
                    if entry is None:
                        continue
                    entry.replied_at = at
                    entry.error_reply = b"<ErrorMessage>" in document
                    if self.on_event is not None:
                        self.on_event({"event": "reply", "seq": entry.seq, "at": at,
                                       "error_reply": entry.error_reply})
            await writer.drain()


# --- in its own process ------------------------------------------------------------

class ProxyProcess:
    """The proxy as a child process writing a JSON-lines log; same ``requests`` view."""

    def __init__(self, upstream: str, log_path: Path, *, name: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, python: str = sys.executable) -> None:
        self.upstream = upstream
        self.log_path = Path(log_path)
        self.name = name or upstream
        self.host, self.port = host, port
        self.python = python
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> ProxyProcess:
        self.process = subprocess.Popen(
            [self.python, str(Path(__file__).resolve()), "--upstream", self.upstream,
             "--name", self.name, "--host", self.host, "--port", str(self.port),
             "--log", str(self.log_path)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            start_new_session=True)
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and not line:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"counting proxy for {self.upstream} did not start")
        self.port = int(line.split()[1].rpartition(":")[2])
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def requests(self) -> list[Logged]:
        return read_log(self.log_path)


def read_log(path: Path) -> list[Logged]:
    """The requests in a JSON-lines log, replies joined to them."""
    entries: dict[int, Logged] = {}
    if not Path(path).exists():
        return []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        kind = event.pop("event")
        if kind == "request":
            entries[event["seq"]] = Logged(**event)
        elif kind == "reply" and event["seq"] in entries:
            entries[event["seq"]].replied_at = event["at"]
            entries[event["seq"]].error_reply = event["error_reply"]
    return sorted(entries.values(), key=lambda e: (e.at, e.seq))


# --- analysis ----------------------------------------------------------------------

@dataclass(frozen=True)
class Breach:
    kind: str  # "request" or "record"
    endpoint: str
    gap: float  # seconds between the two arrivals
    first: str  # function (and identity) of each
    second: str
    at: float = field(compare=False, default=0.0)


def breaches(requests: Iterable[Logged], request_interval: float, record_interval: float,
             tolerance: float) -> list[Breach]:
    """Consecutive requests to one endpoint closer than ``request_interval``, and
    consecutive non-exempt GetPatientRecords closer than ``record_interval``, each
    less ``tolerance`` (the proxy's own timing jitter)."""
    found = []
    by_endpoint: dict[str, list[Logged]] = {}
    for entry in sorted(requests, key=lambda e: (e.at, e.seq)):
        by_endpoint.setdefault(entry.endpoint, []).append(entry)
    for endpoint, entries in by_endpoint.items():
        for kind, interval, chosen in (
                ("request", request_interval, entries),
                ("record", record_interval, [e for e in entries if e.full_record])):
            for before, after in itertools.pairwise(chosen):
                gap = after.at - before.at
                if gap < interval - tolerance:
                    found.append(Breach(kind, endpoint, gap, _label(before), _label(after),
                                        after.at))
    return sorted(found, key=lambda b: b.at)


def _label(entry: Logged) -> str:
    if entry.function == fn.GET_PATIENT_RECORD:
        return f"GetPatientRecord({'exempt' if entry.exempt else 'full'})"
    return entry.function


def main() -> int:
    parser = argparse.ArgumentParser(description="Counting proxy (bench/countingproxy.py).")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the SystmOne client")
    parser.add_argument("--name", help="endpoint name in the log (default: --upstream)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", type=Path, required=True, help="JSON-lines log to write")
    args = parser.parse_args()
    log = args.log.open("w", buffering=1)

    def write(event: dict) -> None:
        log.write(json.dumps(event) + "\n")

    proxy = CountingProxy(args.upstream, host=args.host, port=args.port,
                          name=args.name or args.upstream, on_event=write)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    proxy.start()
    print(f"listening {proxy.address}", flush=True)
    done.wait()
    proxy.stop()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
