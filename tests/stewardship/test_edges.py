"""Stewardship at its exact edges: the boundaries the other tests pass by.

Each expectation comes from what is documented (README, CONFIG.md, the modules'
docstrings and comments) or from SystmOne's rules, written out here rather than read
from the module's constants: the local cache's 64 entries and 0.25 s of trust, a top-up
from 60 s after the last one, no top-ups within 5 minutes of midnight in London, the
5 ms of send-time jitter before a breach is counted, a waiter's bound of two leases, the
Redis key layout and the embedded store's file in WAL mode.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import threading
import time
import uuid
import weakref
from contextlib import closing
from types import SimpleNamespace

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from facade import metrics
from facade.stewardship import cache as cache_module
from facade.stewardship import open_store
from facade.stewardship import pool as pool_module
from facade.stewardship import singleflight as singleflight_module
from facade.stewardship.cache import Entry, ResourceCache
from facade.stewardship.ledger import SlotLedger
from facade.stewardship.planner import LONDON, Freshness, Step, clinical_step
from facade.stewardship.pool import Backoff, Endpoint, UpstreamPool
from facade.stewardship.redis_store import RedisStore
from facade.stewardship.singleflight import SingleFlight
from facade.stewardship.slots import SlotRule
from facade.upstream import transport
from facade.upstream.errors import (
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from facade.upstream.transport import check_deadline

RETAIN = {"clinical": 60.0, "demographics": 60.0}


def sample(name: str, **labels: str) -> float | None:
    """One series of the registry /metrics serves (as tests/test_metrics.py reads it)."""
    body, _ = metrics.render()
    for family in text_string_to_metric_families(body.decode()):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


def unique(what: str) -> str:
    """A name of this test's own: metrics are process-wide, and each test runs per backend."""
    return f"{what}-{uuid.uuid4().hex[:8]}"


# -- the local cache of decoded entries --------------------------------------------------


def stopped_monotonic(monkeypatch: pytest.MonkeyPatch, start: float = 1000.0) -> list[float]:
    """The cache's time.monotonic, stopped at ``start``: set now[0] to move it."""
    now = [start]
    monkeypatch.setattr(cache_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def store_reads(store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real_get = store.get

    def get(key: str) -> bytes | None:
        reads.append(key)
        return real_get(key)
    monkeypatch.setattr(store, "get", get)
    return reads


def test_a_worker_keeps_its_64_latest_entries_and_lets_the_oldest_go(store, monkeypatch):
    """cache.py: 64 decoded entries each worker keeps; trusted ones cost no store read."""
    stopped_monotonic(monkeypatch)  # every copy stays within its trust
    cache = ResourceCache(store, RETAIN)
    for number in range(65):
        cache.put("clinical", f"d{number}", [number], 100.0)
    reads = store_reads(store, monkeypatch)
    for number in range(1, 65):  # the 64 latest: the worker's own copies
        assert cache.get("clinical", f"d{number}").data == [number]
    assert reads == []
    assert cache.get("clinical", "d0").data == [0]  # the oldest went: read again
    assert reads != []


def test_a_local_copy_is_trusted_for_less_than_a_quarter_second_not_at_it(store, monkeypatch):
    """README: a worker reuses its decoded entry for 0.25 s without re-reading its stamp."""
    now = stopped_monotonic(monkeypatch)
    reader = ResourceCache(store, RETAIN)  # the default trust
    ResourceCache(store, RETAIN).put("clinical", "d1", ["old"], 100.0)
    assert reader.get("clinical", "d1").data == ["old"]  # read and remembered at 1000.0
    ResourceCache(store, RETAIN).put("clinical", "d1", ["old", "new"], 100.0, 160.0)
    now[0] = 1000.0 + 0.2499
    assert reader.get("clinical", "d1").data == ["old"]  # still trusted: its own copy
    now[0] = 1000.25
    assert reader.get("clinical", "d1").data == ["old", "new"]  # 0.25 s on: stamp read


def test_a_mapped_records_resource_lists_may_be_referred_to_weakly(store):
    """What is derived from a version (rendered pages) is kept by weak reference to the
    entry's resource lists, at the top or by type under "resources" (a mapped record)."""
    record = {"resources": {"Observation": [{"id": "o1"}], "Condition": []},
              "unserved": {"kind": 1}}
    written = ResourceCache(store, RETAIN).put("clinical", "d1", record, 100.0)
    decoded = ResourceCache(store, RETAIN).get("clinical", "d1")
    for entry in (written, decoded):
        assert entry.data == record
        for resources in entry.data["resources"].values():
            assert weakref.ref(resources)() is resources
    top_level = ResourceCache(store, RETAIN).put("clinical", "d2", [{"id": "p"}], 100.0)
    assert weakref.ref(top_level.data)() is top_level.data


# -- the planner: top-ups and midnight ---------------------------------------------------

WINDOWS = Freshness(demographics=300, clinical=300, top_up_after=60)


def record_at(now: float, fetched_ago: float, topped_up_ago: float) -> Entry:
    return Entry([], now - fetched_ago, now - topped_up_ago, "s")


def test_a_record_is_topped_up_from_exactly_top_up_after():
    """CONFIG.md: after FACADE_TOP_UP_AFTER seconds a cached record gets a top-up."""
    noon = dt.datetime(2026, 11, 24, 12, 0, tzinfo=LONDON).timestamp()
    assert clinical_step(record_at(noon, 120, 59.5), noon, WINDOWS, False) is Step.CACHE
    assert clinical_step(record_at(noon, 120, 60), noon, WINDOWS, False) is Step.TOP_UP


@pytest.mark.parametrize("day", [dt.date(2026, 11, 24), dt.date(2026, 7, 15)],
                         ids=["GMT", "BST"])
@pytest.mark.parametrize(("hour", "minute", "second", "step"), [
    (23, 54, 59, Step.TOP_UP),
    (23, 55, 0, Step.CACHE),  # five minutes before midnight: none
    (0, 0, 0, Step.CACHE),
    (0, 4, 59, Step.CACHE),
    (0, 5, 0, Step.TOP_UP),  # five minutes after: again
])
def test_no_top_up_within_five_minutes_of_midnight_in_london(day, hour, minute, second, step):
    """planner.py: 5 minutes either side of (London's) midnight without top-ups."""
    now = dt.datetime.combine(day, dt.time(hour, minute, second), tzinfo=LONDON).timestamp()
    assert clinical_step(record_at(now, 120, 120), now, WINDOWS, False) is step


# -- the endpoint pool: metrics, readiness, breaches ---------------------------------------


class Gateway:
    """Stands for a SystmOne client: checks its send deadline, then answers or fails."""

    def __init__(self, name: str, failure: Exception | None = None) -> None:
        self.name, self.failure = name, failure

    def ask(self, what: str) -> str:
        check_deadline()  # as the socket transport does, immediately before sending
        if self.failure is not None:
            raise self.failure
        return what

    def close(self) -> None:
        pass


DEFAULT_BACKOFF = Backoff(2, 60)


def stopped_pool(store, clock, monkeypatch, *gateways, wall=None, backoff=DEFAULT_BACKOFF):
    """A pool on SystmOne's intervals and the stopped clock; the transport's send times
    from ``wall`` (a function) when given."""
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=clock, time=wall or clock))
    ledger = SlotLedger(store, 1.0, 30.0, send_margin=0.02, clock=clock, sleep=clock.sleep)
    return UpstreamPool([Endpoint(g.name, g) for g in gateways], ledger, store, 10.0, backoff,
                        wall_clock=wall or time.time)


def fail(error: Exception):
    def action(gateway):
        gateway.ask("x")
        raise error
    return action


@pytest.mark.parametrize(("action", "raised", "outcome"), [
    (lambda gateway: gateway.ask("x"), None, "ok"),
    (fail(ValueError("a bug")), ValueError, "error"),
    (fail(UpstreamTimeout("no reply")), UpstreamTimeout, "timeout"),
    (fail(UpstreamConnectionError("refused")), UpstreamConnectionError, "unreachable"),
])
def test_an_upstream_call_is_counted_by_outcome_and_timed_from_start_to_end(
        store, clock, monkeypatch, action, raised, outcome):
    """metrics.py: the outcomes dashboards expect; the duration is how long the call took
    (0.25 s here), whatever its outcome."""
    gateway = Gateway(unique("pc") + ":40700")
    upstream = stopped_pool(store, clock, monkeypatch, gateway)
    ticks = itertools.count(5000.0, 0.25)  # each reading 0.25 s after the one before
    monkeypatch.setattr(pool_module, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    function = unique("GetFunctions")
    if raised is None:
        upstream.call(function, action)
    else:
        with pytest.raises(raised):
            upstream.call(function, action)
    assert sample("facade_upstream_calls_total", function=function, endpoint=gateway.name,
                  outcome=outcome) == 1
    assert sample("facade_upstream_call_duration_seconds_count", function=function) == 1
    assert sample("facade_upstream_call_duration_seconds_sum", function=function) == 0.25


def test_readiness_says_when_the_first_endpoint_returns_and_the_gauge_says_out(
        store, clock, monkeypatch):
    """README: with every endpoint taken out, 503 + Retry-After: the time until the first
    comes back, at least a second; facade_upstream_available is 0 for an endpoint out."""
    wall = [1_000_000.0]
    first, second = (Gateway(unique(name) + ":40700", UpstreamConnectionError("refused"))
                     for name in ("pc1", "pc2"))
    upstream = stopped_pool(store, clock, monkeypatch, first, second,
                            wall=lambda: wall[0], backoff=Backoff(30, 60))
    assert upstream.readiness() == (True, {"endpoints": {first.name: "available",
                                                         second.name: "available"}})
    with pytest.raises(UpstreamConnectionError):
        upstream.call("GetFunctions", lambda g: g.ask("x"))  # one out until 1_000_030
    assert sorted(upstream.readiness()[1]["endpoints"].values()) == ["available", "taken out"]
    wall[0] += 5
    with pytest.raises(UpstreamConnectionError):
        upstream.call("GetFunctions", lambda g: g.ask("x"))  # the other until 1_000_035
    for gateway in (first, second):
        assert sample("facade_upstream_available", endpoint=gateway.name) == 0
    wall[0] = 1_000_010.0
    ready, detail = upstream.readiness()
    assert not ready and detail["retry_after"] == 20.0
    assert set(detail["endpoints"].values()) == {"taken out"}
    wall[0] = 1_000_029.5
    assert upstream.readiness()[1]["retry_after"] == 1.0  # never less than a second


def breaches(endpoint: str) -> float:
    return sample("facade_breaches_detected_total", endpoint=endpoint) or 0.0


@pytest.mark.parametrize(("first", "second", "breached"), [
    (0.0, 0.995, False),  # a second less 5 ms apart: within the jitter allowed
    (0.0, 0.9949, True),
    (1_750_000_000.0, 1_750_000_000.5, True),  # on a wall clock of today
    (1_750_000_000.0, 1_750_000_001.0, False),
])
def test_sends_closer_than_a_second_less_5_ms_are_a_breach(store, clock, monkeypatch,
                                                           first, second, breached):
    """pool.py: 5 ms of send-time jitter is allowed before two sends count as a breach."""
    sends = iter([first, second])  # the wall-clock times the two requests leave
    gateway = Gateway(unique("pc") + ":40700")
    upstream = stopped_pool(store, clock, monkeypatch, gateway, wall=lambda: next(sends))
    upstream.call("GetFunctions", lambda g: g.ask("x"))
    before = breaches(gateway.name)
    upstream.call("GetFunctions", lambda g: g.ask("x"))
    assert breaches(gateway.name) == before + breached


# -- the Redis key layout ----------------------------------------------------------------


@pytest.fixture
def redis_store(redis_url):
    namespace = unique("test-edges") + ":"
    store = RedisStore.from_url(redis_url, namespace=namespace)
    yield store
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=namespace + "*"):
            client.delete(key)
    finally:
        client.close()
        store.close()


def test_the_ledger_keeps_the_documented_redis_keys(redis_store):
    """redis_store.py: per endpoint, slots:{<endpoint>}:requests (a sorted set of booked
    request starts) and slots:{<endpoint>}:record (the next free record start), under the
    namespace, expiring; other instances (and other versions) find the ledger there."""
    rule = SlotRule(request_us=1_000_000, record_us=30_000_000)
    booking = redis_store.book_slot("pc1:40700", rule, True, 0)
    assert booking.granted
    client, tag = redis_store.client, f"{redis_store.namespace}slots:{{pc1:40700}}"
    assert client.zrange(f"{tag}:requests", 0, -1, withscores=True) == [
        (str(booking.start_us).encode(), float(booking.start_us))]
    assert int(client.get(f"{tag}:record")) == booking.start_us + 30_000_000
    assert client.pttl(f"{tag}:requests") > 0 and client.pttl(f"{tag}:record") > 0


# -- the embedded store's file ----------------------------------------------------------


def test_the_embedded_store_is_one_wal_file_in_the_state_dir(tmp_path):
    """sqlite_store.py: WAL lets readers go on while one process writes; the file is
    stewardship/store.sqlite3 in the state dir, where every process (and the next
    version, in a rolling restart) must find the same ledger."""
    with open_store(tmp_path) as store:
        store.set("k", b"v")
        path = tmp_path / "stewardship" / "store.sqlite3"
        with closing(sqlite3.connect(path)) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("SELECT value FROM kv WHERE key = 'k'").fetchone() == (b"v",)


# -- single-flight ----------------------------------------------------------------------


class StoppedTime:
    """singleflight's time: monotonic stands still; each sleep moves it by the poll and
    runs what the test set to happen then."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.at_sleep = lambda: None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.at_sleep()


@pytest.fixture
def stopped_time(monkeypatch) -> StoppedTime:
    stopped = StoppedTime()
    monkeypatch.setattr(singleflight_module, "time", stopped)
    return stopped


class Leader:
    """Another worker leading the flight for ``key``: it holds the lease until finished."""

    def __init__(self, store, key: str, produce) -> None:
        self.leading, self.finishing = threading.Event(), threading.Event()
        self.outcome: dict = {}

        def work():
            self.leading.set()
            assert self.finishing.wait(10)
            return produce()

        def run():
            try:
                self.outcome["result"] = SingleFlight(store, 5.0).run(key, work, lambda: None)
            except Exception as error:
                self.outcome["error"] = error
        self.thread = threading.Thread(target=run)
        self.thread.start()
        assert self.leading.wait(10)

    def finish(self) -> None:
        self.finishing.set()
        self.thread.join(10)


def wait_for(store, stopped: StoppedTime, leader: Leader, key: str, finish_when=None):
    """A second worker (lease 5 s, a look each second) waiting for ``leader``, whose result
    is gone from the cache; the leader finishes during the waiter's first sleep, or once
    ``finish_when()`` says so. What the waiter answered, and whether it called itself."""
    produced = []

    def at_sleep():
        if finish_when is None or finish_when():
            leader.finish()
    stopped.at_sleep = at_sleep
    try:
        waiter = SingleFlight(store, 5.0, poll=1.0)
        return waiter.run(key, lambda: produced.append(1) or b"mine", lambda: None), produced
    finally:
        leader.finish()


def raising(error: Exception):
    def produce():
        raise error
    return produce


def test_nothing_found_by_the_leader_is_the_waiters_answer_too(store, stopped_time):
    leader = Leader(store, "record-1", lambda: None)
    answer, produced = wait_for(store, stopped_time, leader, "record-1")
    assert answer is None and produced == []  # no call of its own
    assert leader.outcome == {"result": None}


def test_the_leaders_upstream_error_reaches_the_waiter_with_its_message(store, stopped_time):
    leader = Leader(store, "record-2",
                    raising(UpstreamProtocolError("not a valid answer to GetPatientRecord")))
    with pytest.raises(UpstreamUnavailable) as shared_error:
        wait_for(store, stopped_time, leader, "record-2")
    assert "not a valid answer to GetPatientRecord" in shared_error.value.message
    assert isinstance(leader.outcome["error"], UpstreamProtocolError)


def test_a_leader_that_breaks_leaves_its_waiter_a_503(store, stopped_time):
    """Not the leader's own exception (a bug elsewhere is no answer), but unavailable."""
    leader = Leader(store, "record-3", raising(KeyError("Code")))
    with pytest.raises(UpstreamUnavailable):
        wait_for(store, stopped_time, leader, "record-3")
    assert isinstance(leader.outcome["error"], KeyError)


def test_a_waiter_gives_up_on_a_leader_elsewhere_once_two_leases_have_passed(
        store, stopped_time):
    """Every wait is bounded: looking each second, with a 5 s lease, the waiter still
    looks at 10 s and gives up at its first look past it."""
    leader = Leader(store, "record-4", lambda: b"too late")
    with pytest.raises(UpstreamTimeout):
        wait_for(store, stopped_time, leader, "record-4", finish_when=lambda: False)
    assert stopped_time.now == 100.0 + 11


def test_at_two_leases_a_waiter_whose_leaders_result_is_gone_leads_instead(
        store, stopped_time):
    """The leader finished (done) just as two leases passed, but its result is no longer
    there to share: the waiter makes the call itself rather than give up."""
    leader = Leader(store, "record-5", lambda: b"the record")
    answer, produced = wait_for(store, stopped_time, leader, "record-5",
                                finish_when=lambda: stopped_time.now == 100.0 + 10)
    assert answer == b"mine" and produced == [1]


def test_a_thread_waiting_for_its_workers_leader_waits_two_leases(store, monkeypatch):
    """Within a worker, a second thread waits for the first one's call for at most two
    leases (the bound of the leader's own work, twice over)."""
    flights = SingleFlight(store, lease_seconds=0.05)
    started, release = threading.Event(), threading.Event()

    def slow() -> bytes:
        started.set()
        release.wait(10)
        return b"late"
    leader = threading.Thread(target=flights.run, args=("record-6", slow, lambda: None))
    leader.start()
    assert started.wait(10)
    waits, real_wait, me = [], threading.Event.wait, threading.get_ident()

    def recorded(event, timeout=None):
        if threading.get_ident() == me:
            waits.append(timeout)
        return real_wait(event, timeout)
    monkeypatch.setattr(threading.Event, "wait", recorded)
    try:
        began = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            flights.run("record-6", lambda: b"mine", lambda: None)
        waited = time.monotonic() - began
    finally:
        monkeypatch.undo()
        release.set()
        leader.join(10)
    assert waits == [pytest.approx(0.1)] and waited >= 0.1 - 0.005
