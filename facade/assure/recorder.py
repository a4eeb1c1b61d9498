"""Every SystmOne message of an assurance run, as it went over the wire, with its times.

``RecordingTransport`` wraps the transport that talks to the socket (the
innermost one), so it sees exactly what leaves the process: a layer above it
that misbehaves (re-sends, hurries) is recorded as it behaves. The send time
is the moment the transport's deadline check passed, immediately before the
first byte is written (``transport.sent_at``); a request that missed its slot
was never sent and is not recorded. Times are seconds on the monotonic clock,
counted from the start of the run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..upstream.transport import MissedSlot, Transport, sent_at


@dataclass(frozen=True)
class Message:
    """One request sent and what came back (``reply`` None: nothing did)."""

    seq: int
    endpoint: str
    phase: str
    sent: float
    answered: float
    request: bytes
    reply: bytes | None
    #: "" when a reply arrived, else the upstream error's class name (UpstreamTimeout...).
    failure: str = ""


class Recorder:
    """The run's messages, in the order they were sent, from every thread."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.origin = clock()
        self.phase = "setup"
        self._messages: list[Message] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.clock() - self.origin

    def add(self, endpoint: str, sent: float, request: bytes, reply: bytes | None,
            failure: str = "") -> None:
        with self._lock:
            self._messages.append(Message(len(self._messages) + 1, endpoint, self.phase, sent,
                                          self.now(), request, reply, failure))

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return sorted(self._messages, key=lambda message: message.sent)

    def count(self) -> int:
        with self._lock:
            return len(self._messages)


class RecordingTransport:
    """A transport that records each exchange of the one it wraps."""

    def __init__(self, inner: Transport, recorder: Recorder, endpoint: str) -> None:
        self.inner = inner
        self.recorder = recorder
        self.endpoint = endpoint

    def exchange(self, request: bytes) -> bytes:
        wall, entered = time.time(), self.recorder.now()
        try:
            reply = self.inner.exchange(request)
        except MissedSlot:
            raise  # not sent: nothing went over the wire
        except Exception as error:
            if _marked_since(wall):  # sent, and no reply came (or it was unusable)
                self.recorder.add(self.endpoint, self._sent(wall, entered), request, None,
                                  type(error).__name__)
            raise
        self.recorder.add(self.endpoint, self._sent(wall, entered), request, reply)
        return reply

    def close(self) -> None:
        self.inner.close()

    @staticmethod
    def _sent(wall: float, entered: float) -> float:
        """When the bytes left: the transport's own mark (wall clock) moved onto the run's
        monotonic clock; when entering if the transport set none (or a stale one)."""
        if not _marked_since(wall):
            return entered
        return entered + (sent_at.get() - wall)


def _marked_since(wall: float) -> bool:
    """Whether the transport marked a send during this exchange (a failure before the
    mark, such as a refused connection, sent nothing)."""
    marked = sent_at.get()
    return marked is not None and marked >= wall
