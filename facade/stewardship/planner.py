"""The retrieval planner: which SystmOne call, if any, answers a FHIR question.

SystmOne gives two budgets. Every request takes a request slot (one a
second); a full GetPatientRecord also takes the scarce record slot (one per
30 seconds). Exempt from the second are a Demographics-only filter and one
whose entry dates are both today. So:

- Patient reads and identifier searches use a Demographics-only call, or the
  Patient cached from any recent record of that patient;
- other Patient searches use PatientSearch (not a GetPatientRecord at all);
- searches and reads of every record type (Observation, Condition,
  MedicationRequest...) use the patient's mapped record from the cache while it
  is within its freshness window, topping it up now and then with an exempt
  "entered today" call; only when the window ends does a full record (the
  scarce slot) refresh it — one call, whatever types are asked for. It asks for
  exactly the sections the served types are made from (the union of their
  declarations' sections: mapping/registry.py).

A narrower filter per search (one code, a date range) would cost the same
scarce slot and leave a partial record that cannot answer the next search,
so it is not used. A request asking for fresh data (``Cache-Control:
no-cache``) skips the cache but never the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo

from ..protocol.functions import RecordFilter
from .cache import Entry

LONDON = ZoneInfo("Europe/London")
MIDNIGHT_MARGIN = 5  # minutes either side of midnight without top-ups


class Step(Enum):
    CACHE = "cache"  # answer from the cache, no call
    CALL = "call"  # one exempt call (Demographics-only, PatientSearch)
    TOP_UP = "top-up"  # the cached record plus an exempt entered-today call
    FULL = "full"  # a full clinical record: the scarce slot


@dataclass(frozen=True)
class Freshness:
    """How long each class of data is served from the cache (seconds)."""

    demographics: float = 300.0
    clinical: float = 300.0
    top_up_after: float = 60.0  # within the clinical window, top up after this long


def demographics_step(entry: Entry | None, now: float, windows: Freshness,
                      fresh_asked: bool) -> Step:
    if entry is not None and not fresh_asked and entry.age(now) < windows.demographics:
        return Step.CACHE
    return Step.CALL


def clinical_step(entry: Entry | None, now: float, windows: Freshness,
                  fresh_asked: bool) -> Step:
    if entry is None or fresh_asked or entry.age(now) >= windows.clinical:
        return Step.FULL
    if now - entry.topped_up_at >= windows.top_up_after and not _near_midnight(now):
        return Step.TOP_UP
    return Step.CACHE


def _near_midnight(now: float) -> bool:
    """Around midnight the SystmOne client's "today" may not be ours; a top-up it does
    not see as entered-today would spend the record slot unbooked, so none is made."""
    local = dt.datetime.fromtimestamp(now, LONDON)
    minutes = local.hour * 60 + local.minute
    return minutes < MIDNIGHT_MARGIN or minutes >= 24 * 60 - MIDNIGHT_MARGIN


def counts_as_full_record(record_filter: RecordFilter | None, now: float) -> bool:
    """Whether a GetPatientRecord with this filter (None: the whole record) takes the
    scarce record slot: unless SystmOne exempts it, and never near midnight, when its
    calendar may not be ours."""
    if record_filter is None or _near_midnight(now):
        return True
    today = dt.datetime.fromtimestamp(now, LONDON).date()
    return not record_filter.exempt_from_record_throttle(today)


def full_record_filter(sections: frozenset[str]) -> RecordFilter:
    """The scarce full fetch: the sections the served types are made from (Demographics
    always: the Patient is refreshed with it)."""
    return RecordFilter(flags=frozenset(sections) | {"Demographics"})


def top_up_filter(now: float, sections: frozenset[str]) -> RecordFilter:
    """Entered today, on the SystmOne client's (English) calendar: exempt."""
    today = dt.datetime.fromtimestamp(now, LONDON).date()
    return RecordFilter.entered_on(today, flags=frozenset(sections) | {"Demographics"})
