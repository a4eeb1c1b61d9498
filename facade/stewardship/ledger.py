"""The throttle slot ledger: SystmOne's limits kept across threads, processes and instances.

Per SystmOne endpoint ("host:port"): at most one request per
``request_interval``, and at most one non-exempt GetPatientRecord (a *full
record*) per ``record_interval``. A caller reserves its slot before it sends;
reservations are booked ahead in the shared store, one atomic step each, so
waiting callers are served in booking order and every caller learns at once
when it may send. When that is further off than the caller may wait, it gets
:class:`Throttled` with the time the slot becomes free, and nothing is booked:
no request ever hangs and a refused one costs nobody a slot.

Exempt calls (Demographics only, or entry dates today) reserve a request slot
only, and may take one in front of a full record that is booked ahead for
its record slot; they never wait for the record slot.

The ledger guarantees the spacing of *granted starts*. A caller that sends
later than its start (a late wake-up, a slow network) narrows its gap to the
next caller's send, so bookings are spaced by SystmOne's intervals plus a
small ``send_margin``; :attr:`SlotLedger.limits` keeps SystmOne's own
intervals, against which sends are checked for breaches.

The store answers with a wait counted from its own "now", read at some moment
between the caller's asking and the answer's arrival. The caller sleeps until the
wait counted from the answer (never early) and must send by the wait counted from
the asking plus half the margin (never late): a slow answer from the store (a busy
Redis, a descheduled worker) shortens the caller's window rather than pushing its
send towards the next caller's. A round trip longer than half the margin leaves a
slot that cannot be used: it is given back at once and booked again (a few times,
then the caller is refused), rather than slept on.

A caller that wakes so late that it would send outside the margin does not
send (the transport raises MissedSlot before writing a byte) and gives its
slot back with :meth:`SlotLedger.release` before booking again, so the new
booking can take the same start, or now. Without that the unsent slot would
stay booked, and for a full record the next could not start for another
record interval although SystmOne's window was never spent. A release is a
compare-and-set in the store: once another caller has booked a later full
record it changes nothing about the record slot, and the gap stays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .slots import MICROS, Booking, SlotRule, to_micros
from .store import Store

__all__ = ["Slot", "SlotLedger", "Throttled"]

log = logging.getLogger(__name__)

#: Bookings the store answered too slowly to use, given back and asked again, before the
#: caller is refused: a moment's stall passes, a store always that slow needs a wider margin.
SLOW_ANSWERS = 3


class Throttled(Exception):
    """SystmOne's budget will not have room within the caller's maximum wait."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"SystmOne's request budget is used up; retry in {retry_after:.0f} s")


@dataclass(frozen=True)
class Slot:
    endpoint: str
    full_record: bool
    #: When the request may be sent, on the ledger's clock (time.monotonic by default).
    start: float
    #: The latest moment its first byte may be sent, on the same clock: the booked start
    #: counted from when the booking was *asked* for, plus half the send margin (the other
    #: half is for what delays the bytes after the check). Earlier than ``start`` when the
    #: store took longer than that half to answer: such a slot cannot be sent in time
    #: (``reserve_in_time`` gives it back and books again).
    send_by: float
    #: The booked start on the store's clock, in microseconds: comparable between all
    #: callers of one store, for verifiers (slots.find_breaches), never for sleeping.
    ledger_start_us: int
    #: What the booking replaced in the store's record lane; a release puts it back.
    record_before_us: int = 0


class SlotLedger:
    def __init__(self, store: Store, request_interval: float, record_interval: float,
                 send_margin: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if send_margin < 0:
            raise ValueError("the send margin must not be negative")
        self.store = store
        self.send_margin = send_margin
        #: SystmOne's limits: what a breach is measured against.
        self.limits = SlotRule(to_micros(request_interval), to_micros(record_interval))
        #: How bookings are spaced: the limits plus the margin for late sends.
        self.rule = SlotRule.from_seconds(request_interval + send_margin,
                                          record_interval + send_margin)
        self.clock = clock
        self.sleep = sleep

    def reserve(self, endpoint: str, full_record: bool = False, max_wait: float = 10.0) -> Slot:
        """Book the endpoint's earliest slot, or raise Throttled (booking nothing).

        Throttled.retry_after, counted from when the refusal arrives, is the
        earliest moment a retry with the same maximum wait is granted: the
        slot is then ``max_wait`` away (unless someone else has booked it
        first). Sending callers back any later would leave slots unused while
        a backlog waits.
        """
        return self._booked(endpoint, full_record, max_wait)[0]

    def reserve_in_time(self, endpoint: str, full_record: bool = False,
                        max_wait: float = 10.0) -> Slot:
        """``reserve``, for a caller that must send by ``Slot.send_by``: a slot the store
        answered too slowly to be sent in time is given back at once and booked again,
        rather than slept on (a few times; then Throttled)."""
        for _ in range(SLOW_ANSWERS):
            slot, round_trip = self._booked(endpoint, full_record, max_wait)
            if slot.send_by >= slot.start:
                return slot
            self.release(slot)
            log.warning("the slot store took %.0f ms to book a slot for %s, more than half "
                        "the %.0f ms send margin: the slot was given back unused (a store "
                        "this slow every time needs a larger FACADE_SEND_MARGIN)",
                        round_trip * 1000, endpoint, self.send_margin * 1000)
        raise Throttled(self.rule.request_us / MICROS)

    def _booked(self, endpoint: str, full_record: bool, max_wait: float) -> tuple[Slot, float]:
        """A booked slot (or Throttled, booking nothing), and the store's round trip."""
        max_wait_us = max(0, to_micros(max_wait))
        asked = self.clock()
        booking = self.store.book_slot(endpoint, self.rule, full_record, max_wait_us)
        answered = self.clock()
        if not booking.granted:
            raise Throttled(max(0, booking.wait_us - max_wait_us) / MICROS)
        slot = Slot(endpoint, full_record, start=_local_start(booking, answered),
                    send_by=_local_start(booking, asked) + self.send_margin / 2,
                    ledger_start_us=booking.start_us,
                    record_before_us=booking.record_before_us)
        return slot, answered - asked

    def acquire(self, endpoint: str, full_record: bool = False, max_wait: float = 10.0) -> Slot:
        """Reserve, then sleep until the slot starts."""
        slot = self.reserve(endpoint, full_record, max_wait)
        self.wait_for(slot)
        return slot

    def wait_for(self, slot: Slot) -> None:
        delay = slot.start - self.clock()
        if delay > 0:
            self.sleep(delay)

    def release(self, slot: Slot) -> bool:
        """Give back a slot whose request was never sent; True if anything was given back.

        Only for a request that cannot have left (MissedSlot): a released slot is
        free for anyone, so a request sent in it anyway could come too close to the
        next. Safe against other callers: see Store.release_slot.
        """
        return self.store.release_slot(slot.endpoint, self.rule, slot.full_record,
                                       slot.ledger_start_us, slot.record_before_us)

    def next_free(self, endpoint: str, full_record: bool = False) -> float:
        """When a reservation made now would start, on the ledger's clock; books nothing.

        For choosing among endpoints; another caller may book it first.
        """
        booking = self.store.peek_slot(endpoint, self.rule, full_record)
        return _local_start(booking, self.clock())


def _local_start(booking: Booking, since: float) -> float:
    """The booked start on our clock, counting the store's wait from ``since``.

    The store measured its wait from its own "now", which fell somewhere between
    our asking and its answer reaching us. Counted from the answer, the start is
    never early (it is late by at most the round trip): when to send. Counted from
    the asking, it is never late: what the send deadline is measured from, so a
    slow answer from the store (a loaded machine, a busy Redis) cannot push a send
    past the margin and crowd the caller booked next.
    """
    return since + booking.wait_us / MICROS
