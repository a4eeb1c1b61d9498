"""A stopped clock for the slot ledger: the store's "now" and the ledger's, moved only by a test.

The ledger takes its caller-side clock and sleep as arguments (``SlotLedger(clock=,
sleep=)``); the store reads its own clock, so :func:`stop_store_clock` replaces that: the
embedded store's ``_now_us`` (module level), and the ``TIME`` that the Redis ledger script
reads, which is swapped for the clock's reading passed in as two more arguments. Redis
expires the script's keys on its real clock, which a stopped clock cannot move, so their
second of grace becomes an hour: a stalled test never sees a key expire under it. The rest
of the script runs as shipped, so a test on the stopped clock exercises the real Lua.

On it every booked start is exact to the microsecond however busy the machine is, and
SystmOne's own intervals (1 s, 30 s) cost no waiting.
"""

from __future__ import annotations

import pytest

from facade.stewardship import Store, redis_store, sqlite_store
from facade.stewardship.slots import MICROS, to_micros

#: Far from any real clock reading, so nothing can pass for the real time by accident.
EPOCH_US = 1_000_000 * MICROS

#: What the script reads instead of TIME: its answer (seconds, microseconds) from the caller;
#: and its keys' grace beyond their last moment of use (in ms), an hour instead of a second.
SWAPS = {"redis.call('TIME')": "{ARGV[6], ARGV[7]}", "+ 1000) end": "+ 3600000) end"}


class StoppedClock:
    """Whole microseconds; ``clock()`` reads seconds, as ``time.monotonic`` does."""

    def __init__(self, start_us: int = EPOCH_US) -> None:
        self.us = start_us
        self.slept: list[int] = []  # each sleep asked for, in µs

    def __call__(self) -> float:
        return self.us / MICROS

    def advance_us(self, micros: int) -> None:
        assert micros >= 0, "a monotonic clock never goes back"
        self.us += micros

    def sleep(self, seconds: float) -> None:
        """The ledger's sleep: the clock moves on by exactly as much, at once."""
        self.slept.append(to_micros(seconds))
        self.advance_us(to_micros(seconds))


def stop_store_clock(store: Store, clock: StoppedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``store``'s ledger read ``clock`` instead of its own clock (undone by monkeypatch)."""
    if isinstance(store, sqlite_store.SQLiteStore):
        monkeypatch.setattr(sqlite_store, "_now_us", lambda: clock.us)
    elif isinstance(store, redis_store.RedisStore):
        script = redis_store.BOOK_SLOT
        for shipped, swapped in SWAPS.items():
            assert script.count(shipped) == 1, f"the ledger script no longer has {shipped}"
            script = script.replace(shipped, swapped)
        stopped = store.client.register_script(script)

        def book_slot(keys: list[str], args: list) -> object:
            return stopped(keys=keys, args=[*args, *divmod(clock.us, MICROS)])

        monkeypatch.setattr(store, "_book_slot", book_slot)
    else:
        raise TypeError(f"no stopped clock for {type(store).__name__}")


class SlowStore:
    """The store, answering late: its "now" falls ``before_us`` after the caller asks, and
    its answer reaches the caller ``after_us`` later (a busy Redis, a descheduled worker)."""

    def __init__(self, store, clock, before_us: int, after_us: int) -> None:
        self.store, self.clock = store, clock
        self.before_us, self.after_us = before_us, after_us

    def book_slot(self, *args):
        self.clock.advance_us(self.before_us)
        booking = self.store.book_slot(*args)
        self.clock.advance_us(self.after_us)
        return booking

    def __getattr__(self, name: str):
        return getattr(self.store, name)  # everything else answers at once
