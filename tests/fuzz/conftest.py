"""One app over one simulator for the whole fuzz suite: examples share it, as requests
share a running server. With FACADE_FUZZ_REPORT set, the answers' statuses are written
there as JSON when the suite ends (bench/fuzz.py reads them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from simulator import RunningSimulator, SimulatorConfig, create_server

from ..conftest import AS_OF
from .surface import Surface, build


@pytest.fixture(scope="package")
def surface(tmp_path_factory, practice) -> Surface:
    state = tmp_path_factory.mktemp("fuzz")
    config = SimulatorConfig(port=0, request_interval=0, record_interval=0,
                             state_dir=state / "simulator")
    running = RunningSimulator(create_server(config, practice, today=lambda: AS_OF)).start()
    host, port = running.address
    built = build(f"{host}:{port}", state / "facade", practice)
    yield built
    built.app.extensions["facade.records"].close()
    running.stop()
    report = os.environ.get("FACADE_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(
            [{"test": label, "status": status, "count": count}
             for (label, status), count in sorted(built.tally.items())]))
