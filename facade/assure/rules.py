"""SystmOne's throttle rules as the assurance harness reads them, from TPP's specification.

Written here from the specification's own words (Client Integration API v33.4,
"Throttling"), not taken from the facade's planner, so the harness checks the
facade against the rule rather than against itself:

- at most one request per second to a SystmOne client, whatever the function;
- at most one GetPatientRecord per 30 seconds, except one whose filter asks only
  for Demographics, or whose MinEntryDate and MaxEntryDate are both today (the
  client's date: England's).

Read strictly: "only Demographics" is a Filter holding the Demographics element
and nothing else. The intervals are parameters, so tests can run on a
compressed clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from lxml import etree

from ..protocol.xmlsafe import MalformedDocument, parse_document

ENGLAND = ZoneInfo("Europe/London")
#: How far apart two sends may be measured closer than they were: the two clocks read
#: for one send (transport and recorder) are microseconds apart.
MEASUREMENT = 0.001


@dataclass(frozen=True)
class Sent:
    """A request as the rules see it."""

    seq: int
    at: float  # seconds from the start of the run
    function: str
    request_uid: str
    device_id: str
    #: A GetPatientRecord the 30-second rule applies to.
    full_record: bool


def read_request(seq: int, at: float, request: bytes, day: dt.date) -> Sent:
    try:
        root = parse_document(request)
    except MalformedDocument:
        return Sent(seq, at, "", "", "", False)
    function = (root.findtext("Function") or "").strip()
    return Sent(seq, at, function, (root.findtext("RequestUID") or "").strip(),
                (root.findtext("DeviceID") or "").strip(),
                function == "GetPatientRecord" and not exempt(root, day))


def exempt(request: etree._Element, day: dt.date) -> bool:
    """Whether a GetPatientRecord request is exempt from the 30-second rule on ``day``."""
    record_filter = request.find("FunctionParameters/Filter")
    if record_filter is None:
        return False  # the whole record
    children = [child for child in record_filter if isinstance(child.tag, str)]
    if [child.tag for child in children] == ["Demographics"]:
        return True
    entry = {child.tag: (child.text or "").strip() for child in children
             if child.tag in ("MinEntryDate", "MaxEntryDate")}
    today = day.isoformat()
    return entry.get("MinEntryDate") == today and entry.get("MaxEntryDate") == today


def day_of(wall_time: float) -> dt.date:
    """The SystmOne client's date at a moment (seconds since the epoch)."""
    return dt.datetime.fromtimestamp(wall_time, ENGLAND).date()


@dataclass(frozen=True)
class TooClose:
    first: Sent
    second: Sent

    @property
    def gap(self) -> float:
        return self.second.at - self.first.at


def too_close(sends: list[Sent], interval: float) -> list[TooClose]:
    """Neighbouring sends (in time order) closer than ``interval``."""
    ordered = sorted(sends, key=lambda sent: sent.at)
    return [TooClose(a, b) for a, b in itertools.pairwise(ordered)
            if b.at - a.at < interval - MEASUREMENT]


def gaps(sends: list[Sent]) -> list[float]:
    ordered = sorted(sends, key=lambda sent: sent.at)
    return [b.at - a.at for a, b in itertools.pairwise(ordered)]
