"""What a worker works out once and then reuses: parsed searches and rendered reads.

Each memo is keyed by everything its answer depends on; these tests ask questions that
differ in one such thing only, one after the other, and expect each its own answer.
"""

from __future__ import annotations

from facade.app import create_app
from facade.fhir import pages, views

from ..tokens import FULL_SCOPE, register

STRICT = {"Prefer": "handling=strict"}


def patient_id(client, practice) -> str:
    patient = practice.index.summaries[0]
    found = client.get(f"/fhir/Patient?identifier={patient.identity.value}").json
    return found["entry"][0]["resource"]["id"]


def parsed_searches(client) -> dict:
    memo = client.application.extensions.get("facade.parsed_searches")
    return {} if memo is None else memo._known


def test_the_same_query_of_another_type_is_parsed_for_that_type(client, practice):
    pid = patient_id(client, practice)
    query = f"?patient={pid}&category=vital-signs"
    assert client.get(f"/fhir/Observation{query}", headers=STRICT).status_code == 200
    refused = client.get(f"/fhir/Immunization{query}", headers=STRICT)
    assert refused.status_code == 400
    assert "category" in refused.json["issue"][0]["diagnostics"]


def test_the_same_query_lenient_then_strict_then_lenient(client):
    query = "/fhir/Patient?bogus=1&family=A&gender=male"
    for _ in range(2):
        lenient = client.get(query)
        assert lenient.status_code == 200
        assert "bogus" in str(lenient.json)  # the warning naming what was ignored
        assert client.get(query, headers=STRICT).status_code == 400


def test_a_query_is_parsed_once_and_reused(client):
    query = "/fhir/Patient?family=A&gender=male"
    client.get(query)
    known = dict(parsed_searches(client))
    client.get(query)
    assert parsed_searches(client) == known
    assert all(a is b for a, b in zip(parsed_searches(client).values(), known.values(),
                                      strict=True))


def test_a_query_with_an_approximate_date_is_never_remembered(client, practice):
    """``ap`` is a range around the date asked, measured from now: parsed afresh each time."""
    pid = patient_id(client, practice)
    before = len(parsed_searches(client))
    assert client.get(f"/fhir/Observation?patient={pid}&date=ap2026-01-01").status_code == 200
    assert len(parsed_searches(client)) == before
    assert client.get(f"/fhir/Observation?patient={pid}&date=ge2026-01-01").status_code == 200
    assert len(parsed_searches(client)) == before + 1


def test_the_memo_of_parsed_searches_keeps_the_newest():
    memo = views._ParsedSearches()
    for n in range(memo.LIMIT + 10):
        memo.put(("Patient", False, n), n)
    memo.get(("Patient", False, 10))  # used: moves to the newest end
    memo.put(("Patient", False, "one more"), 0)
    assert len(memo._known) == memo.LIMIT
    assert memo.get(("Patient", False, 10)) == 10
    assert memo.get(("Patient", False, 11)) is None  # the oldest went first
    assert memo.get(("Patient", False, memo.LIMIT + 9)) == memo.LIMIT + 9


def test_a_read_is_rendered_for_each_format_asked(client, practice):
    url = f"/fhir/Patient/{patient_id(client, practice)}"
    json_read = client.get(url)
    xml_read = client.get(url, headers={"Accept": "application/fhir+xml"})
    by_format = client.get(f"{url}?_format=json")
    again = client.get(url)
    assert json_read.mimetype == again.mimetype == by_format.mimetype == "application/fhir+json"
    assert xml_read.mimetype == "application/fhir+xml"
    assert xml_read.data.startswith(b"<") and b'<Patient xmlns="http://hl7.org/fhir">' in \
        xml_read.data
    assert json_read.data == again.data == by_format.data
    assert client.get(url, headers={"Accept": "application/fhir+xml"}).data == xml_read.data


def test_a_read_shaped_by_its_query_is_remembered_apart_from_the_whole(client, practice):
    url = f"/fhir/Patient/{patient_id(client, practice)}"
    for _ in range(2):
        assert set(client.get(f"{url}?_elements=name").json) == \
            {"resourceType", "id", "meta", "name"}
        assert "text" in client.get(url).json


def test_a_read_naming_its_server_names_the_host_it_was_read_through(tmp_path):
    """An AuditEvent's observer is the server's base URL: a read through another host name
    (FACADE_ALLOWED_HOSTS) is rendered for that host, not served as the first host's."""
    app = create_app({"upstream": "127.0.0.1:9", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                      "allowed_hosts": "a.example,b.example"})
    register(app, "tests", FULL_SCOPE)
    tokens = {host: app.extensions["facade.auth"].mint_for("tests", f"http://{host}/fhir")
              for host in ("a.example", "b.example")}

    def get(host: str, path: str):
        return app.test_client().get(path, headers={
            "Host": host, "Authorization": f"Bearer {tokens[host]['access_token']}"})
    get("a.example", "/fhir/AuditEvent")  # something audited
    event = get("a.example", "/fhir/AuditEvent").json["entry"][0]["resource"]["id"]
    for host in ("a.example", "b.example", "a.example"):
        read = get(host, f"/fhir/AuditEvent/{event}")
        assert read.status_code == 200
        assert read.json["source"]["observer"]["identifier"]["value"] == f"http://{host}/fhir"


def test_long_queries_are_parsed_afresh_not_remembered(client):
    """A POST _search form may hold a megabyte: remembering such keys would let one client
    fill a worker's memory."""
    before = len(parsed_searches(client))
    padding = "x" * 4096
    assert client.post("/fhir/Patient/_search",
                       data={"family": "A", "gender": "male", "junk": padding}).status_code == 200
    assert len(parsed_searches(client)) == before


def test_rendered_answers_count_their_keys_bytes():
    """A read's key holds its query string (up to the header limit): 4096 reads with 16 KB
    queries must not hold 64 MB beyond the bound."""
    memo = pages.RenderedPages(max_pages=100, max_bytes=10_000)
    for n in range(10):
        memo.put(("Patient", str(n), "v1", "t", "q" * 3000, "json", "base"), None, b"{}", "json")
    assert len(memo._pages) <= 3
    assert memo.get(("Patient", "9", "v1", "t", "q" * 3000, "json", "base")) == (b"{}", "json")
    memo.put(("Patient", "big", "v1", "t", "q" * 20_000, "json", "base"), None, b"{}", "json")
    assert memo.get(("Patient", "big", "v1", "t", "q" * 20_000, "json", "base")) is None
