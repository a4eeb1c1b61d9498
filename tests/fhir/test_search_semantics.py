"""FHIR search semantics, checked against the R4 specification rather than the code.

Every expectation here is written by hand from https://hl7.org/fhir/R4/search.html
("prefix", "date", "token", "reference", "string"). For dates the rule is:

* a date or dateTime stands for the range its precision gives (2020 is the whole year,
  2020-03 all of March, 10:30 the whole minute, 10:30:00 the whole second); a Period is
  the range from its start's beginning to its end's end, open where a side is missing;
* eq: the search range fully contains the resource's range; ne: it does not;
* gt: the range above the search range overlaps the resource's (it ends later);
* lt: the range below the search range overlaps the resource's (it starts earlier);
* ge: gt or eq; le: lt or eq (merely overlapping the search range is neither);
* sa: the resource's range lies wholly after the search range (starts after it ends);
  eb: wholly before it (ends before it starts);
* ap: the ranges overlap once the search range is widened by the approximation; R4
  recommends, for a date, 10% of the gap between now and the date, which this server uses.

Dates without a time are UTC days; times without an offset are London wall-clock time
(the practice's), as SystmOne records them. Pure functions: no HTTP.
"""

from __future__ import annotations

import datetime as dt

import pytest

from facade.fhir.outcome import FhirError
from facade.fhir.registry import RESOURCES
from facade.fhir.search import COMMON_PARAMS, date_matches, date_range, parse_search
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
    ("sa", "invalid", "is not a FHIR date"),  # a prefix needs its date
    ("ap2020-02-30", "invalid", "is not a FHIR date"),
])
def test_bad_dates_are_refused_with_a_reason(value, code, says):
    with pytest.raises(FhirError, match=says) as refused:
        parse_search(TOY, {"date": [value]})
    assert refused.value.status == 400 and refused.value.code == code
    assert "date" in refused.value.diagnostics  # names the parameter


# (search value, resource's date, matches sa, matches eb): the range wholly after the
# search range starts where the search range ends (its upper bound is exclusive).
STARTS_AFTER_ENDS_BEFORE = [
    ("2020", "2021-01-01T00:00:00Z", True, False),
    ("2020", "2020-12-31T23:59:59Z", False, False),
    ("2020", "2020-01-01T00:00:00Z", False, False),
    ("2020", "2019-12-31T23:59:59Z", False, True),
    ("2020", "2021", True, False),
    ("2020", "2019", False, True),
    ("2020-03", "2020-04", True, False),
    ("2020-03", "2020-04-01", True, False),
    ("2020-03", "2020-03-31", False, False),
    ("2020-03", "2020", False, False),  # the year holds March: neither
    ("2020-03", "2020-02-29T23:59:59Z", False, True),
    ("2020-03", {"start": "2020-04-01"}, True, False),  # ongoing from April
    ("2020-03", {"start": "2020-03-31"}, False, False),
    ("2020-03", {"end": "2020-02-29"}, False, True),  # its start unknown, ended in February
    ("2020-03", {"start": "2020-01-01", "end": "2020-03-01"}, False, False),  # ends in March
    ("2020-03", {}, False, False),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:30:01Z", True, False),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:30:00.5Z", False, False),
    ("2020-03-15T10:30:00+02:00", "2020-03-15T08:29:59Z", False, True),
]


@pytest.mark.parametrize(("value", "resource_date", "after", "before"),
                         STARTS_AFTER_ENDS_BEFORE,
                         ids=[f"{v}~{r}" for v, r, _, _ in STARTS_AFTER_ENDS_BEFORE])
def test_starts_after_and_ends_before(value, resource_date, after, before):
    assert date_hits("sa" + value, resource_date) is after
    assert date_hits("eb" + value, resource_date) is before


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


# ap2016-01-01 searched on 2026-01-01: ten years (3,653 days) away, so 365.3 days either
# side of the day: from 2014-12-31T16:48Z to 2017-01-01T07:12Z.
@pytest.mark.parametrize(("value", "resource_date", "expected"), [
    ("ap2016-01-01", "2016-01-01", True),
    ("ap2016-01-01", "2015-01-01", True),
    ("ap2016-01-01", "2014-12-31T17:00:00Z", True),
    ("ap2016-01-01", "2014-12-31T16:00:00Z", False),
    ("ap2016-01-01", "2014-12-30", False),
    ("ap2016-01-01", "2016-12-31", True),
    ("ap2016-01-01", "2017-01-01T07:00:00Z", True),
    ("ap2016-01-01", "2017-01-01T08:00:00Z", False),
    ("ap2016-01-01", "2017-01-02", False),
    ("ap2016-01-01", {"start": "2010-01-01", "end": "2015-06-30"}, True),
    ("ap2016-01-01", {"start": "2017-06-01"}, False),
    ("ap2016-01-01", {"end": "2014-06-01"}, False),
    # a day before now: 10% of one day (2.4 hours) either side
    ("ap2025-12-31", "2025-12-31T12:00:00Z", True),
    ("ap2025-12-31", "2025-12-30T22:00:00Z", True),
    ("ap2025-12-31", "2025-12-30T21:00:00Z", False),
    ("ap2025-12-31", "2026-01-01T02:00:00Z", True),
    ("ap2025-12-31", "2026-01-01T03:00:00Z", False),
    # now itself: its own range (the minute), nothing around it
    ("ap2026-01-01T00:00Z", "2026-01-01T00:00:30Z", True),
    ("ap2026-01-01T00:00Z", "2026-01-01T00:01:00Z", False),
])
def test_approximately_is_ten_percent_of_the_gap_to_now(value, resource_date, expected):
    when = date_range("date", value, now=NOW)
    assert date_matches(resource_date, when) is expected


def test_approximately_uses_the_clock_when_searched():
    """An ap search through parse_search is widened from now: 2016 is years away."""
    assert date_hits("ap2016-06-01", "2016-03-01") is True
    assert date_hits("ap2016-06-01", "2010-01-01") is False


@pytest.mark.parametrize("value", ["ap0001-01-01", "ap9999-12-31", "ap0001", "ap9999"])
def test_approximately_at_the_ends_of_the_calendar(value):
    """Widened past year 1 or 9999, the range stops at the calendar's ends (no 500)."""
    assert date_hits(value, value[2:]) is True


# -- every date parameter of every type, _lastUpdated included -------------------------------

def every_param(search_type: str | None = None) -> list[tuple[str, SearchParam]]:
    """(type, parameter) for every served type's declared parameters and the common ones."""
    return [(declaration.type, param) for declaration in RESOURCES.values()
            for param in (*declaration.search_params, *COMMON_PARAMS)
            if search_type in (None, param.type)]


def holding(declaration: Declaration, param: SearchParam, leaf) -> tuple[dict, object]:
    """A resource of the type holding ``leaf`` at the parameter's first path, and the
    resolver for a path through a reference (``medicationReference.resolve().code``)."""
    path = param.paths[0]
    before, through, after = path.partition(".resolve().")
    if through:
        target = {"resourceType": "Target", "id": "t1", **nested(after, leaf)}
        resource = nested(before, {"reference": "Target/t1"})
        return {"resourceType": declaration.type, **resource}, {"Target/t1": target}.get
    return {"resourceType": declaration.type, **nested(path, leaf)}, None


def nested(path: str, leaf) -> dict:
    for step in reversed(path.split(".")[1:]):
        leaf = {step: leaf}
    return {path.split(".")[0]: leaf}


def matched(declaration: Declaration, query: dict, resource: dict, resolve=None) -> bool:
    return parse_search(declaration, query).matches(resource, resolve)


DATES = [(t, p) for t, p in every_param("date")]


@pytest.mark.parametrize(("resource_type", "param"), DATES,
                         ids=[f"{t}.{p.name}" for t, p in DATES])
def test_every_date_parameter_takes_every_prefix(resource_type, param):
    declaration = RESOURCES[resource_type]
    resource, resolve = holding(declaration, param, "2020-03-15")
    expected = {"eq2020-03-15": True, "ne2020-03-15": False, "gt2020-03-14": True,
                "lt2020-03-16": True, "ge2020-03-15": True, "le2020-03-15": True,
                "sa2020-03-14": True, "sa2020-03-15": False, "eb2020-03-16": True,
                "eb2020-03-15": False, "ap2020-03-15": True, "ap1990": False}
    for value, hit in expected.items():
        assert matched(declaration, {param.name: [value]}, resource, resolve) is hit, value


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


# -- modifiers, on every parameter of every served type (R4 search.html#modifiers) -----------

#: What each search type's value is, as a resource holds it: a Coding (a path to codings),
#: an Identifier with a type (a path to identifiers), a plain code otherwise; a date, a
#: Reference, a string.
CODING = {"system": "urn:s", "code": "c1", "display": "Body weight"}
IDENTIFIER = {"system": "urn:s", "value": "c1", "type": {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
    "text": "Medical record number"}}


def leaf(param: SearchParam):
    if param.type == "token":
        end = param.paths[0].rsplit(".", 1)[-1]
        return {"coding": CODING, "identifier": IDENTIFIER}.get(end, "c1")
    return {"date": "2020-03-15", "reference": {"reference": "Thing/r1"},
            "string": "Dupré"}[param.type]


WITH_PATHS = [(t, p) for t, p in every_param() if p.paths]


@pytest.mark.parametrize(("resource_type", "param"), WITH_PATHS,
                         ids=[f"{t}.{p.name}" for t, p in WITH_PATHS])
def test_missing_on_every_parameter(resource_type, param):
    """:missing=true: resources without a value for the parameter; false: those with one."""
    declaration = RESOURCES[resource_type]
    held, resolve = holding(declaration, param, leaf(param))
    empty = {"resourceType": resource_type}
    name = f"{param.name}:missing"
    assert matched(declaration, {name: ["true"]}, empty) is True
    assert matched(declaration, {name: ["true"]}, held, resolve) is False
    assert matched(declaration, {name: ["false"]}, empty) is False
    assert matched(declaration, {name: ["false"]}, held, resolve) is True
    with pytest.raises(FhirError, match=f"{name} takes true or false") as refused:
        parse_search(declaration, {name: ["yes"]})
    assert refused.value.status == 400


TOKEN_PARAMS = [(t, p) for t, p in WITH_PATHS if p.type == "token"]


@pytest.mark.parametrize(("resource_type", "param"), TOKEN_PARAMS,
                         ids=[f"{t}.{p.name}" for t, p in TOKEN_PARAMS])
def test_not_on_every_token(resource_type, param):
    """:not: resources whose element does not hold the code, those without one included."""
    declaration = RESOURCES[resource_type]
    held, resolve = holding(declaration, param, leaf(param))
    empty = {"resourceType": resource_type}
    name = f"{param.name}:not"
    system = "" if leaf(param) == "c1" else "urn:s"  # a plain code has no system
    assert matched(declaration, {name: ["c1"]}, held, resolve) is False
    assert matched(declaration, {name: [f"{system}|c1"]}, held, resolve) is False
    assert matched(declaration, {name: ["urn:other|c1"]}, held, resolve) is True
    assert matched(declaration, {name: ["c2"]}, held, resolve) is True
    assert matched(declaration, {name: ["c2,c1"]}, held, resolve) is False  # neither
    assert matched(declaration, {name: ["c1"]}, empty) is True


@pytest.mark.parametrize(("resource_type", "param"), TOKEN_PARAMS,
                         ids=[f"{t}.{p.name}" for t, p in TOKEN_PARAMS])
def test_text_on_every_token(resource_type, param):
    """:text: a string search (from the beginning, any case) of the text beside the code:
    a Coding's display, an Identifier's type text; a plain code has none."""
    declaration = RESOURCES[resource_type]
    value = leaf(param)
    held, resolve = holding(declaration, param, value)
    text = {id(CODING): "Body weight", id(IDENTIFIER): "Medical record number"}.get(id(value))
    name = f"{param.name}:text"
    if text is None:
        assert matched(declaration, {name: ["c1"]}, held, resolve) is False
        return
    assert matched(declaration, {name: [text.upper()[:6]]}, held, resolve) is True
    assert matched(declaration, {name: [text.split()[-1]]}, held, resolve) is False
    assert matched(declaration, {name: [f"zzz,{text}"]}, held, resolve) is True


def test_text_reads_the_codeable_concepts_text_beside_its_codings():
    declaration = RESOURCES["Observation"]
    observation = {"resourceType": "Observation", "code": {
        "coding": [{"system": "http://snomed.info/sct", "code": "27113001"}],
        "text": "Body weight"}}
    assert matched(declaration, {"code:text": ["body"]}, observation) is True
    assert matched(declaration, {"code:text": ["Bódy Wéight"]}, observation) is True  # accents
    assert matched(declaration, {"code:text": ["weight"]}, observation) is False


IDENTIFIER_PARAMS = [(t, p) for t, p in TOKEN_PARAMS
                     if all(path.endswith("identifier") for path in p.paths)]


@pytest.mark.parametrize(("resource_type", "param"), IDENTIFIER_PARAMS,
                         ids=[f"{t}.{p.name}" for t, p in IDENTIFIER_PARAMS])
def test_of_type_on_every_identifier_parameter(resource_type, param):
    """:of-type=system|code|value: the Identifier's type coding and its value; all three
    parts are needed."""
    declaration = RESOURCES[resource_type]
    held, resolve = holding(declaration, param, IDENTIFIER)
    name = f"{param.name}:of-type"
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
    assert matched(declaration, {name: [f"{v2}|MR|c1"]}, held, resolve) is True
    assert matched(declaration, {name: [f"{v2}|MR|c2"]}, held, resolve) is False
    assert matched(declaration, {name: [f"{v2}|NH|c1"]}, held, resolve) is False
    assert matched(declaration, {name: ["urn:other|MR|c1"]}, held, resolve) is False
    assert matched(declaration, {name: [f"{v2}|NH|c1,{v2}|MR|c1"]}, held, resolve) is True
    assert matched(declaration, {name: [f"{v2}|MR|c1"]}, {"resourceType": resource_type}) \
        is False
    for bad in ("MR|c1", f"{v2}||c1", f"{v2}|MR|"):
        with pytest.raises(FhirError, match="takes \\[system\\]\\|\\[code\\]\\|\\[value\\]"):
            parse_search(declaration, {name: [bad]})


OTHER_TOKENS = [(t, p) for t, p in TOKEN_PARAMS if (t, p) not in IDENTIFIER_PARAMS]


@pytest.mark.parametrize(("resource_type", "param"), OTHER_TOKENS,
                         ids=[f"{t}.{p.name}" for t, p in OTHER_TOKENS])
def test_of_type_is_refused_where_there_is_no_identifier(resource_type, param):
    with pytest.raises(FhirError, match=f"{param.name}:of-type: the :of-type modifier "
                                        "applies to") as refused:
        parse_search(RESOURCES[resource_type], {f"{param.name}:of-type": ["a|b|c"]})
    assert refused.value.status == 400


STRING_PARAMS = [(t, p) for t, p in WITH_PATHS if p.type == "string"]


@pytest.mark.parametrize(("resource_type", "param"), STRING_PARAMS,
                         ids=[f"{t}.{p.name}" for t, p in STRING_PARAMS])
def test_exact_and_contains_on_every_string(resource_type, param):
    """:exact: the whole string, case and accents included; :contains: anywhere in it,
    ignoring case and accents."""
    declaration = RESOURCES[resource_type]
    held, resolve = holding(declaration, param, "Dupré")
    for modifier, value, expected in [
            ("exact", "Dupré", True), ("exact", "dupré", False), ("exact", "Dupre", False),
            ("exact", "Dup", False), ("exact", "Smith,Dupré", True),
            ("contains", "UPR", True), ("contains", "pre", True), ("contains", "dupré", True),
            ("contains", "ep", False)]:
        query = {f"{param.name}:{modifier}": [value]}
        assert matched(declaration, query, held, resolve) is expected, (modifier, value)


REFERENCE_PARAMS = [(t, p) for t, p in WITH_PATHS if p.type == "reference"]


@pytest.mark.parametrize(("resource_type", "param"), REFERENCE_PARAMS,
                         ids=[f"{t}.{p.name}" for t, p in REFERENCE_PARAMS])
def test_a_type_modifier_on_every_reference(resource_type, param):
    """``:[type]``: the reference names that type (subject:Patient=p1 is
    subject=Patient/p1); a patient parameter so modified still names the patient."""
    declaration = RESOURCES[resource_type]
    if param.name in declaration.patient_params:
        asked = parse_search(declaration, {f"{param.name}:Patient": ["p1"]})
        assert asked.patients == ("p1",) and asked.predicates == ()
        with pytest.raises(FhirError, match="must reference a Patient"):
            parse_search(declaration, {f"{param.name}:Patient": ["Group/g1"]})
        return
    held, resolve = holding(declaration, param, {"reference": "Thing/r1"})
    assert matched(declaration, {f"{param.name}:Thing": ["r1"]}, held, resolve) is True
    assert matched(declaration, {f"{param.name}:Other": ["r1"]}, held, resolve) is False
    with pytest.raises(FhirError, match="names a Thing, not a Other") as refused:
        parse_search(declaration, {f"{param.name}:Other": ["Thing/r1"]})
    assert refused.value.status == 400


#: FHIR R4's modifiers by the search types it defines them for, less those answered here.
NOT_ANSWERED = {"token": ["below", "above", "in", "not-in", "exact", "identifier"],
                "date": ["not", "exact", "text", "below"],
                "reference": ["identifier", "below", "above", "not", "patient.identifier"],
                "string": ["not", "text", "below", "above", "in"]}
EVERY_PARAM = every_param()


@pytest.mark.parametrize(("resource_type", "param"), EVERY_PARAM,
                         ids=[f"{t}.{p.name}" for t, p in EVERY_PARAM])
def test_a_modifier_not_answered_is_refused_naming_it(resource_type, param):
    for modifier in NOT_ANSWERED[param.type]:
        name = f"{param.name}:{modifier}"
        with pytest.raises(FhirError, match=f"^{name}: the :{modifier} modifier is not "
                                            f"supported on {param.type} parameters") as refused:
            parse_search(RESOURCES[resource_type], {name: ["x"]})
        assert refused.value.status == 400 and refused.value.code == "not-supported"


def test_modified_parameters_are_applied_after_an_upstream_search():
    """A source answering the type's own parameters upstream (PatientSearch) applies the
    modified ones afterwards: they are among the common predicates, by the name given."""
    asked = parse_search(RESOURCES["Patient"], {"family": ["Smith"], "gender": ["male"],
                                                "phone:missing": ["true"],
                                                "name:exact": ["Ann"]})
    assert len(asked.common) == 2 and len(asked.predicates) == 4
    assert set(asked.own_params) == {"family", "gender", "phone:missing", "name:exact"}
    assert asked.matches_common({"resourceType": "Patient", "name": [{"given": ["Ann"]}]})
    assert not asked.matches_common({"resourceType": "Patient", "name": [{"given": ["Ann"]}],
                                     "telecom": [{"value": "0113"}]})
