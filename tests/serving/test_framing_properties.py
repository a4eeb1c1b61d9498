"""framing.measure's properties over generated requests (hypothesis): it never raises;
a whole request is Incomplete at every shorter prefix and Complete at its own length,
whatever follows it; any byte string is judged, never crashed on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from facade.serving.framing import Complete, Incomplete, Limits, Refused, measure

LIMITS = Limits(request_line=2048, header_bytes=4096, header_fields=20, body=4096)
TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                "QRSTUVWXYZ", min_size=1, max_size=12)
TARGET = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                 min_size=1, max_size=200)
VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
FRAMING_FIELDS = ("content-length", "transfer-encoding", "expect")
FIELD = st.tuples(TOKEN.filter(lambda name: name.lower() not in FRAMING_FIELDS), VALUE)


@st.composite
def requests(draw) -> bytes:
    """A well-framed HTTP/1.1 request: no body, a Content-Length body or a chunked one."""
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS"]))
    end = draw(st.sampled_from([b"\r\n", b"\n"]))
    head = [f"{method} /{draw(TARGET)} HTTP/1.{draw(st.integers(0, 1))}".encode()]
    head += [f"{name}: {value}".encode() for name, value in draw(st.lists(FIELD, max_size=8))]
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    if framing == "length":
        head.append(b"Content-Length: %d" % len(body))
    elif framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 64), max_size=5))
        chunks, position = [], 0
        for size in sizes:
            piece = body[position:position + size] or b"x" * size
            chunks.append(b"%x\r\n%s\r\n" % (len(piece), piece))
            position += size
        trailers = b"".join(f"{n}: {v}\r\n".encode()
                            for n, v in draw(st.lists(FIELD, max_size=2)))
        return end.join(head) + end + end + b"".join(chunks) + b"0\r\n" + trailers + b"\r\n"
    return end.join(head) + end + end + (body if framing == "length" else b"")


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(requests(), st.binary(max_size=40))
def test_a_whole_request_is_complete_at_its_length_and_not_before(request, after):
    assert measure(request + after, LIMITS) == Complete(len(request))
    for cut in range(0, len(request), max(1, len(request) // 40)):
        assert measure(request[:cut], LIMITS) == Incomplete() or \
            measure(request[:cut], LIMITS) == Incomplete(continue_expected=False), cut


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_are_judged_never_crashed_on(data):
    verdict = measure(data, LIMITS)
    assert isinstance(verdict, (Complete, Incomplete, Refused))
    if isinstance(verdict, Refused):
        assert 400 <= verdict.status < 600 and verdict.status != 500
    if isinstance(verdict, Complete):
        assert 0 < verdict.length <= len(data)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(requests(), st.integers(0, 10_000), st.binary(min_size=1, max_size=3))
def test_a_damaged_request_is_judged_never_crashed_on(request, position, damage):
    at = position % len(request)
    verdict = measure(request[:at] + damage + request[at + 1:], LIMITS)
    assert isinstance(verdict, (Complete, Incomplete, Refused))
