"""The access audit end to end: the real app over a live simulator, one record per request.

Every answer to /fhir and /auth/ leaves exactly one AccessRecord in the sink,
written before the answer goes out, with the fields the README promises; the
RequestUIDs it lists are exactly those the simulator received (checked in the
simulator's own message audit); and the audit reads back as FHIR AuditEvents
for a caller holding ``system/AuditEvent.rs``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B.auditevent import AuditEvent

from facade.app import create_app
from facade.audit.auditevent import OAUTH_CLIENT_ID, REQUEST_UID
from facade.audit.record import AccessRecord
from facade.audit.sink import MAX_COUNT, AuditQuery, instant_us, open_sink

from ..fhir.conftest import patient_with_numerics
from ..fhir.test_clients import signed_assertion
from ..tokens import FULL_SCOPE, authorized_client, register

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
TOKEN_URL = "http://localhost/auth/token"  # where Flask's test client posts
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


# --- the stack: an app over a live simulator, both audits at hand -------------------------

@dataclass
class Stack:
    live: object  # the LiveSimulator: its store holds the messages SystmOne received
    app: object

    def client(self, scope: str = FULL_SCOPE, client_id: str = "tests"):
        return authorized_client(self.app, scope, client_id=client_id)

    def anonymous(self):
        return self.app.test_client()

    def records(self) -> list[tuple[str, AccessRecord]]:
        """Every (id, record) in the sink, oldest first."""
        rows, total = self.app.extensions["facade.audit"].search(AuditQuery(count=MAX_COUNT))
        assert total <= MAX_COUNT, "a test's audit should fit one page"
        return list(reversed(rows))

    def ask(self, client, url: str, method: str = "GET", **kwargs):
        """One request: its response, and the one record it added (asserted to be one)."""
        before = {row_id for row_id, _ in self.records()}
        messages = len(self.live.store.messages())
        response = client.open(url, method=method, **kwargs)
        added = [entry for row_id, entry in self.records() if row_id not in before]
        assert len(added) == 1, f"{method} {url} left {len(added)} audit records"
        [entry] = added
        assert response.headers["X-Request-ID"] == entry.request_id
        assert entry.request_id and entry.latency_ms > 0
        assert instant_us(entry.time) <= time.time_ns() // 1000
        self.check_upstream(entry, messages)
        return response, entry

    def check_upstream(self, entry: AccessRecord, before: int) -> None:
        """The record's RequestUIDs are the messages the simulator received meanwhile."""
        expected = before + len(entry.request_uids)
        received = self.live.messages(expected)  # its audit is written after each reply
        time.sleep(0.05)  # and nothing more arrives for this request
        received = self.live.store.messages()
        assert [m.request_uid for m in received[before:]] == list(entry.request_uids)


@pytest.fixture
def stack(start_simulator, tmp_path):
    made = []

    def make(simulator=None, **settings) -> Stack:
        live = start_simulator(**(simulator or {}))
        config = {"upstream": "{}:{}".format(*live.address), "state_dir": tmp_path / "facade",
                  "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                  "read_timeout": 5.0, **settings}
        made.append(Stack(live, create_app(config)))
        return made[-1]

    yield make
    for made_stack in made:
        made_stack.app.extensions["facade.records"].close()


def found_ids(response) -> list[str]:
    return [e["resource"]["id"] for e in response.json.get("entry", [])
            if e.get("search", {}).get("mode") == "match"]


def values_absent(entry: AccessRecord, *values: str) -> None:
    """Search parameter values (NHS numbers, names, dates) never reach the record."""
    text = repr(asdict(entry))
    for value in values:
        assert value not in text, f"{value!r} is in the audit record {text}"


# --- one record per request, with the right fields ----------------------------------------

def test_reads_and_searches_are_recorded_with_patients_and_upstream_uids(stack, practice):
    s = stack()
    client = s.client()
    summary = patient_with_numerics(practice)
    nhs = summary.identity.value

    response, entry = s.ask(client, f"/fhir/Patient?identifier={NHS_SYSTEM}|{nhs}")
    assert response.status_code == 200
    [pid] = found_ids(response)
    assert (entry.client_id, entry.scopes) == ("tests", FULL_SCOPE)
    assert (entry.interaction, entry.resource_type, entry.status, entry.error) == \
        ("search-type", "Patient", 200, "")
    assert entry.parameters == ("identifier",)
    assert entry.patient_ids == (pid,)
    assert entry.request_uids  # asked SystmOne
    values_absent(entry, nhs, NHS_SYSTEM)

    response, entry = s.ask(client, f"/fhir/Patient/{pid}")
    assert response.status_code == 200
    assert (entry.interaction, entry.resource_type, entry.status) == ("read", "Patient", 200)
    assert entry.patient_ids == (pid,) and entry.parameters == ()
    assert entry.request_uids == ()  # the search cached the Patient

    response, entry = s.ask(client, f"/fhir/Observation?patient=Patient/{pid}"
                                    "&category=vital-signs&_count=2")
    assert response.status_code == 200
    assert (entry.interaction, entry.resource_type) == ("search-type", "Observation")
    assert entry.parameters == ("_count", "category", "patient")
    assert entry.patient_ids == (pid,)
    assert len(entry.request_uids) >= 1  # the full record
    values_absent(entry, "vital-signs")

    observation = found_ids(response)[0]
    response, entry = s.ask(client, f"/fhir/Observation/{observation}")
    assert response.status_code == 200
    assert (entry.interaction, entry.resource_type) == ("read", "Observation")
    assert entry.patient_ids == (pid,) and entry.request_uids == ()  # served from cache

    response, entry = s.ask(client, f"/fhir/Observation?patient={pid}",
                            headers={"Cache-Control": "no-cache"})
    assert response.status_code == 200 and len(entry.request_uids) >= 1  # fresh: asked again


def test_a_patient_search_records_every_patient_it_returns(stack, practice):
    s = stack()
    patient = next(p for p in practice.index.summaries if p.surname == "Shaw")
    gender = {"M": "male", "F": "female"}[patient.sex]
    url = f"/fhir/Patient?family=Sha&gender={gender}"
    response, entry = s.ask(s.client(), url)
    assert response.status_code == 200
    returned = found_ids(response)
    assert returned and sorted(entry.patient_ids) == sorted(returned)
    assert entry.parameters == ("family", "gender") and entry.request_uids
    values_absent(entry, "Sha", gender)
    cached, again = s.ask(s.client(), url)
    assert cached.status_code == 200 and again.request_uids == ()
    assert sorted(again.patient_ids) == sorted(returned)


def test_capabilities_and_refusals_are_recorded(stack, practice):
    s = stack()
    nhs = practice.index.summaries[0].identity.value

    response, entry = s.ask(s.client(), "/fhir/metadata")
    assert response.status_code == 200
    assert (entry.interaction, entry.resource_type, entry.status) == ("capabilities", "", 200)
    assert entry.request_uids == ()

    response, entry = s.ask(s.client(), "/fhir/Patient/unknown-id")
    assert response.status_code == 404
    assert (entry.client_id, entry.interaction, entry.resource_type, entry.status,
            entry.error) == ("tests", "read", "Patient", 404, "not-found")

    response, entry = s.ask(s.client(), f"/fhir/Observation?patient=Patient/x&date=not-{nhs}")
    assert response.status_code == 400
    assert (entry.interaction, entry.resource_type, entry.status, entry.error) == \
        ("search-type", "Observation", 400, "invalid")
    assert entry.parameters == ("date", "patient") and entry.request_uids == ()
    values_absent(entry, nhs)

    response, entry = s.ask(s.anonymous(), f"/fhir/Patient?identifier={nhs}")
    assert response.status_code == 401
    assert (entry.client_id, entry.scopes, entry.status, entry.error) == \
        ("", "", 401, "invalid_token")
    assert (entry.interaction, entry.resource_type) == ("search-type", "Patient")
    assert entry.parameters == ("identifier",) and entry.patient_ids == ()
    values_absent(entry, nhs)

    response, entry = s.ask(s.anonymous(), "/fhir/Patient/x",
                            headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and (entry.client_id, entry.status) == ("", 401)

    # an NHS number typed where an id goes names nobody here: not recorded as typed
    for client in (s.client(), s.anonymous()):
        response, entry = s.ask(client, f"/fhir/Patient/{nhs}")
        assert response.status_code in (401, 404) and entry.patient_ids == ()
        values_absent(entry, nhs)
    response, entry = s.ask(s.client(), f"/fhir/Observation?patient={nhs}")
    assert entry.patient_ids == ()
    values_absent(entry, nhs)

    narrow = s.client("system/Observation.rs", client_id="narrow")
    response, entry = s.ask(narrow, f"/fhir/Patient?identifier={nhs}")
    assert response.status_code == 403
    assert (entry.client_id, entry.scopes, entry.status, entry.error) == \
        ("narrow", "system/Observation.rs", 403, "insufficient_scope")
    assert entry.request_uids == () and entry.patient_ids == ()

    response, entry = s.ask(s.client(), "/fhir/Patient/x", method="PUT", json={})
    assert response.status_code == 405
    assert (entry.client_id, entry.resource_type, entry.status, entry.error) == \
        ("tests", "Patient", 405, "not-supported")
    assert entry.request_uids == ()

    response, entry = s.ask(s.client(), "/fhir/Nonsense")
    assert response.status_code == 404 and entry.status == 404


@pytest.mark.parametrize(("method", "url", "interaction"), [
    ("PUT", "/fhir/Patient/x", "update"), ("DELETE", "/fhir/Patient/x", "delete"),
    ("PATCH", "/fhir/Patient/x", "patch"), ("POST", "/fhir/Patient", "create")])
def test_a_refused_write_is_recorded_as_the_write_it_was(stack, method, url, interaction):
    s = stack()
    response, entry = s.ask(s.client(), url, method=method, json={"resourceType": "Patient"})
    assert response.status_code == 405
    assert entry.interaction == interaction


def test_a_throttled_request_is_recorded_as_a_429_without_upstream_uids(stack, practice):
    s = stack(simulator={"record_interval": 30.0}, record_interval=30.0, max_wait=1.0)
    first, second = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:2]
    client = s.client()
    ids = []
    for summary in (first, second):
        response, _ = s.ask(client, f"/fhir/Patient?identifier={summary.identity.value}")
        ids.append(found_ids(response)[0])
    response, entry = s.ask(client, f"/fhir/Observation?patient={ids[0]}")
    assert response.status_code == 200 and entry.request_uids  # the record slot is spent
    response, entry = s.ask(client, f"/fhir/Observation?patient={ids[1]}")
    assert response.status_code == 429
    assert (entry.status, entry.error, entry.interaction) == (429, "throttled", "search-type")
    assert entry.patient_ids == (ids[1],) and entry.request_uids == ()


def test_a_refused_attempt_on_another_patient_names_that_patient(stack, practice):
    s = stack()
    own, other = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:2]
    own_id, other_id = (found_ids(s.client().get(f"/fhir/Patient?identifier={p.identity.value}"))[0]
                        for p in (own, other))
    confined = authorized_client(s.app, "patient/*.rs", client_id="app", patient=own_id)
    for url in (f"/fhir/Patient/{other_id}", f"/fhir/Observation?patient={other_id}"):
        response, entry = s.ask(confined, url)
        assert response.status_code == 403 and entry.error == "insufficient_scope"
        assert entry.patient_ids == (other_id,), url


# --- token requests -----------------------------------------------------------------------

def token_form(key, client_id: str, scope: str = "system/Patient.rs") -> dict:
    return {"grant_type": "client_credentials", "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed_assertion(key, client_id, TOKEN_URL)}


def test_token_requests_are_recorded_as_token_interactions(stack):
    s = stack()
    key = register(s.app, "partner", "system/Patient.rs")
    response, entry = s.ask(s.anonymous(), "/auth/token", method="POST",
                            data=token_form(key, "partner"))
    assert response.status_code == 200 and response.json["access_token"]
    assert (entry.interaction, entry.resource_type, entry.status) == ("token", "", 200)
    assert (entry.client_id, entry.scopes) == ("partner", "system/Patient.rs")
    assert entry.patient_ids == () and entry.request_uids == ()
    values_absent(entry, response.json["access_token"], "client_assertion", "jwt-bearer")

    stranger = register(s.app, "stranger", "system/Patient.rs")  # not partner's key
    response, entry = s.ask(s.anonymous(), "/auth/token", method="POST",
                            data=token_form(stranger, "partner"))
    assert response.status_code in (400, 401) and response.json["error"] == "invalid_client"
    assert (entry.interaction, entry.status) == ("token", response.status_code)
    assert entry.client_id == ""  # it did not authenticate

    response, entry = s.ask(s.anonymous(), "/auth/jwks")
    assert response.status_code == 200 and entry.interaction == "jwks"


def test_a_refused_token_request_records_the_oauth_error(stack):
    s = stack()
    register(s.app, "partner", "system/Patient.rs")
    stranger = register(s.app, "stranger", "system/Patient.rs")
    response, refused = s.ask(s.anonymous(), "/auth/token", method="POST",
                              data=token_form(stranger, "partner"))
    assert response.json["error"] == "invalid_client"
    assert refused.error == "invalid_client"


# --- durability ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["default", "sqlite", "jsonl"])
def test_the_record_is_in_the_sink_when_the_answer_arrives(stack, practice, tmp_path, kind):
    spec = {"default": None, "sqlite": f"sqlite:{tmp_path / 'a.sqlite3'}",
            "jsonl": f"jsonl:{tmp_path / 'a.jsonl'}"}[kind]
    s = stack(audit_sink=spec)
    nhs = practice.index.summaries[0].identity.value
    response = s.client().get(f"/fhir/Patient?identifier={nhs}")
    assert response.status_code == 200
    request_id = response.headers["X-Request-ID"]
    sink = open_sink(spec, tmp_path / "facade")  # another handle on the same file
    try:
        rows, _ = sink.search(AuditQuery(count=MAX_COUNT))
        [(row_id, entry)] = [(i, e) for i, e in rows if e.request_id == request_id]
        assert entry.status == 200 and entry.interaction == "search-type"
        assert sink.get(row_id) == entry
    finally:
        sink.close()


# --- the audit through the API ------------------------------------------------------------

def validated(event: dict) -> dict:
    AuditEvent.model_validate(event)
    return event


def events(client, url: str) -> tuple[dict, list[dict]]:
    response = client.get(url)
    assert response.status_code == 200, response.json
    bundle = response.json
    return bundle, [validated(e["resource"]) for e in bundle.get("entry", [])]


def client_of(event: dict) -> str:
    who = event["agent"][0]["who"]
    return who.get("identifier", {}).get("value", "")


def request_id_of(event: dict) -> str:
    details = event["entity"][-1]["detail"]
    return next(d["valueString"] for d in details if d["type"] == "request-id")


def test_the_audit_needs_an_explicit_audit_scope(stack):
    s = stack()
    reader = s.client("system/*.rs", client_id="reader")
    response, entry = s.ask(reader, "/fhir/AuditEvent")
    assert response.status_code == 403
    assert (entry.resource_type, entry.error) == ("AuditEvent", "insufficient_scope")
    assert s.ask(reader, "/fhir/AuditEvent/anything")[0].status_code == 403
    assert s.ask(s.anonymous(), "/fhir/AuditEvent")[0].status_code == 401
    auditor = s.client("system/AuditEvent.rs", client_id="auditor")
    assert s.ask(auditor, "/fhir/AuditEvent")[0].status_code == 200


def test_the_audit_is_searched_by_patient_agent_subtype_outcome_and_date(stack, practice):
    s = stack()
    started = dt.datetime.now(dt.UTC)
    client = s.client()
    other = s.client("system/Patient.rs", client_id="other")
    summary = patient_with_numerics(practice)
    pid = found_ids(client.get(f"/fhir/Patient?identifier={summary.identity.value}"))[0]
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200
    assert client.get(f"/fhir/Observation?patient={pid}").status_code == 200
    assert other.get(f"/fhir/Patient/{pid}").status_code == 200
    assert other.get("/fhir/Observation?patient=x").status_code == 403
    assert client.get("/fhir/Patient/unknown").status_code == 404
    records = dict(s.records())
    auditor = s.client()

    _, touched = events(auditor, f"/fhir/AuditEvent?patient=Patient/{pid}")
    expected = [i for i, e in reversed(list(records.items())) if pid in e.patient_ids]
    assert [e["id"] for e in touched] == expected and len(expected) == 4  # newest first
    assert all({"reference": f"Patient/{pid}"} in [x.get("what") for x in e["entity"]]
               for e in touched)

    _, by_other = events(auditor, "/fhir/AuditEvent?agent=other")
    assert [client_of(e) for e in by_other] == ["other", "other"]
    _, same = events(auditor, f"/fhir/AuditEvent?agent={OAUTH_CLIENT_ID}|other")
    assert [e["id"] for e in same] == [e["id"] for e in by_other]

    _, reads = events(auditor, "/fhir/AuditEvent?subtype=read")
    assert [e["subtype"][0]["code"] for e in reads] == ["read"] * 3
    assert all(e["action"] == "R" for e in reads)

    _, refused = events(auditor, "/fhir/AuditEvent?outcome=4")
    assert sorted(e["outcomeDesc"] for e in refused) == \
        ["HTTP 403 insufficient_scope", "HTTP 404 not-found"]
    assert all(e["outcome"] == "4" for e in refused)

    since = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    _, recent = events(auditor, f"/fhir/AuditEvent?date=ge{since}&_count=500")
    assert {e["id"] for e in recent} >= set(records)
    _, future = events(auditor, "/fhir/AuditEvent?date=ge2999-01-01")
    assert future == []
    _, none = events(auditor, f"/fhir/AuditEvent?date=lt{since}")
    assert none == []

    _, both = events(auditor, f"/fhir/AuditEvent?agent=other&subtype=read&patient={pid}")
    assert len(both) == 1 and client_of(both[0]) == "other"

    bad = auditor.get("/fhir/AuditEvent?outcome=5")
    assert bad.status_code == 400 and bad.json["issue"][0]["code"] == "invalid"


def test_an_audit_event_carries_the_record_and_reads_back_by_id(stack, practice):
    s = stack()
    summary = practice.index.summaries[0]
    response, entry = s.ask(s.client(), f"/fhir/Patient?identifier={summary.identity.value}")
    [pid] = found_ids(response)
    auditor = s.client()
    _, found = events(auditor, f"/fhir/AuditEvent?patient={pid}")
    [event] = found
    assert request_id_of(event) == entry.request_id
    assert client_of(event) == "tests" and event["agent"][0]["policy"] == FULL_SCOPE.split()
    assert event["recorded"] == entry.time and event["outcome"] == "0"
    uids = [x["what"]["identifier"]["value"] for x in event["entity"]
            if x.get("what", {}).get("identifier", {}).get("system") == REQUEST_UID]
    assert uids == list(entry.request_uids) and uids
    query = event["entity"][-1]
    assert {"type": "parameters", "valueString": "identifier"} in query["detail"]
    assert summary.identity.value not in str(event)

    response = auditor.get(f"/fhir/AuditEvent/{event['id']}")
    assert response.status_code == 200
    assert validated(response.json) == event
    assert auditor.get("/fhir/AuditEvent/no-such-event").status_code == 404


def follow(client, url: str) -> tuple[list[str], int]:
    """Every AuditEvent id over the next links, and how many pages it took."""
    ids, pages = [], 0
    while url:
        bundle, page = events(client, url)
        ids += [e["id"] for e in page]
        pages += 1
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")
        if url:
            parts = urlsplit(url)
            assert parts.path == "/fhir/AuditEvent"
            url = f"{parts.path}?{parts.query}"
    return ids, pages


def test_audit_events_page_with_count_and_next_links(stack):
    s = stack()
    client = s.client()
    for n in range(7):
        assert client.get(f"/fhir/Patient/unknown-{n}").status_code == 404
    expected = [i for i, e in reversed(s.records()) if e.interaction == "read"]
    ids, pages = follow(s.client(), "/fhir/AuditEvent?subtype=read&_count=3")
    assert (ids, pages) == (expected, 3)
    bundle, _ = events(client, "/fhir/AuditEvent?subtype=read&_count=3")
    assert bundle["total"] == 7
    bundle, page = events(client, "/fhir/AuditEvent?subtype=read&_summary=count")
    assert bundle["total"] == 7 and page == []


def test_paging_the_whole_audit_sees_each_event_once(stack):
    s = stack()
    client = s.client()
    for n in range(5):
        assert client.get(f"/fhir/Patient/unknown-{n}").status_code == 404
    before = [i for i, _ in reversed(s.records())]
    ids, _ = follow(client, "/fhir/AuditEvent?_count=2")
    assert len(ids) == len(set(ids))
    assert set(before) <= set(ids)


def test_the_audit_fsync_settings_reach_the_sink(tmp_path) -> None:
    app = create_app({"upstream": "127.0.0.1:1", "state_dir": tmp_path / "facade",
                      "audit_fsync": "request", "audit_fsync_interval": 0.5})
    try:
        incoming = app.extensions["facade.audit"].incoming
        assert (incoming.fsync, incoming.interval) == ("request", 0.5)
    finally:
        app.extensions["facade.audit"].close()
        app.extensions["facade.records"].close()
