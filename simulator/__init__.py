"""SystmOne Demo simulator: TPP's Client Integration interface over TCP, fictitious practice."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from .config import SimulatorConfig
from .dispatcher import Dispatcher
from .practice import Practice
from .server import RunningSimulator, SimulatorServer
from .store import SimulatorStore

__all__ = ["RunningSimulator", "SimulatorConfig", "SimulatorServer", "create_server"]


def create_server(config: SimulatorConfig, practice: Practice,
                  clock: Callable[[], float] = time.monotonic,
                  today: Callable[[], dt.date] = dt.date.today) -> SimulatorServer:
    """Wire the simulator's parts together; nothing listens until ``start``."""
    store = SimulatorStore(config.database)
    dispatcher = Dispatcher(practice, config, store, clock=clock, today=today)
    return SimulatorServer(dispatcher, store, config)
