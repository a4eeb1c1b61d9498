"""How much of a buffer is one whole HTTP/1.1 request: the serving worker's gatekeeper, sans-IO.

The worker (worker.py) reads each connection in its event loop and hands a request to
a thread only when :func:`measure` says it is all there, so a slow or stalled client
costs a buffer, never a thread. The same look at the request head enforces the limits
(request line, header block, body) early — a 100 MB body is refused from its
Content-Length, before any of it is read — and answers what cannot be a request.
Only the framing is judged here; gunicorn's parser still reads the request itself —
except a plain one (:func:`plain_request`: GET or HEAD, no body, nothing a proxy or
gunicorn's policies would act on), read here once instead of twice.

Nothing of the request is ever echoed: request lines carry search values (names,
NHS numbers, dates of birth), so a refusal says what was wrong, never what was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: A head ends at the first empty line; bare LF line ends are tolerated (RFC 9112 2.2).
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"\r?\n")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")
_TARGET = re.compile(rb"[^\x00-\x20\x7f]+")  # no control character, no space
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})(;[^\r\n]*)?")


@dataclass(frozen=True)
class Limits:
    """What a request may hold, in bytes and fields: the FACADE_MAX_* settings
    (worker.limits_of), which alone say the defaults."""

    request_line: int
    header_bytes: int
    header_fields: int
    body: int


@dataclass(frozen=True)
class Complete:
    """The first ``length`` bytes are one request."""
    length: int


@dataclass(frozen=True)
class Incomplete:
    """More is to come; ``continue_expected``: the client waits for ``100 Continue`` before
    it sends the body."""
    continue_expected: bool = False


@dataclass(frozen=True)
class Refused:
    status: int
    diagnostics: str


@dataclass(frozen=True)
class PlainHead:
    """A plain request's head as gunicorn's parser reads it: the method, the target and
    its path and query, the version, and the fields (names upper-cased, values decoded
    as Latin-1 and stripped of spaces and tabs)."""
    method: str
    target: str
    path: str
    query: str
    version: tuple[int, int]
    fields: list[tuple[str, str]]


#: What gunicorn's parser reads exactly as plain_request does, and nothing else.
_PLAIN_METHODS = {b"GET": "GET", b"HEAD": "HEAD"}
_PLAIN_VERSIONS = {b"HTTP/1.1": (1, 1), b"HTTP/1.0": (1, 0)}
_PLAIN_TARGET = re.compile(rb"/(?!/)[\x21\x22\x24-\x7e]*")  # origin-form; no "#", no "//"
_UNSAFE_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
#: Fields gunicorn acts on (framing, expectations, upgrades): their requests take its way.
_NOT_PLAIN = frozenset({"CONTENT-LENGTH", "TRANSFER-ENCODING", "EXPECT", "UPGRADE",
                        "HTTP2-SETTINGS", "TE", "TRAILER"})


def measure(buffer: bytes | bytearray, limits: Limits) -> Complete | Incomplete | Refused:
    """What the buffer holds: a whole first request, not yet one, or something refused."""
    start = _leading_empty_lines(buffer)
    head_end = _HEAD_END.search(buffer, start)
    if head_end is None:
        return _while_head_incomplete(buffer, start, limits)
    head = bytes(buffer[start:head_end.start()])
    lines = _LINE_END.split(head)
    refused = _check_request_line(lines[0], limits) or _check_head(lines, limits)
    if refused:
        return refused
    headers = _fields(lines[1:])
    if isinstance(headers, Refused):
        return headers
    return _with_body(buffer, head_end.end(), headers, limits)


def plain_request(buffer: bytes | bytearray, limits: Limits) -> PlainHead | None:
    """The buffer, when it is one whole plain request within the limits, read as
    gunicorn's parser would read it: GET or HEAD, HTTP/1.1 or 1.0, an origin-form target
    of visible ASCII without a fragment, CRLF line ends, no body, every field a token name
    (no underscore: gunicorn drops those) once only, with no control character in its
    value, and none of the fields gunicorn acts on. Anything else is None (``measure``
    judges it, and gunicorn's parser reads it, refusing what it refuses). Fields are
    measured together, never one by one: gunicorn's limit on one field is no lower than
    ``limits.header_bytes`` (gunicorn_conf.py), or the worker does not call this."""
    head, blank, rest = bytes(buffer).partition(b"\r\n\r\n")
    if not blank or rest or len(head) > limits.request_line + limits.header_bytes:
        return None
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or len(lines[0]) > limits.request_line \
            or len(lines) - 1 > limits.header_fields \
            or len(head) - len(lines[0]) > limits.header_bytes:
        return None
    method, target, version = parts
    if method not in _PLAIN_METHODS or version not in _PLAIN_VERSIONS \
            or not _PLAIN_TARGET.fullmatch(target):
        return None
    fields: list[tuple[str, str]] = []
    seen: set[str] = set()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name) or b"_" in name:
            return None
        upper = name.decode("ascii").upper()
        value = value.strip(b" \t")
        if upper in seen or upper in _NOT_PLAIN or _UNSAFE_VALUE.search(value):
            return None
        seen.add(upper)
        fields.append((upper, value.decode("latin-1")))
    text = target.decode("ascii")
    path, _, query = text.partition("?")
    return PlainHead(_PLAIN_METHODS[method], text, path, query, _PLAIN_VERSIONS[version],
                     fields)


def _leading_empty_lines(buffer: bytes | bytearray) -> int:
    """RFC 9112 2.2: a server should ignore empty lines before the request line."""
    position = 0
    while True:
        found = _LINE_END.match(buffer, position)
        if found is None or found.end() == position:
            return position
        position = found.end()


def _while_head_incomplete(buffer, start: int, limits: Limits) -> Incomplete | Refused:
    line_end = _LINE_END.search(buffer, start)
    if line_end is None:
        if len(buffer) - start > limits.request_line:
            return Refused(414, f"the request line is longer than {limits.request_line} "
                                "bytes; send long searches as POST [type]/_search")
        return Incomplete()
    refused = _check_request_line(bytes(buffer[start:line_end.start()]), limits)
    if refused:
        return refused
    if len(buffer) - line_end.end() > limits.header_bytes:
        return Refused(431, f"the request's header fields exceed {limits.header_bytes} bytes")
    return Incomplete()


def _check_request_line(line: bytes, limits: Limits) -> Refused | None:
    if len(line) > limits.request_line:
        return Refused(414, f"the request line is longer than {limits.request_line} bytes; "
                            "send long searches as POST [type]/_search")
    parts = line.split(b" ")
    if (len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1])
            or not _VERSION.fullmatch(parts[2])):
        return Refused(400, "the request line is not METHOD SP target SP HTTP/1.x")
    return None


def _check_head(lines: list[bytes], limits: Limits) -> Refused | None:
    fields_count = len(lines) - 1
    if fields_count > limits.header_fields:
        return Refused(431, f"the request has more than {limits.header_fields} header fields")
    if sum(len(line) + 2 for line in lines[1:]) > limits.header_bytes:
        return Refused(431, f"the request's header fields exceed {limits.header_bytes} bytes")
    return None


def _fields(lines: list[bytes]) -> dict[bytes, list[bytes]] | Refused:
    """The fields that decide framing, lower-cased; a line that is no field is refused."""
    found: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            return Refused(400, "a header line is not a field (name: value)")
        name = name.lower()
        if name in (b"content-length", b"transfer-encoding", b"expect"):
            found.setdefault(name, []).append(value.strip(b" \t"))
    return found


def _with_body(buffer, body_start: int, headers: dict[bytes, list[bytes]],
               limits: Limits) -> Complete | Incomplete | Refused:
    expect = headers.get(b"expect", [])
    if any(value.lower() != b"100-continue" for value in expect):
        return Refused(417, "the only expectation met is 100-continue")
    if b"transfer-encoding" in headers:
        if b"content-length" in headers:  # RFC 9112 6.1: a smuggling attempt, or a mistake
            return Refused(400, "a request cannot have both Transfer-Encoding and "
                                "Content-Length")
        codings = b",".join(headers[b"transfer-encoding"]).lower().replace(b" ", b"")
        if codings != b"chunked":
            return Refused(501, "the only transfer coding accepted is chunked")
        return _chunked(buffer, body_start, limits, bool(expect))
    length = _content_length(headers.get(b"content-length"))
    if isinstance(length, Refused):
        return length
    if length > limits.body:
        return Refused(413, f"the request body is larger than {limits.body} bytes")
    if len(buffer) - body_start < length:
        return Incomplete(continue_expected=bool(expect))
    return Complete(body_start + length)


def _content_length(values: list[bytes] | None) -> int | Refused:
    if not values:
        return 0
    distinct = {part.strip(b" \t") for value in values for part in value.split(b",")}
    if len(distinct) != 1:
        return Refused(400, "the request has conflicting Content-Length values")
    (value,) = distinct
    if not value.isdigit() or not value.isascii() or len(value) > 18:
        return Refused(400, "Content-Length is not a number of bytes")
    return int(value)


def _chunked(buffer, position: int, limits: Limits,
             expect: bool) -> Complete | Incomplete | Refused:
    """Walk the chunks to the last one and its trailer section; sizes are checked as they
    come, so an endless chunked body is refused at the limit, not held in memory."""
    total = 0
    while True:
        line_end = _LINE_END.search(buffer, position)
        if line_end is None:
            if len(buffer) - position > 1024:
                return Refused(400, "a chunk size line is too long")
            return Incomplete(continue_expected=expect and total == 0)
        size_line = _CHUNK_SIZE.fullmatch(bytes(buffer[position:line_end.start()]))
        if size_line is None:
            return Refused(400, "the chunked body has an invalid chunk size line")
        size = int(size_line.group(1), 16)
        total += size
        if total > limits.body:
            return Refused(413, f"the request body is larger than {limits.body} bytes")
        position = line_end.end()
        if size == 0:
            return _trailers(buffer, position, limits)
        data_end = position + size
        if len(buffer) < data_end + 2:
            return Incomplete()
        crlf = _LINE_END.match(buffer, data_end)
        if crlf is None:
            return Refused(400, "a chunk is not followed by CRLF")
        position = crlf.end()


def _trailers(buffer, position: int, limits: Limits) -> Complete | Incomplete | Refused:
    start = position
    while True:
        line_end = _LINE_END.search(buffer, position)
        if line_end is None:
            if len(buffer) - start > limits.header_bytes:
                return Refused(431, "the chunked body's trailer fields are too large")
            return Incomplete()
        if line_end.start() == position:
            return Complete(line_end.end())
        name, colon, _ = bytes(buffer[position:line_end.start()]).partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            return Refused(400, "a trailer line of the chunked body is not a field")
        position = line_end.end()
