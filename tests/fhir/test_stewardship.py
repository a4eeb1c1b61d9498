"""Upstream stewardship through the API: what each FHIR question costs SystmOne.

Counted in the simulator's own message audit (independent of the facade):
the planner's choice of call, the cache shared by workers, single-flight,
top-ups, stale answers when the budget is spent, and 429s that never breach.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import pytest
from lxml import etree

from facade.app import create_app
from facade.records import SERVICE_STARTED_ENV
from facade.stewardship import planner
from facade.stewardship.singleflight import SingleFlight
from facade.upstream.errors import PermanentError, UpstreamError
from simulator.practice import generated_practice

from ..conftest import AS_OF
from ..tokens import authorized_client
from .conftest import patient_with_numerics


@dataclass
class Stack:
    live: object  # the LiveSimulator
    apps: list

    def client(self):
        return authorized_client(self.apps[-1])


@pytest.fixture
def stack(start_simulator, tmp_path):
    made = []

    def make(simulator=None, workers=1, **settings):
        live = start_simulator(**(simulator or {}))
        host, port = live.address
        config = {"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                  "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                  "read_timeout": 5.0, **settings}
        # Several apps on one state dir stand for gunicorn workers sharing the embedded store.
        stack = Stack(live, [create_app(config) for _ in range(workers)])
        made.append(stack)
        return stack

    yield make
    for stack in made:
        for app in stack.apps:
            app.extensions["facade.records"].close()


#: After the expected upstream messages are in the audit, how long it is watched for one
#: more. These stacks throttle at interval 0 with a 0.01 s send margin, so a call the
#: facade still had to make would have been let through many times over, and the
#: simulator writes each audit entry within milliseconds of its reply.
SETTLE = 0.3


def exactly(live, count: int, **filters) -> list:
    """The matching audit entries once ``count`` are there, and no more after SETTLE: an
    extra upstream call, however late, fails the test instead of slipping past."""
    entries = live.messages(count, **filters)
    assert len(entries) >= count, f"{len(entries)} upstream messages, {count} expected"
    time.sleep(SETTLE)
    entries = live.store.messages(**filters)
    assert len(entries) == count, f"{len(entries)} upstream messages, {count} expected"
    return entries


def filters(entry) -> set[str]:
    request = etree.fromstring(entry.request_xml)
    found = request.find(".//Filter")
    return {child.tag for child in found} if found is not None else set()


def patient_id(client, summary) -> str:
    response = client.get(f"/fhir/Patient?identifier={summary.identity.value}")
    assert response.status_code == 200, response.json
    return response.json["entry"][0]["resource"]["id"]


def test_patient_reads_are_demographics_only_and_cached(stack, practice):
    s = stack()
    summary = patient_with_numerics(practice)
    pid = patient_id(s.client(), summary)
    assert s.client().get(f"/fhir/Patient/{pid}").status_code == 200
    calls = exactly(s.live, 1, function="GetPatientRecord")
    assert filters(calls[0]) == {"Demographics"}  # exempt


def test_one_full_record_serves_every_search_of_every_type_and_the_patient(stack, practice):
    s = stack(workers=2)
    summary = patient_with_numerics(practice)
    first, second = (authorized_client(app) for app in s.apps)
    pid = patient_id(first, summary)
    for client, query in [(first, "Observation?"), (second, "Observation?category=vital-signs&"),
                          (first, "Observation?date=ge2000&"), (second, "Condition?"),
                          (first, "MedicationRequest?intent=plan&"), (second, "Medication?"),
                          (first, "MedicationStatement?"), (second, "AllergyIntolerance?"),
                          (first, "Immunization?"), (second, "Observation?_count=1&")]:
        assert client.get(f"/fhir/{query}patient={pid}").status_code == 200
    assert second.get(f"/fhir/Patient/{pid}").status_code == 200
    records = exactly(s.live, 2, function="GetPatientRecord")
    # Exactly the sections the served types are made from, once for all of them.
    assert [filters(entry) for entry in records] == [
        {"Demographics"},
        {"Demographics", "ClinicalCodes", "Medication", "Sensitivities", "Vaccinations", "Letters",
         "Attachments", "Narrative", "Appointments", "Visits", "Tasks", "Relationships",
         "CarePlans", "Results", "Referrals", "Recalls", "Reminders", "Activity"}]


def test_concurrent_identical_searches_make_one_call(stack, practice):
    s = stack(workers=2)
    summary = patient_with_numerics(practice)
    pid = patient_id(s.client(), summary)
    statuses = []

    clients = [authorized_client(app) for app in s.apps]

    def ask(client):
        statuses.append(client.get(f"/fhir/Observation?patient={pid}").status_code)

    threads = [threading.Thread(target=ask, args=(clients[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    full = [e for e in exactly(s.live, 2, function="GetPatientRecord")
            if "ClinicalCodes" in filters(e)]
    assert len(full) == 1


class HeldUp(SingleFlight):
    """Single-flight as it is, but the first clinical need waits at its door until
    released: a request held up (a loaded machine deschedules its thread) between finding
    the cache empty and taking the lead, for as long as another request's whole fetch
    takes. Later ones pass freely."""

    def __init__(self, flights: SingleFlight) -> None:
        super().__init__(flights.store, flights.lease_seconds, flights.poll)
        self.arrived, self.go = threading.Event(), threading.Event()

    def run(self, key, produce, shared, current=lambda: None):
        if key.startswith("clinical:") and not self.arrived.is_set():
            self.arrived.set()
            assert self.go.wait(20)
        return super().run(key, produce, shared, current)


@pytest.mark.parametrize("workers", [1, 2], ids=["same worker", "two workers"])
def test_a_request_held_up_after_its_cache_miss_uses_the_record_fetched_meanwhile(
        stack, practice, workers):
    s = stack(workers=workers)
    records = s.apps[0].extensions["facade.records"]
    records.flights = held = HeldUp(records.flights)
    pid = patient_id(s.client(), patient_with_numerics(practice))
    late = authorized_client(s.apps[0])
    answers = []
    slow = threading.Thread(target=lambda: answers.append(
        late.get(f"/fhir/Observation?patient={pid}")))
    slow.start()
    assert held.arrived.wait(10)  # it found no record and is about to fetch one ...
    other = authorized_client(s.apps[-1]).get(f"/fhir/Observation?patient={pid}")
    assert other.status_code == 200  # ... when another request has fetched and stored it
    held.go.set()
    slow.join(20)
    assert answers[0].status_code == 200 and answers[0].json["total"] == other.json["total"]
    full = [e for e in exactly(s.live, 2, function="GetPatientRecord")
            if "ClinicalCodes" in filters(e)]
    assert len(full) == 1


def test_a_cached_record_is_topped_up_with_an_exempt_entered_today_call(stack, practice,
                                                                        monkeypatch):
    # The 5 minutes either side of London's midnight, when no top-up is made, are tested at
    # their edges in tests/stewardship/test_edges.py; here the time of day must not matter.
    monkeypatch.setattr(planner, "_near_midnight", lambda now: False)
    s = stack(top_up_after=0.001)
    summary = patient_with_numerics(practice)
    pid = patient_id(s.client(), summary)
    for _ in range(2):
        assert s.client().get(f"/fhir/Observation?patient={pid}").status_code == 200
    top_up = exactly(s.live, 3, function="GetPatientRecord")[-1]
    request = etree.fromstring(top_up.request_xml)
    today = request.findtext(".//Filter/MinEntryDate")
    london_today = dt.datetime.now(planner.LONDON).date().isoformat()
    assert today == request.findtext(".//Filter/MaxEntryDate") == london_today


def test_no_cache_asks_again_within_the_throttle(stack, practice):
    s = stack()
    pid = patient_id(s.client(), patient_with_numerics(practice))
    s.client().get(f"/fhir/Observation?patient={pid}")
    fresh = s.client().get(f"/fhir/Observation?patient={pid}",
                           headers={"Cache-Control": "no-cache"})
    assert fresh.status_code == 200
    full = [e for e in exactly(s.live, 3, function="GetPatientRecord")
            if "ClinicalCodes" in filters(e)]
    assert len(full) == 2


def test_when_the_budget_is_spent_stale_data_is_served_and_fresh_data_is_a_429(stack, practice):
    s = stack(simulator={"record_interval": 30.0}, record_interval=30.0, clinical_ttl=0.2,
              max_wait=1.0)
    first, second = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:2]
    ids = [patient_id(s.client(), p) for p in (first, second)]
    old = s.client().get(f"/fhir/Observation?patient={ids[0]}").json
    time.sleep(0.3)  # the clinical window ends; the record slot is 30 s away
    stale = s.client().get(f"/fhir/Observation?patient={ids[0]}")
    assert stale.status_code == 200 and stale.json["total"] == old["total"]
    refused = s.client().get(f"/fhir/Observation?patient={ids[0]}",
                             headers={"Cache-Control": "no-cache"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 25
    assert refused.json["issue"][0]["code"] == "throttled"
    assert s.client().get(f"/fhir/Observation?patient={ids[1]}").status_code == 429
    assert not s.live.store.messages(outcome="dropped")  # never a breach


def test_metrics_count_upstream_calls_and_readiness_follows_the_upstream(stack, practice):
    s = stack()
    patient_id(s.client(), patient_with_numerics(practice))
    assert s.client().get("/readyz").json["status"] == "ready"
    exposition = s.client().get("/metrics").get_data(as_text=True)
    assert 'facade_upstream_calls_total{endpoint="' in exposition
    assert "facade_breaches_detected_total" in exposition

    down = create_app({"upstream": "127.0.0.1:9", "state_dir": s.apps[0].config["FACADE"]
                       .state_dir.parent / "down", "read_timeout": 1.0})
    try:
        assert authorized_client(down).get("/fhir/Patient?identifier=9990000018").status_code == 503
        ready = down.test_client().get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"]
    finally:
        down.extensions["facade.records"].close()


def test_data_cached_from_one_practice_is_never_served_for_another(stack, practice):
    """The demo restarted with another practice in the same state dir: the old practice's
    patient is not served from the cache; the new upstream is asked (and knows nobody of
    that name), and its own patients are fetched from it."""
    old = stack()
    summary = patient_with_numerics(practice)
    pid = patient_id(old.client(), summary)
    assert old.client().get(f"/fhir/Observation?patient={pid}").json["total"] > 0
    assert old.client().get(f"/fhir/Patient/{pid}").status_code == 200

    other = generated_practice(12, seed=99, as_of=AS_OF)
    assert other.find(summary.identity) is None
    new = stack(simulator={"practice_override": other})  # same state dir, same store
    assert new.client().get(f"/fhir/Patient/{pid}").status_code == 404
    searched = new.client().get(f"/fhir/Observation?patient={pid}")
    assert searched.status_code == 200 and searched.json["total"] == 0
    assert new.live.store.messages(function="GetPatientRecord")  # asked the new upstream


def test_a_practice_restarted_on_the_same_port_never_sees_the_old_ones_data(stack, practice):
    """The demo's simulator listens on a fixed port: restarted there with another practice,
    in the same state dir, it is the same endpoint. The organisation SystmOne names is in
    every key, so the old practice's patient is not served, nor its search results."""
    old = stack()
    summary = patient_with_numerics(practice)
    pid = patient_id(old.client(), summary)
    search = f"/fhir/Patient?family={summary.surname}&birthdate={summary.date_of_birth}"
    assert old.client().get(f"/fhir/Patient/{pid}").status_code == 200
    assert old.client().get(search).json["total"] == 1
    assert old.client().get(f"/fhir/Observation?patient={pid}").json["total"] > 0
    host, port = old.live.address
    old.live.running.stop()

    other = generated_practice(12, seed=99, as_of=AS_OF)
    assert other.find(summary.identity) is None
    assert other.organisation.current_site.id != practice.organisation.current_site.id
    new = stack(simulator={"practice_override": other, "port": port})  # same state dir
    assert new.live.address == (host, port)
    client = new.client()
    assert client.get(f"/fhir/Patient/{pid}").status_code == 404
    assert client.get(search).json["total"] == 0
    searched = client.get(f"/fhir/Observation?patient={pid}")
    assert searched.status_code == 200 and searched.json["total"] == 0
    asked = {entry.function for entry in new.live.store.messages()}
    assert {"GetOrganisationMetaData", "GetPatientRecord", "PatientSearch"} <= asked
    # The new practice's own patients are served, naming its practice.
    mine = next(p for p in other.index.summaries if p.identity.kind == "NHSNumber")
    patient = client.get(f"/fhir/Patient/{patient_id(client, mine)}").json
    assert other.organisation.current_site.id in repr(patient["generalPractitioner"])


def test_a_running_facade_learns_of_another_practice_within_the_window(stack, start_simulator,
                                                                       practice):
    """Behind a facade that keeps running, the SystmOne client on its endpoint changes
    practice: the organisation is held in memory (a cached read does not ask), and once it
    is due to be asked again — a freshness window after it was — the old practice's data
    is no longer served, though it is still within its own window."""
    s = stack(demographics_ttl=60.0, clinical_ttl=60.0)
    records = s.apps[0].extensions["facade.records"]
    offset = [0.0]
    records.clock = lambda: time.time() + offset[0]
    assert records.organisation_window == 60.0
    summary = patient_with_numerics(practice)
    client = s.client()
    assert client.get("/fhir/Patient?family=Nobody&birthdate=1900-01-01").status_code == 200
    offset[0] = 30.0  # the patient is cached half a window after the organisation was asked
    pid = patient_id(client, summary)
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200
    port = s.live.address[1]
    s.live.running.stop()
    other = start_simulator(practice_override=generated_practice(12, seed=99, as_of=AS_OF),
                            port=port)

    offset[0] = 50.0  # not due: served from the cache, nothing asked
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200
    time.sleep(SETTLE)
    assert other.store.messages() == []
    offset[0] = 61.0  # due: asked, another organisation, the old patient is not served
    assert client.get(f"/fhir/Patient/{pid}").status_code == 404
    assert [e.function for e in other.messages(2)] == ["GetOrganisationMetaData",
                                                       "GetPatientRecord"]


def test_data_of_an_organisation_that_cannot_be_named_is_not_served(stack, practice,
                                                                     tmp_path):
    """Fail safe. A facade started while SystmOne is down cannot say whose data the cache
    holds: it serves none of it (503, as without a cache). One that has named the
    organisation keeps it while a re-check fails, for one window more at most."""
    s = stack(demographics_ttl=60.0, clinical_ttl=60.0)
    summary = patient_with_numerics(practice)
    pid = patient_id(s.client(), summary)
    assert s.client().get(f"/fhir/Patient/{pid}").status_code == 200
    s.live.running.stop()

    config = {"upstream": "{}:{}".format(*s.live.address), "state_dir": tmp_path / "facade",
              "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
              "read_timeout": 5.0, "demographics_ttl": 60.0, "clinical_ttl": 60.0}
    restarted = create_app(config)
    try:
        refused = authorized_client(restarted).get(f"/fhir/Patient/{pid}")
        assert refused.status_code == 503, refused.json
    finally:
        restarted.extensions["facade.records"].close()

    records = s.apps[0].extensions["facade.records"]
    learned = records.upstream()
    offset = [0.0]
    records.clock = lambda: time.time() + offset[0]
    offset[0] = 61.0  # due; SystmOne does not answer: the last-known organisation stands
    assert records.upstream() is learned
    offset[0] = 121.0  # a second window without an answer: it no longer does
    with pytest.raises(UpstreamError):
        records.upstream()


def test_a_cached_read_costs_no_store_round_trip_for_the_organisation(stack, practice):
    s = stack()
    records = s.apps[0].extensions["facade.records"]
    summary = patient_with_numerics(practice)
    pid = patient_id(s.client(), summary)
    assert s.client().get(f"/fhir/Patient/{pid}").status_code == 200
    store = records.cache.store
    reads = []
    original = store.get
    store.get = lambda key: reads.append(key) or original(key)
    try:
        records.upstream()
        assert reads == []  # from memory
        assert records.patient(summary.identity) is not None
        assert len(reads) <= 1  # at most the entry's stamp, as before
    finally:
        store.get = original


def test_a_systmone_refusing_to_name_its_organisation_is_still_served(stack, practice):
    """An error reply to GetOrganisationMetaData is SystmOne's answer, taken for the window:
    data is keyed by the endpoints alone and Patients name no practice."""
    s = stack()
    records = s.apps[0].extensions["facade.records"]
    call = records.pool.call

    def refusing(function, action, **kwargs):
        if function == "GetOrganisationMetaData":
            raise PermanentError("Function not available", function=function,
                                 request_uid="0" * 32)
        return call(function, action, **kwargs)

    records.pool.call = refusing
    summary = patient_with_numerics(practice)
    patient = s.client().get(f"/fhir/Patient/{patient_id(s.client(), summary)}")
    assert patient.status_code == 200 and "managingOrganization" not in patient.json
    assert records.upstream().ods == ""


def test_a_replaced_worker_takes_the_organisation_its_siblings_learnt(stack, practice,
                                                                       monkeypatch):
    """Under gunicorn the master says when the service started (SERVICE_STARTED_ENV):
    a worker forked later (a replacement after max_requests) takes the organisation a
    sibling stored since then instead of asking SystmOne again; one started before that
    answer was stored still asks (a restart may be onto another practice)."""
    monkeypatch.setenv(SERVICE_STARTED_ENV, repr(time.time() - 1))
    first = stack()
    summary = patient_with_numerics(practice)
    patient_id(first.client(), summary)
    exactly(first.live, 1, function="GetOrganisationMetaData")
    replacement = create_app({**first.apps[0].config["FACADE"].__dict__})
    try:
        assert authorized_client(replacement).get(
            f"/fhir/Patient?identifier={summary.identity.value}").status_code == 200
        exactly(first.live, 1, function="GetOrganisationMetaData")  # not asked again
    finally:
        replacement.extensions["facade.records"].close()
    monkeypatch.setenv(SERVICE_STARTED_ENV, repr(time.time()))  # a new start of the service
    restarted = create_app({**first.apps[0].config["FACADE"].__dict__})
    try:
        assert authorized_client(restarted).get(
            f"/fhir/Patient?identifier={summary.identity.value}").status_code == 200
        exactly(first.live, 2, function="GetOrganisationMetaData")
    finally:
        restarted.extensions["facade.records"].close()
