"""A large header field against a real `facade serve`: a GET (read in the worker's event
loop, framing.plain_request) and a POST search (read by gunicorn's parser) with the same
9,000-byte Authorization field get the same answer. Once, gunicorn refused the POST
(431, its own 8,190-byte limit a field) while the GET reached the application."""

from __future__ import annotations

import pytest

from .test_plain_request import LARGE_TOKEN
from .test_serve import serve  # noqa: F401  (a fixture)
from .test_slow_clients import exchange, status_and_outcome


@pytest.fixture
def served(serve):  # noqa: F811
    server = serve(FACADE_WORKERS="1", FACADE_THREADS="2")
    server.wait_ready()
    return server


def answer_to(port: int, head: bytes, *fields: bytes, body: bytes = b"") -> tuple[int, bytes]:
    request = b"\r\n".join([head, b"Host: localhost", b"Connection: close",
                            b"Authorization: " + LARGE_TOKEN, *fields]) + b"\r\n\r\n" + body
    status, _, answer_head = status_and_outcome(exchange(port, request))
    return status, answer_head


def test_a_large_token_gets_the_same_answer_by_get_and_by_post_search(served):
    """Both reach the application, which judges the token (no such token: 401); neither
    is refused for its size."""
    form = b"name=x"
    read = answer_to(served.port, b"GET /fhir/Patient?name=x HTTP/1.1")
    search = answer_to(served.port, b"POST /fhir/Patient/_search HTTP/1.1",
                       b"Content-Type: application/x-www-form-urlencoded",
                       b"Content-Length: %d" % len(form), body=form)
    for status, head in (read, search):
        assert status == 401 and b"WWW-Authenticate: Bearer" in head, head
