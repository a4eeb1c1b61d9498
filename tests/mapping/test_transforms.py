from decimal import Decimal

import pytest

from facade.mapping import transforms as t


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-07-01T10:00:00", "2026-07-01T10:00:00+01:00"),  # British Summer Time
    ("2026-01-01T10:00:00", "2026-01-01T10:00:00+00:00"),  # GMT
    ("2026-03-29T01:30:00", "2026-03-29T01:30:00+00:00"),  # the hour that does not exist
    ("2017-12-19T12:45:12.0Z", "2017-12-19T12:45:12+00:00"),  # the spec's one zoned example
    ("2020-01-02", "2020-01-02"),
])
def test_date_time_reads_systmone_local_time_as_london(text, expected):
    assert t.date_time(text) == expected


@pytest.mark.parametrize("text", ["02/01/2020", "2020-13-01", "yesterday"])
def test_bad_dates_are_refused(text):
    with pytest.raises(ValueError):
        t.date(text)


def test_numbers_and_nhs_numbers():
    assert (t.decimal("90"), t.decimal("82.4"), t.decimal("12.50")) == (
        90, Decimal("82.4"), Decimal("12.50"))
    assert [str(t.decimal(text)) for text in ("1.00", "-0.50", ".5", "+7", "5.")] == [
        "1.00", "-0.50", "0.5", "7", "5"]
    assert type(t.decimal("90")) is int
    for bad in ("abc", "1e3", "1,5", "NaN", "Infinity", "--1", "1.2.3"):
        with pytest.raises(ValueError):
            t.decimal(bad)
    assert t.nhs_number("999 000 0018") == "9990000018"
    with pytest.raises(ValueError, match="not a valid NHS number"):
        t.nhs_number("9990000019")


def test_text_transforms():
    assert t.single_spaced(" LS18\n 5TN ") == "LS18 5TN"
    assert t.upper("ls18") == "LS18"
