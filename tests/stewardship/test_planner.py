"""The retrieval planner: the cache first, cheap calls before the scarce slot."""

from __future__ import annotations

import datetime as dt

import pytest

from facade.stewardship.cache import Entry
from facade.stewardship.planner import (
    LONDON,
    Freshness,
    Step,
    clinical_step,
    demographics_step,
    full_record_filter,
    top_up_filter,
)

WINDOWS = Freshness(demographics=300, clinical=300, top_up_after=60)
NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=LONDON).timestamp()


def entry(age: float, topped_up: float | None = None) -> Entry:
    fetched = NOON - age
    return Entry([], fetched, NOON - topped_up if topped_up is not None else fetched, "s")


@pytest.mark.parametrize(("cached", "fresh_asked", "step"), [
    (None, False, Step.CALL),
    (entry(10), False, Step.CACHE),
    (entry(10), True, Step.CALL),  # Cache-Control: no-cache
    (entry(301), False, Step.CALL),
])
def test_demographics(cached, fresh_asked, step):
    assert demographics_step(cached, NOON, WINDOWS, fresh_asked) is step


@pytest.mark.parametrize(("cached", "fresh_asked", "step"), [
    (None, False, Step.FULL),
    (entry(30), False, Step.CACHE),
    (entry(120, topped_up=70), False, Step.TOP_UP),
    (entry(120, topped_up=10), False, Step.CACHE),
    (entry(300), False, Step.FULL),  # the window has ended
    (entry(30), True, Step.FULL),
])
def test_clinical(cached, fresh_asked, step):
    assert clinical_step(cached, NOON, WINDOWS, fresh_asked) is step


def test_no_top_up_around_midnight_when_calendars_may_disagree():
    midnight = dt.datetime(2026, 11, 25, 0, 2, tzinfo=LONDON).timestamp()
    stale_top_up = Entry([], midnight - 120, midnight - 120, "s")
    assert clinical_step(stale_top_up, midnight, WINDOWS, False) is Step.CACHE


SECTIONS = frozenset({"ClinicalCodes", "Medication", "Sensitivities", "Vaccinations"})


def test_only_the_top_up_is_exempt_from_the_record_slot():
    today = dt.date(2026, 11, 24)
    assert not full_record_filter(SECTIONS).exempt_from_record_throttle(today)
    assert top_up_filter(NOON, SECTIONS).exempt_from_record_throttle(today)


def test_a_full_fetch_asks_for_exactly_the_sections_served_and_the_demographics():
    assert full_record_filter(SECTIONS).flags == SECTIONS | {"Demographics"}
    assert top_up_filter(NOON, SECTIONS).flags == SECTIONS | {"Demographics"}
