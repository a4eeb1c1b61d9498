"""Single-flight: identical concurrent upstream needs make one SystmOne call.

Within a worker, threads that need the same thing wait for the first one's
result. Across workers and instances, the first takes a *lease* in the shared
store (an atomic add with a TTL); the others wait until the lease is released
and then read the outcome the leader left behind: done (the result is in the
cache), nothing (e.g. no such patient), or the error it met, which they raise
too rather than each spending another upstream slot on the same failure. A
leader that dies leaves a lease that expires; a waiter then takes over. Every
wait is bounded: no request hangs.

A caller decides that it needs a call (the cache had nothing fresh enough)
before it reaches the flight, and on a loaded machine a thread can be held
up between the two for as long as a whole flight takes: by the time it
takes the lease, another leader may have fetched, stored and released. So a
new leader first asks ``current()`` whether the cache now holds what it
needs, and makes the call only if not (double-checked, under the lease).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import orjson

from .. import metrics
from ..upstream.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from .ledger import Throttled
from .store import Store

T = TypeVar("T")
OUTCOME_SECONDS = 10.0  # how long a leader's outcome stays readable by its waiters


@dataclass
class _Flight(Generic[T]):
    done: threading.Event = field(default_factory=threading.Event)
    result: T | None = None
    error: BaseException | None = None


class SingleFlight:
    def __init__(self, store: Store, lease_seconds: float, poll: float = 0.02) -> None:
        """``lease_seconds`` bounds a leader's work (slot wait + SystmOne's reply + mapping)."""
        self.store = store
        self.lease_seconds = lease_seconds
        self.poll = poll
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()

    def run(self, key: str, produce: Callable[[], T | None],
            shared: Callable[[], T | None],
            current: Callable[[], T | None] = lambda: None) -> T | None:
        """``produce()`` once for all concurrent callers of ``key``; ``shared()`` reads
        what a leader elsewhere produced (from the cache) once its lease is released;
        ``current()`` is what a new leader checks first: a result stored since the caller
        decided to produce one (None: produce)."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if leader:
                flight = self._flights[key] = _Flight()
        if not leader:
            metrics.single_flight_join("thread")
            if not flight.done.wait(self.lease_seconds * 2):
                raise UpstreamTimeout("a concurrent request for the same data did not finish")
            if flight.error is not None:
                raise flight.error
            return flight.result
        try:
            flight.result = self._across_processes(key, produce, shared, current)
        except BaseException as error:
            flight.error = error
            raise
        finally:
            flight.done.set()
            with self._lock:
                self._flights.pop(key, None)
        return flight.result

    def _across_processes(self, key: str, produce: Callable[[], T | None],
                          shared: Callable[[], T | None],
                          current: Callable[[], T | None]) -> T | None:
        lease, token = f"flight:{key}", secrets.token_bytes(16)
        deadline = time.monotonic() + self.lease_seconds * 2
        while True:
            if self.store.add(lease, token, ttl=self.lease_seconds):
                return self._lead(key, lease, token, lambda: _checked_first(current, produce))
            metrics.single_flight_join("shared")
            outcome = self._await_leader(key, lease, deadline)
            if outcome is not None and outcome["status"] != "done":
                return _follow(outcome)
            if outcome is not None:
                result = shared()
                if result is not None:
                    return result
            if time.monotonic() > deadline:
                raise UpstreamTimeout("a concurrent request for the same data did not finish")
            # The leader vanished (its lease expired) or its result is gone: lead instead.

    def _lead(self, key: str, lease: str, token: bytes, produce: Callable[[], T | None]):
        outcome: dict = {"status": "error", "message": "the shared request failed"}
        try:
            result = produce()
            outcome = {"status": "done" if result is not None else "nothing"}
            return result
        except Throttled as error:
            outcome = {"status": "throttled", "retry_after": error.retry_after}
            raise
        except UpstreamUnavailable as error:
            outcome = {"status": "unavailable", "message": error.message,
                       "retry_after": error.retry_after}
            raise
        except UpstreamError as error:
            outcome = {"status": "error", "message": str(error)}
            raise
        finally:
            self.store.set(f"flight-outcome:{key}", orjson.dumps(outcome), ttl=OUTCOME_SECONDS)
            self.store.delete(lease, expected=token)

    def _await_leader(self, key: str, lease: str, deadline: float) -> dict | None:
        while self.store.get(lease) is not None:
            if time.monotonic() > deadline:
                raise UpstreamTimeout("a concurrent request for the same data did not finish")
            time.sleep(self.poll)
        raw = self.store.get(f"flight-outcome:{key}")
        return orjson.loads(raw) if raw else None


def _checked_first(current: Callable[[], T | None], produce: Callable[[], T | None]) -> T | None:
    """What another leader stored meanwhile, else a fresh result."""
    found = current()
    if found is not None:
        metrics.single_flight_join("shared")  # it joined a flight already landed
        return found
    return produce()


def _follow(outcome: dict) -> None:
    """A waiter's answer when its leader found nothing or failed: the same."""
    status = outcome["status"]
    if status == "nothing":
        return None
    if status == "throttled":
        raise Throttled(outcome["retry_after"])
    if status == "unavailable":
        raise UpstreamUnavailable(outcome["message"], outcome["retry_after"])
    raise UpstreamUnavailable(f"a concurrent request for the same data failed: "
                              f"{outcome.get('message', '')}", 5.0)
