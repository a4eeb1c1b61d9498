"""Fixtures for the stewardship suite: every test runs once per backend (embedded, Redis).

The Redis backend is tested against a real server: a private ``redis-server``
started for the session when the binary is on PATH, else the server named by
``FACADE_TEST_REDIS_URL``; otherwise the Redis half is skipped, saying why.
Each test gets its own key namespace, so a shared server is never flushed.

A test that asks for ``clock`` runs its store's ledger on a stopped clock (see clock.py).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest
import redis

from facade.stewardship import SlotLedger, Store

from ..redisserver import private_redis
from .clock import StoppedClock, stop_store_clock
from .workers import RECORD_INTERVAL, REQUEST_INTERVAL, StoreSpec


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary:
        with private_redis(binary, tmp_path_factory.mktemp("redis")) as url:
            yield url
    elif os.environ.get("FACADE_TEST_REDIS_URL"):
        yield os.environ["FACADE_TEST_REDIS_URL"]
    else:
        pytest.skip("Redis backend not tested: no redis-server on PATH and "
                    "FACADE_TEST_REDIS_URL is not set (e.g. apt-get install redis-server)")


@pytest.fixture(params=["sqlite", "redis"])
def spec(request, tmp_path) -> Iterator[StoreSpec]:
    """How to open the backend under test; picklable, so worker processes open it too."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    spec = StoreSpec(tmp_path / "state", redis_url, f"test-{uuid.uuid4().hex[:12]}:")
    yield spec
    if redis_url:  # leave a shared server as it was
        client = redis.Redis.from_url(redis_url)
        try:
            for key in client.scan_iter(match=spec.namespace + "*"):
                client.delete(key)
        finally:
            client.close()


@pytest.fixture
def store(spec) -> Iterator[Store]:
    with spec.open() as opened:
        yield opened


@pytest.fixture
def ledger(store) -> SlotLedger:
    return SlotLedger(store, REQUEST_INTERVAL, RECORD_INTERVAL)


@pytest.fixture
def clock(store, monkeypatch) -> StoppedClock:
    """The store's ledger clock, stopped: it moves only when the test moves it (or sleeps)."""
    stopped = StoppedClock()
    stop_store_clock(store, stopped, monkeypatch)
    return stopped
