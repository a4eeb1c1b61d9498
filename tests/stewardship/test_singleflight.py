"""Single-flight: one upstream call for identical concurrent needs, on both backends."""

from __future__ import annotations

import threading
import time

import pytest

from facade.stewardship.ledger import Throttled
from facade.stewardship.singleflight import SingleFlight
from facade.upstream.errors import UpstreamUnavailable

from .workers import run_together, share_one_flight


def test_threads_and_processes_share_one_call(spec):
    answers = run_together(share_one_flight, [spec] * 3, ["record-1"] * 3, [4] * 3)
    assert [answer for process in answers for answer in process] == [b"the record"] * 12
    with spec.open() as store:
        assert store.get("produced:record-1") == b"1"
        assert store.get("produced-again:record-1") is None


def test_a_leaders_failure_reaches_its_waiters_without_another_call(store):
    flights = [SingleFlight(store, lease_seconds=5, poll=0.005) for _ in range(2)]
    calls = []

    def throttled():
        calls.append(1)
        time.sleep(0.2)
        raise Throttled(12.5)

    outcomes = []

    def ask(flight):
        try:
            flight.run("record-2", throttled, lambda: None)
        except Throttled as error:
            outcomes.append(error.retry_after)

    # Two SingleFlights on one store stand for two workers: they meet through the store.
    workers = [threading.Thread(target=ask, args=(flight,)) for flight in flights]
    workers[0].start()
    time.sleep(0.05)
    workers[1].start()
    for worker in workers:
        worker.join()
    assert calls == [1] and outcomes == [12.5, 12.5]


def test_nothing_found_is_shared_and_a_dead_leaders_lease_expires(store):
    assert SingleFlight(store, 5).run("record-3", lambda: None, lambda: b"x") is None
    store.add("flight:record-4", b"a leader that died", ttl=0.3)
    started = time.monotonic()
    answer = SingleFlight(store, 5, poll=0.01).run("record-4", lambda: b"mine", lambda: None)
    assert answer == b"mine" and time.monotonic() - started < 2


def test_an_unavailable_upstream_is_shared_with_its_retry_time(store):
    def unavailable():
        time.sleep(0.2)
        raise UpstreamUnavailable("all taken out", 7.0)

    errors = []

    def ask(flight):
        try:
            flight.run("record-5", unavailable, lambda: None)
        except UpstreamUnavailable as error:
            errors.append(error.retry_after)

    workers = [threading.Thread(target=ask, args=(SingleFlight(store, 5, poll=0.005),))
               for _ in range(2)]
    for worker in workers:
        worker.start()
        time.sleep(0.05)
    for worker in workers:
        worker.join()
    assert errors == [7.0, 7.0]


@pytest.mark.parametrize("lease", [0.5])
def test_no_waiter_hangs_on_a_leader_that_never_finishes(store, lease):
    from facade.upstream.errors import UpstreamTimeout

    store.set("flight:record-6", b"stuck", ttl=60)  # a lease that outlives every deadline
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        SingleFlight(store, lease, poll=0.01).run("record-6", lambda: b"x", lambda: None)
    assert time.monotonic() - started < lease * 2 + 1


def test_a_leader_first_takes_what_was_stored_since_its_caller_decided(store):
    """The need was decided before the lease was taken; a result stored meanwhile (by a
    flight that has already landed) answers it without producing again."""
    flights = SingleFlight(store, 5)
    produced = []

    def produce():
        produced.append(1)
        return b"fetched again"

    assert flights.run("record-7", produce, lambda: None, lambda: b"stored meanwhile") \
        == b"stored meanwhile"
    assert flights.run("record-7", produce, lambda: None, lambda: None) == b"fetched again"
    assert produced == [1]
    assert store.get("flight:record-7") is None  # the lease is released either way
