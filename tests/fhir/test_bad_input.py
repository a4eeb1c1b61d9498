"""Bad input over HTTP: a 4xx OperationOutcome (never a 5xx), before any SystmOne call;
what a search ignores is said in its Bundle; pages have a default and a maximum size."""

from __future__ import annotations

import pytest
from lxml import etree

from tests.bundles import matches, outcomes

from .conftest import patient_with_numerics
from .test_api import every_page, search


def observations_of(client, practice) -> str:
    patient = patient_with_numerics(practice)
    found = search(client, f"/fhir/Patient?identifier={patient.identity.value}")
    return f"/fhir/Observation?patient={found['entry'][0]['resource']['id']}"


def outcome_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data()
    assert response.content_type.startswith("application/fhir+json")
    assert response.json["resourceType"] == "OperationOutcome"
    return response.json["issue"][0]


@pytest.mark.parametrize(("query", "says"), [
    ("family=&given=", "at least two"),
    ("family=%20&given=%20%20", "at least two"),
    ("family=Smith&given=%20", "at least two"),
    ("family=Smith&address-postalcode=%20", "at least two"),
    ("family=%09&gender=male", "family: control characters"),
    ("family=Sm%EF%BF%BEith&given=A", "family: control characters and characters XML"),
    ("family=Smith&phone=%EF%BF%BF", "phone: control characters and characters XML"),
])
def test_a_patient_search_that_cannot_be_sent_is_refused_before_systmone(watched, query,
                                                                         says):
    """Blank criteria used to reach SystmOne (a 502 that spent a request slot) or crash
    building its request (500); so did a character XML cannot hold."""
    client, live = watched
    assert says in outcome_of(client.get(f"/fhir/Patient?{query}"), 400)["diagnostics"]
    assert live.store.messages(function="PatientSearch") == []


def test_bytes_that_are_not_utf8_arrive_replaced_and_are_searched(watched):
    """A lone surrogate cannot arrive over HTTP: its UTF-8-like bytes are decoded as U+FFFD."""
    client, live = watched
    assert search(client, "/fhir/Patient?given=A&family=%ED%A0%80")["total"] == 0
    assert len(live.messages(1, function="PatientSearch")) == 1


def test_a_bad_name_is_refused_in_xml_too(client):
    """Diagnostics echo the caller's input: what XML cannot hold is replaced, so an XML
    answer can still be written."""
    response = client.get("/fhir/Observation?patient=p&b%EF%BF%BEd=1&_format=xml")
    assert response.status_code == 400
    root = etree.fromstring(response.get_data())
    assert root.tag == "{http://hl7.org/fhir}OperationOutcome"


@pytest.mark.parametrize("date", ["0001-01-01", "lt0001-01-01", "9999-12-31", "gt9999-12-31",
                                  "le9999-12-31T23:59:59", "9999-12-31T23:59:59-14:00",
                                  "0001-01-01T00:00:00%2B14:00", "0500-06-01"])
def test_audit_searches_take_dates_at_the_ends_of_the_calendar(client, date):
    """AuditEvent?date=0001-01-01 was a 500 (an instant before year 1)."""
    bundle = search(client, f"/fhir/AuditEvent?date={date}")
    assert bundle["total"] == 0 and bundle["type"] == "searchset"


def test_audit_search_by_day_still_finds_today(client):
    search(client, "/fhir/metadata")
    today = search(client, "/fhir/AuditEvent?_count=1")["entry"][0]["resource"]["recorded"]
    assert search(client, f"/fhir/AuditEvent?date={today[:10]}")["total"] >= 1
    assert search(client, "/fhir/AuditEvent?date=ge0001-01-01&date=le9999-12-31")["total"] >= 1


@pytest.mark.parametrize("query", ["_count=%C2%B2", "_offset=%C2%B2", "_count=%D9%A3",
                                   "_offset=99999999999999999999999", "_offset=-1"])
@pytest.mark.parametrize("resource", ["AuditEvent", "Observation"])
def test_counts_and_offsets_that_are_not_whole_numbers_are_400(client, practice, resource,
                                                                 query):
    base = "/fhir/AuditEvent?" if resource == "AuditEvent" \
        else observations_of(client, practice) + "&"
    outcome_of(client.get(base + query), 400)


def test_a_huge_count_is_capped_not_refused(client):
    bundle = search(client, "/fhir/AuditEvent?_count=99999999999999999999999")
    assert "_count=500" in bundle["link"][0]["url"]


def test_pages_have_a_default_size_and_a_maximum(api, practice):
    """Without _count a search returned everything (151 Observations in one page)."""
    client = api(default_count=5, max_count=8)
    url = observations_of(client, practice)
    first = search(client, url)
    assert len(matches(first)) == 5 < first["total"]
    assert any(link["relation"] == "next" for link in first["link"])
    capped = search(client, url + "&_count=100")
    assert len(matches(capped)) == 8 and "_count=8" in capped["link"][0]["url"]
    said = outcomes(capped)[0]["issue"]
    assert said[0]["severity"] == "warning" and "capped at 8" in said[0]["diagnostics"]
    everything = [r["id"] for r in matches(every_page(client, url))]
    assert [r["id"] for r in matches(every_page(client, url + "&_count=100"))] == everything
    assert len(everything) == first["total"]


def test_the_capability_statement_documents_the_page_sizes(api):
    statement = search(api(default_count=7, max_count=70), "/fhir/metadata")
    rest = statement["rest"][0]
    count = next(p for p in rest["searchParam"] if p["name"] == "_count")
    assert "7 when _count is not given" in count["documentation"]
    assert "at most 70" in count["documentation"]
    assert "handling=strict" in rest["documentation"]


def test_ignored_parameters_are_said_in_an_outcome_entry(client, practice):
    """_tag, a _sort the type does not sort by and foo=bar gave unfiltered 200s without a
    word."""
    url = observations_of(client, practice) + "&_tag=x&_sort=code&foo=bar&code="
    bundle = search(client, url)
    entries = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(entries) == 1  # one OperationOutcome, however many things it says
    issues = entries[0]["resource"]["issue"]
    said = {issue["diagnostics"].split(" ")[0].rstrip(":"): issue for issue in issues}
    assert {"_tag", "_sort=code", "foo", "code"} <= set(said)
    assert all(issue["severity"] == "warning" for issue in issues)
    assert said["foo"]["code"] == "not-supported"
    strict = client.get(url, headers={"Prefer": "handling=strict"})
    assert "_tag" in outcome_of(strict, 400)["diagnostics"]


def test_the_audit_of_a_hostile_request_is_served_in_xml(client):
    """The audit keeps parameter names as sent (U+0000 among them): its AuditEvents are
    still FHIR strings, so an XML audit search after such a request is no 500."""
    client.get("/fhir/Observation?patient=p&a%00b=1", headers={"X-Request-ID": "x\x7fy"})
    response = client.get("/fhir/AuditEvent?_format=xml&_count=5")
    assert response.status_code == 200
    assert etree.fromstring(response.get_data()).tag == "{http://hl7.org/fhir}Bundle"
