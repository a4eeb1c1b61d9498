"""gunicorn's configuration for ``facade serve``, read from the FACADE_* settings.

gunicorn loads this file itself (``-c``), in the master process, before it
imports ``wsgi:app`` in each worker. Every value comes from
:class:`facade.config.Settings`, so CONFIG.md documents them all.
"""

from __future__ import annotations

import os
import ssl
import time
from pathlib import Path

from facade.config import Settings

_settings = Settings.load()

wsgi_app = "wsgi:app"
bind = [_settings.bind, *([_settings.ops_bind] if _settings.ops_bind else [])]
workers = _settings.workers
# gthread is served by the facade's own subclass, which buffers each request in its event
# loop before a thread sees it (slow clients hold no thread; see worker.py, docs/security.md).
worker_class = ("facade.serving.worker.FacadeWorker" if _settings.worker_class == "gthread"
                else _settings.worker_class)
threads = _settings.threads if _settings.worker_class == "gthread" else 1
timeout = int(_settings.timeout)
graceful_timeout = int(_settings.graceful_timeout)  # SIGTERM: in-flight requests finish
keepalive = int(_settings.keepalive)
max_requests = _settings.max_requests
max_requests_jitter = _settings.max_requests_jitter
# Several instances on one machine must not share one control socket (gunicorn >= 25).
control_socket_disable = True
# The worker's framing check enforces the request limits (FACADE_MAX_REQUEST_LINE, ...) and
# answers them with an OperationOutcome; gunicorn's own, lower, limits would answer first,
# with HTML, and refuse legitimate long searches.
limit_request_line = 0
# One field may take all the header bytes (a large bearer token, say): gunicorn's limit on
# a field is the limit on the fields together, so it refuses none the framing check passes
# and plain requests, which skip its parser, are read alike (worker.reads_plain_heads).
# Not 0: gunicorn documents 0 as unlimited but reads it as its default, 8,190 bytes. Any
# size is taken (unlike limit_request_line, which it caps at 8,190).
limit_request_field_size = _settings.max_header_bytes
limit_request_fields = min(_settings.max_header_fields, 32768)

# HTTPS served directly: TLS 1.2 or newer only.
if _settings.tls_cert is not None:
    certfile = str(_settings.tls_cert)
    keyfile = str(_settings.tls_key)

    def ssl_context(config, default_ssl_context_factory):
        context = default_ssl_context_factory()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

# X-Forwarded-Proto and friends are honoured from the declared proxies only (gunicorn's own
# default trusts 127.0.0.1, which a co-located process could abuse).
forwarded_allow_ips = ",".join(_settings.proxies) or ""
proxy_allow_ips = forwarded_allow_ips
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"} if _settings.proxies else {}

# The access log: method, path (never the query string: searches carry NHS numbers and
# names), status, bytes, seconds; no referer or user agent.
# The path comes from the application (serving/accesslog.py): an id that found nothing,
# typed by a client (an NHS number, say), is not logged as typed.
logger_class = "facade.serving.accesslog.AccessLogger"
accesslog = "-" if _settings.access_log else None
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'
errorlog = "-"

# Prometheus metrics summed over workers: one directory for all, emptied at start. It must
# be in the environment before prometheus_client is first imported (by the workers' app).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
os.environ.setdefault(MULTIPROC_ENV, str(Path(_settings.state_dir).absolute() / "metrics"))


def on_starting(server) -> None:
    from facade import metrics
    from facade.records import SERVICE_STARTED_ENV

    # Workers (and their replacements) of this start share what one of them learnt of the
    # organisation behind SystmOne; what was stored before it is checked again (records.py).
    os.environ[SERVICE_STARTED_ENV] = repr(time.time())

    metrics.prepare_multiprocess_dir(Path(os.environ[MULTIPROC_ENV]))
    _load_the_code()


def _load_the_code() -> None:
    """Import the application's code once, in the master (but create no app here: stores,
    sockets and threads belong to each worker). Every worker, and every replacement after
    max_requests, is forked with it loaded: it boots without a third of a second of
    imports, and all workers run the code the master loaded, so a deploy takes effect
    when the service is restarted (not on HUP), never half-way."""
    import facade.app
    import facade.auth.web
    import facade.fhir.views
    import facade.ops  # noqa: F401


def child_exit(server, worker) -> None:
    from facade import metrics

    metrics.mark_process_dead(worker.pid)
