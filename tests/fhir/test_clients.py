"""Widely used FHIR client libraries read, search and page the API unmodified."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from facade.app import create_app

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


@pytest.fixture
def base_url(start_simulator, tmp_path):
    live = start_simulator()
    app = create_app({"upstream": "{}:{}".format(*live.address), "state_dir": tmp_path,
                      "request_interval": 0.0, "record_interval": 0.0})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/fhir"
    server.shutdown()
    thread.join(5)
    server.server_close()
    app.extensions["facade.records"].close()


@pytest.fixture
def nhs_number(practice) -> str:
    return next(p.identity.value for p in practice.index.summaries
                if p.identity.kind == "NHSNumber"
                and practice.record(p).find("Clinical/Event/ClinicalCode[Value]") is not None)


def test_fhirclient(base_url, nhs_number):
    from fhirclient import client
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    server = client.FHIRClient(settings={"app_id": "tests", "api_base": base_url}).server
    [patient] = Patient.where(struct={"identifier": f"{NHS_SYSTEM}|{nhs_number}"}
                              ).perform_resources_iter(server)
    assert Patient.read(patient.id, server).birthDate.isostring == patient.birthDate.isostring
    pages = Observation.where(struct={"patient": patient.id, "_count": "5"})
    observations = list(pages.perform_resources_iter(server))  # follows next links
    everything = list(Observation.where(struct={"patient": patient.id}
                                        ).perform_resources_iter(server))
    assert len(observations) == len(everything) > 5
    assert all(o.subject.reference == f"Patient/{patient.id}" for o in observations)


def test_fhirpy(base_url, nhs_number):
    from fhirpy import SyncFHIRClient

    fhir = SyncFHIRClient(base_url)
    [patient] = fhir.resources("Patient").search(identifier=nhs_number).fetch()
    observations = fhir.resources("Observation").search(patient=patient["id"]).limit(5).fetch_all()
    assert len(observations) > 5
    one = fhir.reference("Observation", observations[0]["id"]).to_resource()
    assert one["id"] == observations[0]["id"]
    assert fhir.resources("Patient").search(identifier="9990000019").fetch() == []
