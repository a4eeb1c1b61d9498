"""Patient/$everything, _revinclude and _lastUpdated, over the hand-written Demo-shaped
practice: what FHIR R4 defines for the operation (start, end, _since, _type, _count; a
searchset), answered from one record fetch, within the token's scopes. Table-driven over
the served types' declarations (the CapabilityStatement): no test names a type it expects
to find, so a type added later is covered too."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from facade.app import create_app
from facade.mapping.declaration import RECORD
from simulator.practice import folder_practice

from ..bundles import matches, outcomes
from ..tokens import authorized_client

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-practice"
#: Abel, Agnes: a patient of the demo practice (tests/fixtures/demo-practice/abel-agnes.xml).
NHS = "9991012346"
OTHER_NHS = "9992024682"
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
BY_NHS = f"/fhir/Patient/$everything?identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}"


@pytest.fixture(scope="module")
def demo():
    return folder_practice(DEMO)


@pytest.fixture
def served(start_simulator, demo, tmp_path):
    """A facade over the demo practice: (make a client for a scope, the simulator)."""
    live = start_simulator(practice_override=demo)
    host, port = live.address
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                      "read_timeout": 5.0})
    yield (lambda **kwargs: authorized_client(app, **kwargs)), live
    app.extensions["facade.records"].close()


def record_calls(live) -> list:
    return live.store.messages(function="GetPatientRecord")


def pages(client, url: str) -> list[dict]:
    """Every page, following next links."""
    found = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json
        found.append(response.json)
        url = next((link["url"] for link in response.json["link"]
                    if link["relation"] == "next"), None)
    return found


def entries(bundles: list[dict]) -> list[dict]:
    return [e for bundle in bundles for e in bundle.get("entry", [])
            if e["search"]["mode"] != "outcome"]


def record_types(client) -> list[str]:
    """The types the declarations say are made from a patient's record, as served."""
    served = client.application.extensions["facade.resources"]
    return [d.type for d in served.values() if d.source == RECORD and d.searchable]


def patient_id(client) -> str:
    return matches(client.get(f"/fhir/Patient?identifier={NHS}").json)[0]["id"]


def searched(client, pid: str, resource_type: str) -> list[dict]:
    bundles = pages(client, f"/fhir/{resource_type}?patient={pid}&_count=500")
    return [r for b in bundles for r in matches(b)]


def test_the_whole_record_in_pages_from_one_record_fetch(served):
    make, live = served
    client = make()
    bundles = pages(client, BY_NHS + "&_count=7")
    assert len(bundles) > 3 and all(b["type"] == "searchset" for b in bundles)
    assert len(record_calls(live)) == 1  # one GetPatientRecord for every page
    found = entries(bundles)
    keys = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in found]
    assert len(keys) == len(set(keys)) == bundles[0]["total"]  # each resource once
    assert all(len(b.get("entry", [])) - len(outcomes(b)) <= 7 for b in bundles)
    # Every resource of the record each type's own search finds, no more and no fewer.
    pid = found[0]["resource"]["id"]
    assert found[0]["resource"]["resourceType"] == "Patient"
    for resource_type in record_types(client):
        expected = {r["id"] for r in searched(client, pid, resource_type)}
        assert {i for t, i in keys if t == resource_type} == expected, resource_type
    assert len(record_calls(live)) == 1  # the searches were answered from that record
    assert sum(t == "Observation" for t, _ in keys) > 10  # the demo record is there


def test_references_in_the_bundle_resolve_within_it_or_to_the_server(served):
    make, _ = served
    client = make()
    found = entries(pages(client, BY_NHS + "&_count=500"))
    held = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in found}
    assert all(e["fullUrl"].endswith(f"/{e['resource']['resourceType']}/"
                                     f"{e['resource']['id']}") for e in found)
    outside = set()
    for entry in found:
        for reference in _references(entry["resource"]):
            if tuple(reference.split("/")) not in held:
                outside.add(reference)
    for reference in outside:
        assert client.get(f"/fhir/{reference}").status_code == 200, reference
    modes = Counter(e["search"]["mode"] for e in found)
    assert modes["match"] > 0 and set(modes) <= {"match", "include"}


def _references(item) -> list[str]:
    if isinstance(item, dict):
        own = [item["reference"]] if isinstance(item.get("reference"), str) \
            and not item["reference"].startswith("#") else []
        return own + [r for value in item.values() for r in _references(value)]
    if isinstance(item, list):
        return [r for value in item for r in _references(value)]
    return []


def test_type_filters_and_the_links_carry_it(served):
    make, _ = served
    client = make()
    pid = patient_id(client)
    asked = record_types(client)[:2]
    bundles = pages(client, f"/fhir/Patient/{pid}/$everything?_type={','.join(asked)}"
                            "&_count=3")
    found = entries(bundles)
    assert {e["resource"]["resourceType"] for e in found} <= set(asked)
    expected = sum(len(searched(client, pid, t)) for t in asked)
    assert len(found) == bundles[0]["total"] == expected
    nexts = [link["url"] for b in bundles for link in b["link"] if link["relation"] == "next"]
    assert all(parse_qs(urlsplit(url).query)["_type"] == [",".join(asked)] for url in nexts)
    # A type this server does not serve is said to be ignored (refused when strict).
    odd = client.get(f"/fhir/Patient/{pid}/$everything?_type=Patient,Spaceship")
    assert [e["resourceType"] for e in matches(odd.json)] == ["Patient"]
    assert "Spaceship" in outcomes(odd.json)[0]["issue"][0]["diagnostics"]
    strict = client.get(f"/fhir/Patient/{pid}/$everything?_type=Spaceship",
                        headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400


def test_since_start_and_end(served):
    make, _ = served
    client = make()
    pid = patient_id(client)
    everything = entries(pages(client, f"/fhir/Patient/{pid}/$everything?_count=500"))
    # _since is meta.lastUpdated: when the facade fetched the record (all of it, here).
    since = client.get(f"/fhir/Patient/{pid}/$everything?_since=2000-01-01T00:00:00Z"
                       "&_count=500").json
    assert since["total"] == len(everything)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.get(f"/fhir/Patient/{pid}/$everything?_since={later}").json["total"] == 0
    assert client.get(f"/fhir/Patient/{pid}/$everything?_since=ge2020").status_code == 400
    # start/end are care dates: Agnes Abel's record runs from 2012 to 2026 (the fixture).
    old = entries(pages(client, f"/fhir/Patient/{pid}/$everything?end=2015-12-31&_count=500"))
    recent = entries(pages(client, f"/fhir/Patient/{pid}/$everything?start=2016-01-01"
                                   "&_count=500"))
    assert 0 < len(old) < len(everything) and 0 < len(recent) < len(everything)
    dated = [e for e in old if _care_date(e["resource"])]
    assert dated and all(_care_date(e["resource"]) <= "2015-12-31" for e in dated)
    assert all(_care_date(e["resource"]) >= "2016-01-01" for e in recent
               if _care_date(e["resource"]))


#: Where FHIR R4 puts the clinical date of the types a GP record holds (their date search
#: parameters), written here by hand.
CARE_DATES = ("effectiveDateTime", "onsetDateTime", "recordedDate", "occurrenceDateTime",
              "authoredOn", "dateAsserted", "issued", "authoredOn", "date")


def _care_date(resource: dict) -> str | None:
    if resource["resourceType"] == "Encounter":
        return resource.get("period", {}).get("start", "")[:10] or None
    return next((resource[k][:10] for k in CARE_DATES if k in resource), None)


def test_scopes_restrict_the_types(served):
    make, _ = served
    client = make(scope="system/Patient.rs system/Observation.rs")
    bundle = client.get(BY_NHS + "&_count=500").json
    assert {e["resource"]["resourceType"] for e in entries([bundle])} == \
        {"Patient", "Observation"}
    said = " ".join(i["diagnostics"] for i in outcomes(bundle)[0]["issue"])
    assert "Condition" in said and "left out" in said
    # patient/ scopes reach only the patient in the token's context.
    pid = patient_id(client)
    mine = make(client_id="app", scope="patient/*.rs", patient=pid)
    assert mine.get(f"/fhir/Patient/{pid}/$everything").status_code == 200
    other = matches(client.get(f"/fhir/Patient?identifier={OTHER_NHS}").json)[0]["id"]
    refused = mine.get(f"/fhir/Patient/{other}/$everything")
    assert refused.status_code == 403 and refused.json["resourceType"] == "OperationOutcome"
    assert make(client_id="none", scope="system/AuditEvent.rs").get(
        f"/fhir/Patient/{pid}/$everything").status_code == 403
    assert make().get(f"/fhir/Patient/{pid}/$everything").status_code == 200
    # An operation of the audit: it names the patient.
    audit = matches(make().get("/fhir/AuditEvent?subtype=operation&_count=50").json)
    assert audit and all(e["subtype"][0]["code"] == "operation" for e in audit)


def test_the_capability_statement_declares_the_operation_and_revincludes(served):
    make, _ = served
    statement = make().get("/fhir/metadata").json
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    declared = patient["operation"][0]
    assert (declared["name"], declared["definition"]) == ("everything", EVERYTHING)
    assert {f"{t}:patient" for t in record_types(make()) if t != "Medication"} <= \
        set(patient["searchRevInclude"])
    assert "_lastUpdated" in {p["name"] for p in statement["rest"][0]["searchParam"]}


@pytest.mark.parametrize(("url", "status"), [
    ("/fhir/Patient/$everything", 400),  # no NHS number
    ("/fhir/Patient/$everything?identifier=9990000018", 404),  # valid; no such patient
    ("/fhir/Patient/$everything?identifier=9990000000", 400),  # fails modulus 11
    ("/fhir/Patient/not-one/$everything", 404),
    ("/fhir/Patient/bad$id/$everything", 400),
    ("/fhir/Observation/abc/$everything", 404),
])
def test_mistakes(served, url, status):
    make, _ = served
    response = make().get(url)
    assert response.status_code == status and response.json["resourceType"] == \
        "OperationOutcome"
    assert make().post(BY_NHS).status_code == 405


def test_revinclude_on_a_patient_search_of_one_patient(served):
    make, live = served
    client = make()
    pid = patient_id(client)  # a demographics-only (exempt) call
    before = len(record_calls(live))
    types = [t for t in record_types(client) if t != "Medication"]
    query = "&".join(f"_revinclude={t}:patient" for t in types)
    bundle = client.get(f"/fhir/Patient?identifier={NHS}&{query}").json
    assert len(record_calls(live)) == before + 1  # one record for every type
    included = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    for resource_type in types:
        expected = {r["id"] for r in searched(client, pid, resource_type)}
        assert {r["id"] for r in included if r["resourceType"] == resource_type} == expected
    assert len(record_calls(live)) == before + 1
    # Several patients on a page would be a record fetch each: said, or refused.
    several = client.get(f"/fhir/Patient?family=A&gender=female&{query}").json
    assert len(matches(several)) == 2  # Agnes Abel and Clara Adley
    assert all(e["search"]["mode"] != "include" for e in several["entry"])
    assert "one patient a page" in str(outcomes(several))
    strict = client.get(f"/fhir/Patient?family=A&gender=female&{query}",
                        headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    calls = len(record_calls(live))
    one = client.get(f"/fhir/Patient?family=A&gender=female&_count=1&{query}").json
    assert len(matches(one)) == 1 and any(e["search"]["mode"] == "include"
                                          for e in one["entry"])
    assert len(record_calls(live)) <= calls + 1
    # Types the scopes do not allow are left out and said to be.
    narrow = make(client_id="narrow", scope="system/Patient.rs")
    bundle = narrow.get(f"/fhir/Patient?identifier={NHS}&{query}").json
    assert all(e["search"]["mode"] != "include" for e in bundle["entry"])
    assert "left out" in str(outcomes(bundle))


def test_unsupported_include_values_are_ignored_and_said_or_refused_when_strict(served):
    make, _ = served
    client = make()
    url = f"/fhir/Patient?identifier={NHS}&_revinclude=Spaceship:pilot&_include=Patient:x"
    bundle = client.get(url).json
    said = str(outcomes(bundle))
    assert "Spaceship:pilot" in said and "Patient:x" in said
    assert client.get(url, headers={"Prefer": "handling=strict"}).status_code == 400


def test_last_updated_is_a_parameter_of_every_type(served):
    make, _ = served
    client = make()
    pid = patient_id(client)
    for resource_type in record_types(client):
        everything = len(searched(client, pid, resource_type))
        base = f"/fhir/{resource_type}?patient={pid}"
        assert client.get(base + "&_lastUpdated=ge2000").json["total"] == everything
        assert client.get(base + "&_lastUpdated=lt2000").json["total"] == 0, resource_type
    assert client.get(f"/fhir/Patient?identifier={NHS}&_lastUpdated=lt2000").json["total"] \
        == 0
    assert client.get(f"/fhir/Patient?identifier={NHS}&_lastUpdated=ge2000").json["total"] \
        == 1
    assert client.get("/fhir/AuditEvent?_lastUpdated=lt2000").json["total"] == 0
    assert client.get("/fhir/AuditEvent?_lastUpdated=ge2000").json["total"] > 0
    strict = client.get(f"/fhir/Patient?identifier={NHS}&_lastUpdated=ge2000",
                        headers={"Prefer": "handling=strict"})
    assert strict.status_code == 200
