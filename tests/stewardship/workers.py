"""Work done in separate processes by the cross-process tests (spawned, so importable)."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facade.stewardship import SlotLedger, Store, Throttled, open_store

#: Compressed SystmOne limits, so the suite runs in seconds.
REQUEST_INTERVAL = 0.05
RECORD_INTERVAL = 0.3

#: Set in each worker process: the barrier every process reaches before it begins.
_start_line: Any = None


def run_together(function: Callable[..., Any], *arguments: Sequence[Any]) -> list[Any]:
    """``function`` over the zipped arguments, one spawned process each, started together.

    Each call waits at a shared barrier once it is ready (see ``_set_off``),
    so no process has finished before the slowest to spawn has begun.
    """
    count = len(arguments[0])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=context, initializer=_take_start_line,
                             initargs=(context.Barrier(count),)) as pool:
        return list(pool.map(function, *arguments))


def _take_start_line(barrier: Any) -> None:
    global _start_line
    _start_line = barrier


def _set_off() -> float:
    """Wait for every other process, then go: the time.time() of the start."""
    _start_line.wait(timeout=60)
    return time.time()


@dataclass(frozen=True)
class StoreSpec:
    state_dir: Path
    redis_url: str | None
    namespace: str

    @property
    def kind(self) -> str:
        return "redis" if self.redis_url else "sqlite"

    def open(self) -> Store:
        return open_store(self.state_dir, self.redis_url, namespace=self.namespace)


@dataclass(frozen=True)
class Hammer:
    """One process's share of the load on one endpoint."""

    spec: StoreSpec
    endpoint: str
    request_interval: float
    record_interval: float
    duration: float
    threads: int
    full_share: float
    max_wait: float
    seed: int


@dataclass(frozen=True)
class Grant:
    ledger_start_us: int
    full_record: bool
    woke_us: int  # time.monotonic() when the caller's wait ended, in µs


def hammer(job: Hammer) -> tuple[list[Grant], int]:
    """Reserve as fast as threads allow until the time is up; the grants and the refusals."""
    grants: list[Grant] = []
    refusals = [0]
    with job.spec.open() as store:
        ledger = SlotLedger(store, job.request_interval, job.record_interval)
        deadline = _set_off() + job.duration
        workers = [threading.Thread(target=_hammer_thread,
                                    args=(job, ledger, deadline,
                                          random.Random(job.seed * 100 + n), grants, refusals))
                   for n in range(job.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return grants, refusals[0]


def _hammer_thread(job: Hammer, ledger: SlotLedger, deadline: float, rng: random.Random,
                   grants: list[Grant], refusals: list[int]) -> None:
    while time.time() < deadline:
        full = rng.random() < job.full_share
        try:
            slot = ledger.reserve(job.endpoint, full, job.max_wait)
        except Throttled:
            refusals[0] += 1  # only a statistic: the lost update a race could cause is harmless
            time.sleep(rng.uniform(0, job.request_interval / 2))
            continue
        ledger.wait_for(slot)
        grants.append(Grant(slot.ledger_start_us, full, time.monotonic_ns() // 1000))


def race_to_add(spec: StoreSpec, keys: list[str]) -> list[str]:
    """Try to add every key at the same moment as the other processes; the keys won."""
    with spec.open() as store:
        _set_off()
        return [key for key in keys if store.add(key, b"mine", ttl=30)]


def open_and_write(state_dir: Path, key: str) -> bytes | None:
    """Open the embedded store at the same moment as other processes, then write and read."""
    _set_off()
    with open_store(state_dir, None) as store:
        store.set(key, key.encode())
        return store.get(key)



def share_one_flight(spec: StoreSpec, key: str, threads: int) -> list[bytes | None]:
    """Several threads of this process, at the same moment as the other processes, ask
    for the same thing; the producer counts itself in the store and caches its answer."""
    from facade.stewardship.singleflight import SingleFlight

    with spec.open() as store:
        flights = SingleFlight(store, lease_seconds=10, poll=0.005)

        def produce() -> bytes:
            if not store.add(f"produced:{key}", b"1", ttl=60):
                store.set(f"produced-again:{key}", b"1", ttl=60)
            time.sleep(0.3)  # long enough for every other caller to arrive
            store.set(f"answer:{key}", b"the record", ttl=60)
            return b"the record"

        _set_off()
        answers: list[bytes | None] = []
        workers = [threading.Thread(target=lambda: answers.append(
            flights.run(key, produce, lambda: store.get(f"answer:{key}"))))
            for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return answers
