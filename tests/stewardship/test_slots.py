"""The slot arithmetic on its own (the Redis script mirrors it)."""

import pytest

from facade.stewardship.slots import SlotRule, earliest_start, find_breaches

RULE = SlotRule(request_us=1000, record_us=30000)


def test_an_empty_ledger_starts_now_or_at_the_floor():
    assert earliest_start(500, 500, [], 1000) == 500
    assert earliest_start(500, 9000, [], 1000) == 9000


def test_a_start_goes_after_conflicting_bookings():
    assert earliest_start(500, 500, [0], 1000) == 1000
    assert earliest_start(500, 500, [0, 1000, 2000], 1000) == 3000


def test_a_start_takes_a_gap_that_is_wide_enough():
    booked = [0, 1000, 5000]
    assert earliest_start(500, 500, booked, 1000) == 2000  # 2000..3000 clear of 1000 and 5000
    assert earliest_start(500, 3500, booked, 1000) == 3500
    assert earliest_start(500, 4200, booked, 1000) == 6000  # 4200 is too close to 5000


def test_find_breaches_reports_close_pairs_per_kind():
    grants = [(0, True), (1000, False), (1999, False), (33000, True), (3000, True)]
    assert find_breaches(grants, RULE) == [(1000, 1999), (0, 3000)]
    assert find_breaches(grants, RULE, tolerance_us=1) == [(0, 3000)]
    assert find_breaches([(0, True), (30000, True), (31000, False)], RULE) == []


@pytest.mark.parametrize(("request_interval", "record_interval"), [(0, 30), (-1, 30), (1, -1)])
def test_a_rule_needs_a_positive_request_interval_and_a_record_interval_not_negative(
        request_interval, record_interval):
    with pytest.raises(ValueError):
        SlotRule.from_seconds(request_interval, record_interval)


def test_a_rule_may_have_no_record_interval():
    assert SlotRule.from_seconds(0.5, 0) == SlotRule(request_us=500_000, record_us=0)
