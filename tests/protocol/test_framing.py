import pytest

from facade.protocol.framing import FrameDecoder, FrameTooLarge, encode_frame

DOC = b"<ClientIntegrationRequest><APIKey>k</APIKey></ClientIntegrationRequest>"


def feed_bytewise(decoder: FrameDecoder, data: bytes) -> list[bytes]:
    out = []
    for i in range(len(data)):
        out += decoder.feed(data[i : i + 1])
    return out


def test_newline_terminated_document():
    assert FrameDecoder().feed(DOC + b"\n") == [DOC]


def test_crlf_and_several_documents_in_one_read():
    assert FrameDecoder().feed(DOC + b"\r\n" + DOC + b"\n") == [DOC, DOC]


def test_missing_final_newline_is_recognised_by_the_root_end():
    assert FrameDecoder().feed(DOC) == [DOC]


def test_document_spread_over_lines_and_reads():
    pretty = b'<?xml version="1.0" encoding="UTF-8"?>\n<Root>\n  <A>1</A>\n  <Root2/>\n</Root>\n'
    assert feed_bytewise(FrameDecoder(), pretty) == [pretty.rstrip(b"\n")]


def test_nested_element_with_the_root_name_and_gt_in_attributes():
    doc = b'<R a="x>y"><R>inner</R><R/></R>'
    assert FrameDecoder().feed(doc + b"\n" + doc) == [doc, doc]


def test_self_closing_root():
    assert FrameDecoder().feed(b"<R/>\n<R />") == [b"<R/>", b"<R />"]


def test_split_end_tag_across_reads():
    decoder = FrameDecoder()
    assert decoder.feed(DOC[:-10]) == []
    assert decoder.feed(DOC[-10:-3]) == []
    assert decoder.feed(DOC[-3:] + b"\n") == [DOC]


def test_garbage_line_is_handed_on_and_the_next_document_still_parses():
    assert FrameDecoder().feed(b"hello there\n" + DOC + b"\n") == [b"hello there", DOC]


def test_garbage_without_newline_waits():
    decoder = FrameDecoder()
    assert decoder.feed(b"garbage") == []
    assert decoder.flush() == b"garbage"


def test_doctype_with_internal_subset_stays_one_document():
    doc = b'<!DOCTYPE l [\n<!ENTITY a "b">\n]>\n<l>&a;</l>'
    assert FrameDecoder().feed(doc + b"\n") == [doc]


def test_oversized_document_raises():
    decoder = FrameDecoder(max_size=1000)
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"<R>" + b"x" * 2000)


def test_unterminated_document_is_returned_by_flush():
    decoder = FrameDecoder()
    assert decoder.feed(b"<R><A>") == []
    assert decoder.flush() == b"<R><A>"
    assert decoder.flush() is None


def test_text_with_escaped_markup_does_not_confuse_the_end():
    doc = b"<R><S>O'Brien &lt;/R&gt; ]]&gt;</S></R>"
    assert FrameDecoder().feed(doc) == [doc]


def test_encode_frame_appends_one_newline():
    assert encode_frame(b"<R/>") == b"<R/>\n"
    assert encode_frame(b"<R/>\n") == b"<R/>\n"


def test_large_document_in_chunks_is_linear_enough():
    body = b"<R>" + b"<E a='1'>text</E>" * 60000 + b"</R>"
    decoder = FrameDecoder()
    out = []
    for i in range(0, len(body), 65536):
        out += decoder.feed(body[i : i + 65536])
    assert out == [body]


def test_unfinishable_document_is_handed_on_at_its_bad_line():
    decoder = FrameDecoder(detect_malformed=True)
    assert decoder.feed(b"<C><A>x</A></Wrong>\n<C/>\n") == [b"<C><A>x</A></Wrong>", b"<C/>"]


def test_unfinishable_document_over_several_reads():
    decoder = FrameDecoder(detect_malformed=True)
    assert decoder.feed(b"<C>\n<A>\n") == []
    assert decoder.feed(b"</B>\n<C/>") == [b"<C>\n<A>\n</B>", b"<C/>"]


def test_malformed_detection_ignores_a_broken_declaration():
    decoder = FrameDecoder(detect_malformed=True)
    assert decoder.feed(b"<?xml version=1.0?>\n<C>\n<A>\n") == []
    assert decoder.feed(b"</A></C>\n") == [b"<?xml version=1.0?>\n<C>\n<A>\n</A></C>"]


def test_without_detection_an_unfinishable_document_waits():
    assert FrameDecoder().feed(b"<C></Wrong>\n") == []


def test_pathological_doctype_line_is_handled_in_linear_time():
    # Once took time exponential in the number of "[]" pairs (a hang for 60).
    line = b"<!DOCTYPE " + b"[]" * 60
    assert FrameDecoder(detect_malformed=True).feed(line + b"\n<R/>\n") == [line, b"<R/>"]
    assert FrameDecoder().feed(line + b"\n") == []  # without detection it waits, quickly


def test_multi_line_prolog_still_waits_with_detection():
    decoder = FrameDecoder(detect_malformed=True)
    assert decoder.feed(b"<!-- a comment\n") == []
    expected = b"<!-- a comment\nover two lines -->\n<R/>"
    assert decoder.feed(b"over two lines -->\n<R/>\n") == [expected]


def test_any_split_of_a_stream_gives_the_same_documents():
    import random

    documents = [
        b'<?xml version="1.0" encoding="UTF-8"?>\n<R a="x>y">\n  <R>in</R>\n</R>',
        b"<R/>",
        b"<R><![CDATA[ a < b ]]><S>O'Brien &amp; co</S></R>",
        b"<!-- note -->\r\n<Q><R/></Q>",
    ]
    stream = b"".join(doc + terminator for doc, terminator in
                      zip(documents, (b"\n", b"\r\n", b"\n", b""), strict=True))
    rng = random.Random(5)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
        decoder, out = FrameDecoder(detect_malformed=rng.random() < 0.5), []
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            out += decoder.feed(stream[start:end])
        assert out == documents
