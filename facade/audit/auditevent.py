"""Access records as FHIR R4 AuditEvents, and AuditEvent search parameters as an AuditQuery.

The mapping (one record, one AuditEvent; its id is the sink's id):

* type: DICOM "rest" (RESTful Operation); subtype: the interaction, from
  FHIR's restful-interaction codes when it is one, else from the facade's
  own code system ("token", "introspect", ...).
* action: "R" for read/vread, "E" (execute) for searches and everything else.
* outcome: "0" below 400, "4" for 4xx (the caller's failure), "8" for 5xx
  (ours or SystmOne's); outcomeDesc "HTTP <status> <error code>".
* agent[0]: the client, by its OAuth client_id (or "unauthenticated"), as
  requestor, with the granted scopes as policy.
* source: this facade, identified by its base URL when one is given.
* entity: each patient touched (Person/Patient); each SystmOne RequestUID
  sent (System Object), so TPP's audit can be joined to ours; and the request
  itself: role Query with the search parameter names when a resource type
  was asked for, and always its latency and X-Request-ID. The request entity
  appears for token and introspect requests too, because failed
  authentication is what an auditor most wants to trace to a log line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from ..mapping.declaration import AUDIT, Declaration, SearchParam, r4
from ..protocol.xmlsafe import xml_safe
from .record import AccessRecord
from .sink import MAX_COUNT, AuditQuery, datetime_us, instant_us

RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
OWN_INTERACTION_SYSTEM = "https://github.com/systmone-fhir-facade/CodeSystem/interaction"
REQUEST_UID = "https://github.com/systmone-fhir-facade/Id/systmone-request-uid"
OAUTH_CLIENT_ID = "urn:ietf:params:oauth:client-id"
AUDIT_EVENT_OUTCOME = "http://hl7.org/fhir/audit-event-outcome"
FACADE_NAME = "SystmOne FHIR facade"

#: The codes of FHIR R4's restful-interaction code system.
RESTFUL_INTERACTIONS = frozenset({
    "read", "vread", "update", "patch", "delete", "history", "history-instance",
    "history-type", "history-system", "create", "search", "search-type", "search-system",
    "capabilities", "transaction", "batch", "operation"})
_READS = frozenset({"read", "vread"})

_EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
               "code": "rest", "display": "RESTful Operation"}
_SOURCE_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                "code": "4", "display": "Application Server"}
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_PERSON = {"system": _ENTITY_TYPE, "code": "1", "display": "Person"}
_SYSTEM_OBJECT = {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"}
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_PATIENT_ROLE = {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"}
_QUERY_ROLE = {"system": _OBJECT_ROLE, "code": "24", "display": "Query"}
#: An access record's only version (meta.versionId; the ETag a read carries).
VERSION = "1"
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
#: The furthest an audit page may start (the FHIR API's own bound is the same).
MAX_OFFSET = 10**9

DECLARATION = Declaration(
    type="AuditEvent",
    profile="http://hl7.org/fhir/StructureDefinition/AuditEvent",
    source=AUDIT,
    search_params=(
        SearchParam("date", "date", ("recorded",),
                    "When the request arrived; prefixes ge gt le lt eq; repeat for a range.",
                    definition=r4("AuditEvent-date")),
        # No FHIR definition: R4's agent is a reference to agent.who, this a token on the
        # identifier there (the caller has no resource of its own).
        SearchParam("agent", "token", ("agent.who.identifier",),
                    "The client_id of the caller."),
        SearchParam("patient", "reference", ("entity.what",),
                    "Patient/[id]: requests that touched it.",
                    definition=r4("AuditEvent-patient")),
        SearchParam("subtype", "token", ("subtype",),
                    "The interaction: read, search-type, token, ...",
                    definition=r4("AuditEvent-subtype")),
        SearchParam("outcome", "token", ("outcome",),
                    "0 success, 4 refused (4xx), 8 failed (5xx).",
                    definition=r4("AuditEvent-outcome")),
    ),
    explicit_scope_only=True,
)


def to_audit_event(id: str, entry: AccessRecord, base_url: str) -> dict[str, Any]:
    """The AuditEvent for ``entry``, stored under ``id``; ``base_url`` is this server's."""
    if not _FHIR_ID.fullmatch(id):
        raise ValueError(f"{id!r} is not a valid FHIR id")
    entry = _fhir_strings(entry)
    agent: dict[str, Any] = {"requestor": True}
    if entry.client_id:
        agent["who"] = {"identifier": {"system": OAUTH_CLIENT_ID, "value": entry.client_id}}
    else:
        agent["who"] = {"display": "unauthenticated"}
    if entry.scopes.split():
        agent["policy"] = entry.scopes.split()
    observer: dict[str, Any] = {"display": FACADE_NAME}
    if base_url:
        observer["identifier"] = {"system": "urn:ietf:rfc:3986", "value": base_url}
    return {
        "resourceType": "AuditEvent",
        "id": id,
        # Written once and never changed: the first version is the only one.
        "meta": {"versionId": VERSION, "lastUpdated": entry.time},
        "type": _EVENT_TYPE,
        "subtype": [interaction_coding(entry.interaction)],
        "action": "R" if entry.interaction in _READS else "E",
        "recorded": entry.time,
        "outcome": outcome_code(entry.status),
        "outcomeDesc": f"HTTP {entry.status} {entry.error}".rstrip(),
        "agent": [agent],
        "source": {"site": FACADE_NAME, "observer": observer, "type": [_SOURCE_TYPE]},
        "entity": [
            *({"what": {"reference": f"Patient/{patient}"}, "type": _PERSON,
               "role": _PATIENT_ROLE} for patient in entry.patient_ids),
            *({"what": {"identifier": {"system": REQUEST_UID, "value": uid}},
               "type": _SYSTEM_OBJECT, "description": "SystmOne request"}
              for uid in entry.request_uids),
            _request_entity(entry),
        ],
    }


def _fhir_strings(entry: AccessRecord) -> AccessRecord:
    """The record with what a FHIR string cannot hold replaced (U+FFFD). A record keeps
    what callers sent as it was sent (parameter names, X-Request-ID): a name holding
    U+0000 is recorded, and would otherwise break the AuditEvent, in XML above all."""
    changes = {}
    for field in fields(entry):
        value = getattr(entry, field.name)
        if isinstance(value, str):
            changes[field.name] = xml_safe(value)
        elif isinstance(value, tuple):
            changes[field.name] = tuple(xml_safe(item) for item in value)
    return replace(entry, **changes)


def interaction_coding(interaction: str) -> dict[str, str]:
    system = RESTFUL_INTERACTION if interaction in RESTFUL_INTERACTIONS else OWN_INTERACTION_SYSTEM
    return {"system": system, "code": interaction}


def outcome_code(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def _request_entity(entry: AccessRecord) -> dict[str, Any]:
    details = []
    if entry.parameters:
        details.append(("parameters", ",".join(entry.parameters)))
    details.append(("latency-ms", f"{entry.latency_ms:.1f}"))
    if entry.request_id:
        details.append(("request-id", entry.request_id))
    entity: dict[str, Any] = {"type": _SYSTEM_OBJECT}
    if entry.resource_type:
        entity["role"] = _QUERY_ROLE
        entity["description"] = f"{entry.resource_type} {entry.interaction}"
    else:
        entity["description"] = f"{entry.interaction} request"
    # R4's detail.value[x] is valueString or valueBase64Binary; these are text.
    entity["detail"] = [{"type": kind, "valueString": value} for kind, value in details]
    return entity


# -- search ----------------------------------------------------------------------

@dataclass(frozen=True)
class SearchParam:
    """How one AuditEvent search parameter fills an AuditQuery."""

    #: The FHIR search parameter type (for a CapabilityStatement).
    type: str
    #: The canonical SearchParameter it implements (None for result parameters).
    definition: str | None
    documentation: str
    #: One value to the AuditQuery fields it sets (raises ValueError for a bad one).
    fill: Callable[[str], dict[str, Any]]
    #: Whether it may be given more than once (the values then all apply).
    repeatable: bool = False


def _date(value: str) -> dict[str, str]:
    prefix, text = (value[:2], value[2:]) if value[:2] in _FHIR_PREFIXES else ("eq", value)
    if prefix not in ("eq", "ge", "gt", "le", "lt"):
        raise ValueError(f"date prefix {prefix!r} is not supported; use eq, ge, gt, le or lt")
    start, end = _date_range(text)  # end exclusive
    since, until = {"eq": (start, end - 1), "ge": (start, None), "gt": (end, None),
                    "le": (None, end - 1), "lt": (None, start - 1)}[prefix]
    return _bounds(since, until)


#: The first and last instants (µs) a bound can be written as (years 1 to 9999, UTC).
_FIRST_US = datetime_us(dt.datetime.min.replace(tzinfo=dt.UTC))
_LAST_US = datetime_us(dt.datetime.max.replace(tzinfo=dt.UTC))


def _written(us: int) -> str:
    """An instant as an AuditQuery bound, its year in four digits (``0001``) as ISO 8601
    wants it (strftime's %Y writes year 1 as ``1``, which does not read back)."""
    moment = _EPOCH + dt.timedelta(microseconds=us)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: A range nothing lies in: since the last instant, until the first.
_NOTHING = {"since": _written(_LAST_US), "until": _written(_FIRST_US)}


def _bounds(since: int | None, until: int | None) -> dict[str, str]:
    """Inclusive bounds (µs, None: open) as AuditQuery fields. A date near year 1 or 9999
    (``lt0001-01-01``, ``gt9999-12-31``, a -14:00 offset) reaches past what an instant
    can be written as: a bound past the first or last instant on its open side bounds
    nothing; one past them on the other side leaves nothing to find."""
    if (since is not None and since > _LAST_US) or (until is not None and until < _FIRST_US):
        return dict(_NOTHING)
    fields = {}
    if since is not None and since > _FIRST_US:
        fields["since"] = _written(since)
    if until is not None and until < _LAST_US:
        fields["until"] = _written(until)
    return fields


_FHIR_PREFIXES = frozenset({"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"})
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?")


def _date_range(text: str) -> tuple[int, int]:
    """The instants (µs) a FHIR date or dateTime of any precision covers: [start, end).

    Without an offset, UTC is meant (FHIR leaves it to the server).
    """
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError(f"date {text!r} is not a FHIR date or dateTime (e.g. 2026-11-01 "
                         "or 2026-11-01T09:30:00Z)")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        zone = dt.UTC if offset in (None, "Z") else dt.datetime.strptime(offset, "%z").tzinfo
        start = dt.datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                            int(minute or 0), int(second or 0),
                            int((fraction or ".0")[1:7].ljust(6, "0")), tzinfo=zone)
    except ValueError as error:
        raise ValueError(f"date {text!r} is not a valid date: {error}") from None
    # In microseconds, which reach past year 9999 (a datetime does not): 9999-12-31's end,
    # and any instant an offset moves past either end, stay exact.
    start_us = datetime_us(start)
    if day:
        return start_us, start_us + _precision(fraction, second, minute) \
            // dt.timedelta(microseconds=1)
    following = (int(year) + 1, 1) if not month or int(month) == 12 \
        else (int(year), int(month) + 1)
    return start_us, _first_of_month_us(*following)


def _first_of_month_us(year: int, month: int) -> int:
    """Midnight UTC starting a month; year 10000's first is one past the last instant."""
    if year > dt.MAXYEAR:
        return _LAST_US + 1
    return datetime_us(dt.datetime(year, month, 1, tzinfo=dt.UTC))


def _precision(fraction: str | None, second: str | None, minute: str | None) -> dt.timedelta:
    """The span the last given part of a date-time stands for (days and finer)."""
    if fraction:  # ".5" stands for 0.5 to 0.6 s; beyond µs digits, one µs
        return dt.timedelta(microseconds=10 ** max(0, 7 - len(fraction)))
    if second:
        return dt.timedelta(seconds=1)
    return dt.timedelta(minutes=1) if minute else dt.timedelta(days=1)


def _agent(value: str) -> dict[str, str]:
    system, bar, client = value.rpartition("|")
    if not client or (bar and system != OAUTH_CLIENT_ID):
        raise ValueError(f"agent must be a client id or '{OAUTH_CLIENT_ID}|<client id>', "
                         f"not {value!r}")
    return {"client_id": client}


def _patient(value: str) -> dict[str, str]:
    id = value.removeprefix("Patient/")
    if not _FHIR_ID.fullmatch(id):
        raise ValueError(f"patient must be 'Patient/<id>' or '<id>', not {value!r}")
    return {"patient_id": id}


def _subtype(value: str) -> dict[str, str]:
    system, bar, code = value.rpartition("|")
    if not code or (bar and system != interaction_coding(code)["system"]):
        raise ValueError(f"subtype must be an interaction code, optionally as "
                         f"'{RESTFUL_INTERACTION}|<code>' (FHIR's) or "
                         f"'{OWN_INTERACTION_SYSTEM}|<code>' (the facade's), not {value!r}")
    return {"interaction": code}


_OUTCOMES = {"0": "success", "4": "client-error", "8": "server-error"}


def _outcome(value: str) -> dict[str, str]:
    system, bar, code = value.rpartition("|")
    if code not in _OUTCOMES or (bar and system != AUDIT_EVENT_OUTCOME):
        raise ValueError(f"outcome must be 0 (success), 4 (HTTP 4xx) or 8 (HTTP 5xx), "
                         f"optionally as '{AUDIT_EVENT_OUTCOME}|<code>', not {value!r}")
    return {"outcome": _OUTCOMES[code]}


#: ASCII digits: ``str.isdigit`` also takes "²", which ``int`` refuses.
_DIGITS = re.compile(r"[0-9]+")


def _whole(name: str, field: str, low: int, high: int, capped: bool = False) -> Callable:
    """A whole number from ``low``; above ``high``, capped (``capped``) or refused."""
    def fill(value: str) -> dict[str, int]:
        digits = value.lstrip("0") or "0"
        # More digits than any bound here is above it (and int() refuses thousands).
        number = (int(digits) if len(digits) <= 18 else high + 1) \
            if _DIGITS.fullmatch(value) else None
        if number is None or number < low:
            raise ValueError(f"{name} must be a whole number from {low}, not {value[:30]!r}")
        if number > high:
            if not capped:
                raise ValueError(f"{name} must be at most {high}, not {value[:30]!r}")
            number = high  # a server may return fewer than _count asks for
        return {field: number}
    return fill


_SP = "http://hl7.org/fhir/SearchParameter/"
AUDIT_EVENT_SEARCH_PARAMS: dict[str, SearchParam] = {
    "date": SearchParam("date", _SP + "AuditEvent-date",
                        "When the request arrived; eq/ge/gt/le/lt, twice for a range", _date,
                        repeatable=True),
    "agent": SearchParam("reference", _SP + "AuditEvent-agent",
                         f"The client: its client_id, or {OAUTH_CLIENT_ID}|client_id", _agent),
    "patient": SearchParam("reference", _SP + "AuditEvent-patient",
                           "A patient the request touched: Patient/id or id", _patient),
    "subtype": SearchParam("token", _SP + "AuditEvent-subtype",
                           "The interaction: read, search-type, token, ...", _subtype),
    "outcome": SearchParam("token", _SP + "AuditEvent-outcome",
                           "0 success, 4 refused (HTTP 4xx), 8 failed (HTTP 5xx)", _outcome),
    "_count": SearchParam("number", None, f"Entries per page (at most {MAX_COUNT})",
                          _whole("_count", "count", 0, MAX_COUNT, capped=True)),
    "_offset": SearchParam("number", None, f"Entries to skip (paging; at most {MAX_OFFSET})",
                           _whole("_offset", "offset", 0, MAX_OFFSET)),
}
#: Parameters the HTTP layer deals with, which say nothing about what to find.
IGNORED_PARAMS = frozenset({"_format", "_pretty"})


def query_from_params(params: dict[str, list[str]]) -> AuditQuery:
    """The AuditQuery for AuditEvent search parameters (each name with its values).

    An unknown parameter is refused rather than ignored: ignoring a mistyped
    filter would quietly widen what the search returns. Empty values are
    ignored. Comma-separated alternatives (OR) are not supported.
    """
    fields: dict[str, Any] = {}
    for name, values in params.items():
        param = AUDIT_EVENT_SEARCH_PARAMS.get(name)
        if param is None:
            if name in IGNORED_PARAMS:
                continue
            raise ValueError(f"AuditEvent search parameter {name!r} is not supported; use "
                             f"{', '.join(AUDIT_EVENT_SEARCH_PARAMS)}")
        values = [value for value in values if value]
        if len(values) > 1 and not param.repeatable:
            raise ValueError(f"{name} may be given only once")
        for value in values:
            if "," in value:
                raise ValueError(f"{name}: comma-separated alternatives are not supported")
            for field, filled in param.fill(value).items():
                fields[field] = _narrowest(field, fields.get(field), filled)
    return AuditQuery(**fields)


def _narrowest(field: str, old: Any, new: Any) -> Any:
    """Repeated date values all apply: keep the latest start and the earliest end."""
    if old is None:
        return new
    choose = max if field == "since" else min
    return choose(old, new, key=instant_us)
