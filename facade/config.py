"""The facade's settings: defaults, then ``FACADE_*`` environment variables, then overrides.

Each setting is read from ``FACADE_`` + its name in capitals:

- ``state_dir`` (.facade): keys, device ids, the embedded shared store.
- ``upstream`` (127.0.0.1:40700): the SystmOne client's HOST:PORT, or several,
  comma-separated (gateway PCs of one organisation: a pool).
- ``redis_url`` (none): Redis shared by several facade instances; without it the
  workers of one machine share the embedded store in the state dir.
- ``api_key`` (the simulator's demo key): the TPP-issued API key.
- ``request_interval`` (1.0 s) and ``record_interval`` (30.0 s): SystmOne's limits.
- ``send_margin`` (0.02 s): added to both when booking slots, for the jitter of when a
  booked request leaves (breaches are still measured against the limits themselves).
- ``read_timeout`` (40.0 s): how long to wait for a reply (a throttled request gets none).
- ``demographics_ttl`` (300.0 s): how long Patients and search results are served cached.
- ``clinical_ttl`` (300.0 s): how long a clinical record is served before a full refresh.
- ``top_up_after`` (60.0 s): within that window, when a cached record gets an exempt
  "entered today" top-up.
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
    redis_url: str | None = None
    api_key: str = DEMO_API_KEY
    request_interval: float = 1.0
    record_interval: float = 30.0
    send_margin: float = 0.02
    read_timeout: float = 40.0
    demographics_ttl: float = 300.0
    clinical_ttl: float = 300.0
    top_up_after: float = 60.0
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

    @property
    def upstreams(self) -> list[str]:
        """The SystmOne endpoints, in the order given."""
        return [part.strip() for part in self.upstream.split(",") if part.strip()]


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
