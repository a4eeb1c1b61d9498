"""Recording every FHIR and OAuth request in the audit sink, as it is answered.

``begin`` runs first for every audited path and starts the clock; the views
add what they learn (``note_patients``); the SystmOne client reports each
message it sends (``note_upstream``, an observer on the one call site); the
record is written when the answer is ready — before it is sent, so a completed
request always has its record, whatever happens to the process afterwards
(beyond a process, durable as the sink says). A request that fails with an
unhandled error is recorded too.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import random
import time

from flask import Flask, Request, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from .record import AccessRecord
from .sink import AuditSink, NoAudit

log = logging.getLogger(__name__)
AUDITED_PREFIXES = ("/fhir", "/auth/")
#: The RequestUIDs of the SystmOne messages sent for the request in this context.
_upstream: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "facade_upstream_uids", default=None)


def install(app: Flask, sink: AuditSink) -> None:
    app.extensions["facade.audit"] = sink

    if isinstance(sink, NoAudit):  # FACADE_AUDIT_SINK=off: nothing to build records for
        return

    @app.before_request
    def _begin() -> None:
        if request.path.startswith(AUDITED_PREFIXES):
            begin()

    @app.after_request
    def _finish(response: Response) -> Response:
        state = g._get_current_object()
        if state.get("audit_started") is not None:
            response.headers["X-Request-ID"] = state.audit_request_id
            finish(sink, response.status_code, state.get("audit_error", ""))
        return response

    @app.teardown_request
    def _unhandled(error: BaseException | None) -> None:
        if error is not None and g.get("audit_started") is not None:
            finish(sink, 500, type(error).__name__)


def begin() -> None:
    state = g._get_current_object()  # one context lookup instead of one per attribute
    state.audit_started = time.perf_counter()
    state.audit_time = time.time()
    # Unique, not secret: random's generator (reseeded in each forked worker) spares a
    # system call per request that uuid4's os.urandom makes.
    state.audit_request_id = f"{random.getrandbits(128):032x}"
    state.audit_patients = []
    state.audit_uids = []
    _upstream.set(state.audit_uids)


def note_patients(ids) -> None:
    """The opaque Patient ids the request asked for or was answered with."""
    noted = g._get_current_object().get("audit_patients")
    if noted is not None:
        for patient_id in ids:
            if patient_id and patient_id not in noted:
                noted.append(patient_id)


def note_client(client_id: str, scopes: str) -> None:
    """The client a request authenticated as without a bearer token (a token request)."""
    g.audit_client = (client_id, scopes)


def note_error(code: str) -> None:
    g.audit_error = code


def note_upstream(exchange) -> None:
    """An observer for SystmOne clients: the message belongs to the current request."""
    uids = _upstream.get()
    if uids is not None:
        uids.append(exchange.request_uid)


def finish(sink: AuditSink, status: int, error: str) -> None:
    state = g._get_current_object()
    started = state.pop("audit_started", None)
    if started is None:  # already recorded (after_request, then teardown)
        return
    _upstream.set(None)
    asked = request._get_current_object()
    access = state.get("access")
    client_id, scopes = (access.client_id, access.scope) if access is not None else \
        state.get("audit_client", ("", ""))
    entry = AccessRecord(
        time=_instant(state.audit_time),
        client_id=client_id,
        scopes=scopes,
        interaction=_interaction(asked),
        resource_type=(asked.view_args or {}).get("resource_type", ""),
        patient_ids=_minted(state.audit_patients or _patient_asked_for(asked)),
        status=status,
        request_uids=tuple(state.audit_uids),
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        parameters=_parameter_names(asked),
        error=error,
        request_id=state.audit_request_id)
    try:
        sink.record(entry)
    except Exception:  # the answer must still say what happened; operators see this
        log.exception("the audit record of request %s could not be written",
                      state.audit_request_id)
        raise


def arrived() -> str:
    """When the request arrived (when its audit began; else now), as an instant."""
    return _instant(g.get("audit_time") or time.time())


def _instant(moment: float) -> str:
    """``moment`` (time.time()) as an AccessRecord's time: ISO 8601, UTC, microseconds
    and "Z"; the date and time of day written out once a second, not for every entry."""
    global _SECOND
    second, fraction = divmod(round(moment * 1_000_000), 1_000_000)
    known = _SECOND
    if known[0] != second:
        written = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        known = _SECOND = (second, written)
    return f"{known[1]}.{fraction:06d}Z"


_SECOND: tuple[int, str] = (-1, "")


def _patient_asked_for(asked: Request) -> list[str]:
    """A Patient read refused before its view ran (401, 403) is still about that patient."""
    view_args = asked.view_args or {}
    if asked.endpoint == "fhir.read" and view_args.get("resource_type") == "Patient":
        return [view_args["resource_id"]]
    return []


def _minted(patient_ids: list[str]) -> tuple[str, ...]:
    """Only ids this deployment minted name a patient; anything else a client put where an
    id goes (an NHS number, say) is not recorded as typed."""
    records = current_app.extensions.get("facade.records")
    if records is None:  # an app without a record service (some tests): ids as noted
        return tuple(patient_ids)
    return tuple(p for p in patient_ids if records.codec.patient_identity(p) is not None)


def _parameter_names(asked: Request) -> tuple[str, ...]:
    """The names in the query string and a search form (never the values)."""
    names = set(asked.args) if asked.environ.get("QUERY_STRING") else set()
    if asked.environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded") \
            and asked.path != "/auth/token":
        # A body refused unread (over the limit) has no names to give.
        with contextlib.suppress(HTTPException):
            names |= set(asked.form)
    return tuple(sorted(names))


_INTERACTIONS = {"fhir.read": "read", "fhir.search": "search-type",
                 "fhir.search_by_post": "search-type", "fhir.metadata": "capabilities",
                 "fhir.everything": "operation", "fhir.everything_by_identifier": "operation",
                 "auth.token": "token", "auth.introspect": "introspect",
                 "auth.jwks": "jwks", "auth.smart_configuration": "smart-configuration"}


#: Writes reach the read and search routes (and are refused there): record what they were.
_WRITES = {"PUT": "update", "PATCH": "patch", "DELETE": "delete", "POST": "create"}


def _interaction(asked: Request) -> str:
    endpoint = asked.endpoint or ""
    if endpoint in ("fhir.read", "fhir.search") and asked.method in _WRITES:
        return _WRITES[asked.method]
    return _INTERACTIONS.get(endpoint, asked.method.lower())
