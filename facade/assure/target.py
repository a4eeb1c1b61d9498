"""The SystmOne endpoint an assurance run talks to: one given, or the built-in simulator.

The built-in simulator runs in this process on a free loopback port, with the
run's intervals and API key, dropping a throttled GetPatientRecord without a
reply as SystmOne does, on England's calendar (the SystmOne client's "today").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..files import private_dir
from .rules import ENGLAND


@dataclass
class Target:
    endpoint: str  # HOST:PORT
    api_key: str
    #: "the built-in simulator (...)" or "the SystmOne client at HOST:PORT".
    description: str
    simulated: bool
    #: Where GetDocument may write: (this machine's path, the SystmOne PC's name for it).
    documents: tuple[Path, str] | None = None
    running: object = None  # the RunningSimulator, when simulated

    def close(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running.server.store.close()
            self.running = None


def simulated(practice, label: str, api_key: str, state_dir: Path, request_interval: float,
              record_interval: float) -> Target:
    """The built-in simulator serving ``practice``; its message audit in ``state_dir``."""
    from simulator import RunningSimulator, SimulatorConfig, create_server

    config = SimulatorConfig(port=0, request_interval=request_interval,
                             record_interval=record_interval, api_keys=(api_key,),
                             state_dir=state_dir)
    server = create_server(config, practice, today=lambda: dt.datetime.now(ENGLAND).date())
    running = RunningSimulator(server).start()
    documents = private_dir(Path(state_dir) / "documents" / "assure")
    return Target("{}:{}".format(*running.address), api_key,
                  f"the built-in simulator ({label})", True, (documents, str(documents)),
                  running)


def given(endpoint: str, api_key: str, document_dir: Path | None,
          document_write_to: str | None) -> Target:
    documents = (Path(document_dir), document_write_to or str(document_dir)) \
        if document_dir is not None else None
    return Target(endpoint, api_key, f"the SystmOne client at {endpoint}", False, documents)
