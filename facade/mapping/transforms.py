"""Named value transforms that mapping modules refer to with ``Path(..., via="name")``.

Each takes the source text (already stripped, never empty) and returns the
FHIR value, or raises ValueError saying what is wrong with the text.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from ..protocol.identity import nhs_number_is_valid

#: SystmOne writes local times without a zone; its users are in England.
LONDON = ZoneInfo("Europe/London")
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?")


def date(text: str) -> str:
    """A FHIR date from a SystmOne date or date-time (the date part)."""
    match = _DATE_TIME.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a date")
    return dt.date.fromisoformat(match.group(1)).isoformat()


@functools.lru_cache(maxsize=4096)  # the items of one Event share its DateTime
def date_time(text: str) -> str:
    """A FHIR dateTime with an offset: SystmOne's zone-less local time read as Europe/London.

    A bare date stays a date (FHIR allows it; inventing midnight would be false
    precision). A time that already carries a zone keeps it.
    """
    match = _DATE_TIME.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a date-time")
    day, clock, _fraction, zone = match.groups()
    if clock is None:
        return dt.date.fromisoformat(day).isoformat()
    moment = dt.datetime.fromisoformat(f"{day}T{clock}")
    if zone:
        moment = moment.replace(tzinfo=dt.UTC) if zone == "Z" else \
            dt.datetime.fromisoformat(f"{day}T{clock}{zone}")
    else:
        moment = moment.replace(tzinfo=LONDON)
    return moment.isoformat(timespec="seconds")


def london_today() -> str:
    """Today's date in England, where SystmOne's dates are: what ``$today`` means."""
    return dt.datetime.now(LONDON).date().isoformat()


def nhs_number(text: str) -> str:
    """Ten digits with a valid modulus-11 check digit (spaces tolerated)."""
    digits = text.replace(" ", "")
    if not nhs_number_is_valid(digits):
        raise ValueError(f"{text!r} is not a valid NHS number")
    return digits


_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def decimal(text: str) -> int | Decimal:
    """A FHIR decimal as written: an int for a whole number, else a Decimal keeping every
    digit (``1.00`` stays ``1.00``; facade.jsonbytes writes it so)."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"{text!r} is not a number")
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("+-").partition(".")
    if not fraction:  # "72", or "5." with nothing after the point
        return int(f"{sign}{whole}")
    return Decimal(f"{sign}{whole or '0'}.{fraction}")


def fhir_id(text: str) -> str:
    """A FHIR id: letters, digits, '-' and '.', at most 64 characters."""
    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", text):
        raise ValueError(f"{text!r} cannot be a FHIR id")
    return text


def upper(text: str) -> str:
    return text.upper()


def single_spaced(text: str) -> str:
    """Whitespace runs (including newlines) collapsed to one space."""
    return " ".join(text.split())


def end_after_minutes(text: str) -> str:
    """When a booking ends: ``"<start> <minutes>"`` (a SystmOne date-time and a Duration
    in minutes, as an appointment gives them) as a FHIR dateTime. The minutes are counted on
    the clock, not the calendar: a booking across a clock change ends at the right instant,
    written with the Europe/London offset of that instant. No minutes: it ends as it starts."""
    start, _, minutes = text.partition(" ")
    match = _DATE_TIME.fullmatch(start)
    if not match or match.group(2) is None:
        raise ValueError(f"{start!r} is not a date-time")
    try:
        length = float(minutes) if minutes.strip() else 0.0
    except ValueError:
        raise ValueError(f"{minutes!r} is not a number of minutes") from None
    if not 0 <= length < 60 * 24 * 7:
        raise ValueError(f"{minutes!r} minutes is not the length of a booking")
    begun = dt.datetime.fromisoformat(date_time(start))
    zone = begun.tzinfo if match.group(4) else LONDON  # a zoned start keeps its zone
    ended = begun.astimezone(dt.UTC) + dt.timedelta(minutes=length)
    return ended.astimezone(zone).isoformat(timespec="seconds")


def file_extension(text: str) -> str:
    """A file name's extension, lower case, without the dot ("Scan.v2.TIF" → "tif");
    nothing when the name has none."""
    name = text.strip().rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rpartition(".")[2].lower() if "." in name.strip(".") else ""


TRANSFORMS = {
    "date": date,
    "date_time": date_time,
    "nhs_number": nhs_number,
    "decimal": decimal,
    "fhir_id": fhir_id,
    "upper": upper,
    "single_spaced": single_spaced,
    "end_after_minutes": end_after_minutes,
    "file_extension": file_extension,
}
