"""Keeping this process's requests within SystmOne's limits.

One request per ``request_interval`` and one non-exempt GetPatientRecord per
``record_interval``. A request waits for its slot when the wait is short; when
it would be longer than ``max_wait`` it is refused with the time to retry, so
no caller ever hangs. (Coordination across processes and instances is the
stewardship layer's job; this is the single-process floor.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"SystmOne's request budget is used up; retry in {retry_after:.0f} s")


class Pacer:
    def __init__(self, request_interval: float, record_interval: float, max_wait: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.request_interval = request_interval
        self.record_interval = record_interval
        self.max_wait = max_wait
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._next_request = 0.0
        self._next_record = 0.0

    def acquire(self, full_record: bool = False) -> None:
        """Wait for this request's slot, or raise Throttled when it is too far off."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next_request)
            if full_record:
                start = max(start, self._next_record)
            if start - now > self.max_wait:
                raise Throttled(start - now)
            self._next_request = start + self.request_interval
            if full_record:
                self._next_record = start + self.record_interval
        if start > now:
            self.sleep(start - now)
