"""Malformed HTTP on raw sockets against a real `facade serve`: seeded mutations of real
requests (bytes replaced, inserted and cut, header lines repeated, framing made to lie).
Whatever arrives, the answer comes within the client timeout, is never a 5xx, and every
4xx is an OperationOutcome; the server answers normally afterwards.

FACADE_FUZZ_RAW_CASES raises the number of cases (the default fits CI)."""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from .test_serve import get, serve  # noqa: F401  (serve is a fixture)
from .test_slow_clients import exchange

CASES = int(os.environ.get("FACADE_FUZZ_RAW_CASES", "400"))
SEED = 14
CLIENT_TIMEOUT = 2.0

BASES = [
    b"GET /fhir/Patient?family=Smith&birthdate=1970-01-01 HTTP/1.1\r\nHost: localhost\r\n"
    b"Accept: application/fhir+json\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n",
    b"GET /fhir/metadata HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"POST /auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
    b"application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\ngrant_type=client_credentials",
    b"POST /fhir/Patient/_search HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
    b"application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"b\r\nfamily=Smit\r\n1\r\nh\r\n0\r\n\r\n",
    b"HEAD /healthz HTTP/1.0\r\n\r\n",
]
ODD = [b"\x00", b"\x7f", b"\xff", b" ", b"\r", b"\n", b":", b"\t", b"%", b"\xc2\xb2", b"\r\n",
       b"\x0b", b"?", b"/", b"..", b"\xef\xbf\xbe", b"0", b";", b","]


def mutate(rng: random.Random, request: bytes) -> bytes:
    for _ in range(rng.randint(1, 3)):
        request = rng.choice(MUTATIONS)(rng, request)
    return request


def _replace(rng, r):
    at = rng.randrange(len(r))
    return r[:at] + rng.choice(ODD) + r[at + 1:]


def _insert(rng, r):
    at = rng.randrange(len(r))
    return r[:at] + rng.choice(ODD) * rng.randint(1, 3) + r[at:]


def _cut(rng, r):
    at = rng.randrange(len(r))
    return r[:at] + r[at + rng.randint(1, 8):]


def _repeat_line(rng, r):
    lines = r.split(b"\r\n")
    at = rng.randrange(len(lines))
    return b"\r\n".join(lines[:at] + [lines[at]] * rng.randint(2, 5) + lines[at:])


def _lie_about_length(rng, r):
    head, _, body = r.partition(b"\r\n\r\n")
    length = rng.choice([b"0", b"1", b"-1", b"99999999999999999999", b"5, 6", b" 7", b"0x10",
                         str(len(body) + rng.randint(1, 5)).encode()])
    return head + b"\r\nContent-Length: " + length + b"\r\n\r\n" + body


def _add_coding(rng, r):
    head, _, body = r.partition(b"\r\n\r\n")
    coding = rng.choice([b"chunked", b"gzip", b"chunked, chunked", b"identity", b"CHUNKED",
                         b"chunked;x=1"])
    return head + b"\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + body


def _long_field(rng, r):
    head, _, body = r.partition(b"\r\n\r\n")
    return head + b"\r\nX-Long: " + b"a" * rng.choice([100, 9000, 40000]) + b"\r\n\r\n" + body


def _fold(rng, r):
    return r.replace(b"\r\nHost:", b"\r\n Host:", 1)


def _version(rng, r):
    return r.replace(b"HTTP/1.1", rng.choice([b"HTTP/2", b"HTTP/1.2", b"HTTP/1", b"http/1.1",
                                               b"HTTP/1.1 "]), 1)


MUTATIONS = [_replace, _insert, _cut, _repeat_line, _lie_about_length, _add_coding,
             _long_field, _fold, _version]


def send(port: int, data: bytes) -> bytes:
    return exchange(port, data, wait=CLIENT_TIMEOUT + 5, close_our_side=True)


def first_answer(answer: bytes) -> tuple[int, bytes, bytes]:
    head, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
    length = int(fields.get(b"Content-Length", b"0"))
    return status, fields.get(b"Content-Type", b""), rest[:length]


def answered_as_json(case: bytes, content_type: bytes, body: bytes) -> bool:
    """Never a page: an OperationOutcome, or (from the token endpoint, RFC 6749 5.2) an
    OAuth error object; under /fhir always an OperationOutcome."""
    if not body:
        return True  # HEAD
    document = json.loads(body)
    if content_type.startswith(b"application/fhir+json"):
        return document["resourceType"] == "OperationOutcome"
    target = (case.split(b" ", 2)[1:2] or [b""])[0]
    return content_type.startswith(b"application/json") and "error" in document and \
        not target.startswith(b"/fhir")


@pytest.fixture
def served(serve):  # noqa: F811
    server = serve(FACADE_CLIENT_TIMEOUT=str(CLIENT_TIMEOUT), FACADE_WORKERS="1",
                   FACADE_THREADS="4")
    server.wait_ready()
    yield server


def test_malformed_requests_never_get_a_5xx_or_a_page(served):
    rng = random.Random(SEED)
    cases = [mutate(rng, rng.choice(BASES)) for _ in range(CASES)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda case: send(served.port, case), cases))
    failures = []
    for case, answer in zip(cases, answers, strict=True):
        if not answer:
            continue  # the request was never whole: closed without an answer
        status, content_type, body = first_answer(answer)
        if (status >= 500 and status != 501) or (status >= 400 and not answered_as_json(
                case, content_type, body)):
            failures.append((case, status, content_type))
    assert not failures, failures[:5]
    assert sum(bool(a) for a in answers) > CASES * 0.8  # most were answered, not dropped
    assert get(f"http://127.0.0.1:{served.port}/healthz")[0] == 200
