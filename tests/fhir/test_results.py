"""The result parameters: page sizes (a default, a maximum), offsets, whole numbers."""

from __future__ import annotations

import pytest

from facade.fhir.outcome import FhirError
from facade.fhir.results import MAX_OFFSET, PageSize, bundle, common_search_params, controls

from .test_search import TOY

SIZES = PageSize(default=20, maximum=100)


def test_without_count_a_page_holds_the_default():
    assert controls(TOY, {}, SIZES).count == 20
    assert controls(TOY, {"_count": [""]}, SIZES).count == 20  # empty: ignored


def test_a_count_above_the_maximum_is_capped_and_said_to_be():
    capped = controls(TOY, {"_count": ["1000"]}, SIZES)
    assert capped.count == 100 and "capped at 100" in capped.notes[0]
    assert controls(TOY, {"_count": ["9" * 5000]}, SIZES).count == 100  # no int() of it
    assert controls(TOY, {"_count": ["100"]}, SIZES).notes == ()


def test_count_zero_asks_for_the_total_only():
    assert controls(TOY, {"_count": ["0"]}, SIZES).summary_count
    assert not controls(TOY, {}, SIZES).summary_count


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "\uff15", "-1", "1.5", "1e3", "0x10",
                                   "+5", "five"])
@pytest.mark.parametrize("name", ["_count", "_offset"])
def test_only_ascii_whole_numbers_are_taken(name, value):
    """str.isdigit() takes superscripts and other scripts' digits, which int() refuses or
    reads otherwise: they were a 500; now a 400 naming the parameter."""
    with pytest.raises(FhirError, match=f"{name} must be a whole number") as refused:
        controls(TOY, {name: [value]}, SIZES)
    assert refused.value.status == 400


def test_an_offset_past_the_furthest_page_is_refused():
    assert controls(TOY, {"_offset": [str(MAX_OFFSET)]}, SIZES).offset == MAX_OFFSET
    for value in (str(MAX_OFFSET + 1), "9" * 30, "9" * 5000):
        with pytest.raises(FhirError, match="_offset must be at most") as refused:
            controls(TOY, {"_offset": [value]}, SIZES)
        assert refused.value.status == 400


def test_paging_links_carry_the_page_size_used():
    page = controls(TOY, {"_count": ["1000"], "_offset": ["100"]}, SIZES)
    links = {link["relation"]: link["url"] for link in
             bundle("http://x/fhir", "Toy", [], 500, {"code": ["1"]}, page, True)["link"]}
    assert links["next"].endswith("code=1&_count=100&_offset=200")
    assert links["previous"].endswith("code=1&_count=100")
    assert links["self"].endswith("code=1&_count=100&_offset=100")


def test_the_capability_statement_names_the_default_and_the_maximum():
    count = common_search_params(SIZES)[0]
    assert count["name"] == "_count" and count["type"] == "number"
    assert "20 when _count is not given" in count["documentation"]
    assert "at most 100" in count["documentation"]
