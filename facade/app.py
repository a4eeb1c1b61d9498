"""The Flask application: configuration, the SystmOne connection, the FHIR blueprint."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import ops
from .config import Settings
from .ids import IdCodec
from .mapping.registry import MappingRegistry
from .records import RecordService, retention
from .stewardship.cache import ResourceCache
from .stewardship.ledger import SlotLedger
from .stewardship.planner import Freshness
from .stewardship.pool import Endpoint, UpstreamPool
from .stewardship.singleflight import SingleFlight
from .stewardship.store import open_store
from .upstream.cli import device_store, parse_endpoint
from .upstream.client import SystmOneClient
from .upstream.transport import SocketTransport, Timeouts


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The WSGI app; ``overrides`` take precedence over ``FACADE_*`` variables (tests use it)."""
    settings = Settings.load(overrides)
    app = Flask(__name__)
    app.config["FACADE"] = settings
    records = app.extensions["facade.records"] = _record_service(settings)
    app.extensions[ops.READINESS_EXTENSION] = records.readiness

    from .fhir.views import bp

    app.register_blueprint(bp)
    app.register_blueprint(ops.bp)  # /healthz, /readyz, /metrics
    return app


def _record_service(settings: Settings) -> RecordService:
    store = open_store(settings.state_dir, settings.redis_url)
    ledger = SlotLedger(store, settings.request_interval, settings.record_interval,
                        settings.send_margin)
    pool = UpstreamPool([_endpoint(settings, name) for name in settings.upstreams], ledger,
                        store, settings.max_wait)
    windows = Freshness(settings.demographics_ttl, settings.clinical_ttl,
                        settings.top_up_after)
    # A leader's lease covers its slot wait, SystmOne's reply and the mapping.
    flights = SingleFlight(store, lease_seconds=settings.max_wait + settings.read_timeout + 30)
    return RecordService(pool, IdCodec.from_state_dir(settings.state_dir),
                         ResourceCache(store, retention(windows)), flights, windows,
                         MappingRegistry(settings.mappings_overlay))


def _endpoint(settings: Settings, name: str) -> Endpoint:
    host, port = parse_endpoint(name)
    client = SystmOneClient(
        SocketTransport(host, port, Timeouts(5.0, settings.read_timeout)),
        api_key=settings.api_key, endpoint=f"{host}:{port}",
        device_ids=device_store(settings.state_dir))
    return Endpoint(f"{host}:{port}", client)
