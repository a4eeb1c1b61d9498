"""The Flask application: configuration, the SystmOne connection, the FHIR blueprint."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response

from .config import Settings
from .ids import IdCodec
from .mapping.registry import MappingRegistry
from .records import RecordService
from .upstream.cli import device_store, parse_endpoint
from .upstream.client import SystmOneClient
from .upstream.pacing import Pacer
from .upstream.transport import SocketTransport, Timeouts


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The WSGI app; ``overrides`` take precedence over ``FACADE_*`` variables (tests use it)."""
    settings = Settings.load(overrides)
    app = Flask(__name__)
    app.config["FACADE"] = settings
    app.extensions["facade.records"] = _record_service(settings)

    from .fhir.views import bp

    app.register_blueprint(bp)
    app.add_url_rule("/healthz", "healthz", _healthz)
    return app


def _record_service(settings: Settings) -> RecordService:
    host, port = parse_endpoint(settings.upstream)
    client = SystmOneClient(
        SocketTransport(host, port, Timeouts(5.0, settings.read_timeout)),
        api_key=settings.api_key, endpoint=f"{host}:{port}",
        device_ids=device_store(settings.state_dir))
    pacer = Pacer(settings.request_interval, settings.record_interval, settings.max_wait)
    return RecordService(client, IdCodec.from_state_dir(settings.state_dir), pacer,
                         settings.record_ttl, MappingRegistry(settings.mappings_overlay))


def _healthz() -> Response:
    return Response('{"status":"ok"}', content_type="application/json")
