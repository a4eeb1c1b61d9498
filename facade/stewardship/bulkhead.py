"""A bulkhead between upstream-bound work and everything else in a worker.

A request that must reach SystmOne holds its thread while it waits: for its slot (up to
FACADE_MAX_WAIT), for the reply (up to FACADE_READ_TIMEOUT, 40 s when SystmOne is
silent) or for another request's fetch it follows. Unbounded, such requests took every
thread of a worker while SystmOne was silent, and a Patient read the cache could answer
queued behind them for 39 s. The bulkhead lets at most ``capacity`` threads of a process
into upstream-bound work; the rest of its threads stay free for what the cache answers.
A request that finds the bulkhead full is not queued (a queue would hold the same
threads): it is answered at once — with the stale copy where there is one, otherwise a
429 with Retry-After, like any other exhausted SystmOne budget.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .ledger import Throttled

#: Seconds a caller refused by a full bulkhead is asked to wait before trying again.
RETRY_AFTER = 5.0


class Saturated(Throttled):
    def __init__(self, capacity: int) -> None:
        super().__init__(RETRY_AFTER)
        self.args = (f"all {capacity} of this worker's threads for SystmOne-bound requests "
                     f"are waiting on SystmOne; retry in {RETRY_AFTER:.0f} s",)


class Bulkhead:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a bulkhead admits at least one request")
        self.capacity = capacity
        self._slots = threading.BoundedSemaphore(capacity)

    @classmethod
    def for_threads(cls, threads: int) -> Bulkhead:
        """A quarter of a worker's threads (at least one) kept for cached answers; with a
        single thread there is nothing to keep."""
        return cls(max(1, threads - max(1, threads // 4)) if threads > 1 else 1)

    @contextmanager
    def admit(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise Saturated(self.capacity)
        try:
            yield
        finally:
            self._slots.release()
