"""The arithmetic of SystmOne's slots, shared by both store backends.

Times are whole microseconds on the store's clock: integers keep the spacing
exact (no float rounding can bring two starts a microsecond too close) and fit
a Lua number (a double) without loss, so the Redis script does the same sums.

A reservation books a *start*. Request starts of one endpoint are kept until
they are an interval in the past; a new one takes the earliest moment that is
at least one request interval from every booked start (and, for a full
record, no earlier than the next free record slot). Keeping the starts rather
than a single "next request" pointer lets a cheap exempt call use the free
seconds in front of a full record that is booked ahead for its record slot:
a Patient read never queues behind the scarce slot.

A booking that was never sent (its caller woke too late, see pool.py) can be
*released*: its request start is removed, and for a full record the next free
record slot goes back to what it was before, but only while no later full
record has been booked (a compare-and-set). A released start is never a send,
so the breach verifiers below never see it; what is left is still spaced by
the rule, since every booking was checked against every start then kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MICROS = 1_000_000


def to_micros(seconds: float) -> int:
    return round(seconds * MICROS)


@dataclass(frozen=True)
class SlotRule:
    """SystmOne's two limits, in microseconds."""

    request_us: int
    record_us: int

    @classmethod
    def from_seconds(cls, request_interval: float, record_interval: float) -> SlotRule:
        if request_interval <= 0 or record_interval < 0:
            raise ValueError("the request interval must be positive, the record interval not "
                             "negative")
        return cls(to_micros(request_interval), to_micros(record_interval))


@dataclass(frozen=True)
class Booking:
    """A store's answer: the earliest start, and whether it was booked."""

    granted: bool
    start_us: int  # on the store's clock
    wait_us: int  # from the store's "now" when it answered
    #: The endpoint's next free record start before this booking (0: none): what
    #: releasing a full record puts back. Meaningful for a granted full record only.
    record_before_us: int = 0


def earliest_start(now_us: int, not_before_us: int, booked_us: Sequence[int],
                   request_us: int) -> int:
    """The first moment ≥ now and ≥ not_before that is request_us clear of every booked start.

    ``booked_us`` is ascending and its starts are themselves request_us apart,
    so one pass suffices: each start either lies clear behind the candidate,
    leaves room in front of it, or pushes it to one interval after itself.
    """
    candidate = max(now_us, not_before_us)
    for booked in booked_us:
        if booked + request_us <= candidate:
            continue
        if booked >= candidate + request_us:
            break
        candidate = booked + request_us
    return candidate


def find_breaches(grants: Iterable[tuple[int, bool]], rule: SlotRule,
                  tolerance_us: int = 0) -> list[tuple[int, int]]:
    """Pairs of granted starts (start_us, full_record) closer than the rule allows.

    The verifier for tests and benchmarks: sorted, only neighbours can be the
    closest pair, so this is O(n log n) however many grants are checked.
    """
    grants = sorted(grants)
    starts = [start for start, _ in grants]
    records = [start for start, full in grants if full]
    return (_too_close(starts, rule.request_us - tolerance_us)
            + _too_close(records, rule.record_us - tolerance_us))


def _too_close(starts: list[int], minimum_us: int) -> list[tuple[int, int]]:
    return [(a, b) for a, b in itertools.pairwise(starts) if b - a < minimum_us]
