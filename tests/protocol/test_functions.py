import datetime as dt

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol.identity import Identity, IdentityError, nhs_number_is_valid

TODAY = dt.date(2026, 11, 24)


@pytest.mark.parametrize(("record_filter", "exempt"), [
    (fn.RecordFilter.demographics_only(), True),
    (fn.RecordFilter(flags=frozenset({"Demographics"}), min_effective=dt.date(2020, 1, 1)), True),
    (fn.RecordFilter.entered_on(TODAY), True),
    (fn.RecordFilter.entered_on(TODAY, flags=frozenset({"Medication"})), True),
    (fn.RecordFilter(flags=frozenset({"Demographics", "Medication"})), False),
    (fn.RecordFilter(flags=frozenset({"Demographics"}), numerics=("22A..",)), False),
    (fn.RecordFilter.entered_on(TODAY - dt.timedelta(days=1)), False),
    (fn.RecordFilter(min_entry=TODAY), False),
    (fn.RecordFilter(), False),
])
def test_throttle_exemptions(record_filter, exempt):
    assert record_filter.exempt_from_record_throttle(TODAY) is exempt


def test_no_filter_is_never_exempt():
    assert not fn.RecordRequest(Identity.nhs_number("9990000018")).exempt_from_record_throttle(
        TODAY)


def test_filter_reads_in_any_order_and_rejects_unknown_elements():
    element = etree.fromstring(b"<Filter><Numeric>229..</Numeric><Demographics/>"
                               b"<MaxEntryDate>2026-01-02</MaxEntryDate><Numeric>22A..</Numeric>"
                               b"</Filter>")
    parsed = fn.RecordFilter.from_element(element)
    assert parsed.numerics == ("229..", "22A..") and parsed.flags == {"Demographics"}
    assert parsed.max_entry == dt.date(2026, 1, 2)
    with pytest.raises(ValueError, match="Bogus"):
        fn.RecordFilter.from_element(etree.fromstring(b"<Filter><Bogus/></Filter>"))
    with pytest.raises(ValueError, match="MinEntryDate must be a date"):
        fn.RecordFilter.from_element(etree.fromstring(
            b"<Filter><MinEntryDate>yesterday</MinEntryDate></Filter>"))


def test_search_criteria_count_only_what_is_given():
    criteria = fn.PatientSearchCriteria(surname="Smith", postcode="")
    assert criteria.given() == {"Surname": "Smith"}


def test_a_blank_criterion_is_not_given():
    """SystmOne reads element text stripped: "  " would not count towards its two, so the
    client would send a search SystmOne refuses (spending the slot). Not given, not sent."""
    criteria = fn.PatientSearchCriteria(surname="  ", first_name="\t", postcode="LS1",
                                        date_of_birth=dt.date(1970, 1, 1))
    assert criteria.given() == {"PostCode": "LS1", "DateOfBirth": "1970-01-01"}
    assert [child.tag for child in criteria.to_parameters()] == ["DateOfBirth", "PostCode"]


def test_identity_accepts_tpps_template_spelling_and_needs_exactly_one():
    element = etree.fromstring(b"<Identity><NhsNumber>9990000018</NhsNumber></Identity>")
    assert Identity.from_element(element) == Identity.nhs_number("9990000018")
    with pytest.raises(IdentityError):
        Identity.from_element(etree.fromstring(
            b"<Identity><NHSNumber>1</NHSNumber><PseudoNumber>2</PseudoNumber></Identity>"))


@pytest.mark.parametrize(("number", "valid"), [
    ("9990000018", True), ("9990000019", False), ("4010232137", True), ("999000001", False)])
def test_nhs_number_check_digit(number, valid):
    assert nhs_number_is_valid(number) is valid
