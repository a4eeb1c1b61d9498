"""Shared fixtures: TPP's reference files, a small generated practice, a live simulator."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
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
#: TPP's and UK Core's reference material: ../shared/reference beside a development
#: checkout, or where FACADE_TEST_REFERENCE says (bench/mutants runs copies elsewhere).
REFERENCE = Path(os.environ.get("FACADE_TEST_REFERENCE")
                 or REPO.parent / "shared" / "reference")
TPP_REFERENCE = REFERENCE / "tpp"
UKCORE_REFERENCE = REFERENCE / "ukcore"
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


# --- the logs of the whole run, scanned for patient identifiers by tests/test_logs_phi.py ---

#: Captured at DEBUG whatever the root level: pinned, so that a test lowering the root
#: logger (caplog.set_level) hides nothing, and attached directly, so that a logger that
#: stops propagating (gunicorn's do) is still heard.
SESSION_LOGGERS = ("facade", "simulator", "werkzeug", "gunicorn", "gunicorn.error",
                   "gunicorn.access", "authlib", "flask")
#: Where the session's log file is (config.stash[SESSION_LOG]).
SESSION_LOG = pytest.StashKey[Path]()
#: Tests with this marker run after all others (the log scan must see the whole run).
RUNS_LAST = "runs_last"


class SessionLogHandler(logging.Handler):
    """Every record, once, as a JSON line: logger, level, the formatted text (message and
    exception) and the test that was running."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.stream = path.open("a", encoding="utf-8")

    def handle(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_session_logged", False):  # attached at several levels
            return False
        record._session_logged = True
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = json.dumps({"logger": record.name, "level": record.levelname,
                               "text": self.format(record),
                               "test": os.environ.get("PYTEST_CURRENT_TEST", "")},
                              ensure_ascii=False)
            self.stream.write(line + "\n")
            self.stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        with self.lock:
            self.stream.close()
        super().close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{RUNS_LAST}: runs after every other test")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker(RUNS_LAST) is not None)  # stable


#: Set by .ci/run: a test that skips (reference material, Redis, node, hadolint missing)
#: fails instead, so CI never passes without its independent checks. A user's plain
#: clone, without it, still skips with the reason.
STRICT = "FACADE_TEST_STRICT"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get(STRICT) == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and {STRICT}=1 forbids skips: {reason}"


@pytest.fixture(scope="session", autouse=True)
def session_log(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[Path]:
    """The file every log record of the session goes to (one JSON object a line)."""
    path = tmp_path_factory.mktemp("logs") / "session.jsonl"
    handler = SessionLogHandler(path)
    loggers = [logging.getLogger(), *map(logging.getLogger, SESSION_LOGGERS)]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    request.config.stash[SESSION_LOG] = path
    yield path
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)
    handler.close()
