"""The result parameters: page sizes (a default, a maximum), offsets, whole numbers;
_summary and _elements on every served type (what FHIR R4 marks summary and mandatory);
_sort and _total."""

from __future__ import annotations

import pytest

from facade.fhir.outcome import FhirError
from facade.fhir.registry import RESOURCES
from facade.fhir.results import (
    MAX_OFFSET,
    PageSize,
    bundle,
    common_search_params,
    controls,
    only,
    ordered,
    sort_params,
    summarised,
)
from facade.mapping.declaration import Declaration, SearchParam

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


# -- _summary and _elements, on every served type -----------------------------------------

#: Each served type's mandatory top-level elements (min 1), from FHIR R4's definitions
#: (a choice element by its base name).
MANDATORY = {
    "AllergyIntolerance": {"patient"}, "Appointment": {"status", "participant"},
    "AuditEvent": {"type", "recorded", "agent", "source"}, "Binary": {"contentType"},
    "CarePlan": {"status", "intent", "subject"}, "Condition": {"subject"},
    "DiagnosticReport": {"status", "code"}, "DocumentReference": {"status", "content"},
    "Encounter": {"status", "class"}, "Flag": {"status", "code", "subject"},
    "Immunization": {"status", "vaccineCode", "patient", "occurrence"},
    "Location": set(), "Medication": set(),
    "MedicationRequest": {"status", "intent", "medication", "subject"},
    "MedicationStatement": {"status", "medication", "subject"},
    "Observation": {"status", "code"}, "Organization": set(), "Patient": set(),
    "Practitioner": set(), "PractitionerRole": set(), "RelatedPerson": {"patient"},
    "ServiceRequest": {"status", "intent", "subject"}, "Task": {"status", "intent"},
}
#: JSON names of the choice elements above, as a resource holds them.
CHOICES = {"occurrence": "occurrenceDateTime", "medication": "medicationReference"}
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED"}


def test_every_served_type_has_its_mandatory_elements_listed():
    assert set(MANDATORY) == set(RESOURCES)


def sample(resource_type: str) -> dict:
    """A resource holding its mandatory elements, narrative, an extension (never summary)
    and a modifier extension."""
    return {"resourceType": resource_type, "id": "x1", "meta": {"versionId": "1"},
            "text": {"status": "generated", "div": "<div>x</div>"},
            "extension": [{"url": "urn:e", "valueString": "e"}],
            "modifierExtension": [{"url": "urn:m", "valueBoolean": True}],
            **{CHOICES.get(name, name): {"x": 1} for name in MANDATORY[resource_type]}}


def tagged(resource: dict) -> bool:
    return any(tag["system"] == SUBSETTED["system"] and tag["code"] == "SUBSETTED"
               for tag in resource["meta"].get("tag", []))


ALWAYS = {"resourceType", "id", "meta", "modifierExtension"}


@pytest.mark.parametrize("resource_type", sorted(MANDATORY))
def test_summary_text_keeps_the_narrative_id_meta_and_mandatory_elements(resource_type):
    resource = sample(resource_type)
    shaped = summarised(resource, "text")
    mandatory = {CHOICES.get(name, name) for name in MANDATORY[resource_type]}
    assert set(shaped) == ALWAYS | {"text"} | mandatory and tagged(shaped)
    assert "tag" not in resource["meta"]  # the cached resource is not changed


@pytest.mark.parametrize("resource_type", sorted(MANDATORY))
def test_summary_true_keeps_the_mandatory_elements_not_the_narrative(resource_type):
    shaped = summarised(sample(resource_type), "true")
    mandatory = {CHOICES.get(name, name) for name in MANDATORY[resource_type]}
    assert set(shaped) == ALWAYS | mandatory and tagged(shaped)


@pytest.mark.parametrize(("resource_type", "kept", "dropped"), [
    # R4's summary flags (Σ) by hand, for the types searched most
    ("Observation", {"status", "code", "subject", "effectiveDateTime", "valueQuantity",
                     "issued", "performer", "encounter", "identifier"},
     {"category", "note", "interpretation", "referenceRange", "text"}),
    ("Patient", {"identifier", "active", "name", "telecom", "gender", "birthDate",
                 "address", "managingOrganization"},
     {"contact", "communication", "generalPractitioner", "text", "extension"}),
    ("Condition", {"clinicalStatus", "verificationStatus", "code", "subject",
                   "onsetDateTime", "recordedDate"}, {"category", "note", "text"}),
    ("MedicationRequest", {"status", "intent", "medicationReference", "subject",
                           "authoredOn", "requester"},
     {"dosageInstruction", "note", "dispenseRequest", "text"}),
])
def test_summary_true_keeps_what_fhir_marks_summary(resource_type, kept, dropped):
    resource = {"resourceType": resource_type, "id": "x1", "meta": {},
                **{name: {"x": 1} for name in kept | dropped}}
    shaped = summarised(resource, "true")
    assert kept <= set(shaped) and not dropped & set(shaped)


def test_summary_data_drops_only_the_narrative():
    resource = sample("Observation")
    assert set(summarised(resource, "data")) == set(resource) - {"text"}


@pytest.mark.parametrize("resource_type", sorted(MANDATORY))
def test_elements_keep_those_asked_and_the_mandatory_ones(resource_type):
    resource = {**sample(resource_type), "identifier": [{"value": "1"}],
                "_status": {"extension": []}}
    shaped = only(resource, ("identifier",))
    mandatory = {CHOICES.get(name, name) for name in MANDATORY[resource_type]}
    expected = ALWAYS | {"identifier"} | mandatory
    if "status" in mandatory:
        expected.add("_status")  # a primitive's extensions go with it
    assert set(shaped) == expected and tagged(shaped)


def test_elements_name_choices_by_their_base_name_and_may_name_the_type():
    observation = {"resourceType": "Observation", "id": "o1", "meta": {}, "status": "final",
                   "code": {}, "valueQuantity": {"value": 1}, "effectiveDateTime": "2020",
                   "note": [], "statusReason": {}}
    assert set(only(observation, ("value",))) == {"resourceType", "id", "meta", "status",
                                                  "code", "valueQuantity"}
    assert "effectiveDateTime" in only(observation, ("Observation.effectiveDateTime",))
    assert "statusReason" not in only(observation, ("status",))


def test_subsetted_is_tagged_once():
    once = summarised(summarised(sample("Observation"), "true"), "data")
    assert [tag["code"] for tag in once["meta"]["tag"]] == ["SUBSETTED"]


@pytest.mark.parametrize(("query", "summary"), [
    ({"_summary": ["true"]}, "true"), ({"_summary": ["text"]}, "text"),
    ({"_summary": ["data"]}, "data"), ({"_summary": ["count"]}, "count"),
    ({"_summary": ["false"]}, "false"), ({"_summary": [""]}, None),
    ({"_summary": ["count", "true"]}, "true")])  # the last given
def test_every_fhir_summary_value_is_taken(query, summary):
    assert controls(TOY, query, SIZES).summary == summary


@pytest.mark.parametrize(("name", "value"), [("_summary", "yes"), ("_summary", "TRUE"),
                                             ("_total", "exact"), ("_total", "0")])
def test_other_summary_and_total_values_are_400(name, value):
    with pytest.raises(FhirError, match=f"{name}={value} is not a value of {name}") as refused:
        controls(TOY, {name: [value]}, SIZES)
    assert refused.value.status == 400


@pytest.mark.parametrize("value", ["none", "estimate", "accurate"])
def test_every_fhir_total_value_is_taken(value):
    assert controls(TOY, {"_total": [value]}, SIZES).total == value


# -- _sort ------------------------------------------------------------------------------

SORTED = Declaration(
    type="Toy", profile="http://example.org/Toy",
    search_params=(SearchParam("date", "date", ("period",), "a Period"),
                   SearchParam("issued", "date", ("issued",), "an instant"),
                   SearchParam("born", "date", ("born",), "not in the sort order"),
                   SearchParam("code", "token", ("code",), "a code")),
    sort=("period.start", "issued"))


def test_links_carry_summary_elements_sort_and_total():
    asked = controls(SORTED, {"_summary": ["data"], "_sort": ["-date"],
                              "_total": ["accurate"]}, SIZES)
    url = bundle("http://x/fhir", "Toy", [], 5, {}, asked, True)["link"][1]["url"]
    assert "_summary=data" in url and "_sort=-date" in url and "_total=accurate" in url


def test_the_declared_sort_order_and_last_updated_are_sortable():
    assert list(sort_params(SORTED)) == ["date", "issued", "_lastUpdated"]
    assert sort_params(SORTED)["date"] == ("period.start",)


def toys(*rows) -> list[dict]:
    return [{"resourceType": "Toy", "id": toy_id, **({"period": {"start": start}}
                                                     if start else {})}
            for toy_id, start in rows]


@pytest.mark.parametrize(("sort", "expected"), [
    ("date", ["c", "a", "b", "d", "e"]),  # oldest first, ties by id, no date last
    ("-date", ["b", "d", "a", "c", "e"]),  # newest first, ties by id, no date last
    ("-date,_lastUpdated", ["b", "d", "a", "c", "e"]),
])
def test_sort_orders_by_the_date_ties_by_id_and_puts_the_undated_last(sort, expected):
    resources = toys(("e", None), ("d", "2021-01-01"), ("a", "2020-06-01T12:00:00+01:00"),
                     ("b", "2021"), ("c", "2020-06-01T10:00:00Z"))
    asked = controls(SORTED, {"_sort": [sort]}, SIZES)
    assert [r["id"] for r in ordered(resources, asked.sort)] == expected


def test_a_second_sort_key_breaks_the_first_ones_ties():
    resources = [{"resourceType": "Toy", "id": i, "period": {"start": "2020"},
                  "meta": {"lastUpdated": updated}}
                 for i, updated in (("a", "2026-01-02T00:00:00Z"), ("b", "2026-01-03T00:00:00Z"),
                                    ("c", "2026-01-01T00:00:00Z"))]
    asked = controls(SORTED, {"_sort": ["date,-_lastUpdated"]}, SIZES)
    assert [r["id"] for r in ordered(resources, asked.sort)] == ["b", "a", "c"]


@pytest.mark.parametrize("value", ["code", "born", "-code", "date,nothing", "-"])
def test_sorting_by_what_the_type_does_not_sort_by_is_said_or_refused(value):
    lenient = controls(SORTED, {"_sort": [value]}, SIZES)
    assert any(note.startswith("_sort=") and "sorts by date, issued, _lastUpdated" in note
               and "ignored" in note for note in lenient.unsupported)
    with pytest.raises(FhirError, match=r"^_sort=") as refused:
        controls(SORTED, {"_sort": [value]}, SIZES, strict=True)
    assert refused.value.status == 400


SORTABLE = {resource_type: [name for name in sort_params(declaration)]
            for resource_type, declaration in RESOURCES.items()}


@pytest.mark.parametrize("resource_type", sorted(RESOURCES))
def test_every_type_sorts_by_its_sort_dates_and_last_updated(resource_type):
    """Each type's date parameters that read its declared sort order, and _lastUpdated."""
    declaration = RESOURCES[resource_type]
    for name in SORTABLE[resource_type]:
        param = declaration.param(name)
        assert name == "_lastUpdated" or (param.type == "date" and any(
            sort.split(".")[0] in {path.split(".")[0] for path in param.paths}
            for sort in declaration.sort)), name
        for value in (name, f"-{name}"):
            assert controls(declaration, {"_sort": [value]}, SIZES, strict=True).sort
