"""Cached reads while SystmOne is silent, against a real `facade serve`: the bulkhead keeps
threads for what the cache answers (facade/stewardship/bulkhead.py)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .relay import SilenceableRelay
from .test_serve import Served, get, token

UNCACHED = 20


@pytest.fixture
def relay(simulator):
    relay = SilenceableRelay(simulator.address)
    yield relay
    relay.close()


def test_a_cached_read_stays_fast_while_systmone_is_silent(relay, tmp_path, practice):
    served = Served({"FACADE_UPSTREAM": "{}:{}".format(*relay.address),
                     "FACADE_READ_TIMEOUT": "10", "FACADE_MAX_WAIT": "10",
                     "FACADE_GRACEFUL_TIMEOUT": "1"}, tmp_path)
    try:
        served.wait_ready()
        base = f"http://127.0.0.1:{served.port}/fhir"
        bearer = token(tmp_path / "state", base)
        numbers = [p.identity.value for p in practice.index.summaries
                   if p.identity.kind == "NHSNumber"][:UNCACHED + 1]
        found = get(f"{base}/Patient?identifier={numbers[0]}", bearer)[1]
        cached = f"{base}/Patient/{found['entry'][0]['resource']['id']}"
        assert get(cached, bearer)[0] == 200

        relay.silent.set()
        with ThreadPoolExecutor(UNCACHED) as waiting:
            uncached = [waiting.submit(get, f"{base}/Patient?identifier={number}", bearer)
                        for number in numbers[1:]]
            time.sleep(1.0)  # they are all in: waiting for a slot or for SystmOne's reply
            assert sum(not f.done() for f in uncached) >= 4
            took = []
            for _ in range(50):
                started = time.monotonic()
                status, _ = get(cached, bearer)
                took.append(time.monotonic() - started)
                assert status == 200
            statuses = [f.result()[0] for f in uncached]
        p99 = statistics.quantiles(took, n=100)[98]
        assert p99 < 0.100, f"cached read p99 {p99 * 1000:.0f} ms while SystmOne is silent"
        # those the bulkheads refused were told at once when to come back
        assert set(statuses) <= {429, 503, 504} and 429 in statuses, statuses
    finally:
        relay.silent.clear()
        served.stop()
