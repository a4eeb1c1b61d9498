"""The Flask application: configuration, shared state, auth, audit, the SystmOne connection.

A request passes: audit trail (begin) -> the FHIR blueprint's guard (token,
scopes) -> search parsing against the type's declaration -> the FHIR service
(confinement, audit noting, the type's source) -> the record service (cache,
single-flight, slot ledger, SystmOne) -> mapping every record type -> the
answer, recorded in the audit as it leaves.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import NullSession, SessionInterface

from . import edge, ops, profiles
from .audit import trail
from .audit.sink import open_sink
from .auth.server import authorization_server
from .auth.service import AuthService
from .config import Settings
from .documents import DocumentFetcher
from .files import private_dir
from .ids import IdCodec
from .mapping.registry import MappingRegistry
from .protocol.envelope import OutputScheme
from .records import RecordService, retention
from .serving.answers import FacadeResponse
from .stewardship.bulkhead import Bulkhead
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
    profiles.require_safe(settings)  # live: unsafe settings never serve a request
    private_dir(settings.state_dir)
    app = FacadeFlask(__name__, static_folder=None)  # no files are served: no /static route
    app.debug = settings.debug
    app.config["FACADE"] = settings
    # facade serve's worker refuses larger bodies from their head; this holds wherever
    # else the app runs (the demo's server): werkzeug refuses to read past it (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    edge.install(app, settings)  # security headers, Host, operational endpoints
    store = open_store(settings.state_dir, settings.redis_url)
    records = app.extensions["facade.records"] = _record_service(settings, store)
    app.extensions[ops.READINESS_EXTENSION] = records.readiness
    _install_auth(app, settings, store)
    trail.install(app, open_sink(settings.audit_sink, settings.state_dir,
                                 fsync=settings.audit_fsync,
                                 fsync_interval=settings.audit_fsync_interval))
    for endpoint in records.pool.endpoints:  # each SystmOne message joins the request's audit
        endpoint.client.observers.append(trail.note_upstream)
    from . import urls
    from .fhir.registry import resources_for
    from .fhir.service import FhirService

    # The types served: the mapping modules' declarations (a site's overlay included).
    app.extensions["facade.resources"] = resources_for(records.mappings)
    app.extensions["facade.fhir"] = FhirService(records, app.extensions["facade.audit"],
                                                urls.fhir_base, _documents(settings, records))

    if settings.tls_proxy:
        _only_through_the_proxy(app, settings)

    from .auth.web import bp as auth_bp
    from .fhir.views import bp

    app.register_blueprint(auth_bp)  # /auth/token, /auth/jwks, /auth/introspect, discovery
    app.register_blueprint(bp)
    app.register_blueprint(ops.bp)  # /healthz, /readyz, /metrics
    return app


class FacadeFlask(Flask):
    """Flask, answering with FacadeResponse, and asking once per function, not on every
    request, whether a view or hook is a coroutine (none here is)."""

    response_class = FacadeResponse

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._synced: dict[Any, Any] = {}
        self.session_interface = _NoSessions()

    def ensure_sync(self, func):
        synced = self._synced.get(func)
        if synced is None:
            synced = self._synced[func] = super().ensure_sync(func)
        return synced


class _NoSessions(SessionInterface):
    """The facade keeps no sessions (callers send bearer tokens, never cookies): every
    request shares one null session instead of making its own."""

    _none = NullSession()

    def open_session(self, app: Flask, request) -> NullSession:
        return self._none

    def save_session(self, app: Flask, session, response) -> None:
        return None


def _only_through_the_proxy(app: Flask, settings: Settings) -> None:
    """Behind a declared TLS-terminating proxy, plain HTTP comes from that proxy or not at all
    (health checks from this machine excepted)."""
    from flask import request

    allowed = set(settings.proxies)

    @app.before_request
    def _from_the_proxy():
        address = request.remote_addr or ""
        if address in allowed or (request.path in ("/healthz", "/readyz")
                                  and address in ("127.0.0.1", "::1")):
            return None
        return app.response_class(
            b'{"resourceType":"OperationOutcome","issue":[{"severity":"error",'
            b'"code":"security","diagnostics":"requests must come through the TLS proxy"}]}',
            status=403, mimetype="application/fhir+json")


def _install_auth(app: Flask, settings: Settings, store) -> None:
    auth = app.extensions["facade.auth"] = AuthService.build(settings, store)
    auth.keyring.ensure()
    if settings.public_base_url:
        auth.remember_public_base(settings.public_base_url)
    from . import urls

    app.extensions["facade.authorization_server"] = authorization_server(
        app, auth.registry, store, auth.issuer, urls, settings.client_secret_auth,
        settings.clock_skew)


def _record_service(settings: Settings, store) -> RecordService:
    ledger = SlotLedger(store, settings.request_interval, settings.record_interval,
                        settings.send_margin)
    pool = UpstreamPool([_endpoint(settings, name) for name in settings.upstreams], ledger,
                        store, settings.max_wait)
    windows = Freshness(settings.demographics_ttl, settings.clinical_ttl,
                        settings.top_up_after)
    # A leader's lease covers its slot wait, SystmOne's reply and the mapping.
    flights = SingleFlight(store, lease_seconds=settings.max_wait + settings.read_timeout + 10)
    # With Redis, every instance must mint the same ids: the key is the shared store's.
    codec = IdCodec.from_state_dir(settings.state_dir, store if settings.redis_url else None)
    threads = settings.threads if settings.worker_class == "gthread" else 1
    return RecordService(pool, codec, ResourceCache(store, retention(windows)), flights, windows,
                         MappingRegistry(settings.mappings_overlay),
                         bulkhead=Bulkhead.for_threads(threads))


def _documents(settings: Settings, records: RecordService) -> DocumentFetcher:
    """GetDocument and the folder it writes to (facade/documents.py); without
    FACADE_DOCUMENT_DIR every Binary read says what is missing (501)."""
    return DocumentFetcher(records.pool, settings.document_dir, settings.document_write_to,
                           records.mappings.concept_maps.get("media_type", {}))


def _endpoint(settings: Settings, name: str) -> Endpoint:
    host, port = parse_endpoint(name)
    client = SystmOneClient(
        SocketTransport(host, port, Timeouts(5.0, settings.read_timeout)),
        api_key=settings.api_key, endpoint=f"{host}:{port}",
        device_ids=device_store(settings.state_dir),
        output_scheme=OutputScheme(codes=settings.code_scheme, drugs=settings.drug_scheme))
    return Endpoint(f"{host}:{port}", client)
