"""The SystmOne endpoints (gateway PCs of one organisation) behind the slot ledger.

Every upstream call goes through :meth:`UpstreamPool.call`: among the
endpoints not taken out, it books the earliest slot in the shared ledger (or
raises Throttled with the time to retry, booking nothing), waits for it and
sends. An endpoint that stops answering — no connection, no reply — is taken
out for a backoff that doubles with each failure, recorded in the shared store
so every worker and instance steers clear of it; with none left the caller
gets UpstreamUnavailable saying when the first comes back (a circuit breaker,
not a pile of timeouts).

The pool also watches for breaches: the send times of each endpoint are kept
in the store, and a send closer to the previous one than SystmOne allows is
counted and logged. The ledger makes that impossible; the count is the proof.

A request that would leave too late for its slot is not sent (MissedSlot); the
pool releases that slot in the ledger before it books again, so a loaded
machine costs the caller milliseconds, not the rest of a 30-second record
window. A released slot was never sent, so the breach watch never sees it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .. import metrics
from ..upstream.client import SystmOneClient
from ..upstream.errors import UpstreamConnectionError, UpstreamTimeout, UpstreamUnavailable
from ..upstream.transport import MissedSlot, send_deadline, sent_at
from .ledger import Slot, SlotLedger, Throttled
from .store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Send-time jitter allowed before two sends count as a breach (wall clocks, two processes).
BREACH_TOLERANCE = 0.005
#: Slots given up for waking too late before the caller gets a 429.
MAX_REBOOKINGS = 3


@dataclass
class Endpoint:
    name: str  # HOST:PORT, as the ledger and the metrics know it
    client: SystmOneClient


@dataclass(frozen=True)
class Backoff:
    first: float = 2.0
    longest: float = 60.0

    def after(self, failures: int) -> float:
        return min(self.longest, self.first * 2 ** max(0, failures - 1))


class UpstreamPool:
    def __init__(self, endpoints: list[Endpoint], ledger: SlotLedger, store: Store,
                 max_wait: float, backoff: Backoff = Backoff(),
                 wall_clock: Callable[[], float] = time.time) -> None:
        if not endpoints:
            raise ValueError("the pool needs at least one SystmOne endpoint")
        self.endpoints = endpoints
        self.ledger = ledger
        self.store = store
        self.max_wait = max_wait
        self.backoff = backoff
        self.wall_clock = wall_clock
        self._failed_here: set[str] = set()  # endpoints this process saw fail
        self._lock = threading.Lock()
        metrics.known_endpoints([endpoint.name for endpoint in endpoints])

    def call(self, function: str, action: Callable[[SystmOneClient], T],
             full_record: bool = False) -> T:
        """Run ``action`` (one SystmOne request) on the endpoint with the earliest slot.

        The request must leave within the send margin of its slot: the transport
        checks that immediately before sending (``send_deadline``). One that would
        leave later — a loaded machine, a connection slow to open — is not sent;
        its slot is released and another booked, since sending would crowd the
        caller booked next.
        """
        waited_from = self.ledger.clock()
        for _ in range(MAX_REBOOKINGS):
            endpoint, slot = self._slot_waited_for(full_record, waited_from)
            deadline = send_deadline.set(slot.send_by)
            started = time.monotonic()
            sent_at.set(None)  # set by the transport once a request of this attempt leaves
            try:
                result = action(endpoint.client)
            except MissedSlot as missed:
                self._missed(endpoint.name, slot, str(missed))
                continue
            except (UpstreamConnectionError, UpstreamTimeout) as error:
                self._sent(endpoint.name, full_record)
                metrics.upstream_call(function, endpoint.name, _outcome(error),
                                      time.monotonic() - started)
                error.retry_after = self._take_out(endpoint.name, error)
                raise
            except Exception:
                self._sent(endpoint.name, full_record)
                metrics.upstream_call(function, endpoint.name, "error",
                                      time.monotonic() - started)
                raise
            finally:
                send_deadline.reset(deadline)
            self._sent(endpoint.name, full_record)
            metrics.upstream_call(function, endpoint.name, "ok", time.monotonic() - started)
            self._answered(endpoint.name)
            return result
        raise Throttled(self.ledger.rule.record_us / 1e6 if full_record
                        else self.ledger.rule.request_us / 1e6)

    def _slot_waited_for(self, full_record: bool, waited_from: float) -> tuple[Endpoint, Slot]:
        """Book the earliest slot (Throttled beyond max_wait) and sleep until it starts."""
        endpoint = self._earliest(full_record)
        slot = self.ledger.reserve_in_time(endpoint.name, full_record,
                                           self.max_wait - (self.ledger.clock() - waited_from))
        self.ledger.wait_for(slot)
        metrics.throttle_wait("record" if full_record else "request",
                              self.ledger.clock() - waited_from)
        return endpoint, slot

    def _missed(self, name: str, slot: Slot, how_late: str) -> None:
        """Release a slot whose request was not sent, so booking again may get it back.

        MissedSlot comes from the transport's check_deadline, which runs after the
        connection is open and immediately before the request's first byte is
        written (SocketTransport.exchange; tests/upstream/test_transport.py shows the
        peer receives nothing): SystmOne never saw this request. One action sends one
        request, but should an earlier one of the same attempt have left (sent_at is
        set once a check passes), the slot is kept and that send watched instead.
        """
        metrics.missed_slot(name)
        if sent_at.get() is not None:
            self._sent(name, slot.full_record)
            what = "kept: a request of this attempt left"
        else:
            self.ledger.release(slot)
            what = "released"
        log.warning("a request to %s missed its slot (%s, beyond the %.0f ms send margin): "
                    "not sent, slot %s, booking again", name, how_late,
                    self.ledger.send_margin * 1000, what)

    def _sent(self, name: str, full_record: bool) -> None:
        """After a request left (or may have): watch its send time for breaches."""
        when = sent_at.get()
        if when is not None:
            self._watch_for_breach(name, full_record, when)
            sent_at.set(None)

    def readiness(self) -> tuple[bool, dict]:
        """Ready while at least one endpoint is not taken out."""
        down = {name: until for name, until in self._down().items() if until is not None}
        available = [e.name for e in self.endpoints if e.name not in down]
        detail: dict = {"endpoints": {e.name: "taken out" if e.name in down else "available"
                                      for e in self.endpoints}}
        if not available:
            detail["retry_after"] = max(1.0, min(down.values()) - self.wall_clock())
        return bool(available), detail

    def close(self) -> None:
        for endpoint in self.endpoints:
            endpoint.client.close()

    # -- choosing ------------------------------------------------------------------

    def _earliest(self, full_record: bool) -> Endpoint:
        down = self._down()
        open_ = [e for e in self.endpoints if down.get(e.name) is None]
        if not open_:
            back = min(until for until in down.values() if until is not None)
            raise UpstreamUnavailable("no SystmOne endpoint is answering; each is being "
                                      "retried with backoff", back - self.wall_clock())
        if len(open_) == 1:
            return open_[0]
        return min(open_, key=lambda e: self.ledger.next_free(e.name, full_record))

    def _down(self) -> dict[str, float | None]:
        """Each endpoint's taken-out-until time (wall clock), or None when it is in."""
        found = {}
        for endpoint in self.endpoints:
            value = self.store.get(_down_key(endpoint.name))
            found[endpoint.name] = float(value) if value else None
        return found

    # -- failing and recovering ------------------------------------------------------

    def _take_out(self, name: str, error: Exception) -> float:
        """Take the endpoint out for its backoff; the seconds until it is tried again."""
        failures = int(self.store.get(_failures_key(name)) or 0) + 1
        pause = self.backoff.after(failures)
        self.store.set(_failures_key(name), str(failures).encode(),
                       ttl=self.backoff.longest * 4)
        self.store.set(_down_key(name), repr(self.wall_clock() + pause).encode(), ttl=pause)
        with self._lock:
            self._failed_here.add(name)
        metrics.endpoint_available(name, False)
        log.warning("SystmOne endpoint %s taken out for %.0f s after %s (failure %d)",
                    name, pause, type(error).__name__, failures)
        return pause

    def _answered(self, name: str) -> None:
        with self._lock:
            recovered = name in self._failed_here
            self._failed_here.discard(name)
        if recovered:
            self.store.delete(_failures_key(name))
            metrics.endpoint_available(name, True)
            log.info("SystmOne endpoint %s answers again", name)

    # -- breaches ------------------------------------------------------------------

    def _watch_for_breach(self, name: str, full_record: bool, now: float) -> None:
        checks = [(_sent_key(name, "request"), self.ledger.limits.request_us)]
        if full_record:
            checks.append((_sent_key(name, "record"), self.ledger.limits.record_us))
        for key, interval_us in checks:
            previous = self.store.get(key)
            self.store.set(key, repr(now).encode(), ttl=max(1.0, interval_us / 1e6 * 2))
            if previous and now - float(previous) < interval_us / 1e6 - BREACH_TOLERANCE:
                metrics.breach(name)
                log.error("throttle breach on %s: sends %.3f s apart, %.3f s allowed", name,
                          now - float(previous), interval_us / 1e6)


def _outcome(error: Exception) -> str:
    return "timeout" if isinstance(error, UpstreamTimeout) else "unreachable"


def _down_key(name: str) -> str:
    return f"pool:down:{name}"


def _failures_key(name: str) -> str:
    return f"pool:failures:{name}"


def _sent_key(name: str, kind: str) -> str:
    return f"pool:sent:{kind}:{name}"


__all__ = ["Backoff", "Endpoint", "Throttled", "UpstreamPool"]
