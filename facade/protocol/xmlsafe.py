"""Parsing XML from the other end of a socket without trusting it.

Both sides parse documents from a peer: the simulator from any local process,
the facade from whatever listens on the SystmOne port. The parser therefore
refuses DTDs outright (no entity expansion, so no billion laughs and no XXE),
never touches the network, keeps libxml2's limits on tree depth and text size,
and caps the document size before parsing starts.
"""

from __future__ import annotations

import re

from lxml import etree

from .framing import DEFAULT_MAX_DOCUMENT


class MalformedDocument(ValueError):
    """Bytes that are not an acceptable XML document; the message says why."""


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


_PARSER = _parser()


def parse_document(data: bytes, max_size: int = DEFAULT_MAX_DOCUMENT) -> etree._Element:
    """Parse one complete document and return its root element."""
    if len(data) > max_size:
        raise MalformedDocument(f"document exceeds {max_size} bytes")
    if not data.strip():
        raise MalformedDocument("empty document")
    root_start = _FIRST_ELEMENT.search(data)
    if _DOCTYPE.search(data, 0, root_start.start() if root_start else len(data)):
        raise MalformedDocument("DTDs and entity declarations are not allowed")
    try:
        root = _parse(data)
    except etree.XMLSyntaxError as error:
        line, column = error.position or (0, 0)
        message = re.sub(r", line \d+, column \d+$", "", error.msg or str(error))
        raise MalformedDocument(f"not well-formed at line {line}, column {column}: {message}") \
            from None
    except ValueError as error:  # e.g. an unsupported encoding declaration
        raise MalformedDocument(f"unreadable XML: {error}") from None
    if root is None:
        raise MalformedDocument("empty document")
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise MalformedDocument("DTDs and entity declarations are not allowed")
    return root


_DECLARATION = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\?>")


def _parse(data: bytes) -> etree._Element:
    """Parse; a broken XML declaration alone is forgiven (UTF-8 assumed).

    One of TPP's own request templates declares ``<?xml version=1.0 encoding=UTF-8?>``
    without quotes; a peer that copied it deserves an answer, not an error.
    """
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        declaration = _DECLARATION.match(data)
        if declaration is None:
            raise
        try:
            return etree.fromstring(data[declaration.end():], _PARSER)
        except etree.XMLSyntaxError:
            pass
        raise


def to_bytes(element: etree._Element) -> bytes:
    """Serialise as UTF-8 without an XML declaration, the way the simulator replies."""
    return etree.tostring(element, encoding="UTF-8")


def to_line(element: etree._Element) -> bytes:
    """Serialise on a single line: newlines in text become ``&#10;``.

    TPP's framing ends a document at a newline; a reply with no raw newline in
    it can be read by the simplest client, one that reads up to the first one.
    """
    return to_bytes(element).replace(b"\n", b"&#10;")


#: What XML 1.0 cannot hold at all (outside its Char production): C0 controls other than
#: tab, LF and CR, lone surrogates, U+FFFE and U+FFFF. lxml refuses them in text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_can_hold(text: str) -> bool:
    """Whether ``text`` can be an XML element's text or attribute value."""
    return _NOT_XML.search(text) is None


def xml_safe(text: str) -> str:
    """``text`` with what XML cannot hold replaced by U+FFFD (for messages that echo
    a caller's input)."""
    return _NOT_XML.sub("\ufffd", text)


def text_of(element: etree._Element | None, path: str) -> str | None:
    """Stripped text of the child at ``path``; None when absent, '' when empty."""
    if element is None:
        return None
    child = element.find(path)
    if child is None:
        return None
    return (child.text or "").strip()
