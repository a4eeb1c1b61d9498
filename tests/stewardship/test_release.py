"""Releasing a slot that was booked but never sent (issue 14), on both backends.

A caller that wakes too late for its slot does not send (MissedSlot) and gives the slot
back before it books again. Without that, a full GetPatientRecord missed by ten
milliseconds cost the caller a whole 30-second record window that SystmOne never saw
used. The release is a compare-and-set on what the booking wrote: it never undoes a
booking another caller made after it, and what stays booked keeps SystmOne's spacing.

On the stopped clock (clock.py) every start is asserted to the microsecond; the threaded
test at the end races reservations and releases on the real clock, through the real
Lua script and the real SQLite transaction.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from facade import metrics
from facade.stewardship import SlotLedger, Throttled
from facade.stewardship.pool import Backoff, Endpoint, UpstreamPool
from facade.stewardship.slots import SlotRule, find_breaches, to_micros
from facade.upstream import transport
from facade.upstream.transport import check_deadline

from .workers import RECORD_INTERVAL, REQUEST_INTERVAL

EP = "gateway-1:40700"
#: SystmOne's limits, and the facade's default send margin.
REQUEST, RECORD, MARGIN = 1.0, 30.0, 0.02
SPACING = SlotRule.from_seconds(REQUEST + MARGIN, RECORD + MARGIN)
REQUEST_US, RECORD_US = SPACING.request_us, SPACING.record_us
KINDS = {"request": (False, REQUEST_US), "record": (True, RECORD_US)}
#: Later than the transport's send check allows (half the margin), as a loaded machine is.
LATE_US = to_micros(MARGIN / 2) + 5_000


@pytest.fixture
def stopped(store, clock) -> SlotLedger:
    return SlotLedger(store, REQUEST, RECORD, send_margin=MARGIN, clock=clock,
                      sleep=clock.sleep)


def starts(slots) -> list[tuple[int, bool]]:
    return [(slot.ledger_start_us, slot.full_record) for slot in slots]


# --- the ledger -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_released_latest_booking_lets_the_next_reservation_start_at_its_time(stopped, kind):
    full, interval = KINDS[kind]
    sent = stopped.reserve(EP, full, max_wait=0)
    missed = stopped.reserve(EP, full, max_wait=2 * RECORD)
    assert stopped.release(missed)
    again = stopped.reserve(EP, full, max_wait=2 * RECORD)
    assert again.ledger_start_us == missed.ledger_start_us == sent.ledger_start_us + interval


@pytest.mark.parametrize("kind", KINDS)
def test_a_late_caller_that_released_its_slot_is_booked_for_now(stopped, clock, kind):
    """The case of issue 14: woke past the margin, released, booked again: sent at once,
    not an interval later."""
    full, _ = KINDS[kind]
    stopped.reserve(EP, full, max_wait=0)
    missed = stopped.acquire(EP, full, max_wait=2 * RECORD)
    clock.advance_us(LATE_US)
    stopped.release(missed)
    again = stopped.reserve(EP, full, max_wait=0)
    assert again.ledger_start_us == clock.us == missed.ledger_start_us + LATE_US


def test_releasing_the_first_full_record_leaves_the_endpoint_as_it_was(stopped, clock):
    """Nothing was booked before it: the record lane goes back to having nothing."""
    missed = stopped.reserve(EP, full_record=True, max_wait=0)
    assert stopped.release(missed)
    clock.advance_us(LATE_US)
    assert to_micros(stopped.next_free(EP, full_record=True)) == clock.us


def test_a_release_after_another_caller_booked_a_later_full_record_keeps_theirs(stopped):
    first = stopped.reserve(EP, full_record=True, max_wait=0)
    missed = stopped.reserve(EP, full_record=True, max_wait=2 * RECORD)
    theirs = stopped.reserve(EP, full_record=True, max_wait=3 * RECORD)
    before = stopped.next_free(EP, full_record=True)
    stopped.release(missed)
    # The record slot still follows theirs: the gap the missed one leaves is lost time,
    # never a full record closer than 30 s to theirs.
    assert stopped.next_free(EP, full_record=True) == before
    after = stopped.reserve(EP, full_record=True, max_wait=4 * RECORD)
    assert after.ledger_start_us == theirs.ledger_start_us + RECORD_US
    assert find_breaches(starts([first, theirs, after]), SPACING) == []


def test_a_release_after_another_caller_booked_a_later_request_keeps_theirs(stopped, clock):
    """Only the released start itself is given back: a start names one booking, so the
    other caller's stays, and a new booking keeps an interval from it."""
    stopped.reserve(EP, max_wait=0)
    missed = stopped.acquire(EP, max_wait=2 * REQUEST)
    theirs = stopped.reserve(EP, max_wait=2 * REQUEST)
    clock.advance_us(LATE_US)
    stopped.release(missed)
    again = stopped.reserve(EP, max_wait=3 * REQUEST)
    assert again.ledger_start_us == theirs.ledger_start_us + REQUEST_US


def test_a_second_release_of_the_same_slot_changes_nothing(stopped):
    sent = stopped.reserve(EP, full_record=True, max_wait=0)
    missed = stopped.reserve(EP, full_record=True, max_wait=2 * RECORD)
    assert stopped.release(missed)
    after_first = stopped.next_free(EP), stopped.next_free(EP, full_record=True)
    assert not stopped.release(missed)
    assert (stopped.next_free(EP), stopped.next_free(EP, full_record=True)) == after_first
    assert to_micros(after_first[1]) == sent.ledger_start_us + RECORD_US


@pytest.mark.parametrize("latest_first", [True, False], ids=["latest-first", "earliest-first"])
def test_releases_in_either_order_keep_the_sent_record_30_seconds_clear(stopped, latest_first):
    """Two full records booked behind a sent one, both missed. Released latest first, each
    is the latest when it goes, and the record slot unwinds to 30 s after the sent one;
    earliest first, the earlier finds a later one booked and its record slot stays lost.
    Either way no full record can start within 30 s of the one sent."""
    sent = stopped.reserve(EP, full_record=True, max_wait=0)
    early = stopped.reserve(EP, full_record=True, max_wait=2 * RECORD)
    late = stopped.reserve(EP, full_record=True, max_wait=3 * RECORD)
    for missed in ([late, early] if latest_first else [early, late]):
        stopped.release(missed)
    again = stopped.reserve(EP, full_record=True, max_wait=3 * RECORD)
    expected = early if latest_first else late
    assert again.ledger_start_us == expected.ledger_start_us
    assert again.ledger_start_us >= sent.ledger_start_us + RECORD_US


@pytest.mark.parametrize("seed", range(8))
def test_random_runs_of_reserves_and_releases_keep_what_is_sent_spaced(stopped, clock, seed):
    """Property-style on the stopped clock: random kinds, waits and idle gaps, and releases
    of any unsent booking, not only the latest, in any order. What is kept (sent, or still
    to be) never breaches, and no booking starts before its "now"."""
    rng = random.Random(seed)
    kept, unsent = [], []
    for _ in range(300):
        move = rng.random()
        if move < 0.45:
            try:
                slot = stopped.reserve(EP, rng.random() < 0.3,
                                       max_wait=rng.choice([0, 3 * REQUEST, 2 * RECORD]))
                assert slot.ledger_start_us >= clock.us
                unsent.append(slot)
            except Throttled:
                pass
        elif move < 0.7 and unsent:
            stopped.release(unsent.pop(rng.randrange(len(unsent))))
        elif unsent:
            kept.append(unsent.pop(rng.randrange(len(unsent))))  # "sent": never released
        clock.advance_us(rng.choice([0, 0, 1, REQUEST_US // 3, REQUEST_US, RECORD_US // 4]))
    assert len(kept) > 30
    assert find_breaches(starts(kept + unsent), SPACING) == []


# --- the pool -----------------------------------------------------------------------------

class LateGateway:
    """Stands for a SystmOne client: the first ``late`` sends are held up past the send
    check (a preempted thread), so the transport's MissedSlot stops them; the rest go."""

    def __init__(self, name: str, clock, late: int = 1) -> None:
        self.name, self.clock, self.late, self.sent = name, clock, late, []

    def ask(self, what: str) -> str:
        if self.late:
            self.late -= 1
            self.clock.advance_us(LATE_US)
        check_deadline()  # as the socket transport does, immediately before sending
        self.sent.append(self.clock.us)
        return what

    def close(self) -> None:
        pass


def stopped_pool(store, clock, monkeypatch, gateway) -> UpstreamPool:
    """SystmOne's own intervals on the stopped clock, the transport's send check included."""
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=clock, time=clock))
    ledger = SlotLedger(store, REQUEST, RECORD, send_margin=MARGIN, clock=clock,
                        sleep=clock.sleep)
    return UpstreamPool([Endpoint(gateway.name, gateway)], ledger, store, 10.0, Backoff())


def counter(name: str, endpoint: str) -> float:
    body, _ = metrics.render()
    for family in text_string_to_metric_families(body.decode()):
        for found in family.samples:
            if found.name == name and found.labels == {"endpoint": endpoint}:
                return found.value
    return 0.0


def test_a_full_record_that_misses_its_slot_is_sent_in_the_same_30_second_window(
        store, clock, monkeypatch):
    gateway = LateGateway(f"pc-{uuid.uuid4().hex[:8]}:40700", clock, late=0)
    upstream = stopped_pool(store, clock, monkeypatch, gateway)
    record = lambda g: g.ask("record")  # noqa: E731
    upstream.call("GetPatientRecord", record, full_record=True)
    clock.advance_us(RECORD_US)  # the window has passed: the next full record is due now
    gateway.late = 1
    breaches = counter("facade_breaches_detected_total", gateway.name)
    missed = counter("facade_missed_slots_total", gateway.name)
    assert upstream.call("GetPatientRecord", record, full_record=True) == "record"
    first, second = gateway.sent
    assert second == first + RECORD_US + LATE_US  # late by the hold-up, not by 30 s more
    assert counter("facade_missed_slots_total", gateway.name) == missed + 1
    assert counter("facade_breaches_detected_total", gateway.name) == breaches
    # The slot sent now holds the window: the next full record is 30 s after it.
    assert to_micros(upstream.ledger.next_free(gateway.name, full_record=True)) \
        == second + RECORD_US


def test_a_caller_that_misses_every_slot_leaves_none_booked(store, clock, monkeypatch):
    gateway = LateGateway(f"pc-{uuid.uuid4().hex[:8]}:40700", clock, late=10)
    upstream = stopped_pool(store, clock, monkeypatch, gateway)
    with pytest.raises(Throttled):
        upstream.call("GetPatientRecord", lambda g: g.ask("record"), full_record=True)
    assert gateway.sent == []
    assert to_micros(upstream.ledger.next_free(gateway.name, full_record=True)) == clock.us


def test_a_slot_whose_attempt_already_sent_a_request_is_kept(store, clock, monkeypatch):
    """An action is one request, but should one send twice and miss on the second, the
    first left in the slot: the slot stays booked and that send is watched."""
    gateway = LateGateway(f"pc-{uuid.uuid4().hex[:8]}:40700", clock, late=0)
    upstream = stopped_pool(store, clock, monkeypatch, gateway)

    def twice(g):
        g.ask("first")
        g.late = 1
        return g.ask("second")
    with pytest.raises(Throttled):  # the kept record slot is 30 s away, beyond max_wait
        upstream.call("GetPatientRecord", twice, full_record=True)
    [sent] = gateway.sent
    assert to_micros(upstream.ledger.next_free(gateway.name, full_record=True)) \
        == sent + RECORD_US


# --- reserve and release racing on the real clock ----------------------------------------

class Racer:
    """One thread's share: book (a random share of full records), wait for each slot, then
    release every third booking (as a caller that woke late does) or keep it."""

    def __init__(self, ledger: SlotLedger, endpoint: str, barrier: threading.Barrier,
                 seed: int) -> None:
        self.ledger, self.endpoint, self.barrier = ledger, endpoint, barrier
        self.rng = random.Random(seed)
        self.turns = itertools.count(seed)
        self.kept, self.released, self.failures = [], [], []

    def run(self) -> None:
        try:
            self.barrier.wait()
            deadline = time.monotonic() + 0.6
            while time.monotonic() < deadline:
                self.take_a_turn()
        except Exception as error:  # a thread's exception would otherwise be lost
            self.failures.append(error)

    def take_a_turn(self) -> None:
        try:
            slot = self.ledger.reserve(self.endpoint, self.rng.random() < 0.3, max_wait=0.2)
        except Throttled:
            time.sleep(self.rng.uniform(0, REQUEST_INTERVAL))
            return
        self.ledger.wait_for(slot)
        if next(self.turns) % 3 == 0:
            self.ledger.release(slot)
            self.released.append(slot)
        else:
            self.kept.append(slot)


@pytest.mark.parametrize("round_", range(3))
def test_threads_reserving_and_releasing_at_once_never_breach(store, round_):
    """Eight racing threads (Racer), fresh seeds each round: no two kept starts are ever
    closer than the intervals, on the store's own clock."""
    ledger = SlotLedger(store, REQUEST_INTERVAL, RECORD_INTERVAL)
    barrier = threading.Barrier(8)
    racers = [Racer(ledger, "race:40700", barrier, round_ * 100 + n) for n in range(8)]
    threads = [threading.Thread(target=racer.run) for racer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [error for racer in racers for error in racer.failures] == []
    kept = [slot for racer in racers for slot in racer.kept]
    assert kept and any(racer.released for racer in racers)
    rule = SlotRule.from_seconds(REQUEST_INTERVAL, RECORD_INTERVAL)
    assert find_breaches(starts(kept), rule) == []
