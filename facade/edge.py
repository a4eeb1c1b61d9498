"""Policies at the application's edge, for every request whatever its route.

- Security headers on every answer (HSTS when the request came over HTTPS).
- The Host header: without FACADE_PUBLIC_BASE_URL links are built from it, so only the
  names the operator allowed are accepted; a forged Host gets 421, never a link.
- No answer is HTML: werkzeug's own error pages become OperationOutcomes.
- The path the access log may show (serving/accesslog.py): ids that found nothing are
  not logged as typed.
- Operational endpoints name the SystmOne endpoints and their state: /metrics answers on
  FACADE_OPS_BIND's listener only, or, without one, to callers on this machine that did
  not come through a proxy; /readyz answers everyone, with its detail for those only.
  /healthz (liveness) says nothing and stays open to every caller.
"""

from __future__ import annotations

import re

from flask import Flask, Request, Response, current_app, request

from .config import Settings
from .fhir.outcome import operation_outcome
from .jsonbytes import dumps
from .ops import READYZ_DETAIL
from .serving.answers import HSTS, SECURITY_HEADERS

OPERATIONAL = frozenset({"/metrics", "/readyz"})
_SECURITY_NAMES = frozenset(name.lower() for name in SECURITY_HEADERS)
#: The WSGI environ key where the app leaves the path the access log may show.
LOGGED_PATH = "facade.logged_path"
_LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
_PROXIED = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def install(app: Flask, settings: Settings) -> None:
    hosts = frozenset(settings.hosts)
    ops_port = settings.ops_bind.rpartition(":")[2] if settings.ops_bind else None

    @app.before_request
    def _edge() -> Response | None:
        asked = request._get_current_object()  # one context lookup, not one per use
        environ = asked.environ
        on_ops_listener = ops_port is not None and environ.get("SERVER_PORT") == ops_port
        if asked.path in OPERATIONAL or on_ops_listener:
            return _operational(environ, ops_port, on_ops_listener)
        if settings.public_base_url is None and _host_name(environ) not in hosts:
            return _refused(421, "not-found", "this server does not answer for the host "
                            "named in the request; the operator can add it to "
                            "FACADE_ALLOWED_HOSTS or set FACADE_PUBLIC_BASE_URL")
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        asked = request._get_current_object()
        asked.environ[LOGGED_PATH] = _loggable_path(asked, response.status_code)
        if response.status_code >= 400 and response.mimetype == "text/html":
            response = _as_outcome(response)
        if not _SECURITY_NAMES.issubset(getattr(response.headers, "built", ())):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        if asked.scheme == "https":
            response.headers.setdefault(*HSTS)
        return response


def _operational(environ: dict, ops_port: str | None, on_ops_listener: bool) -> Response | None:
    """/metrics for the operator's side only; /readyz for everyone (CONTRACT.md: readiness
    is public), but its detail — the SystmOne endpoints and their state — for the
    operator's side only (ops.READYZ_DETAIL)."""
    if ops_port is not None:
        operator = on_ops_listener
        if on_ops_listener and request.path not in OPERATIONAL | {"/healthz"}:
            return _refused(404, "not-found", "only /metrics, /readyz and /healthz are "
                                              "served on this listener")
    else:
        operator = environ.get("REMOTE_ADDR") in _LOOPBACK and \
            not any(header in environ for header in _PROXIED)
    environ[READYZ_DETAIL] = operator
    if operator or request.path == "/readyz":
        return None
    return _refused(403, "forbidden", f"{request.path} answers callers on this machine only "
                                      "(or on FACADE_OPS_BIND's listener)")


#: FHIR issue types of the errors werkzeug answers by itself (routing, methods).
_ISSUE_CODES = {404: "not-found", 405: "not-supported", 413: "too-long", 415: "not-supported"}


def _as_outcome(response: Response) -> Response:
    """An error werkzeug would answer with its HTML page (a path no route knows, ``GET /``),
    as an OperationOutcome: no answer of this server is HTML."""
    status = response.status_code
    diagnostics = ("nothing is served at this path; the FHIR base is /fhir"
                   if status == 404 else response.status)
    answer = _refused(status, _ISSUE_CODES.get(status, "exception"), diagnostics)
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    return answer


def _loggable_path(asked: Request, status: int) -> str | None:
    """The path of a request that found what it named; after a refusal, the route with
    only a served type's name in it (an id that found nothing — an NHS number typed as
    an id, say — becomes ``-``); None for what no route knows (the logger shows its
    first segment)."""
    if status < 400 and asked.url_rule is not None and asked.endpoint != "fhir.unknown":
        return asked.path
    view_args = asked.view_args or {}
    resource_type = view_args.get("resource_type")
    if resource_type is None or resource_type not in current_app.extensions.get(
            "facade.resources", ()):
        return None if asked.url_rule is None or view_args else asked.path
    return f"/fhir/{resource_type}" + ("/-" if "resource_id" in view_args else "")


_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.\-]+)(?::([0-9]{1,5}))?")


def _host_name(environ: dict) -> str | None:
    """The Host header's name without its port, lower-cased ([::1]:8080 -> ::1); None for
    what is no host (a bad port, stray characters): werkzeug would read it as no host at
    all and links would have an empty one."""
    host = (environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "").strip().lower()
    found = _HOST.fullmatch(host)
    if found is None or (found.group(2) is not None and not 0 < int(found.group(2)) < 65536):
        return None
    return found.group(1).strip("[]")


def _refused(status: int, code: str, diagnostics: str) -> Response:
    """An OperationOutcome; from the token and introspection endpoints OAuth's error object
    (RFC 6749 5.2), which is what their clients read."""
    if request.path in ("/auth/token", "/auth/introspect"):
        body = {"error": "invalid_request", "error_description": diagnostics}
        content_type = "application/json"
    else:
        body, content_type = operation_outcome(code, diagnostics), "application/fhir+json"
    return Response(dumps(body), status=status, content_type=f"{content_type}; charset=utf-8",
                    headers={"Cache-Control": "no-store"})
