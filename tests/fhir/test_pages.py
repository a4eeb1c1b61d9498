"""Rendered searchset pages: served only for the very version they were cut from, bounded."""

from __future__ import annotations

import gc

from facade.fhir.pages import RenderedPages
from facade.stewardship.cache import ResourceList


def test_a_page_is_served_only_for_the_source_it_was_rendered_from() -> None:
    pages = RenderedPages()
    version_one, version_two = ResourceList(["o1"]), ResourceList(["o1"])  # another version
    pages.put(("q",), version_one, b"page", "application/fhir+json")
    assert pages.get(("q",), version_one) == (b"page", "application/fhir+json")
    assert pages.get(("q",), version_two) is None
    assert pages.get(("other",), version_one) is None


def test_a_page_does_not_keep_its_version_alive() -> None:
    pages = RenderedPages()
    version = ResourceList(["o1"])
    pages.put(("q",), version, b"page", "t")
    del version
    gc.collect()
    assert all(reference() is None for reference, *_ in pages._pages.values())
    pages.put(("p",), ["a plain list"], b"page", "t")  # cannot be referred to weakly: not kept
    assert ("p",) not in pages._pages


def test_the_oldest_pages_go_first_by_count_and_by_bytes() -> None:
    """Bytes counted are the page's and its key's (a key holds the query): ("a",) is 6."""
    source = ResourceList()
    pages = RenderedPages(max_pages=2, max_bytes=24)
    for name in ("a", "b", "c"):
        pages.put((name,), source, b"12", "t")  # 8 each
    assert pages.get(("a",), source) is None and pages.get(("c",), source) is not None
    pages.put(("big",), source, b"123456789", "t")  # 9 + 8 = 17, + 16 > 24: the others go
    assert pages.get(("b",), source) is None and pages.get(("c",), source) is None
    pages.put(("huge",), source, b"x" * 16, "t")  # 16 + 9 > 24, the whole budget: not kept
    assert pages.get(("huge",), source) is None and pages.get(("big",), source) is not None
