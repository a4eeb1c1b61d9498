"""Fixtures for the stewardship suite: every test runs once per backend (embedded, Redis).

The Redis backend is tested against a real server: a private ``redis-server``
started for the session when the binary is on PATH, else the server named by
``FACADE_TEST_REDIS_URL``; otherwise the Redis half is skipped, saying why.
Each test gets its own key namespace, so a shared server is never flushed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from facade.stewardship import SlotLedger, Store

from .workers import RECORD_INTERVAL, REQUEST_INTERVAL, StoreSpec


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary:
        with _private_redis(binary, tmp_path_factory.mktemp("redis")) as url:
            yield url
    elif os.environ.get("FACADE_TEST_REDIS_URL"):
        yield os.environ["FACADE_TEST_REDIS_URL"]
    else:
        pytest.skip("Redis backend not tested: no redis-server on PATH and "
                    "FACADE_TEST_REDIS_URL is not set (e.g. apt-get install redis-server)")


@contextmanager
def _private_redis(binary: str, directory: Path) -> Iterator[str]:
    """A throwaway redis-server on a free port, without persistence."""
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer on port {port} within {timeout} s")


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
