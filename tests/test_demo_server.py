"""The demo's own HTTP server (werkzeug's, with facade.cli's request handler): what it
refuses is an OperationOutcome quoting nothing, its log holds no patient details, and a
stalled client is let go."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from werkzeug.serving import make_server

from facade.app import create_app
from facade.cli import path_only_request_handler

NHS = "9990000018"


@pytest.fixture
def demo_server(tmp_path, monkeypatch):
    handler = path_only_request_handler()
    monkeypatch.setattr(handler, "timeout", 1.0)
    app = create_app({"upstream": "127.0.0.1:9", "state_dir": tmp_path})
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(5)
    server.server_close()


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_a_malformed_request_gets_an_outcome_and_no_log_of_it(demo_server, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    answer = exchange(demo_server, f"GET /fhir/Patient?identifier={NHS} HTTP/9.9\r\n\r\n"
                      .encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.1 505")
    assert json.loads(body)["resourceType"] == "OperationOutcome"
    assert NHS.encode() not in answer and NHS not in caplog.text


def test_ids_that_found_nothing_are_not_logged(demo_server, caplog):
    caplog.set_level(logging.INFO, logger="werkzeug")
    answer = exchange(demo_server, f"GET /fhir/Patient/{NHS} HTTP/1.1\r\nHost: localhost\r\n"
                                   f"Connection: close\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 401")
    assert NHS not in caplog.text and "/fhir/Patient/-" in caplog.text


def test_a_stalled_client_is_let_go(demo_server):
    started = time.monotonic()
    exchange(demo_server, b"GET /fhir/Patient?family=Sm")  # returns once the server closes
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("path, key", [(b"/auth/token", "error"),
                                       (b"/fhir/Patient/_search", "resourceType")])
def test_a_body_over_the_limit_is_refused_unread(demo_server, path, key):
    answer = exchange(demo_server, b"POST " + path + b" HTTP/1.1\r\nHost: localhost\r\n"
                                   b"Content-Type: application/x-www-form-urlencoded\r\n"
                                   b"Content-Length: 100000000\r\nConnection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert key in json.loads(body)
