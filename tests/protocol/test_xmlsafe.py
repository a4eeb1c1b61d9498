import pytest
from lxml import etree

from facade.protocol.xmlsafe import (
    MalformedDocument,
    parse_document,
    text_of,
    to_line,
    xml_can_hold,
    xml_safe,
)


def test_parses_a_plain_document():
    assert parse_document(b"<a><b> x </b></a>").findtext("b") == " x "


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<a>", "not well-formed at line 1"),
    (b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "DTDs"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>', "DTDs"),
    (b"<a>&undefined;</a>", "not well-formed"),
    (b"<a>" + b"x" * 200 + b"</a>", "exceeds 100 bytes"),
])
def test_refuses_what_it_must(data, problem):
    with pytest.raises(MalformedDocument, match=problem):
        parse_document(data, max_size=100)


def test_a_broken_xml_declaration_alone_is_forgiven():
    # One of TPP's own templates has an unquoted declaration.
    assert parse_document(b"<?xml version=1.0 encoding=UTF-8?>\n<a>ok</a>").text == "ok"


def test_comments_and_processing_instructions_are_dropped():
    root = parse_document(b"<a><!-- c --><?pi x?><b/></a>")
    assert [child.tag for child in root] == ["b"]


def test_to_line_escapes_newlines_in_text_only():
    element = etree.fromstring(b'<a x="1&#10;2">l1\nl2<b/>\n</a>')
    line = to_line(element)
    assert b"\n" not in line
    assert etree.fromstring(line).text == "l1\nl2"


def test_text_of_distinguishes_absent_and_empty():
    root = etree.fromstring(b"<a><b> v </b><c/></a>")
    assert (text_of(root, "b"), text_of(root, "c"), text_of(root, "d")) == ("v", "", None)
    assert text_of(None, "b") is None


@pytest.mark.parametrize("text", ["a\ufffeb", "\uffff", "\ud800", "x\udfff", "\x00", "\x0b",
                                  "\x1f"])
def test_what_xml_cannot_hold_is_found_and_replaced(text):
    assert not xml_can_hold(text)
    element = etree.Element("a")
    with pytest.raises(ValueError):  # what lxml would say, building a request
        element.text = text
    element.text = xml_safe(text)
    assert "\ufffd" in element.text


@pytest.mark.parametrize("text", ["", "plain", "tab\tnew\nline\rreturn", "\x85\x9f",
                                  "\ud7ff\ue000\ufffd", "\U0001f600 \U0010ffff", "O'Brien <&>"])
def test_what_xml_holds_passes(text):
    assert xml_can_hold(text) and xml_safe(text) == text
    etree.Element("a").text = text
