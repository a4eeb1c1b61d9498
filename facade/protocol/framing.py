"""Cutting a TCP byte stream into XML documents, and back.

TPP's specification says every document sent over the connection ends with a
newline. Real peers are less tidy: documents arrive pretty-printed over many
lines, with CRLF, several in one TCP segment, or with no final newline at all.
So a document ends where its root element ends, not at the first newline::

    [whitespace] [<?xml ...?>] [comments] <Root ...> ... </Root> [\\r]\\n
    ^ skipped    ^---------------- one document -----------^     ^ terminator

The end of the root is found by counting start and end tags that carry the
root's own name, which is cheap (a C-level regex search over new bytes only)
and exact for everything but the contrived case of the root's end tag inside a
comment or CDATA section; such a document then fails to parse and is answered
with an error, as any other malformed one.

A line that does not start with ``<`` cannot be a document: it is handed on up
to its newline so the receiver can answer it with an error and carry on. With
``detect_malformed`` (the simulator's setting), a document that can no longer
become well-formed (``<A></B>``) is handed on at the end of its offending line
instead of waiting forever for a root end tag that will never come; an
incremental parser sees each byte once, so this stays linear.
"""

from __future__ import annotations

import re

from lxml import etree

#: Largest document either side accepts. A full record is "several megabytes"
#: (TPP); 32 MiB leaves room and still stops a runaway peer.
DEFAULT_MAX_DOCUMENT = 32 * 1024 * 1024

_NAME = rb"[A-Za-z_][A-Za-z0-9_.\-:]*"
_ROOT_START = re.compile(rb"<(" + _NAME + rb")")
# Each alternative matches in linear time (no nested quantifiers: a line of
# "[]" pairs once made a backtracking pattern run for hours).
_PROLOG_ITEM = re.compile(
    rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[[^\]]*\][^\[>]*)?>", re.DOTALL)
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark: blank only as the whole sequence


class FrameTooLarge(ValueError):
    """A document grew past the size limit before it ended."""


def encode_frame(document: bytes) -> bytes:
    """A document as it goes on the wire: itself plus the newline terminator."""
    return document if document.endswith(b"\n") else document + b"\n"


class FrameDecoder:
    """Incremental splitter: ``feed`` bytes in, get complete documents out."""

    def __init__(self, max_size: int = DEFAULT_MAX_DOCUMENT,
                 detect_malformed: bool = False) -> None:
        self.max_size = max_size
        self.detect_malformed = detect_malformed
        self._probe: etree.XMLPullParser | None = None
        self._probed = self._root_start = 0
        self._buffer = bytearray()
        self._root: bytes | None = None
        self._body_start = 0  # where the root's start tag ends
        self._scan_from = 0  # bytes before this hold no unmatched root tags
        self._depth = 0
        self._tags: re.Pattern[bytes] | None = None

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a complete document."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        documents = []
        while (document := self._next_document()) is not None:
            if len(document) > self.max_size:  # complete, but in one read: still too large
                self._reset(len(self._buffer))
                raise FrameTooLarge(f"document exceeds {self.max_size} bytes "
                                    f"({len(document)} received)")
            documents.append(document)
        if len(self._buffer) > self.max_size:
            size = len(self._buffer)
            self._reset(len(self._buffer))
            raise FrameTooLarge(f"document exceeds {self.max_size} bytes ({size} received)")
        return documents

    def flush(self) -> bytes | None:
        """What is left when the peer closes: an unterminated document, if any."""
        rest = bytes(self._buffer[_blank_end(self._buffer):]).rstrip(_WHITESPACE)
        self._reset(len(self._buffer))
        return rest or None

    def _next_document(self) -> bytes | None:
        if self._root is None:
            self._skip_blank()
            if not self._buffer or not self._find_root():
                return None
            if self._root is None:  # not XML: hand the line on as it is
                return self._take_line()
        end = self._find_root_end()
        if end is None:
            end = self._malformed_end()
            if end is None:
                return None
        document = bytes(self._buffer[:end])
        self._reset(end)  # its line end is blank: skipped before the next document
        return document

    def _skip_blank(self) -> None:
        blank = _blank_end(self._buffer)
        if blank:
            del self._buffer[:blank]

    def _find_root(self) -> bool:
        """Locate the root's start tag.

        Returns False while more bytes are needed. Returns True with ``_root``
        set once the start tag is complete, or with ``_root`` None when the
        bytes up to a newline cannot be the start of a document.
        """
        buffer = self._buffer
        position = 0
        while item := _PROLOG_ITEM.match(buffer, position):
            position = _blank_end(buffer, item.end())
        start = _ROOT_START.match(buffer, position)
        if start is None:
            rest = bytes(buffer[position : position + 2])
            if rest in (b"", b"<"):
                return False  # an unfinished tag
            if rest in (b"<?", b"<!") and not self._prolog_is_broken(position):
                return False  # an unfinished prolog item
            return b"\n" in buffer
        tag_end = _start_tag_end(buffer, start.end())
        if tag_end is None:
            return False
        self._root = start.group(1)
        self._root_start = start.start()
        self._body_start = self._scan_from = tag_end
        self._depth = 0 if buffer[tag_end - 2 : tag_end] == b"/>" else 1
        self._tags = re.compile(rb"<(/?)" + re.escape(self._root) + rb"(?=[\s/>])")
        return True

    def _prolog_is_broken(self, position: int) -> bool:
        """With ``detect_malformed``: can the unfinished prolog item never be completed?"""
        if not self.detect_malformed or b"\n" not in self._buffer[position:]:
            return False
        probe = etree.XMLPullParser(events=(), resolve_entities=False, no_network=True,
                                    load_dtd=False)
        try:
            probe.feed(bytes(self._buffer[position:]))
        except etree.XMLSyntaxError:
            return True
        return False

    def _find_root_end(self) -> int | None:
        if self._depth == 0:
            return self._body_start
        assert self._tags is not None and self._root is not None
        buffer = self._buffer
        for match in self._tags.finditer(buffer, self._scan_from):
            tag_end = _start_tag_end(buffer, match.end())
            if tag_end is None:  # tag not complete yet: rescan it next time
                self._scan_from = match.start()
                return None
            if match.group(1):
                self._depth -= 1
            elif buffer[tag_end - 2 : tag_end] != b"/>":
                self._depth += 1
            self._scan_from = tag_end
            if self._depth == 0:
                return tag_end
        # Step back so that a tag split across two reads is still found.
        self._scan_from = max(self._scan_from, len(buffer) - len(self._root) - 2)
        return None

    def _malformed_end(self) -> int | None:
        """End of the line where an unfinishable document went wrong, if it did."""
        if not self.detect_malformed:
            return None
        if self._probe is None:
            # From the root on: a prolog quirk (e.g. an unquoted declaration) is
            # for the real parser to judge, not a reason to cut the document.
            self._probe = etree.XMLPullParser(
                events=(), resolve_entities=False, no_network=True, load_dtd=False)
            self._probed = self._root_start
        try:
            self._probe.feed(bytes(self._buffer[self._probed :]))
            self._probed = len(self._buffer)
            return None
        except etree.XMLSyntaxError as error:
            line = error.position[0] if error.position else 1
        start = self._root_start
        for _ in range(max(0, line - 1)):
            start = self._buffer.index(b"\n", start) + 1
        newline = self._buffer.find(b"\n", start)
        end = newline if newline >= 0 else len(self._buffer)
        # The CR of a CRLF terminator is the terminator's, not the document's.
        return end - 1 if end > self._root_start and self._buffer[end - 1] == 0x0D else end

    def _take_line(self) -> bytes:
        newline = self._buffer.index(b"\n")
        line = bytes(self._buffer[:newline]).rstrip(b"\r")
        del self._buffer[: newline + 1]
        return line

    def _reset(self, consumed: int) -> None:
        del self._buffer[:consumed]
        self._root = None
        self._tags = None
        self._depth = 0
        self._body_start = self._scan_from = 0
        self._probe = None
        self._probed = 0


_TAG_REST = re.compile(rb"""(?:[^>"']|"[^"]*"|'[^']*')*>""")


def _start_tag_end(buffer: bytes | bytearray, position: int) -> int | None:
    """Index just past the ``>`` closing the tag whose name ends at ``position``.

    Quoted attribute values may contain ``>``, so they are skipped whole.
    """
    match = _TAG_REST.match(buffer, position)
    return match.end() if match else None


def _blank_end(buffer: bytes | bytearray, position: int = 0) -> int:
    """Where whitespace and whole byte order marks from ``position`` end: a stray 0xEF,
    0xBB or 0xBF byte is data, not blank."""
    while True:
        if buffer[position:position + 1] and buffer[position] in _WHITESPACE:
            position += 1
        elif buffer[position:position + 3] == _BOM:
            position += 3
        else:
            return position
