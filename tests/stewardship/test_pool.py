"""The endpoint pool: the earliest slot, circuit breaking with backoff, breach watching."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest

from facade import metrics
from facade.stewardship.ledger import SlotLedger, Throttled
from facade.stewardship.pool import Backoff, Endpoint, UpstreamPool
from facade.stewardship.slots import to_micros
from facade.upstream import transport
from facade.upstream.errors import UpstreamConnectionError, UpstreamTimeout, UpstreamUnavailable
from facade.upstream.transport import check_deadline

from .clock import SlowStore


class Gateway:
    """Stands for a SystmOne client: answers, or fails as told."""

    def __init__(self, name: str, failure: Exception | None = None,
                 clock=time.monotonic) -> None:
        self.name, self.failure, self.calls, self.clock = name, failure, [], clock

    def ask(self, what: str) -> str:
        check_deadline()  # as the socket transport does, immediately before sending
        self.calls.append((self.clock(), what))
        if self.failure is not None:
            raise self.failure
        return f"{what} from {self.name}"

    def close(self) -> None:
        pass


QUICK_BACKOFF = Backoff(0.3, 1)


def pool(store, *gateways, request=0.05, record=0.3, max_wait=2.0, sleep=time.sleep,
         clock=time.monotonic):
    ledger = SlotLedger(store, request, record, send_margin=0.02, clock=clock, sleep=sleep)
    return UpstreamPool([Endpoint(g.name, g) for g in gateways], ledger, store, max_wait,
                        QUICK_BACKOFF)


def breaches(endpoint: str) -> float:
    text = metrics.render()[0].decode()
    line = next(line for line in text.splitlines()
                if line.startswith(f'facade_breaches_detected_total{{endpoint="{endpoint}"}}'))
    return float(line.rsplit(" ", 1)[1])


def test_work_goes_to_the_endpoint_with_the_earliest_free_slot(store, clock, monkeypatch):
    """On the stopped clock (the ledger's, the store's, and the transport's send check and
    send times), so what is asserted is the schedule itself, not how fast the machine ran."""
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=clock, time=clock))
    first, second = Gateway("pc1:40700", clock=clock), Gateway("pc2:40700", clock=clock)
    upstream = pool(store, first, second, clock=clock, sleep=clock.sleep)
    before = [breaches(gateway.name) for gateway in (first, second)]
    began, interval = clock.us, upstream.ledger.rule.request_us
    answers = [upstream.call("GetFunctions", lambda g: g.ask("x")) for _ in range(4)]
    assert sorted(answers) == ["x from pc1:40700"] * 2 + ["x from pc2:40700"] * 2
    # Two endpoints, two requests a slot: four requests after one interval's wait, not three.
    for gateway in (first, second):
        assert [to_micros(sent) for sent, _ in gateway.calls] == [began, began + interval]
    assert clock.slept == [interval]
    assert [breaches(gateway.name) for gateway in (first, second)] == before


def test_each_endpoints_requests_keep_the_interval(store):
    only = Gateway("pc1:40700")
    upstream = pool(store, only)
    for _ in range(4):
        upstream.call("GetPatientRecord", lambda g: g.ask("record"), full_record=True)
    times = [t for t, _ in only.calls]
    assert all(b - a >= 0.3 - 0.002 for a, b in itertools.pairwise(times))


def test_a_full_budget_is_a_throttled_refusal_with_the_time_to_retry(store):
    upstream = pool(store, Gateway("pc1:40700"), record=5.0, max_wait=1.0)
    upstream.call("GetPatientRecord", lambda g: g.ask("a"), full_record=True)
    with pytest.raises(Throttled) as refused:
        upstream.call("GetPatientRecord", lambda g: g.ask("b"), full_record=True)
    assert 3.0 < refused.value.retry_after <= 4.05  # then the slot is max_wait away


@pytest.mark.parametrize("failure", [UpstreamTimeout("no reply"),
                                     UpstreamConnectionError("refused")])
def test_an_endpoint_that_stops_answering_is_taken_out_then_retried(store, failure):
    broken, healthy = Gateway("pc1:40700", failure), Gateway("pc2:40700")
    upstream = pool(store, broken, healthy)
    with pytest.raises(type(failure)) as failed:
        while True:  # until the broken one is chosen
            upstream.call("GetFunctions", lambda g: g.ask("x"))
    assert failed.value.retry_after == 0.3  # the backoff: the caller's Retry-After
    for _ in range(3):
        assert upstream.call("GetFunctions", lambda g: g.ask("x")) == "x from pc2:40700"
    ready, detail = upstream.readiness()
    assert ready and detail["endpoints"]["pc1:40700"] == "taken out"
    time.sleep(0.6)  # past the first backoff (0.3 s)
    broken.failure = None
    answers = {upstream.call("GetFunctions", lambda g: g.ask("x")) for _ in range(8)}
    assert "x from pc1:40700" in answers


def test_with_every_endpoint_out_the_answer_is_unavailable_not_a_timeout(store):
    upstream = pool(store, Gateway("pc1:40700", UpstreamTimeout("no reply")))
    with pytest.raises(UpstreamTimeout):
        upstream.call("GetFunctions", lambda g: g.ask("x"))
    with pytest.raises(UpstreamUnavailable) as unavailable:
        upstream.call("GetFunctions", lambda g: g.ask("x"))
    assert 0 < unavailable.value.retry_after <= 0.3
    ready, detail = upstream.readiness()
    assert not ready and detail["retry_after"] >= 0


def test_backoff_doubles_up_to_its_longest():
    assert [Backoff(2, 60).after(n) for n in (1, 2, 3, 6, 10)] == [2, 4, 8, 60, 60]


def test_a_send_closer_than_the_interval_is_counted_as_a_breach(store):
    upstream = pool(store, Gateway("pc9:40700"))
    upstream.call("GetFunctions", lambda g: g.ask("x"))
    before = breaches("pc9:40700")
    # Another process's send at the moment this one leaves: what the ledger makes impossible.
    store.set("pool:sent:request:pc9:40700", repr(time.time() + 0.05).encode(), ttl=5)
    upstream.call("GetFunctions", lambda g: g.ask("x"))
    assert breaches("pc9:40700") == before + 1


def test_a_full_record_closer_than_the_record_interval_is_counted_as_a_breach(store):
    """Its request spacing is fine (nothing was sent before it): the record lane's is not."""
    upstream = pool(store, Gateway("pc8:40700"))
    before = breaches("pc8:40700")
    # Another process's full record at the moment this one leaves.
    store.set("pool:sent:record:pc8:40700", repr(time.time() + 0.05).encode(), ttl=5)
    upstream.call("GetPatientRecord", lambda g: g.ask("record"), full_record=True)
    assert breaches("pc8:40700") == before + 1


def test_each_failure_in_a_row_takes_the_endpoint_out_for_twice_as_long(store):
    broken = Gateway("pc7:40700", UpstreamTimeout("no reply"))
    upstream = pool(store, broken)  # QUICK_BACKOFF: 0.3 s, doubling, at most 1 s
    pauses = []
    for _ in range(2):
        with pytest.raises(UpstreamTimeout) as failed:
            upstream.call("GetFunctions", lambda g: g.ask("x"))
        pauses.append(failed.value.retry_after)
        time.sleep(failed.value.retry_after + 0.05)  # back in once the pause is over
    assert pauses == [0.3, 0.6]


def test_a_caller_that_wakes_too_late_books_again_rather_than_send(store):
    """Sending late would crowd the caller booked next; the slot is released instead, and
    booking again gives "now": the other caller's start is an interval behind by then."""
    overslept = []

    def late_once(seconds: float) -> None:
        time.sleep(seconds + (0.06 if not overslept else 0))
        overslept.append(seconds)
    only = Gateway("pc1:40700")
    upstream = pool(store, only, sleep=late_once)
    upstream.call("GetFunctions", lambda g: g.ask("first"))
    booked_next = upstream.ledger.reserve("pc1:40700", max_wait=1.0)  # another caller's slot
    assert upstream.call("GetFunctions", lambda g: g.ask("second")) == "second from pc1:40700"
    assert len(overslept) == 1  # woke late once; the new slot needed no more sleep
    sent = only.calls[-1][0]
    assert sent - booked_next.start >= 0.05  # after the other caller's slot, not beside it


def test_a_store_slower_than_half_the_margin_gets_no_request_sent_late(store, clock, monkeypatch):
    """On the stopped clock: every booking's answer takes 30 ms to come back (a busy Redis),
    longer than half the 20 ms margin, so counting the wait from the answer would send each
    request up to 30 ms after its booked start, crowding the next caller's. None is sent:
    each slot is given back, and after the last rebooking the caller is refused (429)."""
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=clock, time=clock))
    only = Gateway("pc1:40700", clock=clock)
    upstream = pool(store, only, clock=clock, sleep=clock.sleep)
    upstream.ledger.store = SlowStore(store, clock, to_micros(0.015), to_micros(0.015))
    with pytest.raises(Throttled):
        upstream.call("GetFunctions", lambda g: g.ask("late"))
    assert only.calls == [] and clock.slept == []  # given back at once, not slept on
    upstream.ledger.store = store  # answering at once again: sent, in a slot given back
    assert upstream.call("GetFunctions", lambda g: g.ask("now")) == "now from pc1:40700"
    assert [to_micros(sent) for sent, _ in only.calls] == [clock.us]


def test_a_caller_booking_again_waits_no_longer_than_its_maximum_in_all(store, clock,
                                                                      monkeypatch):
    """On the stopped clock: the caller oversleeps its slot by a second (others book the
    next ones meanwhile) and must book again; what it may still wait is what is left of
    its maximum, not a fresh maximum, so with none left it is refused, not queued."""
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=clock, time=clock))
    only = Gateway("pc1:40700", clock=clock)

    overslept = []

    def oversleep(seconds: float) -> None:
        if overslept:  # once
            clock.sleep(seconds)
            return
        overslept.append(seconds)
        clock.sleep(seconds + 1.0)
        for _ in range(10):  # other callers book the slots after it meanwhile
            upstream.ledger.reserve("pc1:40700", max_wait=10)
    upstream = pool(store, only, clock=clock, sleep=oversleep, max_wait=1.0)
    upstream.ledger.reserve("pc1:40700", max_wait=0)  # someone is first: this caller waits
    with pytest.raises(Throttled):
        upstream.call("GetFunctions", lambda g: g.ask("late"))
    assert only.calls == []
