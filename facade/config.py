"""The facade's settings: defaults, then ``FACADE_*`` environment variables, then overrides.

Each setting is read from ``FACADE_`` + its name in capitals:

- ``state_dir`` (.facade): keys, device ids and other state.
- ``upstream`` (127.0.0.1:40700): the SystmOne client's HOST:PORT.
- ``api_key`` (the simulator's demo key): the TPP-issued API key.
- ``request_interval`` (1.0 s) and ``record_interval`` (30.0 s): SystmOne's limits.
- ``read_timeout`` (40.0 s): how long to wait for a reply (a throttled request gets none).
- ``record_ttl`` (300.0 s): how long a fetched clinical record is reused.
- ``max_wait`` (10.0 s): how long a request may wait for its upstream slot before a 429.
- ``mappings_overlay`` (none): a folder of site mapping modules (see MAPPINGS.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .upstream.client import DEMO_API_KEY


@dataclass(frozen=True)
class Settings:
    state_dir: Path = Path(".facade")
    upstream: str = "127.0.0.1:40700"
    api_key: str = DEMO_API_KEY
    request_interval: float = 1.0
    record_interval: float = 30.0
    read_timeout: float = 40.0
    record_ttl: float = 300.0
    max_wait: float = 10.0
    mappings_overlay: Path | None = None

    @classmethod
    def load(cls, overrides: dict[str, Any] | None = None,
             environ: dict[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting in fields(cls):
            raw = environ.get(f"FACADE_{setting.name.upper()}")
            if raw is not None:
                values[setting.name] = _convert(setting.name, raw, cls.__dataclass_fields__)
        return replace(cls(**values), **(overrides or {}))


def _convert(name: str, raw: str, known: dict) -> Any:
    default = known[name].default
    try:
        if isinstance(default, Path) or name == "mappings_overlay":
            return Path(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ValueError(f"FACADE_{name.upper()} must be a number, not {raw!r}") from None
    return raw
