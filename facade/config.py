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
- ``public_base_url`` (none): the FHIR base URL callers use (https://host/fhir); without
  it, the URL each request came to. Tokens' audience, links and discovery use it.
- ``token_lifetime`` (300 s, at most 300): how long an access token lives.
- ``clock_skew`` (60 s): how far token times may be off.
- ``client_secret_auth`` (false): also accept client_secret_basic (never in live).
- ``oauth_issuer`` and ``oauth_jwks_url`` (none): an external identity provider whose
  access tokens are accepted beside the embedded server's.
- ``audit_sink`` (the state dir's audit.sqlite3): ``sqlite:PATH`` or ``jsonl:PATH``.
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
    public_base_url: str | None = None
    token_lifetime: float = 300.0
    clock_skew: float = 60.0
    client_secret_auth: bool = False
    oauth_issuer: str | None = None
    oauth_jwks_url: str | None = None
    audit_sink: str | None = None

    def __post_init__(self) -> None:
        if self.public_base_url is not None and (
                not self.public_base_url.startswith(("http://", "https://"))
                or not self.public_base_url.rstrip("/").endswith("/fhir")):
            raise ValueError(f"FACADE_PUBLIC_BASE_URL must be an http(s) URL ending in /fhir, "
                             f"not {self.public_base_url!r}")
        if not 0 < self.token_lifetime <= 300:
            raise ValueError("FACADE_TOKEN_LIFETIME must be more than 0 and at most 300 s")
        if (self.oauth_issuer is None) != (self.oauth_jwks_url is None):
            raise ValueError("FACADE_OAUTH_ISSUER and FACADE_OAUTH_JWKS_URL go together")

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
        if isinstance(default, bool):
            return _flag(name, raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ValueError(f"FACADE_{name.upper()} must be a number, not {raw!r}") from None
    return raw


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"FACADE_{name.upper()} must be true or false, not {raw!r}") from None
