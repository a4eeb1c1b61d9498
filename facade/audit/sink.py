"""Where access records go: the sink interface, the query it answers, and ``open_sink``.

A sink is durable on return: once ``record()`` has returned, killing the
process cannot lose the entry (the request path records before the answer
goes out, so an answered request always has its record). How far beyond a
process kill each backend goes (OS crash, power loss) is in its module.

Ids are opaque strings that are also valid FHIR ids (``[A-Za-z0-9\\-.]{1,64}``),
so an entry can be served as ``AuditEvent/<id>`` as it is.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from pathlib import Path

import orjson

from .record import AccessRecord

#: The embedded default, in the state dir.
DEFAULT_FILE = "audit.sqlite3"
DEFAULT_COUNT = 50
MAX_COUNT = 500
#: ``AuditQuery.outcome`` values: by HTTP status class.
OUTCOMES = {
    "success": (0, 399),
    "failure": (400, 999),
    "client-error": (400, 499),
    "server-error": (500, 999),
}
SPEC_FORMS = "'' (SQLite in the state dir), 'sqlite:PATH', 'jsonl:PATH' or 'off'"


@dataclass(frozen=True)
class AuditQuery:
    """Filters (all optional, combined with AND) and a page of a newest-first listing."""

    client_id: str | None = None
    patient_id: str | None = None
    interaction: str | None = None
    resource_type: str | None = None
    #: One of ``OUTCOMES``: "success" (status < 400), "failure" (>= 400), or
    #: "client-error" (4xx) / "server-error" (5xx) for one class of failure.
    outcome: str | None = None
    #: Inclusive bounds on ``AccessRecord.time``, ISO 8601 (no offset means UTC).
    since: str | None = None
    until: str | None = None
    #: Rows per page; 0 asks for the total only.
    count: int = DEFAULT_COUNT
    offset: int = 0

    def __post_init__(self) -> None:
        # Checked here so that every sink can trust a query it is given.
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, "
                             f"not {self.outcome!r}")
        if not 0 <= self.count <= MAX_COUNT:
            raise ValueError(f"count must be 0 to {MAX_COUNT}, not {self.count}")
        if self.offset < 0:
            raise ValueError(f"offset must not be negative, not {self.offset}")
        for bound in (self.since, self.until):
            if bound is not None:
                instant_us(bound)

    @property
    def since_us(self) -> int | None:
        return None if self.since is None else instant_us(self.since)

    @property
    def until_us(self) -> int | None:
        return None if self.until is None else instant_us(self.until)

    def matches(self, entry: AccessRecord) -> bool:
        """The filters, for a sink that tests entries one by one (paging aside)."""
        low, high = OUTCOMES.get(self.outcome or "", (0, 999))
        time = instant_us(entry.time)
        return ((self.client_id is None or entry.client_id == self.client_id)
                and (self.patient_id is None or self.patient_id in entry.patient_ids)
                and (self.interaction is None or entry.interaction == self.interaction)
                and (self.resource_type is None or entry.resource_type == self.resource_type)
                and low <= entry.status <= high
                and (self.since is None or time >= instant_us(self.since))
                and (self.until is None or time <= instant_us(self.until)))


class AuditSink(ABC):
    @abstractmethod
    def record(self, entry: AccessRecord) -> str:
        """Store ``entry`` durably (see the module docstring) and return its id."""

    @abstractmethod
    def search(self, query: AuditQuery) -> tuple[list[tuple[str, AccessRecord]], int]:
        """One page of matching ``(id, entry)`` newest first (by time, then by
        insertion), and how many match in all."""

    @abstractmethod
    def get(self, id: str) -> AccessRecord | None:
        """The entry stored under ``id``; None for an unknown or malformed id."""

    @abstractmethod
    def close(self) -> None:
        """Release files and connections (every thread's)."""


def open_sink(spec: str | None, state_dir: Path, *, fsync: str = "interval",
              fsync_interval: float = 0.2) -> AuditSink:
    """The sink a configuration string names: see ``SPEC_FORMS``. A PATH is taken
    as given (a relative one from the working directory, not the state dir).
    ``fsync`` and ``fsync_interval`` are the SQLite sink's (see incoming.py); the
    JSON-lines sink syncs every entry.

    Backends are imported here so that choosing one never loads the other.
    """
    kind, _, path = (spec or "").partition(":")
    if spec == "off":
        return NoAudit()
    if not spec:
        from .sqlite_sink import SQLiteSink

        return SQLiteSink(Path(state_dir) / DEFAULT_FILE, fsync=fsync,
                          fsync_interval=fsync_interval)
    if kind == "sqlite" and path:
        from .sqlite_sink import SQLiteSink

        return SQLiteSink(Path(path), fsync=fsync, fsync_interval=fsync_interval)
    if kind == "jsonl" and path:
        from .jsonl_sink import JSONLSink

        return JSONLSink(Path(path))
    problem = "has no path" if kind in ("sqlite", "jsonl") else "is not a known kind"
    raise ValueError(f"audit sink {spec!r} {problem}; use {SPEC_FORMS}")


class NoAudit(AuditSink):
    """``off``: nothing is recorded (demo and benchmarks only; the live profile refuses it)."""

    def record(self, entry: AccessRecord) -> str:
        return ""

    def search(self, query: AuditQuery) -> tuple[list[tuple[str, AccessRecord]], int]:
        return [], 0

    def get(self, id: str) -> AccessRecord | None:
        return None

    def close(self) -> None:
        pass


# -- shared by the backends -------------------------------------------------------

def instant_us(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 date-time (no offset means UTC).

    Integers rather than strings or floats: exact, and ordered whatever the
    offset or the number of fractional digits the text was written with.
    """
    try:
        moment = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"not an ISO 8601 date-time: {text!r}") from None
    return datetime_us(moment)


def datetime_us(moment: dt.datetime) -> int:
    """Microseconds since the epoch (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1)


def format_instant(us: int) -> str:
    """The inverse of ``instant_us``, in ``AccessRecord.time``'s form."""
    moment = _EPOCH + dt.timedelta(microseconds=us)
    # isoformat, not strftime("%Y"): the year has four digits before 1000 too (0999), as
    # FHIR's instant and instant_us need.
    return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def encode(entry: AccessRecord) -> bytes:
    return orjson.dumps(entry)  # orjson writes dataclasses itself, as asdict() would


def decode(data: bytes | str) -> AccessRecord:
    """An entry from ``encode``'s JSON."""
    return from_dict(orjson.loads(data))


def from_dict(values: dict) -> AccessRecord:
    """An entry from its JSON object. Unknown keys are ignored, so a file
    written by a later version with more fields still reads."""
    known = {field.name for field in fields(AccessRecord)}
    values = {key: value for key, value in values.items() if key in known}
    for key, value in values.items():
        if isinstance(value, list):  # JSON has no tuples
            values[key] = tuple(value)
    return AccessRecord(**values)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
