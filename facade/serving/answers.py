"""Answers written by the serving layer itself, and the headers every answer carries.

The worker answers some requests before Flask sees them (a request line too long, a
body over the limit, a stalled request); a FHIR client gets an OperationOutcome from
those as from the application, never an HTML page.
"""

from __future__ import annotations

from http import HTTPStatus

import orjson

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
