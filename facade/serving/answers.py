"""Answers written by the serving layer itself, and the headers every answer carries.

The worker answers some requests before Flask sees them (a request line too long, a
body over the limit, a stalled request); a FHIR client gets an OperationOutcome from
those as from the application, never an HTML page.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import NamedTuple

import orjson
from flask import Response
from werkzeug.datastructures import Headers

#: On every answer, the application's and the worker's: no content sniffing (answers are
#: JSON or XML, never to be run as HTML), no framing, nothing fetched by a rendered
#: answer. HSTS is added to answers that went over HTTPS (app.py).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
HSTS = ("Strict-Transport-Security", "max-age=31536000")


class AnswerHeaders(NamedTuple):
    """Header pairs checked once, and their names lower-cased."""
    pairs: tuple[tuple[str, str], ...]
    names: frozenset[str]


class FixedHeaders(Headers):
    """An answer's headers, started from pairs built once (``answer_headers``) and
    ``extra`` ones, which replace those of the same name. werkzeug checks every header
    value it is given, about a microsecond each, on every answer; the built pairs were
    checked when built, and ``extra`` gets the same check here (no line breaks). What
    is added later is checked by werkzeug as usual. ``built``: the names (lower-cased)
    of the built pairs, so that hooks adding headers to every answer (security, CORS)
    see at once that they are there."""

    built: frozenset[str] = frozenset()

    def __init__(self, base: AnswerHeaders | list[tuple[str, str]],
                 extra: dict[str, str] | None = None) -> None:
        super().__init__()
        if isinstance(base, list):  # a copy of pairs already in a FixedHeaders
            self._list = list(base)  # werkzeug's own storage of the pairs (tests/serving)
            return
        self.built = base.names
        pairs = list(base.pairs)
        if extra:
            if not base.names.isdisjoint(name.lower() for name in extra):
                replaced = {name.lower() for name in extra}
                pairs = [pair for pair in pairs if pair[0].lower() not in replaced]
            pairs.extend((name, _one_line(value)) for name, value in extra.items())
        self._list = pairs


def _one_line(value: object) -> str:
    """werkzeug's check of a header value: a string with no line break in it."""
    value = value if isinstance(value, str) else str(value)
    if "\n" in value or "\r" in value:
        raise ValueError("Header values must not contain newline characters.")
    return value


class FacadeResponse(Response):
    """The application's answers: as Flask's, except that headers begun as FixedHeaders
    are not checked a second time when the answer is sent (werkzeug copies them,
    checking each, to add Content-Length); any other answer is werkzeug's own."""

    def get_wsgi_headers(self, environ) -> Headers:
        headers = self.headers
        status = self.status_code
        if not isinstance(headers, FixedHeaders) or not 200 <= status < 300 or \
                status == 204 or not self.is_sequence or \
                any(key.lower() in _WERKZEUG_FIXES for key, _ in headers._list):
            return super().get_wsgi_headers(environ)
        sent = FixedHeaders(headers._list)  # each pair was checked when it was added
        if self.automatically_set_content_length and "content-length" not in sent:
            sent._list.append(("Content-Length", str(sum(map(len, self.iter_encoded())))))
        return sent


#: Headers werkzeug makes absolute on the way out: an answer with one goes its way.
_WERKZEUG_FIXES = frozenset({"location", "content-location"})


def answer_headers(headers: dict[str, str]) -> AnswerHeaders:
    """The base of FixedHeaders: ``headers`` and the security headers, checked once."""
    pairs = tuple(Headers({**SECURITY_HEADERS, **headers}).items())
    return AnswerHeaders(pairs, frozenset(name.lower() for name, _ in pairs))

_ISSUE_CODES = {400: "structure", 403: "forbidden", 408: "timeout", 413: "too-long",
                414: "too-long", 417: "not-supported", 431: "too-long", 501: "not-supported"}


def refusal_bytes(status: int, diagnostics: str) -> bytes:
    """A whole HTTP/1.1 answer: an OperationOutcome, and the connection closes."""
    body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [{
        "severity": "error", "code": _ISSUE_CODES.get(status, "exception"),
        "diagnostics": diagnostics}]})
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/fhir+json; charset=utf-8",
            f"Content-Length: {len(body)}", "Connection: close", "Cache-Control: no-store",
            *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items())]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body
