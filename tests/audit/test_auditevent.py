"""AuditEvents from access records, and AuditEvent search parameters as queries."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from facade.audit.auditevent import (
    AUDIT_EVENT_SEARCH_PARAMS,
    OAUTH_CLIENT_ID,
    OWN_INTERACTION_SYSTEM,
    REQUEST_UID,
    RESTFUL_INTERACTION,
    RESTFUL_INTERACTIONS,
    query_from_params,
    to_audit_event,
)
from facade.audit.record import AccessRecord
from facade.audit.sink import AuditQuery
from facade.audit.sqlite_sink import SQLiteSink

from .contract import entry

BASE = "https://facade.example/fhir"

READ_200 = entry(patient_ids=("pa1", "pb2"), request_uids=("11111111-aaaa", "22222222-bbbb"),
                 request_id="req-read")
UNAUTHENTICATED_401 = entry(client_id="", scopes="", patient_ids=(), request_uids=(),
                            status=401, error="invalid_token", latency_ms=0.4)
SEARCH_500 = entry(interaction="search-type", resource_type="Observation",
                   parameters=("patient", "code", "_count"), patient_ids=("pa1",),
                   request_uids=("33333333-cccc",), status=500, error="exception",
                   latency_ms=30012.0)
TOKEN_400 = entry(client_id="client-b", scopes="", interaction="token", resource_type="",
                  patient_ids=(), request_uids=(), status=400, error="invalid_client")
CAPABILITIES = entry(interaction="capabilities", resource_type="", patient_ids=(),
                     request_uids=(), scopes="", client_id="")


def random_entries(count: int, seed: int = 3) -> list[AccessRecord]:
    rng = random.Random(seed)
    interactions = [*sorted(RESTFUL_INTERACTIONS), "token", "introspect", "metrics"]
    return [AccessRecord(
        time=f"2026-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}T{rng.randint(0, 23):02}:"
             f"{rng.randint(0, 59):02}:{rng.randint(0, 59):02}.{rng.randint(0, 999999):06}Z",
        client_id=rng.choice(["", "client-a", "app:1/x@y~z", "a" * 128]),
        scopes=rng.choice(["", "system/Patient.rs", "patient/*.read launch/patient openid"]),
        interaction=rng.choice(interactions),
        resource_type=rng.choice(["", "Patient", "Observation", "CapabilityStatement"]),
        patient_ids=tuple(f"p{rng.randint(0, 99)}x" for _ in range(rng.randint(0, 3))),
        status=rng.choice([200, 201, 304, 400, 401, 403, 404, 410, 429, 500, 502, 503, 504]),
        request_uids=tuple(f"uid-{rng.randint(0, 9999)}" for _ in range(rng.randint(0, 3))),
        latency_ms=rng.uniform(0, 60000),
        parameters=tuple(rng.sample(["identifier", "patient", "code", "date", "_count"],
                                    rng.randint(0, 3))),
        error=rng.choice(["", "forbidden", "not-found", "invalid_token", "throttled"]),
        request_id=rng.choice(["", f"r-{rng.randint(0, 10**9)}"]),
    ) for _ in range(count)]


NAMED = [READ_200, UNAUTHENTICATED_401, SEARCH_500, TOKEN_400, CAPABILITIES]
ALL = NAMED + random_entries(150)


@pytest.mark.parametrize("record", ALL)
def test_every_audit_event_validates_and_follows_the_rules(record: AccessRecord) -> None:
    event = to_audit_event("a1b2c3", record, BASE)
    AuditEvent.model_validate(event)

    assert event["id"] == "a1b2c3"
    assert event["recorded"] == event["meta"]["lastUpdated"] == record.time
    assert event["meta"]["versionId"] == "1"  # written once, never changed
    assert event["type"]["code"] == "rest"
    [subtype] = event["subtype"]
    assert subtype["code"] == record.interaction
    assert subtype["system"] == (RESTFUL_INTERACTION if record.interaction in
                                 RESTFUL_INTERACTIONS else OWN_INTERACTION_SYSTEM)
    assert event["action"] == ("R" if record.interaction in ("read", "vread") else "E")
    assert event["outcome"] == ("0" if record.status < 400 else
                                "4" if record.status < 500 else "8")
    assert event["outcomeDesc"].startswith(f"HTTP {record.status}")
    assert record.error in event["outcomeDesc"]

    [agent] = event["agent"]
    assert agent["requestor"] is True
    if record.client_id:
        assert agent["who"]["identifier"] == {"system": OAUTH_CLIENT_ID,
                                              "value": record.client_id}
    else:
        assert agent["who"] == {"display": "unauthenticated"}
    assert agent.get("policy", []) == record.scopes.split()
    assert event["source"]["observer"]["identifier"]["value"] == BASE
    assert event["source"]["type"][0]["code"] == "4"

    entities = event["entity"]
    patients = [e for e in entities if e["type"]["code"] == "1"]
    uids = [e for e in entities if "identifier" in e.get("what", {})]
    [request] = [e for e in entities if "what" not in e]
    assert len(entities) == len(record.patient_ids) + len(record.request_uids) + 1
    assert [e["what"]["reference"] for e in patients] == [
        f"Patient/{id}" for id in record.patient_ids]
    assert all(e["role"]["code"] == "1" for e in patients)
    assert [e["what"]["identifier"] for e in uids] == [
        {"system": REQUEST_UID, "value": uid} for uid in record.request_uids]
    assert all(e["type"]["code"] == "2" for e in uids)
    details = {d["type"]: d["valueString"] for d in request["detail"]}
    assert details["latency-ms"] == f"{record.latency_ms:.1f}"
    assert details.get("request-id", "") == record.request_id
    assert details.get("parameters", "") == ",".join(record.parameters)
    if record.resource_type:
        assert request["role"]["code"] == "24"
        assert request["description"] == f"{record.resource_type} {record.interaction}"
    else:
        assert "role" not in request


def test_a_successful_read_with_patients_and_systmone_requests() -> None:
    event = to_audit_event("0f0e", READ_200, BASE)
    assert event["action"] == "R"
    assert (event["outcome"], event["outcomeDesc"]) == ("0", "HTTP 200")
    assert event["agent"][0]["policy"] == ["system/Patient.rs", "system/Observation.rs"]
    assert [e.get("what") for e in event["entity"]] == [
        {"reference": "Patient/pa1"}, {"reference": "Patient/pb2"},
        {"identifier": {"system": REQUEST_UID, "value": "11111111-aaaa"}},
        {"identifier": {"system": REQUEST_UID, "value": "22222222-bbbb"}}, None]
    assert event["entity"][-1]["detail"] == [
        {"type": "latency-ms", "valueString": "12.2"},  # 12.25 to one decimal
        {"type": "request-id", "valueString": "req-read"}]


def test_an_unauthenticated_request() -> None:
    event = to_audit_event("x", UNAUTHENTICATED_401, "")
    assert (event["outcome"], event["outcomeDesc"]) == ("4", "HTTP 401 invalid_token")
    assert event["agent"] == [{"requestor": True, "who": {"display": "unauthenticated"}}]
    assert "identifier" not in event["source"]["observer"]  # no base URL given
    assert [e["what"]["reference"] for e in event["entity"] if "what" in e] == []


def test_a_failed_search() -> None:
    event = to_audit_event("x", SEARCH_500, BASE)
    assert (event["action"], event["outcome"]) == ("E", "8")
    assert event["outcomeDesc"] == "HTTP 500 exception"
    assert event["subtype"] == [{"system": RESTFUL_INTERACTION, "code": "search-type"}]
    query = event["entity"][-1]
    assert query["description"] == "Observation search-type"
    assert query["role"]["display"] == "Query"
    assert query["detail"][0] == {"type": "parameters", "valueString": "patient,code,_count"}


def test_facade_interactions_use_the_facade_code_system() -> None:
    event = to_audit_event("x", TOKEN_400, BASE)
    assert event["subtype"] == [{"system": OWN_INTERACTION_SYSTEM, "code": "token"}]
    assert event["entity"][-1]["description"] == "token request"
    assert "policy" not in event["agent"][0]


@pytest.mark.parametrize("id", ["", "a/b", "a_b", "x" * 65])
def test_ids_must_be_fhir_ids(id: str) -> None:
    with pytest.raises(ValueError, match="not a valid FHIR id"):
        to_audit_event(id, READ_200, BASE)


# -- search parameters ---------------------------------------------------------------

def test_the_search_parameters() -> None:
    assert set(AUDIT_EVENT_SEARCH_PARAMS) == {
        "date", "agent", "patient", "subtype", "outcome", "_count", "_offset"}
    for name, param in AUDIT_EVENT_SEARCH_PARAMS.items():
        assert param.type in ("date", "reference", "token", "number")
        assert param.documentation
        assert (param.definition is None) == name.startswith("_")


@pytest.mark.parametrize(("params", "expected"), [
    ({}, AuditQuery()),
    ({"_format": ["json"], "patient": [""]}, AuditQuery()),
    ({"agent": ["client-a"]}, AuditQuery(client_id="client-a")),
    ({"agent": [f"{OAUTH_CLIENT_ID}|app:1/x"]}, AuditQuery(client_id="app:1/x")),
    ({"patient": ["Patient/pa1"]}, AuditQuery(patient_id="pa1")),
    ({"patient": ["pa1"]}, AuditQuery(patient_id="pa1")),
    ({"subtype": ["read"]}, AuditQuery(interaction="read")),
    ({"subtype": [f"{RESTFUL_INTERACTION}|search-type"]}, AuditQuery(interaction="search-type")),
    ({"subtype": [f"{OWN_INTERACTION_SYSTEM}|token"]}, AuditQuery(interaction="token")),
    ({"outcome": ["0"]}, AuditQuery(outcome="success")),
    ({"outcome": ["4"]}, AuditQuery(outcome="client-error")),
    ({"outcome": ["http://hl7.org/fhir/audit-event-outcome|8"]},
     AuditQuery(outcome="server-error")),
    ({"_count": ["10"], "_offset": ["20"]}, AuditQuery(count=10, offset=20)),
    ({"_count": ["0"]}, AuditQuery(count=0)),
    ({"_count": ["100000"]}, AuditQuery(count=500)),  # capped, as FHIR lets a server
    ({"_count": ["9" * 5000]}, AuditQuery(count=500)),  # more digits than int() takes
    ({"_count": ["007"], "_offset": ["000"]}, AuditQuery(count=7)),
    ({"date": ["2026-11-01"]}, AuditQuery(since="2026-11-01T00:00:00.000000Z",
                                          until="2026-11-01T23:59:59.999999Z")),
    ({"date": ["eq2026-11"]}, AuditQuery(since="2026-11-01T00:00:00.000000Z",
                                         until="2026-11-30T23:59:59.999999Z")),
    ({"date": ["ge2026"]}, AuditQuery(since="2026-01-01T00:00:00.000000Z")),
    ({"date": ["gt2026-12"]}, AuditQuery(since="2027-01-01T00:00:00.000000Z")),
    ({"date": ["le2026-11-01T10:00Z"]}, AuditQuery(until="2026-11-01T10:00:59.999999Z")),
    ({"date": ["lt2026-11-01T10:00:00+01:00"]},
     AuditQuery(until="2026-11-01T08:59:59.999999Z")),
    ({"date": ["ge2026-11-01T10:00:00.25Z", "lt2026-11-02"]},
     AuditQuery(since="2026-11-01T10:00:00.250000Z", until="2026-11-01T23:59:59.999999Z")),
    # Repeated dates all apply: the narrowest range wins.
    ({"date": ["ge2026-01", "ge2026-03", "le2026-06", "le2026-05"]},
     AuditQuery(since="2026-03-01T00:00:00.000000Z", until="2026-05-31T23:59:59.999999Z")),
    ({"date": ["2024-02"]}, AuditQuery(since="2024-02-01T00:00:00.000000Z",
                                       until="2024-02-29T23:59:59.999999Z")),
])
def test_query_from_params(params: dict, expected: AuditQuery) -> None:
    assert query_from_params(params) == expected


FIRST = "0001-01-01T00:00:00.000000Z"
LAST = "9999-12-31T23:59:59.999999Z"
NOTHING = AuditQuery(since=LAST, until=FIRST)


@pytest.mark.parametrize(("date", "expected"), [
    ("0001-01-01", AuditQuery(until="0001-01-01T23:59:59.999999Z")),
    ("lt0001-01-01", NOTHING),
    ("le0001", AuditQuery(until="0001-12-31T23:59:59.999999Z")),
    ("ge0001-01-01", AuditQuery()),
    ("9999-12-31", AuditQuery(since="9999-12-31T00:00:00.000000Z")),
    ("9999-12", AuditQuery(since="9999-12-01T00:00:00.000000Z")),
    ("gt9999-12-31", NOTHING),
    ("le9999-12-31T23:59:59", AuditQuery()),
    ("9999-12-31T23:59:59-14:00", NOTHING),  # past the last instant there is
    ("lt0001-01-01T10:00:00+14:00", NOTHING),  # before the first
    ("ge0001-01-01T10:00:00+14:00", AuditQuery()),
    ("0500-06", AuditQuery(since="0500-06-01T00:00:00.000000Z",
                           until="0500-06-30T23:59:59.999999Z")),
])
def test_dates_at_the_ends_of_the_calendar(date: str, expected: AuditQuery) -> None:
    """Bounds past year 1 or 9999 cannot be written: an open side is unbounded, the
    other side empty. date=0001-01-01 was a 500, lt0001-01-01 too, and years before 1000
    were written with fewer than four digits, which do not read back."""
    assert query_from_params({"date": [date]}) == expected


def test_a_range_past_the_end_still_narrows_with_others() -> None:
    assert query_from_params({"date": ["gt9999-12-31", "ge2026"]}) == NOTHING
    assert query_from_params({"date": ["le9999-12-31", "ge2026"]}) == \
        AuditQuery(since="2026-01-01T00:00:00.000000Z")


@pytest.mark.parametrize(("params", "message"), [
    ({"date": ["yesterday"]}, "is not a FHIR date or dateTime"),
    ({"date": ["2026-13-01"]}, "is not a valid date"),
    ({"date": ["2026-02-30"]}, "is not a valid date"),
    ({"date": ["2026-11-01T25:00Z"]}, "is not a valid date"),
    ({"date": ["ne2026-11-01"]}, "prefix 'ne' is not supported"),
    ({"date": ["sa2026"]}, "prefix 'sa' is not supported"),
    ({"date": ["2026-11-01,2026-11-02"]}, "comma-separated alternatives"),
    ({"outcome": ["12"]}, "outcome must be 0 .success., 4"),
    ({"outcome": ["success"]}, "outcome must be"),
    ({"outcome": ["http://example.org|0"]}, "outcome must be"),
    ({"agent": ["http://example.org|client-a"]}, "agent must be a client id"),
    ({"agent": [f"{OAUTH_CLIENT_ID}|"]}, "agent must be a client id"),
    ({"agent": ["a", "b"]}, "agent may be given only once"),
    ({"patient": ["Group/g1"]}, "patient must be 'Patient/<id>'"),
    ({"patient": ["Patient/a b"]}, "patient must be"),
    ({"subtype": [f"{OWN_INTERACTION_SYSTEM}|read"]}, "subtype must be an interaction code"),
    ({"subtype": ["|read"]}, "subtype must be"),
    ({"_count": ["-1"]}, "_count must be a whole number"),
    ({"_count": ["ten"]}, "_count must be a whole number"),
    ({"_offset": ["1.5"]}, "_offset must be a whole number"),
    ({"_count": ["\u00b2"]}, "_count must be a whole number"),  # isdigit() takes it
    ({"_offset": ["\u0663"]}, "_offset must be a whole number"),
    ({"_offset": ["1" + "0" * 30]}, "_offset must be at most 1000000000"),
    ({"entity": ["x"]}, "'entity' is not supported; use date, agent"),
    ({"_sort": ["-date"]}, "'_sort' is not supported"),
])
def test_bad_search_parameters_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        query_from_params(params)


def test_date_ranges_against_stored_entries(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "audit.sqlite3")
    times = ["2026-10-31T23:59:59.999999Z", "2026-11-01T00:00:00.000000Z",
             "2026-11-01T23:59:59.999999Z", "2026-11-02T00:00:00.000000Z"]
    try:
        ids = [sink.record(replace(READ_200, time=time)) for time in times]

        def found(*dates: str, **others: list[str]) -> list[str]:
            rows, _ = sink.search(query_from_params({"date": list(dates), **others}))
            return [times[ids.index(id)][:10] + ("+" if id == ids[2] else "") for id, _ in rows]

        assert found("2026-11-01") == ["2026-11-01+", "2026-11-01"]
        assert found("gt2026-11-01") == ["2026-11-02"]
        assert found("lt2026-11-01") == ["2026-10-31"]
        assert found("ge2026-11-01", "le2026-11-01T00:00Z") == ["2026-11-01"]
        assert len(found("2026")) == 4
        assert found("2026-11", outcome=["4"]) == []
    finally:
        sink.close()


def test_what_callers_sent_is_served_as_fhir_strings() -> None:
    """A record keeps parameter names and X-Request-ID as sent; U+0000 or U+FFFE in them
    made the AuditEvent unwritable in XML (a 500 for every audit search showing it)."""
    from facade.fhir.xml import to_xml

    sent = replace(READ_200, parameters=("a\x00b", "\ufffe"), request_id="x\x01y",
                   client_id="c\x0bd")
    event = to_audit_event("e1", sent, "")
    details = {d["type"]: d["valueString"] for d in event["entity"][-1]["detail"]}
    assert details["parameters"] == "a\ufffdb,\ufffd"
    assert details["request-id"] == "x\ufffdy"
    assert event["agent"][0]["who"]["identifier"]["value"] == "c\ufffdd"
    assert to_xml(event).startswith(b"<?xml")


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00.000000Z", "0999-12-31T23:59:59.999999Z",
                                     "2026-12-03T10:00:00.000001Z", "9999-12-31T23:59:59.999999Z"])
def test_instants_read_back_as_written_at_any_year(instant):
    from facade.audit.sink import format_instant, instant_us

    assert format_instant(instant_us(instant)) == instant
