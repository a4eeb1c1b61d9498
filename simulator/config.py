"""The simulator's settings, with the defaults TPP's SystmOne client applies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facade.upstream.client import DEMO_API_KEY

DEFAULT_PORT = 40700
DEVICE_POLICIES = ("auto-approve", "block")
THROTTLE_RESPONSES = ("drop", "error")
#: Requests are small (a GetPatientRecord filter, a search); anything bigger is abuse.
DEFAULT_MAX_REQUEST = 1024 * 1024


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    #: Seconds between the starts of two requests (SystmOne: one per second).
    request_interval: float = 1.0
    #: Seconds between two non-exempt GetPatientRecord requests (SystmOne: 30).
    record_interval: float = 30.0
    api_keys: tuple[str, ...] = (DEMO_API_KEY,)
    #: What the simulated user answers when a new device asks for approval.
    device_policy: str = "auto-approve"
    #: A throttled GetPatientRecord gets no reply ("drop", as TPP) or a temporary error.
    on_throttle: str = "drop"
    state_dir: Path = Path(".facade")
    max_request: int = DEFAULT_MAX_REQUEST

    def __post_init__(self) -> None:
        if self.request_interval < 0 or self.record_interval < 0:
            raise ValueError("intervals must be zero or more seconds")
        if self.device_policy not in DEVICE_POLICIES:
            raise ValueError(f"device policy must be one of {', '.join(DEVICE_POLICIES)}")
        if self.on_throttle not in THROTTLE_RESPONSES:
            raise ValueError(f"on-throttle must be one of {', '.join(THROTTLE_RESPONSES)}")
        if not self.api_keys:
            raise ValueError("at least one API key must be allowed")

    @property
    def database(self) -> Path:
        return Path(self.state_dir) / "simulator" / "simulator.sqlite3"
