"""Operational endpoints beside the FHIR API: ``/metrics``, ``/healthz`` and ``/readyz``.

``/healthz`` says the process answers (a liveness probe: restart me if not); ``/readyz`` says
whether it can serve FHIR now, which depends on SystmOne (a readiness probe: route traffic
elsewhere while not). The app supplies the readiness check as
``app.extensions["facade.readiness"]``: a callable returning ``(ready, detail)``, where
``detail`` is a JSON-serialisable dict that may hold ``retry_after`` (seconds).
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, Response, current_app, request

from . import metrics

READINESS_EXTENSION = "facade.readiness"
#: Set in the WSGI environ by the app's edge (edge.py): False when the caller may learn
#: whether the facade is ready but not the SystmOne endpoints behind it.
READYZ_DETAIL = "facade.readyz_detail"

bp = Blueprint("ops", __name__)


@bp.get("/metrics")
def metrics_view() -> Response:
    body, content_type = metrics.render()
    return _no_store(Response(body, content_type=content_type))


@bp.get("/healthz")
def healthz() -> Response:
    return _no_store(Response('{"status":"ok"}', content_type="application/json"))


@bp.get("/readyz")
def readyz() -> Response:
    check = current_app.extensions.get(READINESS_EXTENSION)
    if check is None:
        return _json(503, "unavailable", {
            "reason": f"no readiness check configured (app.extensions[{READINESS_EXTENSION!r}])"})
    try:
        ready, detail = check()
    except Exception:
        # A probe that cannot tell must not say "ready"; the traceback goes to the log.
        current_app.logger.exception("readiness check failed")
        return _json(503, "unavailable", {"reason": "readiness check failed"})
    shown = detail if request.environ.get(READYZ_DETAIL, True) else {}
    if ready:
        return _json(200, "ready", shown)
    response = _json(503, "unavailable", shown)
    retry_after = _retry_after_header(detail.get("retry_after"))
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def _json(status_code: int, status: str, detail: dict[str, Any]) -> Response:
    # Our status word wins over a "status" in the detail: probes and people key on it.
    payload = {"status": status, **{k: v for k, v in detail.items() if k != "status"}}
    body = json.dumps(payload, separators=(",", ":"), default=str)
    return _no_store(Response(body, status=status_code, content_type="application/json"))


def _retry_after_header(seconds: Any) -> str | None:
    """Retry-After takes whole seconds; round up so a client never comes back too early."""
    if seconds is None:
        return None
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    return str(max(0, math.ceil(value)))


def _no_store(response: Response) -> Response:
    # Health and metrics are about this instant; a cache in between would lie.
    response.headers["Cache-Control"] = "no-store"
    return response
