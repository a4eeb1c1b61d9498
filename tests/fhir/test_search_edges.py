"""Search at its edges: ``:missing`` against the empty values a resolved resource may hold,
``:text`` reading the displays of a CodeableConcept's codings and of an Identifier's type,
and ``ap`` at the calendar's end. Expectations from FHIR R4 search.html; pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from facade.fhir.search import date_range, parse_search
from facade.mapping.declaration import Declaration, SearchParam, patient_param

TOY = Declaration(
    type="Toy", profile="http://example.org/Toy",
    search_params=(
        patient_param(),
        SearchParam("category", "token", ("category",), "a CodeableConcept"),
        SearchParam("identifier", "token", ("identifier",), "an Identifier"),
        SearchParam("drug", "token", ("thing.resolve().code",), "through a reference"),
    ),
    patient_params=("patient",))


def matches(query: dict[str, list[str]], resource: dict, record: dict | None = None) -> bool:
    return parse_search(TOY, query).matches(resource, (record or {}).get)


# FHIR R4 :missing: "true" finds resources that have no value for the element. An empty
# string or an empty object is no value (FHIR forbids both in a resource; a resource
# followed through a reference is not the facade's own and may hold them).
@pytest.mark.parametrize("empty", ["", {}])
def test_an_empty_value_through_a_reference_is_missing(empty):
    toy = {"resourceType": "Toy", "id": "t1", "thing": {"reference": "Medication/m1"}}
    record = {"Medication/m1": {"resourceType": "Medication", "id": "m1", "code": empty}}
    assert matches({"drug:missing": ["true"]}, toy, record)
    assert not matches({"drug:missing": ["false"]}, toy, record)


def test_a_value_through_a_reference_is_not_missing():
    toy = {"resourceType": "Toy", "id": "t1", "thing": {"reference": "Medication/m1"}}
    record = {"Medication/m1": {"resourceType": "Medication", "id": "m1",
                                "code": {"text": "Aspirin"}}}
    assert matches({"drug:missing": ["false"]}, toy, record)
    assert not matches({"drug:missing": ["true"]}, toy, record)


# FHIR R4 :text on a token: a string search (the start, case-insensitive) of the text
# associated with the code: CodeableConcept.text, Coding.display, Identifier.type.text.
def test_text_finds_a_codings_display_when_the_concept_has_no_text():
    toy = {"resourceType": "Toy", "id": "t1", "category": [{"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/observation-category",
         "code": "vital-signs", "display": "Vital Signs"}]}]}
    assert matches({"category:text": ["vital"]}, toy)
    assert not matches({"category:text": ["signs"]}, toy)  # the start, not anywhere


def test_text_finds_an_identifier_by_its_types_display():
    """An Identifier's type is a CodeableConcept: its codings' displays are its text too."""
    toy = {"resourceType": "Toy", "id": "t1", "identifier": [{
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                             "code": "MR", "display": "Medical record number"}]},
        "value": "4410021"}]}
    assert matches({"identifier:text": ["medical record"]}, toy)
    assert not matches({"identifier:text": ["national"]}, toy)


# FHIR R4 ap: "the range of the search value overlaps with the range of the target value",
# the value widened (here by 10% of the gap to now). Widened past the calendar's end, the
# range ends at the calendar's end; it does not wrap round to its start.
def test_ap_near_the_calendars_end_keeps_its_range():
    near_the_end = dt.datetime(9999, 12, 31, 12, tzinfo=dt.UTC)
    approximately = date_range("date", "ap9999-12-31", now=near_the_end)
    assert approximately.matches("9999-12-31T18:00:00Z")
    assert approximately.matches("9999-12-30T23:00:00Z")  # within the 1.2 h widening
    assert not approximately.matches("9999-12-30T21:00:00Z")
