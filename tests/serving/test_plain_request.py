"""framing.plain_request against gunicorn's own parser: a request it reads is read exactly as
gunicorn reads it (method, target, path, query, version, fields, keep-alive), and what it
leaves to gunicorn includes everything gunicorn refuses or treats specially. gunicorn's
parser is configured as `facade serve` configures it (gunicorn_conf.py, read by gunicorn)."""

from __future__ import annotations

import io
import os
from unittest import mock

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config
from gunicorn.http.errors import LimitRequestHeaders, ParseException
from gunicorn.http.message import DEFAULT_MAX_HEADERFIELD_SIZE
from gunicorn.http.parser import RequestParser
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.config import Settings
from facade.serving import worker
from facade.serving.cli import CONF
from facade.serving.framing import Complete, Limits, Refused, measure, plain_request

PEER = ("127.0.0.1", 50000)
TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                "QRSTUVWXYZ", min_size=1, max_size=12)
#: Mostly what clients send; sometimes any byte at all (control characters, Latin-1).
TARGET = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60)
    .map(str.encode), st.binary(max_size=60))


class _ServeConfiguration(Application):
    """gunicorn's configuration of `facade serve`: gunicorn_conf.py, read by gunicorn's own
    loader as ``-c`` reads it. Only the configuration is wanted; there is no app."""

    def load_config(self) -> None:
        self.load_config_from_file(str(CONF))

    def load(self):
        raise NotImplementedError


def served_with_default_settings() -> tuple[Config, Limits]:
    """gunicorn's configuration and the worker's limits as `facade serve` has them with no
    FACADE_* variable set (the environment is put back: gunicorn_conf sets a variable)."""
    environ = {name: value for name, value in os.environ.items()
               if not name.startswith("FACADE_")}
    with mock.patch.dict(os.environ, environ, clear=True):
        return _ServeConfiguration().cfg, worker.limits_of(Settings.load())


CONFIG, LIMITS = served_with_default_settings()
#: Field line lengths either side of gunicorn's own per-field default and of the limit on
#: all fields together, where a reading could differ.
EDGES = [DEFAULT_MAX_HEADERFIELD_SIZE, LIMITS.header_bytes]
VALUE = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)
    .map(lambda text: text.encode("latin-1")), st.binary(max_size=40))


@st.composite
def long_values(draw) -> bytes:
    """A value (a large token, say) whose field line is about as long as a limit."""
    edge = draw(st.sampled_from(EDGES))
    length = edge + draw(st.integers(-24, 4))
    return draw(st.sampled_from([b"a", b"\xe9", b"."])) * length


def gunicorns(request: bytes):
    """gunicorn's reading of ``request``, or the exception it refuses it with."""
    try:
        return next(RequestParser(CONFIG, [request], PEER))
    except ParseException as error:
        return error


def same_reading(request: bytes) -> None:
    head = plain_request(request, LIMITS)
    if head is None:
        return
    theirs = gunicorns(request)
    assert not isinstance(theirs, Exception), f"gunicorn refuses {request!r}: {theirs!r}"
    ours = worker._request_from(head, CONFIG, PEER)
    for name in ("method", "uri", "path", "query", "fragment", "version", "headers",
                 "scheme", "_expected_100_continue"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.should_close() == theirs.should_close()
    assert ours.body.read() == theirs.body.read() == b""


@st.composite
def requests(draw) -> bytes:
    method = draw(st.sampled_from([b"GET"] * 4 + [b"HEAD"] * 2 + [b"get", b"POST"]))
    target = draw(st.sampled_from([b"/"] * 6 + [b"//", b"*", b"http://h/"])) + draw(TARGET)
    version = draw(st.sampled_from([b"HTTP/1.1"] * 3 + [b"HTTP/1.0"] * 2
                                   + [b"HTTP/2.0", b"HTTP/1.2"]))
    fields = draw(st.lists(st.tuples(TOKEN.map(str.encode), VALUE), max_size=6))
    fields += draw(st.lists(st.tuples(TOKEN.map(str.encode), long_values()), max_size=2))
    fields += draw(st.lists(st.sampled_from([
        (b"Host", b"h"), (b"Host", b"other"), (b"Connection", b"close"),
        (b"Connection", b"keep-alive"), (b"Content-Type", b"a/b"), (b"X_Forwarded_For", b"x"),
        (b"Expect", b"100-continue"), (b"Content-Length", b"0"), (b" Folded", b"x"),
        (b"Transfer-Encoding", b"chunked"), (b"Upgrade", b"h2c")]), max_size=3))
    lines = [b" ".join([method, target, version])]
    lines += [name + b":" + draw(st.sampled_from([b"", b" ", b"\t"])) + value
              for name, value in fields]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@st.composite
def everyday_requests(draw) -> bytes:
    """What clients send: almost all of them plain."""
    method = draw(st.sampled_from([b"GET", b"HEAD"]))
    target = b"/" + draw(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                                 max_size=80).map(str.encode))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]))
    names = draw(st.lists(TOKEN.filter(lambda name: "_" not in name), max_size=6,
                          unique_by=str.upper))
    values = [draw(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                           max_size=40)).encode() for _ in names]
    if names and draw(st.booleans()):  # a large token, say
        values[draw(st.integers(0, len(names) - 1))] = draw(long_values())
    lines = [b" ".join([method, target, version])]
    lines += [name.encode() + b": " + value for name, value in zip(names, values, strict=True)]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@settings(max_examples=3000, deadline=None)
@given(requests())
def test_what_plain_request_reads_gunicorn_reads_the_same(request: bytes) -> None:
    same_reading(request)


@settings(max_examples=1500, deadline=None)
@given(everyday_requests())
def test_everyday_requests_read_alike(request: bytes) -> None:
    if b"#" not in request.split(b"\r\n")[0] and not request.startswith((b"GET //", b"HEAD //")) \
            and not isinstance(measure(request, LIMITS), Refused) \
            and not any(name in request.upper() for name in (b"\r\nTE:", b"\r\nTRAILER:",
                                                             b"\r\nUPGRADE:",
                                                             b"\r\nEXPECT:",
                                                             b"\r\nHTTP2-SETTINGS:",
                                                             b"\r\nCONTENT-LENGTH:",
                                                             b"\r\nTRANSFER-ENCODING:")):
        assert plain_request(request, LIMITS) is not None, request
    same_reading(request)


@pytest.mark.parametrize("request_bytes", [
    b"GET /fhir/Patient/abc HTTP/1.1\r\nHost: h:8080\r\nAuthorization: Bearer x.y.z\r\n\r\n",
    b"HEAD /fhir/Observation?patient=p&_count=50&date=ge2020 HTTP/1.0\r\n\r\n",
    b"GET /fhir/metadata HTTP/1.1\r\nConnection: close\r\nAccept: */*\r\n\r\n",
    b"GET /fhir/x%20y?q=%C3%A9 HTTP/1.1\r\nUser-Agent: caf\xe9\r\n\r\n",
])
def test_everyday_requests_are_plain_and_read_alike(request_bytes: bytes) -> None:
    assert plain_request(request_bytes, LIMITS) is not None
    same_reading(request_bytes)


@pytest.mark.parametrize("request_bytes", [
    b"POST /fhir/Patient/_search HTTP/1.1\r\nContent-Length: 0\r\n\r\n",  # a body's framing
    b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  # a repeated field
    b"GET /x HTTP/1.1\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n",  # gunicorn drops it
    b"GET /x HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",  # obsolete folding: gunicorn refuses
    b"GET /x HTTP/1.1\r\nX: a\x01b\r\n\r\n",  # a control character: gunicorn refuses
    b"GET /x#frag HTTP/1.1\r\n\r\n", b"GET //x HTTP/1.1\r\n\r\n", b"GET * HTTP/1.1\r\n\r\n",
    b"GET http://h/x HTTP/1.1\r\n\r\n", b"get /x HTTP/1.1\r\n\r\n",
    b"GET /x HTTP/1.1\n\n", b"\r\nGET /x HTTP/1.1\r\n\r\n",  # left to measure, then gunicorn
    b"GET /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n",  # pipelined: the next one follows
    b"GET /x HTTP/1.1\r\nUpgrade: h2c\r\n\r\n",
])
def test_anything_else_is_left_to_gunicorn(request_bytes: bytes) -> None:
    assert plain_request(request_bytes, LIMITS) is None


@pytest.mark.parametrize("field", [b"Content-Length: 0", b"Transfer-Encoding: chunked",
                                   b"Expect: 100-continue", b"Upgrade: h2c",
                                   b"HTTP2-Settings: AAMAAABkAAQAAP__", b"TE: trailers",
                                   b"Trailer: X-Checksum", b"te: trailers"])
def test_a_field_gunicorn_acts_on_leaves_the_request_to_it(field: bytes) -> None:
    plain = with_fields(b"GET /fhir/metadata HTTP/1.1", b"Host: h")
    assert plain_request(plain, LIMITS) is not None
    assert plain_request(with_fields(b"GET /fhir/metadata HTTP/1.1", b"Host: h", field),
                         LIMITS) is None


def test_a_request_line_of_exactly_the_limit_is_plain_one_byte_more_is_not() -> None:
    def line(length: int) -> bytes:
        return b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(line(LIMITS.request_line)) == LIMITS.request_line
    assert plain_request(with_fields(line(LIMITS.request_line)), LIMITS) is not None
    assert plain_request(with_fields(line(LIMITS.request_line + 1)), LIMITS) is None


def test_over_the_limits_is_left_to_measure() -> None:
    long_line = b"GET /" + b"a" * LIMITS.request_line + b" HTTP/1.1\r\n\r\n"
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"F%d: v\r\n" % n for n in range(101)) + b"\r\n"
    assert plain_request(long_line, LIMITS) is None
    assert plain_request(many, LIMITS) is None


#: A large bearer token (a JWT with many claims): 9,000 bytes, over gunicorn's own 8,190.
LARGE_TOKEN = b"Bearer " + b"a" * (9000 - len(b"Bearer "))


def with_fields(head: bytes, *fields: bytes) -> bytes:
    return b"\r\n".join([head, *fields]) + b"\r\n\r\n"


def test_a_large_token_is_read_alike_on_both_paths() -> None:
    """GET reads it here; the same head with a body's framing, or a search by POST, is
    gunicorn's to read: both take it, as it was sent."""
    plain = with_fields(b"GET /fhir/Patient/abc HTTP/1.1", b"Host: h",
                        b"Authorization: " + LARGE_TOKEN)
    assert plain_request(plain, LIMITS) is not None
    same_reading(plain)
    for request in (with_fields(b"GET /fhir/Patient/abc HTTP/1.1", b"Host: h",
                                b"Authorization: " + LARGE_TOKEN, b"Content-Length: 0"),
                    with_fields(b"POST /fhir/Patient/_search HTTP/1.1", b"Host: h",
                                b"Authorization: " + LARGE_TOKEN,
                                b"Content-Type: application/x-www-form-urlencoded",
                                b"Content-Length: 6") + b"name=x"):
        assert plain_request(request, LIMITS) is None
        assert isinstance(measure(request, LIMITS), Complete)
        read = gunicorns(request)
        assert not isinstance(read, Exception), read
        assert ("AUTHORIZATION", LARGE_TOKEN.decode()) in read.headers


def token_field(line_bytes: int) -> bytes:
    """A field whose line, with its CRLF, takes ``line_bytes``."""
    return b"X-Token: " + b"a" * (line_bytes - len(b"X-Token: \r\n"))


HEADS = [(b"GET /fhir/Patient/abc HTTP/1.1", ()),
         (b"POST /fhir/Patient/_search HTTP/1.1", (b"Content-Length: 0",))]


@pytest.mark.parametrize("head, fields", HEADS)
def test_fields_taking_all_the_header_bytes_are_read_on_both_paths(head, fields) -> None:
    rest = LIMITS.header_bytes - sum(len(field) + 2 for field in fields)
    request = with_fields(head, *fields, token_field(rest))
    assert isinstance(measure(request, LIMITS), Complete)
    assert (plain_request(request, LIMITS) is not None) is (not fields)  # the GET is plain
    assert not isinstance(gunicorns(request), Exception)
    same_reading(request)


@pytest.mark.parametrize("head, fields", HEADS)
def test_one_field_over_the_header_bytes_is_refused_on_both_paths(head, fields) -> None:
    """The framing check refuses it first, with an OperationOutcome; gunicorn's parser,
    should it ever see it, refuses it too."""
    request = with_fields(head, *fields, token_field(LIMITS.header_bytes + 1))
    assert plain_request(request, LIMITS) is None
    assert measure(request, LIMITS) == Refused(
        431, f"the request's header fields exceed {LIMITS.header_bytes} bytes")
    assert isinstance(gunicorns(request), LimitRequestHeaders)


def test_plain_heads_are_read_here_only_while_gunicorn_takes_every_field_they_may_hold() -> None:
    """plain_request measures the fields together, not one by one: gunicorn must refuse no
    single field within that total, or it may refuse what plain_request reads. Its
    limit_request_field_size of 0 means its default (8,190 bytes), not unlimited."""
    assert CONFIG.limit_request_field_size >= LIMITS.header_bytes
    assert worker.reads_plain_heads(CONFIG, LIMITS)
    unset, _ = served_with_default_settings()
    unset.set("limit_request_field_size", 0)
    assert not worker.reads_plain_heads(unset, LIMITS)
    unset.set("limit_request_field_size", LIMITS.header_bytes - 1)
    assert not worker.reads_plain_heads(unset, LIMITS)


def test_a_plain_request_has_an_empty_body_to_read() -> None:
    head = plain_request(b"GET / HTTP/1.1\r\n\r\n", LIMITS)
    assert head is not None
    request = worker._request_from(head, CONFIG, PEER)
    assert isinstance(request.body, io.BytesIO) and request.body.read() == b""
