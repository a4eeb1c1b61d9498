"""Versions and conditional reads, for every served type (table-driven over the
declarations: no test names a type it expects, so a type added later is covered too).

FHIR R4 (http.html#versioning, resource.html#Meta): meta.versionId names the version of
a resource and the ETag carries it (W/"[versionId]"); meta.lastUpdated is when the
version came to be, and Last-Modified says the same. RFC 9110 13.1.2 and 13.1.3:
If-None-Match (which decides alone when sent) and If-Modified-Since answer 304 for a
current copy. Here a version is the content: fetched again unchanged, a resource keeps
both its versionId and its lastUpdated; changed in SystmOne, it gets new ones. Ids are
case-sensitive (FHIR ids are), in every family.

The upstream is the generated test practice, served through a practice that can be
revised mid-test: every record's terms, drug names and dates, and the organisation's site
names, users' names and roles, change as edits in SystmOne would.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import time
from dataclasses import dataclass
from email.utils import format_datetime

import pytest
from lxml import etree

from facade.app import create_app
from facade.mapping.declaration import AUDIT, PATIENT_LIST, RECORD
from simulator.practice import Practice

from ..bundles import matches
from ..tokens import authorized_client

#: Resources of each type read one by one (all of them are compared across fetches), and
#: documents fetched as Binaries (a GetDocument each).
READ_PER_TYPE = 2
#: Past the freshness windows the stack is made with: every cached entry is due again.
WINDOW = 60.0
_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)(T\d\d:\d\d(:\d\d)?)?$")


class Revisable(Practice):
    """A practice whose records and organisation read as they are until ``revise()``;
    then as a clinician and the practice manager would have edited them."""

    def __init__(self, practice: Practice) -> None:
        self.__dict__.update(practice.__dict__)  # the same records and patient index
        self.revised = False

    def revise(self) -> None:
        self.revised = True

    def record(self, patient) -> etree._Element:
        record = super().record(patient)
        return revised_record(record) if self.revised else record

    @property
    def organisation(self):
        organisation = self.source.organisation
        if not self.revised:
            return organisation
        return type(organisation)(
            tuple(type(site)(**{**vars(site), "name": site.name + " (revised)"})
                  for site in organisation.sites),
            tuple(type(user)(**{**vars(user), "surname": user.surname + "-Revised",
                                "role": user.role + " (revised)"})
                  for user in organisation.users),
            organisation.slot_types, organisation.clinic_types)


def revised_record(record: etree._Element) -> etree._Element:
    """The record with every term and name amended and every date a day earlier (the
    keys SystmOne names items by, and so the ids, stay as they were)."""
    record = copy.deepcopy(record)
    for element in record.iter():
        if not isinstance(element.tag, str):
            continue
        for name in ("Term", "Name"):
            if element.get(name):
                element.set(name, element.get(name) + " (revised)")
        for name, value in element.attrib.items():
            element.set(name, _earlier(value))
        if element.text:
            element.text = _earlier(element.text)
    return record


def _earlier(text: str) -> str:
    """A date or date-time a day earlier; anything else (and 9999's open ends) as it is."""
    found = _DATE.match(text.strip())
    if not found or int(found[1]) > 9000:
        return text
    day = dt.date(int(found[1]), int(found[2]), int(found[3])) - dt.timedelta(days=1)
    return day.isoformat() + (found[4] or "")


@dataclass
class Stack:
    client: object
    practice: Revisable
    offset: list[float]  # seconds the facade's clock is moved on
    patients: list[str]  # NHS numbers whose records hold every record type between them


@pytest.fixture
def stack(start_simulator, practice, tmp_path):
    """The app over the revisable practice, with a clock that can be moved on."""
    revisable = Revisable(practice)
    live = start_simulator(practice_override=revisable)
    host, port = live.address
    (tmp_path / "documents").mkdir()
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                      "read_timeout": 5.0, "demographics_ttl": WINDOW, "clinical_ttl": WINDOW,
                      "document_dir": tmp_path / "documents",
                      "drug_scheme": "Multilex"})  # drugs as the record names them
    records = app.extensions["facade.records"]
    offset = [0.0]
    records.clock = lambda: time.time() + offset[0]
    client = authorized_client(app)
    yield Stack(client, revisable, offset, covering(client, practice))
    records.close()


def readable(client) -> dict:
    return {name: d for name, d in client.application.extensions["facade.resources"].items()
            if "read" in d.interactions}


def covering(client, practice) -> list[str]:
    """The first patients whose records between them hold every readable record type."""
    wanted = {name for name, d in readable(client).items() if d.source == RECORD}
    chosen = []
    for summary in practice.index.summaries:
        if summary.identity.kind != "NHSNumber":
            continue
        held = {r["resourceType"] for r in everything(client, summary.identity.value)}
        if held & wanted:
            chosen.append(summary.identity.value)
            wanted -= held
        if not wanted:
            return chosen
    raise AssertionError(f"no patient's record holds {sorted(wanted)}")


def everything(client, number: str) -> list[dict]:
    return every_page(client, "/fhir/Patient/$everything?identifier="
                      f"https://fhir.nhs.uk/Id/nhs-number|{number}&_count=500")


def every_page(client, url: str) -> list[dict]:
    found = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json
        found += matches(response.json) + [
            e["resource"] for e in response.json.get("entry", [])
            if e["search"]["mode"] == "include"]
        url = next((link["url"].split("localhost", 1)[1] for link in response.json["link"]
                    if link["relation"] == "next"), None)
    return found


def served(stack: Stack) -> dict[str, dict[str, dict]]:
    """What the facade serves of the chosen patients, by type and id: their $everything,
    each searchable type outside patients' records, and the Binaries of a few of their
    documents."""
    client = stack.client
    found: dict[str, dict[str, dict]] = {}

    def add(resource):
        found.setdefault(resource["resourceType"], {})[resource["id"]] = resource

    for number in stack.patients:
        for resource in everything(client, number):
            add(resource)
    for name, declaration in readable(client).items():
        if declaration.searchable and declaration.source not in (RECORD, PATIENT_LIST):
            for resource in every_page(client, f"/fhir/{name}?_count=20"):
                add(resource)
    urls = [content["attachment"]["url"]
            for reference in found.get("DocumentReference", {}).values()
            for content in reference["content"] if "url" in content["attachment"]]
    for url in urls[:READ_PER_TYPE]:
        response = client.get(f"/fhir/{url}", headers={"Accept": "application/fhir+json"})
        assert response.status_code == 200, response.json
        add(response.json)
    return found


def sample(found: dict[str, dict[str, dict]]) -> dict[str, list[dict]]:
    return {name: list(resources.values())[:READ_PER_TYPE] for name, resources in found.items()}


def http_date(instant: str) -> str:
    """An HTTP date (RFC 9110 5.6.7) worked out here from a FHIR instant."""
    moment = dt.datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(dt.UTC)
    return format_datetime(moment.replace(microsecond=0), usegmt=True)


def content(resource: dict) -> dict:
    meta = {k: v for k, v in resource.get("meta", {}).items()
            if k not in ("versionId", "lastUpdated")}
    return {**resource, "meta": meta}


def read(client, resource: dict, **headers):
    return client.get(f"/fhir/{resource['resourceType']}/{resource['id']}",
                      headers={"Accept": "application/fhir+json", **headers})


def test_every_type_is_read_with_its_version_as_etag_and_last_modified(stack):
    client = stack.client
    found = served(stack)
    assert set(readable(client)) <= set(found), "a readable type the demo patients lack"
    for name, resources in sample(found).items():
        for resource in resources:
            answer = read(client, resource)
            assert answer.status_code == 200, (name, answer.json)
            meta = answer.json["meta"]
            assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", meta["versionId"]), name  # an id
            assert answer.headers["ETag"] == f'W/"{meta["versionId"]}"', name
            if "lastUpdated" in meta:  # made anew on every read (Binary): no time to say
                assert answer.headers["Last-Modified"] == http_date(meta["lastUpdated"]), name
            else:
                assert "Last-Modified" not in answer.headers, name
            assert answer.json == resource  # as the search and $everything served it


def test_a_current_copy_is_answered_304_by_etag_or_date(stack):
    client = stack.client
    for name, resources in sample(served(stack)).items():
        resource = resources[0]
        first = read(client, resource)
        tag = first.headers["ETag"]
        for headers in ({"If-None-Match": tag}, {"If-None-Match": tag[2:]},  # weak compare
                        {"If-None-Match": f'W/"other", {tag}'}, {"If-None-Match": "*"}):
            again = read(client, resource, **headers)
            assert again.status_code == 304 and again.data == b"", (name, headers)
            assert again.headers["ETag"] == tag, name
        assert read(client, resource, **{"If-None-Match": 'W/"other"'}).status_code == 200
        modified = first.headers.get("Last-Modified")
        if modified is None:
            continue
        assert read(client, resource, **{"If-Modified-Since": modified}).status_code == 304
        later = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(days=1), usegmt=True)
        assert read(client, resource, **{"If-Modified-Since": later}).status_code == 304
        earlier = http_date("2000-01-01T00:00:00Z")
        assert read(client, resource, **{"If-Modified-Since": earlier}).status_code == 200
        assert read(client, resource, **{"If-Modified-Since": "not a date"}).status_code == 200
        # If-None-Match decides alone when sent (RFC 9110 13.2.2).
        assert read(client, resource, **{"If-None-Match": 'W/"other"',
                                         "If-Modified-Since": modified}).status_code == 200
        assert read(client, resource, **{"If-None-Match": tag,
                                         "If-Modified-Since": earlier}).status_code == 304


def test_a_native_binary_read_carries_the_etag_too(stack):
    client = stack.client
    for binary in served(stack).get("Binary", {}).values():
        native = client.get(f"/fhir/Binary/{binary['id']}")
        assert native.status_code == 200 and not native.content_type.startswith(
            "application/fhir")
        assert native.headers["ETag"] == f'W/"{binary["meta"]["versionId"]}"'
        again = client.get(f"/fhir/Binary/{binary['id']}",
                           headers={"If-None-Match": native.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""


def test_unchanged_content_fetched_again_keeps_its_version_and_last_updated(stack):
    client = stack.client
    before = served(stack)
    stack.offset[0] += WINDOW + 1  # every entry due: record, Patient, organisation asked again
    after = served(stack)
    assert set(after) == set(before)
    for name, resources in before.items():
        again = set(after[name]) & set(resources)  # the audit's newest grow meanwhile
        assert again, name
        for resource_id in again:  # versionId and lastUpdated too
            assert after[name][resource_id] == resources[resource_id], name
        for resource_id in sorted(again)[:READ_PER_TYPE]:
            assert read(client, resources[resource_id]).json == resources[resource_id]


def test_changed_content_gets_a_new_version_and_last_updated(stack):
    client = stack.client
    before = served(stack)
    stack.practice.revise()
    stack.offset[0] += WINDOW + 1
    refetched_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=stack.offset[0])
    after = served(stack)
    changed = set()
    for name, resources in before.items():
        for resource_id, old in resources.items():
            new = after[name].get(resource_id)
            if new is None:
                continue
            if content(new) == content(old):
                assert new["meta"] == old["meta"], (name, resource_id)
                continue
            changed.add(name)
            assert new["meta"]["versionId"] != old["meta"]["versionId"], (name, resource_id)
            if "lastUpdated" in old["meta"]:
                updated = dt.datetime.fromisoformat(new["meta"]["lastUpdated"])
                assert abs((updated - refetched_at).total_seconds()) < 5, (name, new["meta"])
                assert new["meta"]["lastUpdated"] > old["meta"]["lastUpdated"]
    # The revision reaches every type made from what SystmOne says (the audit is the
    # facade's own, written once).
    assert changed == {name for name in before if readable(client)[name].source != AUDIT}
    for name, resources in sample(before).items():
        resource = resources[0]
        if name in changed and after[name].get(resource["id"], resource) != resource:
            tag = f'W/"{resource["meta"]["versionId"]}"'
            stale = read(client, resource, **{"If-None-Match": tag})
            assert stale.status_code == 200, name  # the client's copy is out of date
            assert stale.json["meta"] == after[name][resource["id"]]["meta"]


def test_ids_are_case_sensitive_for_every_type(stack):
    """An id with its letters' case changed names nothing: a read is a 404, and an _id
    search finds nothing (where the type is searched by _id)."""
    client = stack.client
    patients = [matches(client.get(f"/fhir/Patient?identifier={number}").json)[0]["id"]
                for number in stack.patients]
    for name, resources in sample(served(stack)).items():
        declaration = readable(client)[name]
        resource = resources[0]
        swapped = resource["id"].swapcase()
        assert swapped != resource["id"], name  # every family's ids hold letters
        answer = client.get(f"/fhir/{name}/{swapped}")
        assert answer.status_code == 404, (name, answer.json)
        assert answer.json["resourceType"] == "OperationOutcome"
        if not declaration.searchable or declaration.param("_id") is None:
            continue
        for asked, expected in ((resource["id"], 1), (swapped, 0)):
            total = sum(client.get(f"/fhir/{name}", query_string={"_id": asked, **where})
                        .json["total"] for where in _whose(declaration, patients))
            assert total == expected, (name, asked)


def _whose(declaration, patients: list[str]) -> list[dict]:
    """The searches that together cover the demo patients: one for each, naming them, where
    the type is searched within a patient's record; else one search."""
    if declaration.source != RECORD:
        return [{}]
    return [{declaration.patient_params[0]: patient} for patient in patients]


def test_the_capability_statement_says_what_reads_do(stack):
    """versioning "versioned" (meta.versionId) for every type; conditionalRead as each
    type's reads answer: full-support where Last-Modified lets If-Modified-Since work, else
    not-match (If-None-Match alone)."""
    client = stack.client
    statement = client.get("/fhir/metadata").json["rest"][0]["resource"]
    said = {resource["type"]: resource for resource in statement}
    for name, resources in sample(served(stack)).items():
        assert said[name]["versioning"] == "versioned", name
        dated = "Last-Modified" in read(client, resources[0]).headers
        assert said[name]["conditionalRead"] == ("full-support" if dated else "not-match"), \
            name


def test_a_browser_app_may_send_both_conditional_headers(client):
    """CORS (Fetch standard): neither header is safelisted, so the preflight allows them."""
    preflight = client.options("/fhir/Patient/x", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match, if-modified-since"})
    allowed = {h.strip().lower()
               for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"if-none-match", "if-modified-since"} <= allowed
    exposed = preflight.headers["Access-Control-Expose-Headers"].lower()
    assert "etag" in exposed and "last-modified" in exposed
