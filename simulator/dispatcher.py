"""From one request document to one reply (or deliberately none), without I/O.

The checks run in the order a SystmOne client would plausibly apply them:
well-formed XML → root element → API key → device approval → function and
version → output scheme → the function's schema → the function itself (which
may be throttled). Every failure becomes an error envelope echoing whatever
could be read from the request.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from facade.protocol import schemas
from facade.protocol.envelope import (
    FUNCTION_VERSION,
    REQUEST_ROOT,
    OutputScheme,
    Request,
    Response,
    error_body,
    new_response_uid,
)
from facade.protocol.xmlsafe import MalformedDocument, parse_document, to_line

from .config import SimulatorConfig
from .functions import FUNCTIONS, ClientState, Context, FunctionFailure, Throttled
from .messages import error_text
from .practice import Practice
from .store import SimulatorStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What happened to one message: the reply to send (None: none) and audit facts."""

    reply: bytes | None
    outcome: str  # "success", "error" or "dropped"
    function: str
    request_uid: str
    response_uid: str
    device_id: str
    error: str | None = None


class RecordGate:
    """At most one non-exempt GetPatientRecord per ``interval`` seconds, counted between
    the requests' arrivals: when a request waited in the queue behind a slow one, its
    turn came late through no fault of its sender, and the window still runs from when
    it arrived. (The interval is compressed for tests and the practice's records take
    what they take to build: timed at processing, a slow build would shift the window
    by many times its length.)"""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.clock = clock
        self._last: float | None = None

    def admit(self, arrived: float | None = None) -> bool:
        """``arrived``: when the request arrived, on ``clock`` (None: now)."""
        at = self.clock() if arrived is None else arrived
        if self._last is not None and at - self._last < self.interval:
            return False
        self._last = at
        return True


class DeviceRegistry:
    """Device statuses from the store, remembered briefly.

    Blocking or unblocking from the command line (another process) takes
    effect within ``ttl`` seconds, without a database query per request.
    """

    def __init__(self, store: SimulatorStore, clock: Callable[[], float], ttl: float = 1.0):
        self.store = store
        self.clock = clock
        self.ttl = ttl
        self._known: dict[str, tuple[str | None, float]] = {}

    def status(self, device_id: str) -> str | None:
        cached = self._known.get(device_id)
        now = self.clock()
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        status = self.store.device_status(device_id)
        self._known[device_id] = (status, now)
        return status

    def register(self, device_version: str, status: str) -> str:
        device_id = self.store.register_device(device_version, status)
        self._known[device_id] = (status, self.clock())
        return device_id


class Dispatcher:
    def __init__(self, practice: Practice, config: SimulatorConfig, store: SimulatorStore,
                 clock: Callable[[], float] = time.monotonic,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.practice = practice
        self.config = config
        self.store = store
        self.today = today
        #: What arrival times are measured on (SimulatorServer stamps each request).
        self.clock = clock
        self.state = ClientState()
        self.record_gate = RecordGate(config.record_interval, clock)
        self.devices = DeviceRegistry(store, clock)

    def handle(self, document: bytes, arrived: float | None = None) -> Outcome:
        """The outcome of one request; ``arrived`` (on ``clock``; None: now) is when it
        reached the client, from which its record window is counted."""
        try:
            root = parse_document(document, self.config.max_request)
        except MalformedDocument as error:
            return self._fail(Request("", "", "", "", ""), "", "not_xml", detail=str(error))
        request, scheme_error = Request.read(root)
        try:
            return self._handle(root, request, scheme_error, arrived)
        except Exception as error:  # a bug must cost one reply, never the simulator
            log.exception("request %s failed", request.request_uid)
            return self._fail(request, request.device_id, "internal", detail=type(error).__name__)

    def _handle(self, root: etree._Element, request: Request,
                scheme_error: str | None, arrived: float | None) -> Outcome:
        if root.tag != REQUEST_ROOT:
            return self._fail(request, request.device_id, "invalid_root",
                              root=str(root.tag)[:100])
        if request.api_key not in self.config.api_keys:
            return self._fail(request, request.device_id, "invalid_api_key")
        device_id, approved = self._approve_device(request)
        if not approved:
            return self._fail(request, device_id, "blocked")
        handler = FUNCTIONS.get(request.function)
        if handler is None:
            return self._fail(request, device_id, "unknown_function",
                              function=request.function[:100])
        if not _is_supported_version(request.function_version):
            return self._fail(request, device_id, "unsupported_version",
                              version=request.function_version[:20], function=request.function)
        if scheme_error:
            return self._fail(request, device_id, "invalid_scheme", detail=scheme_error)
        try:
            schemas.validate(root, f"{request.function}.request")
        except schemas.SchemaViolation as error:
            return self._fail(request, device_id, "invalid_request",
                              function=request.function, detail=str(error))
        context = Context(self.practice, request, request.output_scheme or OutputScheme(None, None),
                          self.state, self.today(), lambda: self.record_gate.admit(arrived))
        try:
            body = handler(context)
        except FunctionFailure as failure:
            return self._reply(request, device_id, error_body(failure.message, failure.permanent),
                               error=failure.message)
        except Throttled:
            return self._throttled(request, device_id)
        return self._reply(request, device_id, body)

    def _approve_device(self, request: Request) -> tuple[str, bool]:
        """SystmOne's approval dialog, answered by the configured policy.

        An empty DeviceID, or one this client never issued, is a new device.
        """
        status = self.devices.status(request.device_id) if request.device_id else None
        if status is None:
            status = "approved" if self.config.device_policy == "auto-approve" else "blocked"
            return self.devices.register(request.device_version, status), status == "approved"
        return request.device_id, status == "approved"

    def _throttled(self, request: Request, device_id: str) -> Outcome:
        message, permanent = error_text("throttled", interval=self.config.record_interval)
        if self.config.on_throttle == "error":
            return self._reply(request, device_id, error_body(message, permanent), error=message)
        return Outcome(None, "dropped", request.function, request.request_uid, "", device_id,
                       message)

    def _fail(self, request: Request, device_id: str, key: str, **values: object) -> Outcome:
        message, permanent = error_text(key, **values)
        return self._reply(request, device_id, error_body(message, permanent), error=message)

    def _reply(self, request: Request, device_id: str, body: etree._Element,
               error: str | None = None) -> Outcome:
        response = Response(
            device_id=device_id,
            request_uid=request.request_uid,
            function=request.function,
            function_version=FUNCTION_VERSION if request.function in FUNCTIONS
            else request.function_version,
            response_uid=new_response_uid(),
            body=body,
        )
        return Outcome(to_line(response.to_element()), "error" if error else "success",
                       request.function,
                       request.request_uid, response.response_uid, device_id, error)


def _is_supported_version(version: str) -> bool:
    try:
        return float(version) == float(FUNCTION_VERSION)
    except ValueError:
        return False
