"""Reading FHIR search parameter values: tokens, dates with prefixes, strings.

Pure functions over strings and mapped resources, so they are tested without HTTP.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ..mapping.transforms import LONDON
from .outcome import FhirError

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le")
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(T[0-9:.+\-Z]*)?)?)?")


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": no system
    code: str


def tokens(name: str, value: str) -> list[Token]:
    """``system|code``, ``|code`` or ``code``; commas separate alternatives (OR)."""
    out = []
    for part in value.split(","):
        system, bar, code = part.partition("|")
        if not bar:
            system, code = None, part
        if not code:
            raise FhirError(400, "invalid", f"{name}: empty code in {value!r}")
        out.append(Token(system, code))
    return out


def coding_matches(codings: list[dict], wanted: list[Token]) -> bool:
    return any(
        coding.get("code") == token.code and (token.system is None
                                              or token.system == coding.get("system", ""))
        for coding in codings for token in wanted)


@dataclass(frozen=True)
class DateRange:
    prefix: str
    low: dt.datetime  # inclusive
    high: dt.datetime  # exclusive

    def matches(self, value: str) -> bool:
        low, high = _range(value)
        if self.prefix == "eq":
            return low >= self.low and high <= self.high
        if self.prefix == "ne":
            return not (low >= self.low and high <= self.high)
        if self.prefix in ("gt", "ge"):
            return high > (self.high if self.prefix == "gt" else self.low)
        return low < (self.low if self.prefix == "lt" else self.high)  # lt, le

    @property
    def exact_date(self) -> dt.date | None:
        """The one calendar day this means, when it is ``eq`` of a full date."""
        if self.prefix == "eq" and self.high - self.low == dt.timedelta(days=1):
            return self.low.date()
        return None


def date_range(name: str, value: str) -> DateRange:
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    try:
        low, high = _range(text)
    except ValueError:
        raise FhirError(400, "invalid", f"{name}: {value!r} is not a FHIR date "
                                        "(YYYY, YYYY-MM, YYYY-MM-DD, with an optional prefix "
                                        f"{'/'.join(DATE_PREFIXES)})") from None
    return DateRange(prefix, low, high)


def _range(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants a (partial) date or dateTime covers, in UTC, as [low, high)."""
    match = _PARTIAL_DATE.fullmatch(text)
    if not match:
        raise ValueError(text)
    year, month, day, time_part = match.groups()
    if time_part:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:  # read as the practice's local time, as SystmOne's are
            moment = moment.replace(tzinfo=LONDON)
        moment = moment.astimezone(dt.UTC)
        return moment, moment + dt.timedelta(seconds=1)
    start = dt.datetime(int(year), int(month or 1), int(day or 1), tzinfo=dt.UTC)
    if day:
        end = start + dt.timedelta(days=1)
    elif month:
        end = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        end = start.replace(year=start.year + 1)
    return start, end


def string_matches(candidates: list[str], wanted: str) -> bool:
    """FHIR string search: case-insensitive match of the beginning."""
    wanted = wanted.casefold()
    return any(candidate.casefold().startswith(wanted) for candidate in candidates)


def values_at(resource: dict, path: str) -> list[Any]:
    """Every value at a dotted path, through lists."""
    items: list[Any] = [resource]
    for step in path.split("."):
        nxt = []
        for item in items:
            value = item.get(step) if isinstance(item, dict) else None
            if isinstance(value, list):
                nxt.extend(value)
            elif value is not None:
                nxt.append(value)
        items = nxt
    return items
