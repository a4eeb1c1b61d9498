"""Date and time helpers shared by the whole generator: surgery hours and weekdays.

Events fall on weekdays within surgery hours; keeping these few helpers in one
place lets the history, the care records and the NonClinical XML agree on them.
"""

from __future__ import annotations

import datetime as dt
import random

SURGERY_OPENS = 8 * 60  # minutes after midnight
SURGERY_CLOSES = 18 * 60 + 30

#: [design] Events entered from this day on may hold SNOMED CT codes: GP systems moved
#: to SNOMED CT from April 2018, SystmOne's practices over the following year. Codes
#: held only in SNOMED CT are recorded from then on only.
SNOMED_ERA = dt.date(2019, 4, 1)


def _add_years(day: dt.date, years: float) -> dt.date:
    return day + dt.timedelta(days=int(years * 365.25))


def _between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _weekday(day: dt.date, not_before: dt.date, not_after: dt.date) -> dt.date:
    """Move a weekend day to the nearest weekday within the bounds, if there is one."""
    if day.weekday() < 5:
        return day
    later = day + dt.timedelta(days=7 - day.weekday())
    earlier = day - dt.timedelta(days=day.weekday() - 4)
    if later <= not_after:
        return later
    return earlier if earlier >= not_before else day


def _surgery_time(rng: random.Random, day: dt.date) -> dt.datetime:
    minute = rng.randrange(SURGERY_OPENS, SURGERY_CLOSES)
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60, rng.randrange(60)))


def _datetime(rng: random.Random, day: dt.date, first: int = SURGERY_OPENS,
              last: int = SURGERY_CLOSES) -> dt.datetime:
    minute = rng.randrange(first, last)
    return dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
