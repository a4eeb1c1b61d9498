"""Search parsing: one parse of a query against a declaration into a typed request whose
predicates read the declared paths. Pure functions: no HTTP."""

from __future__ import annotations

import pytest

from facade.fhir.outcome import FhirError
from facade.fhir.search import parse_search
from facade.mapping.declaration import Declaration, SearchParam, patient_param, values_at

TOY = Declaration(
    type="Toy", profile="http://example.org/Toy",
    search_params=(
        patient_param(),
        SearchParam("code", "token", ("code.coding", "code"), "a Coding or a code"),
        SearchParam("status", "token", ("status",), "a code"),
        SearchParam("identifier", "token", ("identifier",), "an Identifier"),
        SearchParam("date", "date", ("when", "period"), "a dateTime or a Period"),
        SearchParam("thing", "reference", ("thing",), "a Reference"),
        SearchParam("name", "string", ("name.family",), "a string"),
        SearchParam("drug", "token", ("thing.resolve().code.coding",), "through a reference"),
    ),
    patient_params=("patient",))

RESOURCE = {
    "resourceType": "Toy", "id": "t1", "status": "active",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "123"},
                        {"system": "http://read.info/ctv3", "code": "X3003"}]},
    "identifier": [{"system": "urn:x", "value": "abc"}],
    "when": "2025-07-01T09:30:00+01:00",
    "period": {"start": "2019-01-01", "end": "2019-12-31"},
    "thing": {"reference": "Medication/m1"},
    "name": [{"family": "Smith"}],
}
RECORD = {"Medication/m1": {"resourceType": "Medication", "id": "m1", "code": {"coding": [
    {"system": "https://dmd.nhs.uk", "code": "323509004"}]}}}


def matches(query: dict[str, list[str]]) -> bool:
    return parse_search(TOY, query).matches(RESOURCE, RECORD.get)


@pytest.mark.parametrize(("query", "expected"), [
    ({"code": ["123"]}, True),
    ({"code": ["http://snomed.info/sct|123"]}, True),
    ({"code": ["http://read.info/ctv3|123"]}, False),  # the system must match
    ({"code": ["http://read.info/ctv3|X3003,999"]}, True),  # comma: OR
    ({"code": ["|123"]}, False),  # no system: only codes without one
    ({"code": ["123"], "status": ["active"]}, True),  # AND across parameters
    ({"code": ["123"], "status": ["inactive"]}, False),
    ({"status": ["active"]}, True),
    ({"identifier": ["urn:x|abc"]}, True),
    ({"identifier": ["abc"]}, True),
    ({"identifier": ["urn:y|abc"]}, False),
    ({"date": ["2025-07-01"]}, True),
    ({"date": ["ge2025-07-01T08:30:00Z"]}, True),  # 09:30 BST is 08:30 UTC
    ({"date": ["gt2025-07-01T08:30:00Z"]}, False),
    ({"date": ["lt2019-06-01"]}, True),  # the Period starts before
    ({"date": ["2018"]}, False),
    ({"thing": ["Medication/m1"]}, True),
    ({"thing": ["m1"]}, True),
    ({"thing": ["Medication/m2"]}, False),
    ({"name": ["smi"]}, True),  # case-insensitive, from the beginning
    ({"name": ["mith"]}, False),
    ({"drug": ["https://dmd.nhs.uk|323509004"]}, True),  # followed through the reference
    ({"drug": ["323509005"]}, False),
    ({"unknown": ["x"]}, True),  # ignored when not strict
])
def test_predicates_read_the_declared_paths_by_type(query, expected):
    assert matches(query) is expected


def test_a_path_through_a_reference_finds_nothing_without_a_resolver():
    assert values_at(RESOURCE, "thing.resolve().code.coding") == []
    assert len(values_at(RESOURCE, "thing.resolve().code.coding", RECORD.get)) == 1


def test_patients_are_read_from_the_patient_parameters_once():
    asked = parse_search(TOY, {"patient": ["Patient/p1", "p1", "http://x/fhir/Patient/p1"]})
    assert asked.patients == ("p1",) and asked.predicates == ()
    with pytest.raises(FhirError, match="must reference a Patient"):
        parse_search(TOY, {"patient": ["Group/g1"]})


@pytest.mark.parametrize(("query", "status", "says"), [
    ({"code:below": ["1"]}, 400, "the :below modifier is not supported on token"),
    ({"date:x": ["2020"]}, 400, "the :x modifier is not supported on date"),
    ({"_count:x": ["1"]}, 400, "modifier is not supported; _count is a result parameter"),
    ({"status:missing": ["maybe"]}, 400, "status:missing takes true or false"),
    ({"code": ["a\x01"]}, 400, "control characters"),
    ({"date": ["2020-13-45"]}, 400, "is not a FHIR date"),
    ({"code": ["http://x|"]}, 400, "empty code"),
])
def test_bad_values_are_refused_when_parsed(query, status, says):
    with pytest.raises(FhirError, match=says) as refused:
        parse_search(TOY, query)
    assert refused.value.status == status


def test_strict_handling_names_the_supported_parameters():
    with pytest.raises(FhirError, match="supported: patient, code, status"):
        parse_search(TOY, {"bogus": ["1"]}, strict=True)
    assert parse_search(TOY, {"_count": ["1"]}, strict=True).params == {}


# -- what a search goes without, and what no SystmOne request could carry ---------------

@pytest.mark.parametrize("value", ["", " ", "  \u3000"])
def test_a_parameter_without_a_value_is_ignored_and_said_to_be(value):
    """FHIR: an empty parameter is not an error; it is ignored (and here, said to be)."""
    asked = parse_search(TOY, {"date": [value], "code": ["123"]})
    assert asked.params == {"code": ["123"]} and len(asked.predicates) == 1
    assert [(i.parameter, i.code) for i in asked.ignored] == [("date", "informational")]


def test_an_empty_value_beside_a_real_one_is_dropped():
    asked = parse_search(TOY, {"code": ["", "123"]})
    assert asked.params == {"code": ["123"]} and asked.ignored == ()


def test_unknown_parameters_are_ignored_said_to_be_and_refused_when_strict():
    asked = parse_search(TOY, {"_has:Toy:patient:code": ["1"], "_tag": ["x"], "foo": ["bar"],
                               "foo:missing": ["true"], "_count": ["5"], "code": ["123"]})
    assert [(i.parameter, i.code) for i in asked.ignored] == [
        ("_has:Toy:patient:code", "not-supported"), ("_tag", "not-supported"),
        ("foo", "not-supported"), ("foo:missing", "not-supported")]
    assert "Prefer: handling=strict" in asked.ignored[0].reason
    with pytest.raises(FhirError, match="unknown search parameter '_tag'"):
        parse_search(TOY, {"_tag": ["x"]}, strict=True)


@pytest.mark.parametrize("control", ["_sort", "_total", "_revinclude"])
def test_sort_and_total_are_result_parameters_not_unknown_ones(control):
    asked = parse_search(TOY, {control: ["x"]}, strict=True)
    assert asked.params == {} and asked.ignored == ()


@pytest.mark.parametrize("value", ["Sm\ufffeith", "\uffff", "a\ud800b", "\udfff", "a\x0bb"])
def test_a_character_xml_cannot_hold_is_refused_naming_the_parameter(value):
    """U+FFFE, U+FFFF and lone surrogates cannot be written into SystmOne's request XML
    (lxml refuses them): refused here, for every type and parameter, as 400."""
    for name in ("name", "code", "date", "thing", "patient"):
        with pytest.raises(FhirError, match=f"^{name}: control characters and characters "
                                            "XML cannot hold") as refused:
            parse_search(TOY, {name: [value]})
        assert refused.value.status == 400 and refused.value.code == "invalid"


def test_a_parameter_name_xml_cannot_hold_is_refused():
    with pytest.raises(FhirError, match="parameter name") as refused:
        parse_search(TOY, {"fo\ufffeo": ["1"]})
    assert refused.value.status == 400


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "le9999-12-31T23:59:59", "9999-12-31", "gt9999-12",
                                   "lt0001"])
def test_dates_at_the_ends_of_the_calendar_are_searched(value):
    """An offset taking an instant past year 1 or 9999 is the first or last instant there
    is: a FHIR date, searched (before: 400 or 500)."""
    assert parse_search(TOY, {"date": [value]}).matches(RESOURCE) in (True, False)
    assert not parse_search(TOY, {"date": ["9999-12-31T23:59:59-14:00"]}).matches(RESOURCE)
    assert parse_search(TOY, {"date": ["ge0001-01-01T00:00:00+14:00"]}).matches(RESOURCE)
