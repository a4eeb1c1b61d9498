"""Shared fixtures: TPP's reference files, a small generated practice, a live simulator."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from facade.upstream.client import DEMO_API_KEY, SystmOneClient
from facade.upstream.device import MemoryDeviceIdStore
from facade.upstream.transport import SocketTransport, Timeouts
from simulator import RunningSimulator, SimulatorConfig, create_server
from simulator.practice import Practice, generated_practice

REPO = Path(__file__).resolve().parents[1]
TPP_REFERENCE = REPO.parent / "shared" / "reference" / "tpp"
AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="session")
def tpp_reference() -> Path:
    """TPP's published specification, XSDs and examples (kept beside the repository)."""
    if not TPP_REFERENCE.is_dir():
        pytest.skip(f"TPP reference material not found at {TPP_REFERENCE} "
                    "(it lives in ../shared beside a development checkout)")
    return TPP_REFERENCE


@pytest.fixture(scope="session")
def practice() -> Practice:
    return generated_practice(40, seed=7, as_of=AS_OF)


@dataclass
class LiveSimulator:
    running: RunningSimulator
    config: SimulatorConfig
    clients: list[SystmOneClient] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return self.running.address

    @property
    def store(self):
        return self.running.server.store

    def messages(self, count: int, timeout: float = 5.0, **filters):
        """The audit once it holds ``count`` matching messages (it is written after replies)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.store.messages(**filters)
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.01)

    def client(self, read_timeout: float = 10.0, **kwargs) -> SystmOneClient:
        host, port = self.address
        client = SystmOneClient(SocketTransport(host, port, Timeouts(2.0, read_timeout)),
                                api_key=DEMO_API_KEY, endpoint=f"{host}:{port}",
                                device_ids=kwargs.pop("device_ids", MemoryDeviceIdStore()),
                                **kwargs)
        self.clients.append(client)
        return client


@pytest.fixture
def start_simulator(tmp_path, practice) -> Iterator[Callable[..., LiveSimulator]]:
    """Start a simulator on a free port: ``start_simulator(request_interval=0, ...)``."""
    started: list[LiveSimulator] = []

    def start(practice_override: Practice | None = None, **settings) -> LiveSimulator:
        config = replace(SimulatorConfig(port=0, request_interval=0, record_interval=0,
                                         state_dir=tmp_path / f"state{len(started)}"), **settings)
        running = RunningSimulator(create_server(config, practice_override or practice,
                                                 today=lambda: AS_OF)).start()
        started.append(LiveSimulator(running, config))
        return started[-1]

    yield start
    for live in started:
        for client in live.clients:
            client.close()
        live.running.stop()


@pytest.fixture
def simulator(start_simulator) -> LiveSimulator:
    return start_simulator()
