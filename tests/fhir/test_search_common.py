"""What every search takes besides its type's own parameters: FHIR's result parameters,
left to results.py (never reported as unknown, never refused under strict handling), and
the common parameters (``_lastUpdated``), whose predicates are told apart from the type's
for a source that answers its own parameters upstream. Pure functions: no HTTP."""

from __future__ import annotations

import pytest

from facade.fhir.search import parse_search
from facade.mapping.declaration import Declaration, SearchParam, patient_param

TOY = Declaration(
    type="Toy", profile="http://example.org/Toy",
    search_params=(
        patient_param(),
        SearchParam("code", "token", ("code.coding",), "a Coding"),
        SearchParam("status", "token", ("status",), "a code"),
    ),
    patient_params=("patient",))


def toy(code: str, status: str, updated: str) -> dict:
    return {"resourceType": "Toy", "id": "t1", "status": status,
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
            "meta": {"lastUpdated": updated}}


# FHIR R4 search.html, "Search result parameters": _sort, _count, _include, _revinclude,
# _summary, _total, _elements, _contained; http.html: _format, _pretty. Those this server
# answers are results.py's, not the type's search parameters.
@pytest.mark.parametrize(("name", "value"), [
    ("_count", "5"), ("_offset", "10"), ("_format", "json"), ("_pretty", "true"),
    ("_summary", "count"), ("_elements", "status"), ("_include", "Toy:patient"),
    ("_revinclude", "Provenance:target"),
])
@pytest.mark.parametrize("strict", [False, True])
def test_a_result_parameter_is_neither_ignored_nor_refused(name, value, strict):
    asked = parse_search(TOY, {name: [value], "status": ["active"]}, strict=strict)
    assert asked.ignored == ()
    assert asked.params == {"status": ["active"]}


def test_only_the_common_parameters_predicates_are_common():
    """_lastUpdated after two of the type's own parameters: the common predicates test
    lastUpdated alone, whatever the code and status."""
    asked = parse_search(TOY, {"code": ["123"], "status": ["active"],
                               "_lastUpdated": ["ge2026-01-01"]})
    assert len(asked.predicates) == 3 and len(asked.common) == 1
    other_but_recent = toy("999", "inactive", "2026-02-01T09:00:00Z")
    assert asked.matches_common(other_but_recent)
    assert not asked.matches(other_but_recent)
    assert not asked.matches_common(toy("123", "active", "2025-12-01T09:00:00Z"))
    assert asked.matches(toy("123", "active", "2026-02-01T09:00:00Z"))
    assert asked.own_params == {"code": ["123"], "status": ["active"]}


def test_a_common_parameter_given_first_or_alone_is_common():
    for query in ({"_lastUpdated": ["ge2026-01-01"]},
                  {"_lastUpdated": ["ge2026-01-01"], "status": ["active"]}):
        asked = parse_search(TOY, query)
        assert len(asked.common) == 1
        assert asked.matches_common(toy("999", "inactive", "2026-02-01T09:00:00Z"))
        assert not asked.matches_common(toy("123", "active", "2025-12-01T09:00:00Z"))
