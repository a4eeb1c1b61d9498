"""The fault phase: SystmOne that is slow, refuses, falls silent or hangs up, and the
facade's answers to its FHIR callers.

Faults are injected only where the endpoint is the simulator: a relay in front of a
simulator of the harness's own (the run's practice), which passes messages through
until a fault is armed for the next request of a function. The facade runs against
the relay as it would against SystmOne (its own state dir, for the run only); each
FHIR request reads a Patient afresh (a Demographics-only record, exempt), so every
one reaches SystmOne.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..protocol.envelope import Response, error_body, new_response_uid
from ..protocol.framing import FrameDecoder, encode_frame
from ..protocol.xmlsafe import MalformedDocument, parse_document
from .api import Answer, FhirApi
from .scenario import Verdict, check, failed

#: Armed faults: what the relay does to the next request of a function.
DELAY, TEMPORARY, PERMANENT, SILENCE, HANG_UP = "delay", "temporary", "permanent", \
    "silence", "hang-up"
TEMPORARY_TEXT = "The client is busy: try again later (injected by the assurance relay)"
PERMANENT_TEXT = "The request was refused (injected by the assurance relay)"


class FaultRelay:
    """A TCP relay to a SystmOne endpoint that injects the fault armed for a request."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self._armed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()[:2]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="assure-relay", daemon=True).start()

    @property
    def endpoint(self) -> str:
        return "{}:{}".format(*self.address)

    def arm(self, function: str, fault: str) -> None:
        with self._lock:
            self._armed[function] = fault

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            writing = threading.Lock()
            threading.Thread(target=self._requests, args=(client, upstream, writing),
                             daemon=True).start()
            threading.Thread(target=self._replies, args=(upstream, client, writing),
                             daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket,
                  writing: threading.Lock) -> None:
        decoder = FrameDecoder()
        with contextlib.suppress(OSError, ValueError):
            while data := client.recv(65536):
                for document in decoder.feed(data):
                    if not self._pass(document, client, upstream, writing):
                        return
        _close(client, upstream)

    def _pass(self, document: bytes, client: socket.socket, upstream: socket.socket,
              writing: threading.Lock) -> bool:
        """Forward one request, or do what the fault armed for it says; False: hang up."""
        fault = self._take(document)
        if fault == HANG_UP:
            _close(client, upstream)
            return False
        if fault == SILENCE:
            return True
        if fault in (TEMPORARY, PERMANENT):
            with writing:
                client.sendall(encode_frame(_error_reply(document, fault == PERMANENT)))
            return True
        if fault == DELAY:
            time.sleep(self.delay)
        upstream.sendall(encode_frame(document))
        return True

    def _replies(self, upstream: socket.socket, client: socket.socket,
                 writing: threading.Lock) -> None:
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                with writing:
                    client.sendall(data)
        _close(client, upstream)

    def _take(self, document: bytes) -> str:
        function = _field(document, "Function")
        with self._lock:
            return self._armed.pop(function, "")


def _field(document: bytes, tag: str) -> str:
    try:
        return (parse_document(document).findtext(tag) or "").strip()
    except MalformedDocument:
        return ""


def _error_reply(document: bytes, permanent: bool) -> bytes:
    return Response(_field(document, "DeviceID"), _field(document, "RequestUID"),
                    _field(document, "Function"), "1.0", new_response_uid(),
                    error_body(PERMANENT_TEXT if permanent else TEMPORARY_TEXT,
                               permanent)).to_bytes()


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()


@dataclass
class Faults:
    """The fault scenarios, in an order that leaves the endpoint answering at the end."""

    api: FhirApi
    relay: FaultRelay
    patient_id: str
    read_timeout: float
    announce: Callable[[str], None] = lambda step: None

    def run(self) -> list[Verdict]:
        verdicts = [self.delay(), self.refused(TEMPORARY), self.refused(PERMANENT),
                    self.silence()]
        first_recovery = self.recovery()
        verdicts.append(self.hang_up())
        verdicts.append(self._recovered(first_recovery, self.recovery()))
        return verdicts

    def delay(self) -> Verdict:
        self.announce("a slow reply")
        answer = self._read(DELAY)
        return check("fault-delay", answer.status == 200,
                     "answered 200 after the delay, within the timeout",
                     f"answered {answer.status or answer.problem}", **_seen(answer))

    def refused(self, fault: str) -> Verdict:
        self.announce(f"a {fault} error")
        answer = self._read(fault)
        if fault == TEMPORARY:
            return check("fault-temporary-error", answer.status == 503
                         and answer.retry_after.isdigit() and answer.issue == "transient",
                         "503 with Retry-After and a transient OperationOutcome",
                         f"answered {answer.status or answer.problem} {answer.issue}",
                         **_seen(answer))
        return check("fault-permanent-error", answer.status == 502
                     and answer.issue == "exception",
                     "502 with an OperationOutcome saying SystmOne refused",
                     f"answered {answer.status or answer.problem} {answer.issue}",
                     **_seen(answer))

    def silence(self) -> Verdict:
        self.announce("no reply")
        answer = self._read(SILENCE)
        resting, _ = self.api.get(f"Patient/{self.patient_id}", "Patient read")
        ok = (answer.status == 504 and answer.retry_after.isdigit()
              and answer.seconds < self.read_timeout + 5
              and resting.status == 503 and resting.retry_after.isdigit()
              and resting.seconds < self.read_timeout / 2)
        self._rest(resting)
        return check("fault-no-reply", ok,
                     "504 with Retry-After once the read timeout passed; the next request "
                     "answered 503 at once while the endpoint rests",
                     f"answered {answer.status or answer.problem}, then "
                     f"{resting.status or resting.problem}",
                     first=_seen(answer), next=_seen(resting))

    def hang_up(self) -> Verdict:
        self.announce("a lost connection")
        answer = self._read(HANG_UP)
        self._rest(answer)
        return check("fault-connection-lost", answer.status == 503
                     and answer.retry_after.isdigit(),
                     "503 with Retry-After", f"answered {answer.status or answer.problem}",
                     **_seen(answer))

    def recovery(self) -> Answer:
        self.announce("recovery")
        answer, _ = self.api.get(f"Patient/{self.patient_id}", "Patient read")
        return answer

    def _recovered(self, first: Answer, second: Answer) -> Verdict:
        return check("fault-recovery", first.status == 200 and second.status == 200,
                     "answered 200 again once the endpoint's rest was over, after each "
                     "silence and lost connection",
                     f"answered {first.status} and {second.status}",
                     first=_seen(first), second=_seen(second))

    def _read(self, fault: str) -> Answer:
        self.relay.arm("GetPatientRecord", fault)
        answer, _ = self.api.get(f"Patient/{self.patient_id}", "Patient read")
        self.relay.arm("GetPatientRecord", "")  # unused if the facade never sent it
        return answer

    def _rest(self, answer: Answer) -> None:
        """Wait the Retry-After the facade gave (it says when the endpoint is back)."""
        if answer.retry_after.isdigit():
            time.sleep(min(float(answer.retry_after), 60.0))


def not_run(reason: str) -> list[Verdict]:
    return [failed(id, reason) for id in ("fault-delay", "fault-temporary-error",
                                          "fault-permanent-error", "fault-no-reply",
                                          "fault-connection-lost", "fault-recovery")]


def _seen(answer: Answer) -> dict:
    return {"status": answer.status, "retry_after": answer.retry_after,
            "seconds": round(answer.seconds, 3)}
