"""Slow, stalled and malformed clients against a real `facade serve` (gunicorn, sockets).

The default server (2 workers, 8 threads each) must keep answering — a cached read within
1 s — while ten times as many connections trickle or stall, close the stalled ones after
FACADE_CLIENT_TIMEOUT, and answer what is not a request with an OperationOutcome that
quotes nothing of it (request lines carry names, NHS numbers and dates of birth)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest

from .test_serve import get, serve, token  # noqa: F401  (serve is a fixture)

CLIENT_TIMEOUT = 3.0
STALLERS = 10 * 2 * 8


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def exchange(port: int, data: bytes, wait: float = 10.0, close_our_side: bool = False) -> bytes:
    """Send ``data`` (then, with ``close_our_side``, shut our side as `nc -N` does) and
    read until the server closes (or ``wait`` passes)."""
    with connect(port) as sock:
        try:
            sock.sendall(data)
            if close_our_side:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # refused mid-send (a 413 and close): the answer is still to be read
        sock.settimeout(wait)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def status_and_outcome(answer: bytes) -> tuple[int, dict, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(body), head


class Trickler:
    """Connections that send a request a byte at a time, or stop half-way."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [connect(port) for _ in range(count)]
        self.stop = threading.Event()
        partial = b"GET /fhir/Patient?family=Sm"
        for n, sock in enumerate(self.sockets):
            if n % 2:  # half stall after a partial request line
                sock.sendall(partial)
            else:      # half promise a body they never finish
                sock.sendall(b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\n"
                             b"Content-Length: 1000\r\n\r\ngrant_type=")
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(0.3):
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def timed(call) -> tuple[float, object]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


@pytest.fixture
def served(serve, tmp_path):  # noqa: F811
    server = serve(FACADE_CLIENT_TIMEOUT=str(CLIENT_TIMEOUT))
    server.wait_ready()
    return server


def test_trickling_and_stalled_clients_do_not_stop_cached_reads(served, tmp_path, practice):
    base = f"http://127.0.0.1:{served.port}/fhir"
    bearer = token(tmp_path / "state", base)
    number = next(p.identity.value for p in practice.index.summaries
                  if p.identity.kind == "NHSNumber")
    found = get(f"{base}/Patient?identifier={number}", bearer)[1]
    read = f"{base}/Patient/{found['entry'][0]['resource']['id']}"
    assert get(read, bearer)[0] == 200  # now cached
    trickler = Trickler(served.port, STALLERS)
    try:
        for _ in range(5):
            seconds, (status, _) = timed(lambda: get(read, bearer))
            assert status == 200 and seconds < 1.0, seconds
            seconds, (status, _) = timed(lambda: get(f"{base.removesuffix('/fhir')}/healthz"))
            assert status == 200 and seconds < 1.0, seconds
            time.sleep(0.2)
    finally:
        trickler.close()


def test_a_stalled_request_is_answered_408_and_closed(served):
    started = time.monotonic()
    answer = exchange(served.port, b"GET /fhir/Patient?family=Smith&birthdate=1970", wait=15)
    took = time.monotonic() - started
    status, outcome, _ = status_and_outcome(answer)
    assert status == 408 and outcome["resourceType"] == "OperationOutcome"
    assert CLIENT_TIMEOUT - 0.5 < took < CLIENT_TIMEOUT + 2.5, took
    assert b"Smith" not in answer and b"1970" not in answer


def test_an_idle_connection_is_closed_without_an_answer(served):
    started = time.monotonic()
    assert exchange(served.port, b"", wait=15) == b""
    assert time.monotonic() - started < CLIENT_TIMEOUT + 2.5


def test_a_huge_body_is_refused_from_its_head_before_it_is_sent(served):
    with connect(served.port) as sock:
        sock.sendall(b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 100000000\r\n\r\n")
        sock.settimeout(5)
        answer = sock.recv(65536)
    status, outcome, _ = status_and_outcome(answer)
    assert status == 413 and outcome["issue"][0]["code"] == "too-long"


def test_a_long_legitimate_search_line_is_served(served, tmp_path, practice):
    """Longer than gunicorn's own 4,094-byte limit: one patient's Observations by 250 codes."""
    base = f"http://127.0.0.1:{served.port}/fhir"
    bearer = token(tmp_path / "state", base)
    number = next(p.identity.value for p in practice.index.summaries
                  if p.identity.kind == "NHSNumber")
    patient = get(f"{base}/Patient?identifier={number}", bearer)[1]["entry"][0]["resource"]
    codes = ",".join(f"http://snomed.info/sct|{1000000 + n}" for n in range(250))
    url = f"{base}/Observation?patient={patient['id']}&code={codes}"
    assert len(url) > 6000
    status, body = get(url, bearer)
    assert status == 200 and body["resourceType"] == "Bundle", body


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /fhir/Patient?family=Smith&identifier=9990000018 HTTP/1.1 junk\r\n\r\n", 400),
    (b"GET /fhir/Patient?family=Smith&identifier=9990000018 HTTP/9.9\r\n\r\n", 400),
    (b"GET /fhir/Patient?identifier=9990000018" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /fhir/Patient?identifier=9990000018 HTTP/1.1\r\nX-A: " + b"x" * 40000 + b"\r\n\r\n",
     431),
    (b"POST /auth/token?identifier=9990000018 HTTP/1.1\r\nHost: localhost\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
     b"Content-Length: 5\r\n\r\n0\r\n\r\n", 400),
    # a chunk extension gunicorn's body reader refuses: read before the app, so 400 not 500
    (b"POST /fhir/Patient/_search?identifier=9990000018 HTTP/1.1\r\nHost: localhost\r\n"
     b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"1;a=\x01\r\na\r\n0\r\n\r\n", 400),
    (b"POST /fhir/Patient/_search HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n1\r\na\r\n0\r\nSmith\r\n\r\n", 400),
    (b"GET /fhir/Patient?identifier=9990000018 HTTP/1.1\r\nHost: localhost\r\n"
     b"X-Bad: a\x00b\r\n\r\n", 400),
])
def test_malformed_requests_get_an_outcome_quoting_nothing(served, request_bytes, status):
    answer = exchange(served.port, request_bytes)
    answered, outcome, head = status_and_outcome(answer)
    assert answered == status and outcome["resourceType"] == "OperationOutcome"
    assert b"9990000018" not in answer and b"Smith" not in answer
    assert b"gunicorn" not in head.lower() and b"X-Content-Type-Options: nosniff" in head
    served.stop()
    assert "9990000018" not in served.log() and "Smith" not in served.log()
