"""The one shared-state interface of the facade, and the factory that picks its backend.

Everything that several gunicorn workers or facade instances must agree on —
the throttle slot ledger, cached resources, single-flight leases, the
token-replay (jti) set — lives behind :class:`Store`, never in a Python dict.
Two backends implement it:

- embedded (the default): one SQLite file in the state dir; coordinates every
  process of one machine with no extra service;
- Redis (``FACADE_REDIS_URL``): coordinates any number of instances.

Keys are opaque strings chosen by callers (callers keep raw PHI out of them);
values are bytes. A TTL is in seconds and must be positive; ``None`` keeps the
value until it is replaced or deleted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from .slots import Booking, SlotRule

#: The embedded store's file, under the state dir.
EMBEDDED_FILE = Path("stewardship") / "store.sqlite3"


class Store(ABC):
    # -- key/value with expiry --------------------------------------------------

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""

    @abstractmethod
    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value``, replacing any other (and its TTL)."""

    @abstractmethod
    def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """Store ``value`` only if the key is absent or expired; True if it was stored.

        Atomic across threads, processes and instances: of many concurrent
        callers exactly one gets True (single-flight leases, jti replay checks).
        """

    @abstractmethod
    def delete(self, key: str, expected: bytes | None = None) -> bool:
        """Remove the key; with ``expected``, only while it still holds that value.

        The conditional form lets a lease holder release its own lease without
        removing one that another caller took after it expired.
        """

    # -- the throttle slot ledger (see ledger.py) ------------------------------

    @abstractmethod
    def book_slot(self, endpoint: str, rule: SlotRule, full_record: bool,
                  max_wait_us: int) -> Booking:
        """Atomically find the endpoint's earliest start and book it if within max_wait_us."""

    @abstractmethod
    def peek_slot(self, endpoint: str, rule: SlotRule, full_record: bool) -> Booking:
        """The start ``book_slot`` would give now, booking nothing (granted is False)."""

    @abstractmethod
    def release_slot(self, endpoint: str, rule: SlotRule, full_record: bool, start_us: int,
                     record_before_us: int) -> bool:
        """Atomically give back a booking whose request was never sent; True if anything was.

        The request start ``start_us`` is removed if it is still kept: a start names
        one booking (no other may lie within an interval of it), so this never removes
        another caller's. For a full record, the next free record start goes back to
        ``record_before_us`` (the booking's ``Booking.record_before_us``) only while it
        is still this booking's (``start_us + rule.record_us``): once a later full
        record is booked, that part is a no-op and the gap stays, which costs time but
        can never bring two sends too close. Never call it for a request that may have
        left: SystmOne would count a send the ledger no longer does. Release a booking
        once, after its start has passed (a caller that missed it): then no new booking
        can share its start, so the start cannot name anyone else's.
        """

    # -- lifetime ---------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_store(state_dir: Path, redis_url: str | None = None, *,
               namespace: str = "facade:") -> Store:
    """Redis when ``redis_url`` is given, else the embedded SQLite file in ``state_dir``.

    ``namespace`` prefixes every Redis key, so one Redis can serve several
    deployments (or test runs) without their keys meeting.
    """
    if redis_url:
        from .redis_store import RedisStore  # the redis package is needed only here

        return RedisStore.from_url(redis_url, namespace=namespace)
    from .sqlite_store import SQLiteStore

    return SQLiteStore(Path(state_dir) / EMBEDDED_FILE)


def check_ttl(ttl: float | None) -> None:
    if ttl is not None and not ttl > 0:
        raise ValueError(f"a TTL must be a positive number of seconds or None, not {ttl!r}")
