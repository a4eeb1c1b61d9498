"""FHIR search semantics, checked against the R4 specification rather than the code.

Every expectation here is written by hand from https://hl7.org/fhir/R4/search.html
("prefix", "date", "token", "reference", "string"). For dates the rule is:

* a date or dateTime stands for the range its precision gives (2020 is the whole year,
  2020-03 all of March, 10:30 the whole minute, 10:30:00 the whole second); a Period is
  the range from its start's beginning to its end's end, open where a side is missing;
* eq: the search range fully contains the resource's range; ne: it does not;
* gt: the range above the search range overlaps the resource's (it ends later);
* lt: the range below the search range overlaps the resource's (it starts earlier);
* ge: gt or eq; le: lt or eq (merely overlapping the search range is neither).

Dates without a time are UTC days; times without an offset are London wall-clock time
(the practice's), as SystmOne records them. Pure functions: no HTTP.
"""

from __future__ import annotations

import datetime as dt

import pytest

from facade.fhir.outcome import FhirError
from facade.fhir.search import date_range, parse_search
from facade.mapping.declaration import Declaration, SearchParam, patient_param

TOY = Declaration(
    type="Toy", profile="http://example.org/Toy",
    search_params=(
        patient_param(),
        SearchParam("date", "date", ("when", "period"), "a dateTime or a Period"),
        SearchParam("code", "token", ("code",), "a CodeableConcept"),
        SearchParam("status", "token", ("status",), "a code"),
        SearchParam("identifier", "token", ("identifier",), "Identifiers"),
        SearchParam("thing", "reference", ("thing",), "a Reference"),
        SearchParam("name", "string", ("name.family", "name.given"), "strings"),
    ),
    patient_params=("patient",))

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")

# The prefixes that match, by where the resource's range lies against the search range
# (from the definitions in the module docstring):
INSIDE = {"eq", "ge", "le"}  # contained: eq; so ge and le; nothing above or below
BEFORE = {"ne", "lt", "le"}  # starts before (and does not reach past the end)
AFTER = {"ne", "gt", "ge"}  # ends after (and does not start before the start)
ACROSS = {"ne", "gt", "lt", "ge", "le"}  # starts before and ends after: all but eq


def date_hits(value: str, resource_date) -> bool:
    """Whether ``date=value`` matches a resource whose date is ``resource_date``: a string
    (date or dateTime) or a dict (a Period)."""
    field = "period" if isinstance(resource_date, dict) else "when"
    return parse_search(TOY, {"date": [value]}).matches({"resourceType": "Toy",
                                                        field: resource_date})


# (search value without a prefix, resource's date, the prefixes that match it)
DATE_TABLE = [
    # -- a year: [2020-01-01, 2021-01-01) UTC
    ("2020", "2019-12-31T23:59:59Z", BEFORE),  # the last second before
    ("2020", "2020-01-01T00:00:00Z", INSIDE),  # on the lower bound
    ("2020", "2020-12-31T23:59:59Z", INSIDE),  # the last second inside
    ("2020", "2021-01-01T00:00:00Z", AFTER),  # on the upper bound (exclusive)
    ("2020", "2020-01-01T00:30:00+01:00", BEFORE),  # 2019-12-31T23:30Z
    ("2020", "2020-12-31T23:30:00-01:00", AFTER),  # 2021-01-01T00:30Z
    ("2020", "2020-01-01T00:00:00", INSIDE),  # London in January is UTC
    ("2020", "2019", BEFORE),
    ("2020", "2020", INSIDE),
    ("2020", "2021", AFTER),
    ("2020", "2019-12", BEFORE),
    ("2020", "2020-01", INSIDE),
    ("2020", "2020-12", INSIDE),
    ("2020", "2021-01", AFTER),
    ("2020", "2019-12-31", BEFORE),
    ("2020", "2020-01-01", INSIDE),
    ("2020", "2020-12-31", INSIDE),
    ("2020", "2021-01-01", AFTER),
    # -- a month: [2020-03-01, 2020-04-01)
    ("2020-03", "2020-02-29T23:59:59Z", BEFORE),
    ("2020-03", "2020-03-01T00:00:00Z", INSIDE),
    ("2020-03", "2020-03-31T23:59:59Z", INSIDE),
    ("2020-03", "2020-04-01T00:00:00Z", AFTER),
    ("2020-03", "2020-02-29", BEFORE),
    ("2020-03", "2020-03-01", INSIDE),
    ("2020-03", "2020-03-15", INSIDE),  # not only the first day: the whole month
    ("2020-03", "2020-03-31", INSIDE),
    ("2020-03", "2020-04-01", AFTER),
    ("2020-03", "2020-02", BEFORE),
    ("2020-03", "2020-03", INSIDE),
    ("2020-03", "2020-04", AFTER),
    ("2020-03", "2020", ACROSS),  # the year reaches before and after March
    ("2020-02", "2020-02-29", INSIDE),  # a leap year's February
    ("2020-02", "2020-03-01", AFTER),
    ("2019-02", "2019-02-28T23:59:59Z", INSIDE),
    ("2019-02", "2019-03-01T00:00:00Z", AFTER),
    ("2020-12", "2020-12-31T23:59:59Z", INSIDE),  # the month that ends the year
    ("2020-12", "2021-01-01T00:00:00Z", AFTER),
    ("2020-12", "2020", BEFORE),  # starts before December, ends with it: not ge
    ("2020-01", "2020", AFTER),  # starts with January, ends after it: not le
    # -- a day: [2020-03-15, 2020-03-16)
    ("2020-03-15", "2020-03-14T23:59:59Z", BEFORE),
    ("2020-03-15", "2020-03-15T00:00:00Z", INSIDE),
    ("2020-03-15", "2020-03-15T23:59:59Z", INSIDE),
    ("2020-03-15", "2020-03-15T23:59:59.999Z", INSIDE),
    ("2020-03-15", "2020-03-16T00:00:00Z", AFTER),
    ("2020-03-15", "2020-03-15T00:59:59+01:00", BEFORE),  # 03-14T23:59:59Z
    ("2020-03-15", "2020-03-16T00:59:59+01:00", INSIDE),  # 03-15T23:59:59Z
    ("2020-03-15", "2020-03-15T19:00:00-05:00", AFTER),  # 03-16T00:00Z
    ("2020-03-15", "2020-03-14", BEFORE),
    ("2020-03-15", "2020-03-15", INSIDE),
    ("2020-03-15", "2020-03-16", AFTER),
    ("2020-03-15", "2020-03", ACROSS),
    ("2020-03-15", "2020", ACROSS),
    ("2020-03-01", "2020-03", AFTER),  # the month starts with the day, ends after it
    ("2020-03-31", "2020-03", BEFORE),  # ... starts before the day, ends with it
    # -- a second, with an offset: 10:30:00+02:00 is [08:30:00Z, 08:30:01Z)
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:29:59Z", BEFORE),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:30:00Z", INSIDE),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T10:30:00+02:00", INSIDE),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:30:00.999Z", INSIDE),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:30:01Z", AFTER),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T10:30:01+02:00", AFTER),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T10:29:59+02:00", BEFORE),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T10:30:00Z", AFTER),  # 10:30Z is later
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:30:00", INSIDE),  # London: GMT in March
    ("2020-03-15T10:30:00+02:00", "2020-03-15", ACROSS),
    ("2020-03-15T10:30:00+02:00", "2020-03-14", BEFORE),
    ("2020-03-15T10:30:00+02:00", "2020-03-16", AFTER),
    # -- a minute: 10:30Z is [10:30:00Z, 10:31:00Z)
    ("2020-03-15T10:30Z", "2020-03-15T10:29:59Z", BEFORE),
    ("2020-03-15T10:30Z", "2020-03-15T10:30:00Z", INSIDE),
    ("2020-03-15T10:30Z", "2020-03-15T10:30:59Z", INSIDE),
    ("2020-03-15T10:30Z", "2020-03-15T10:31:00Z", AFTER),
    # -- a fraction of a second: .5 is [.5, .6)
    ("2020-03-15T10:30:00.5Z", "2020-03-15T10:30:00.4Z", BEFORE),
    ("2020-03-15T10:30:00.5Z", "2020-03-15T10:30:00.5Z", INSIDE),
    ("2020-03-15T10:30:00.5Z", "2020-03-15T10:30:00.59Z", INSIDE),
    ("2020-03-15T10:30:00.5Z", "2020-03-15T10:30:00.6Z", AFTER),
    ("2020-03-15T10:30:00.5Z", "2020-03-15T10:30:00Z", ACROSS),  # the whole second
    # -- no offset: London wall-clock time, here in summer time (UTC+1)
    ("2020-07-01T10:30:00", "2020-07-01T09:30:00Z", INSIDE),
    ("2020-07-01T10:30:00", "2020-07-01T10:30:00+01:00", INSIDE),
    ("2020-07-01T10:30:00", "2020-07-01T10:30:00Z", AFTER),
    ("2020-07-01T10:30:00", "2020-07-01T09:29:59Z", BEFORE),
    # -- Periods (start and end inclusive, each at its own precision)
    ("2020-03", {"start": "2020-03-01", "end": "2020-03-31"}, INSIDE),
    ("2020-03", {"start": "2020-03-05T10:00:00Z", "end": "2020-03-05T11:00:00Z"}, INSIDE),
    ("2020-03", {"start": "2020-02-15", "end": "2020-03-10"}, BEFORE),
    ("2020-03", {"start": "2020-03-10", "end": "2020-04-05"}, AFTER),
    ("2020-03", {"start": "2020-02-29", "end": "2020-04-01"}, ACROSS),
    ("2020-03", {"start": "2020-01-01", "end": "2020-02-29"}, BEFORE),
    ("2020-03", {"start": "2020-04-01", "end": "2020-04-02"}, AFTER),
    ("2020-03", {"start": "2020-03-01", "end": "2020-04-01"}, AFTER),  # end's whole day
    ("2020-03", {"start": "2020-03-10"}, AFTER),  # ongoing: it ends after March
    ("2020-03", {"start": "2020-02-10"}, ACROSS),
    ("2020-03", {"start": "2020-05-01"}, AFTER),
    ("2020-03", {"end": "2020-03-10"}, BEFORE),  # its start unknown: before March
    ("2020-03", {"end": "2020-02-01"}, BEFORE),
    ("2020-03", {"end": "2020-05-01"}, ACROSS),
    ("2020-03-15T10:30:00+02:00",
     {"start": "2020-03-15T08:00:00Z", "end": "2020-03-15T08:30:00Z"}, BEFORE),
    ("2020-03-15T10:30:00+02:00",
     {"start": "2020-03-15T08:30:00Z", "end": "2020-03-15T08:30:00Z"}, INSIDE),
    ("2020-03-15T10:30:00+02:00",
     {"start": "2020-03-15T08:30:00Z", "end": "2020-03-15T09:00:00Z"}, AFTER),
    ("2020-03-15T10:30:00+02:00",
     {"start": "2020-03-15T08:29:59Z", "end": "2020-03-15T08:30:01Z"}, ACROSS),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("value", "resource_date", "matching"), DATE_TABLE,
                         ids=[f"{v}~{r}" for v, r, _ in DATE_TABLE])
def test_every_prefix_at_every_precision_on_and_beside_each_bound(prefix, value,
                                                                   resource_date, matching):
    assert date_hits(prefix + value, resource_date) is (prefix in matching)


def test_no_prefix_means_eq():
    for value, resource_date, matching in DATE_TABLE:
        assert date_hits(value, resource_date) is ("eq" in matching), (value, resource_date)


# The examples of the R4 specification's date section, with its resource values written
# out (its dateTimes name no zone; here they are UTC, and January's London time is UTC).
@pytest.mark.parametrize(("value", "resource_date", "expected"), [
    ("eq2013-01-14", "2013-01-14T00:00:00Z", True),
    ("eq2013-01-14", "2013-01-14T10:00:00Z", True),
    ("eq2013-01-14", "2013-01-15T00:00:00Z", False),
    ("ne2013-01-14", "2013-01-15T00:00:00Z", True),
    ("ne2013-01-14", "2013-01-14T00:00:00Z", False),
    ("ne2013-01-14", "2013-01-14T10:00:00Z", False),
    ("lt2013-01-14T10:00", "2013-01-14", True),  # the part of the 14th before 10:00
    ("gt2013-01-14T10:00", "2013-01-14", True),  # the part after 10:00
    ("ge2013-03-14", {"start": "2013-01-21"}, True),  # "from 21-Jan 2013 onwards"
    ("le2013-03-14", {"start": "2013-01-21"}, True),
])
def test_the_specifications_examples(value, resource_date, expected):
    assert date_hits(value, resource_date) is expected


@pytest.mark.parametrize(("values", "resource_date", "expected"), [
    # Repeating the parameter: AND, so both ends of a range hold.
    (["ge2020-03-01", "lt2020-04-01"], "2020-02-29", False),
    (["ge2020-03-01", "lt2020-04-01"], "2020-03-01", True),
    (["ge2020-03-01", "lt2020-04-01"], "2020-03-31T23:59:59Z", True),
    (["ge2020-03-01", "lt2020-04-01"], "2020-04-01", False),
    (["gt2020-03-01", "le2020-03-31"], "2020-03-01T23:59:59Z", False),
    (["gt2020-03-01", "le2020-03-31"], "2020-03-02", True),
    (["gt2020-03-01", "le2020-03-31"], "2020-03-31", True),
    (["gt2020-03-01", "le2020-03-31"], "2020-04-01T00:00:00Z", False),
    # A comma: OR.
    (["2019,2021"], "2019-05-01", True),
    (["2019,2021"], "2021-05-01", True),
    (["2019,2021"], "2020-05-01", False),
    (["lt2019,gt2021"], "2020-05-01", False),
    (["lt2019,gt2021"], "2022-01-01", True),
])
def test_repeated_values_are_and_commas_are_or(values, resource_date, expected):
    assert parse_search(TOY, {"date": values}).matches({"when": resource_date}) is expected


@pytest.mark.parametrize(("resource", "expected"), [
    ({"when": ["2019-01-01", "2020-03-15"]}, True),  # any of its dates
    ({"when": "2020-03-15", "period": {"start": "2019-01-01", "end": "2019-01-02"}}, True),
    ({"period": {}}, False),  # a Period with neither end says nothing
    ({"when": 2020}, False),  # not a date at all
    ({}, False),
])
def test_a_resource_matches_by_any_of_its_dates(resource, expected):
    assert parse_search(TOY, {"date": ["2020-03-15"]}).matches(resource) is expected


@pytest.mark.parametrize(("value", "day"), [
    ("2020-03-15", dt.date(2020, 3, 15)),
    ("eq2020-03-15", dt.date(2020, 3, 15)),
    ("2020-03", None),  # a month is not one day
    ("2020", None),
    ("ge2020-03-15", None),  # nor is a bound
    ("2020-03-15T10:30:00Z", None),  # nor a second of it
])
def test_exact_date_is_only_eq_of_a_whole_day(value, day):
    assert date_range("birthdate", value).exact_date == day


@pytest.mark.parametrize(("value", "resource_date", "expected"), [
    ("9999", "9999-12-31T23:59:59Z", True),  # the calendar's last year has an end
    ("9999-12", "9999-12-31", True),
    ("9999-12-31", "9999-12-31T12:00:00Z", True),
    ("le9999-12-31T23:59:59Z", "2020-01-01", True),
    ("gt9999-12-31", "9999-12-31", False),
    ("0001", "0001-06-01", True),
    ("lt0001-01-02", "0001-01-01", True),
])
def test_the_calendars_ends_are_dates_like_any_other(value, resource_date, expected):
    assert date_hits(value, resource_date) is expected


@pytest.mark.parametrize(("value", "code", "says"), [
    ("ge", "invalid", "is not a FHIR date"),
    ("yesterday", "invalid", "is not a FHIR date"),
    ("2020-1", "invalid", "is not a FHIR date"),
    ("20200315", "invalid", "is not a FHIR date"),
    ("2020-13", "invalid", "is not a FHIR date"),
    ("2020-02-30", "invalid", "is not a FHIR date"),
    ("2019-02-29", "invalid", "is not a FHIR date"),
    ("2020-03-15T", "invalid", "is not a FHIR date"),
    ("2020-03-15T10", "invalid", "is not a FHIR date"),
    ("2020-03-15T25:00:00Z", "invalid", "is not a FHIR date"),
    ("2020-03-15T10:60:00Z", "invalid", "is not a FHIR date"),
    ("2020-03-15 10:30:00Z", "invalid", "is not a FHIR date"),
    ("2020-03-15T10:30:00+0100", "invalid", "is not a FHIR date"),
    ("2020-03-15T10:30:00+25:00", "invalid", "is not a FHIR date"),
    ("2020-03-15T10:30:00ZZ", "invalid", "is not a FHIR date"),
    ("xx2020", "invalid", "is not a FHIR date"),
    ("GE2020", "invalid", "is not a FHIR date"),  # prefixes are lower case
    ("2019,", "invalid", "is not a FHIR date"),  # one of the alternatives is empty
    ("sa2020", "not-supported", "the sa prefix is not supported"),
    ("eb2020", "not-supported", "the eb prefix is not supported"),
    ("ap2020", "not-supported", "the ap prefix is not supported"),
])
def test_bad_dates_are_refused_with_a_reason(value, code, says):
    with pytest.raises(FhirError, match=says) as refused:
        parse_search(TOY, {"date": [value]})
    assert refused.value.status == 400 and refused.value.code == code
    assert "date" in refused.value.diagnostics  # names the parameter


# -- tokens -------------------------------------------------------------------------------

TOKENS = {
    "resourceType": "Toy", "status": "active",
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "123"},
                        {"code": "456"},  # no system
                        {"system": "urn:other", "code": "a,b"}]},
    "identifier": [{"system": "urn:x", "value": "abc"}, {"value": "def"}],
}


@pytest.mark.parametrize(("name", "value", "expected"), [
    # code: any system
    ("code", "123", True),
    ("code", "456", True),
    ("code", "789", False),
    ("code", "12", False),  # the whole code, not its beginning
    # system|code: that system only
    ("code", "http://snomed.info/sct|123", True),
    ("code", "http://snomed.info/sct|456", False),
    ("code", "http://other|123", False),
    ("code", "http://snomed.info/sct|12", False),
    # |code: only a code without a system
    ("code", "|456", True),
    ("code", "|123", False),
    # commas: OR; an escaped comma belongs to the code
    ("code", "789,123", True),
    ("code", "789,http://snomed.info/sct|123", True),
    ("code", "789,|123", False),
    ("code", r"urn:other|a\,b", True),
    ("code", "urn:other|a,b", False),  # urn:other|a, or b in any system
    # a plain code (status) has no system
    ("status", "active", True),
    ("status", "|active", True),
    ("status", "urn:x|active", False),
    ("status", "Active", False),  # codes are compared exactly
    ("status", "act", False),
    # Identifiers: system|value
    ("identifier", "urn:x|abc", True),
    ("identifier", "abc", True),
    ("identifier", "urn:y|abc", False),
    ("identifier", "|abc", False),
    ("identifier", "|def", True),
    ("identifier", "def", True),
    ("identifier", "urn:x|def", False),
])
def test_token_semantics(name, value, expected):
    assert parse_search(TOY, {name: [value]}).matches(TOKENS) is expected


@pytest.mark.parametrize("value", ["|", ",", "123,", "http://snomed.info/sct|",
                                   "urn:x|,123"])
def test_a_token_with_no_code_is_refused(value):
    """R4 allows ``system|`` (any code of a system); this module refuses it, saying so."""
    with pytest.raises(FhirError, match="code: empty code") as refused:
        parse_search(TOY, {"code": [value]})
    assert refused.value.status == 400


# -- references ---------------------------------------------------------------------------

@pytest.mark.parametrize(("reference", "value", "expected"), [
    ("Medication/m1", "Medication/m1", True),
    ("Medication/m1", "m1", True),  # a bare id: any type
    ("Medication/m1", "Medication/m2", False),
    ("Medication/m1", "Patient/m1", False),  # the type must agree
    ("Medication/m1", "m", False),  # the whole id
    ("Medication/m1", "1", False),
    ("Medication/m1", "http://example.org/fhir/Medication/m1", True),
    ("Medication/m1", "http://example.org/fhir/Patient/m1", False),
    ("Medication/m1", "Medication/m1/", True),
    ("Medication/m1", "Medication/m2,Medication/m1", True),  # OR
    ("Medication/m1", "Medication/m2,m3", False),
    ("http://example.org/fhir/Medication/m1", "Medication/m1", True),
    ("http://example.org/fhir/Medication/m1", "m1", True),
    ("http://example.org/fhir/Medication/m1", "Patient/m1", False),
    ("m1", "Medication/m1", False),  # a typeless reference names no type to agree
    ("m1", "m1", True),
])
def test_reference_semantics(reference, value, expected):
    resource = {"resourceType": "Toy", "thing": {"reference": reference}}
    assert parse_search(TOY, {"thing": [value]}).matches(resource) is expected


def test_a_logical_reference_matches_no_id():
    resource = {"thing": {"identifier": {"system": "urn:x", "value": "m1"}}}
    assert parse_search(TOY, {"thing": ["m1"]}).matches(resource) is False


@pytest.mark.parametrize("value", ["/", "m1,"])
def test_an_empty_reference_is_refused(value):
    with pytest.raises(FhirError, match="thing: empty reference") as refused:
        parse_search(TOY, {"thing": [value]})
    assert refused.value.status == 400


# -- strings ------------------------------------------------------------------------------

NAMED = {"resourceType": "Toy",
         "name": [{"family": "Dupré", "given": ["Zoë", "Ann"]}, {"family": "Strauß"}]}


@pytest.mark.parametrize(("value", "expected"), [
    ("dupré", True),  # from the beginning, whatever the case
    ("DUP", True),
    ("dupre", True),  # accents are ignored
    ("DUPRÉ", True),
    ("Dupré", True),
    ("upré", False),  # not from the middle
    ("duprée", False),  # not longer than the value
    ("zoe", True),  # any of the declared paths (given)
    ("ann", True),  # any item of a list
    ("strauss", True),  # ß folds to ss
    ("smith", False),
    ("smith,ann", True),  # a comma: OR
    ("smith,jones", False),
    (r"dupré\,x", False),  # an escaped comma is part of the value
])
def test_string_semantics(value, expected):
    assert parse_search(TOY, {"name": [value]}).matches(NAMED) is expected


def test_strings_repeated_must_all_match():
    assert parse_search(TOY, {"name": ["dup", "zo"]}).matches(NAMED) is True
    assert parse_search(TOY, {"name": ["dup", "jo"]}).matches(NAMED) is False


# --- what mutation testing found untested --------------------------------------------------

@pytest.mark.parametrize("control", ["_count", "_offset", "_format", "_pretty", "_summary",
                                     "_elements", "_include"])
def test_result_parameters_are_not_search_criteria_even_when_strict(control):
    """FHIR's result parameters (search.html#return) shape the answer; under strict
    handling they are not "unknown parameters"."""
    request = parse_search(TOY, {control: ["1"]}, strict=True)
    assert request.matches({"resourceType": "Toy"})


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\x7f"])
def test_control_characters_are_refused_delete_included(character):
    with pytest.raises(FhirError) as refused:
        parse_search(TOY, {"status": [f"active{character}"]})
    assert refused.value.status == 400


@pytest.mark.parametrize(("value", "expected"), [
    ("eq2020-01-01T00:00:00.123456Z", False),  # six digits: that microsecond only
    ("eq2020-01-01T00:00:00.12345Z", True),  # five: ten microseconds, .123450 to .123460
    ("ge2020-01-01T00:00:00.1234571Z", True),  # seven: accepted, read to the microsecond
    ("le2020-01-01T00:00:00.1234569Z", False),
])
def test_fractions_of_a_second_have_their_precision(value, expected):
    assert date_hits(value, "2020-01-01T00:00:00.123457Z") is expected


@pytest.mark.parametrize(("value", "active", "expected"), [
    ("true", True, True), ("false", True, False), ("false", False, True),
    ("true", False, False)])
def test_a_boolean_element_matches_its_token(value, active, expected):
    declaration = Declaration(type="Toy", profile="http://example.org/Toy", search_params=(
        SearchParam("active", "token", ("active",), "a boolean"),
        SearchParam("rank", "token", ("rank",), "a number: not a token")))
    assert parse_search(declaration, {"active": [value]}).matches(
        {"resourceType": "Toy", "active": active}) is expected
    assert not parse_search(declaration, {"rank": ["3"]}).matches(
        {"resourceType": "Toy", "rank": 3})
