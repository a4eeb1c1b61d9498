"""framing.measure on hand-written bytes: when a buffer is one whole request, and what is
refused before a thread or gunicorn's parser sees it (RFC 9112's message framing)."""

from __future__ import annotations

import pytest

from facade.serving.framing import Complete, Incomplete, Limits, Refused, measure

LIMITS = Limits(request_line=64, header_bytes=128, header_fields=4, body=100)
GET = b"GET /fhir/Patient?family=Smith HTTP/1.1\r\nHost: a\r\n\r\n"


def test_a_whole_get_is_complete_at_its_empty_line():
    assert measure(GET, LIMITS) == Complete(len(GET))
    assert measure(GET + b"GET / HTTP/1.1\r\n", LIMITS) == Complete(len(GET))


@pytest.mark.parametrize("cut", [0, 1, 10, 41, len(GET) - 1])
def test_any_prefix_of_a_request_is_incomplete(cut):
    assert measure(GET[:cut], LIMITS) == Incomplete()


def test_bare_lf_line_ends_and_leading_empty_lines_are_tolerated():
    request = b"\r\n\nGET / HTTP/1.0\nHost: a\n\n"
    assert measure(request, LIMITS) == Complete(len(request))


def test_a_body_is_complete_at_its_content_length():
    head = b"POST /auth/token HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
    assert measure(head + b"abcd", LIMITS) == Incomplete()
    assert measure(head + b"abcdeGET", LIMITS) == Complete(len(head) + 5)


def test_a_body_over_the_limit_is_refused_from_its_head_alone():
    head = b"POST /auth/token HTTP/1.1\r\nContent-Length: 101\r\n\r\n"
    assert measure(head, LIMITS) == Refused(413, "the request body is larger than 100 bytes")
    assert measure(head.replace(b"101", b"100"), LIMITS) == Incomplete()


def test_expect_100_continue_is_reported_while_the_body_is_missing():
    head = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n"
    assert measure(head, LIMITS) == Incomplete(continue_expected=True)
    assert measure(head + b"abc", LIMITS) == Complete(len(head) + 3)
    other = head.replace(b"100-Continue", b"cheese")
    assert measure(other, LIMITS).status == 417


CHUNKED = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_chunked_body_ends_after_the_last_chunk_and_its_trailers():
    body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n"
    whole = CHUNKED + body
    assert measure(whole + b"GET", LIMITS) == Complete(len(whole))
    for cut in range(len(CHUNKED), len(whole)):
        assert measure(whole[:cut], LIMITS) == Incomplete(), cut


@pytest.mark.parametrize("body", [b"zz\r\n", b"5\r\nhelloXY0\r\n\r\n", b"-1\r\n"])
def test_a_malformed_chunked_body_is_refused(body):
    assert measure(CHUNKED + body, LIMITS).status == 400


def test_a_chunked_body_over_the_limit_is_refused_as_the_sizes_come():
    assert measure(CHUNKED + b"40\r\n" + b"a" * 64 + b"\r\n41\r\n", LIMITS).status == 413


@pytest.mark.parametrize("head, status", [
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: \xc2\xb2\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nbad name: 1\r\n\r\n", 400),
])
def test_ambiguous_framing_is_refused(head, status):
    assert measure(head, LIMITS).status == status


def test_repeated_equal_content_lengths_are_one():
    head = b"POST / HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nab"
    assert measure(head, LIMITS) == Complete(len(head))


@pytest.mark.parametrize("line", [b"GET /", b"GET  / HTTP/1.1", b"G(T / HTTP/1.1",
                                  b"GET / HTTP/2.0", b"GET /a\x00b HTTP/1.1",
                                  b"GET / HTTP/1.1 extra", b"\x16\x03\x01\x02\x00"])
def test_what_is_not_a_request_line_is_refused_without_echoing_it(line):
    verdict = measure(line + b"\r\n\r\n", LIMITS)
    assert verdict.status == 400 and line.decode("latin-1") not in verdict.diagnostics


def test_a_long_request_line_is_414_even_before_it_ends():
    assert measure(b"GET /" + b"a" * 64, LIMITS).status == 414
    assert measure(b"GET /" + b"a" * 47 + b" HTTP/1.1\r\n", LIMITS) == Incomplete()  # 64


def test_too_many_or_too_large_header_fields_are_431():
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"A%d: 1\r\n" % n for n in range(5)) + b"\r\n"
    assert measure(many, LIMITS).status == 431
    large = b"GET / HTTP/1.1\r\nA: " + b"x" * 130 + b"\r\n\r\n"
    assert measure(large, LIMITS).status == 431
    assert measure(large[:-4], LIMITS).status == 431  # unfinished, already too large


def test_trailer_lines_must_be_fields():
    assert measure(CHUNKED + b"1\r\na\r\n0\r\n0\r\n\r\n", LIMITS).status == 400
    assert measure(CHUNKED + b"1\r\na\r\n0\r\nX: 1\r\n", LIMITS) == Incomplete()


# --- at the limits, exactly: the limit itself is allowed, one byte more is not ---------

def test_a_request_line_of_exactly_the_limit_is_waited_for_one_byte_more_is_414():
    at_limit = b"GET /" + b"a" * (LIMITS.request_line - 5)
    assert len(at_limit) == LIMITS.request_line
    assert measure(at_limit, LIMITS) == Incomplete()
    assert measure(at_limit + b"a", LIMITS).status == 414


def test_a_whole_request_line_of_exactly_the_limit_is_taken_one_byte_more_is_414():
    def request(length: int) -> bytes:
        return b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1\r\n\r\n"
    at_limit = request(LIMITS.request_line)
    assert measure(at_limit, LIMITS) == Complete(len(at_limit))
    assert measure(request(LIMITS.request_line + 1), LIMITS).status == 414


def test_leading_empty_lines_do_not_count_towards_the_request_line():
    at_limit = b"GET /" + b"a" * (LIMITS.request_line - 5)
    assert measure(b"\r\n" * 8 + at_limit, LIMITS) == Incomplete()
    assert measure(b"\r\n" * 8 + at_limit + b"a", LIMITS).status == 414


def test_a_chunked_body_of_exactly_the_limit_is_taken_one_byte_more_is_413():
    def chunked(size: int) -> bytes:
        return CHUNKED + b"%x\r\n" % size + b"a" * size + b"\r\n0\r\n\r\n"
    whole = chunked(LIMITS.body)
    assert measure(whole, LIMITS) == Complete(len(whole))
    assert measure(chunked(LIMITS.body + 1), LIMITS).status == 413


def test_a_chunked_body_expects_100_continue_only_until_its_first_chunk_arrives():
    head = CHUNKED.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
    assert measure(head, LIMITS) == Incomplete(continue_expected=True)
    assert measure(head + b"5", LIMITS) == Incomplete(continue_expected=True)
    assert measure(head + b"5\r\nhello\r\n", LIMITS) == Incomplete(continue_expected=False)
    assert measure(head + b"5\r\nhello\r\n0", LIMITS) == Incomplete(continue_expected=False)


def test_a_chunk_is_refused_as_soon_as_what_follows_it_is_not_a_line_end():
    assert measure(CHUNKED + b"5\r\nhello", LIMITS) == Incomplete()
    assert measure(CHUNKED + b"5\r\nhello\r", LIMITS) == Incomplete()
    assert measure(CHUNKED + b"5\r\nhelloXY", LIMITS).status == 400
    assert measure(CHUNKED + b"5\r\nhello\nXY", LIMITS) == Incomplete()  # a bare LF ends it


def test_trailer_fields_larger_than_the_header_limit_are_431():
    trailer = b"X-Trailer: " + b"a" * LIMITS.header_bytes
    refused = measure(CHUNKED + b"0\r\n" + trailer, LIMITS)
    assert refused.status == 431 and "trailer" in refused.diagnostics
    assert measure(CHUNKED + b"0\r\n" + trailer[:LIMITS.header_bytes], LIMITS) == Incomplete()
