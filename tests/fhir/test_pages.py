"""Rendered searchset pages: served only for the very version they were cut from, bounded."""

from __future__ import annotations

from facade.fhir.pages import RenderedPages


def test_a_page_is_served_only_for_the_source_it_was_rendered_from() -> None:
    pages = RenderedPages()
    version_one, version_two = ["o1"], ["o1"]  # equal, but another version
    pages.put(("q",), version_one, b"page", "application/fhir+json")
    assert pages.get(("q",), version_one) == (b"page", "application/fhir+json")
    assert pages.get(("q",), version_two) is None
    assert pages.get(("other",), version_one) is None


def test_the_oldest_pages_go_first_by_count_and_by_bytes() -> None:
    source = []
    pages = RenderedPages(max_pages=2, max_bytes=10)
    for name in ("a", "b", "c"):
        pages.put((name,), source, b"12", "t")
    assert pages.get(("a",), source) is None and pages.get(("c",), source) is not None
    pages.put(("big",), source, b"123456789", "t")  # 9 + 2 > 10: the others go
    assert pages.get(("b",), source) is None and pages.get(("c",), source) is None
    pages.put(("huge",), source, b"x" * 11, "t")  # larger than the whole budget: not kept
    assert pages.get(("huge",), source) is None and pages.get(("big",), source) is not None
