"""Widely used FHIR client libraries read, search and page the API unmodified."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from joserfc import jwt
from werkzeug.serving import make_server

from facade.app import create_app
from facade.cli import path_only_request_handler

from ..tokens import register

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def signed_assertion(key, client_id: str, token_url: str) -> str:
    """What a SMART Backend Services client signs: iss = sub = client_id, aud = token URL."""
    now = int(time.time())
    return jwt.encode({"alg": "ES384", "kid": key.kid, "typ": "JWT"},
                      {"iss": client_id, "sub": client_id, "aud": token_url, "iat": now,
                       "exp": now + 240, "jti": uuid.uuid4().hex}, key, algorithms=["ES384"])


@pytest.fixture
def served(start_simulator, tmp_path):
    live = start_simulator()
    app = create_app({"upstream": "{}:{}".format(*live.address), "state_dir": tmp_path,
                      "request_interval": 0.0, "record_interval": 0.0})
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=path_only_request_handler())  # the demo's own
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}/fhir"
    server.shutdown()
    thread.join(5)
    server.server_close()
    app.extensions["facade.records"].close()


@pytest.fixture
def nhs_number(practice) -> str:
    return next(p.identity.value for p in practice.index.summaries
                if p.identity.kind == "NHSNumber"
                and practice.record(p).find("Clinical/Event/ClinicalCode[Value]") is not None)


def test_fhirclient_backend_services_flow_unmodified(served, nhs_number):
    """fhirclient finds the token URL in the CapabilityStatement, posts our signed assertion
    and reads with the token it got."""
    from fhirclient import client
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    app, base_url = served
    key = register(app, "partner", "system/Patient.rs system/Observation.rs")
    token_url = base_url.removesuffix("/fhir") + "/auth/token"
    smart = client.FHIRClient(settings={
        "app_id": "partner", "api_base": base_url,
        "scope": "system/Patient.read system/Observation.rs",
        "jwt_token": signed_assertion(key, "partner", token_url)})
    smart.wants_patient = False
    smart.prepare()
    smart.server.authorize()
    server = smart.server
    [patient] = Patient.where(struct={"identifier": f"{NHS_SYSTEM}|{nhs_number}"}
                              ).perform_resources_iter(server)
    assert Patient.read(patient.id, server).birthDate.isostring == patient.birthDate.isostring
    pages = Observation.where(struct={"patient": patient.id, "_count": "5"})
    # Each page also says what the record held but the facade does not serve (an
    # OperationOutcome entry, search.mode outcome), which clients see among the resources.
    observations = [r for r in pages.perform_resources_iter(server)  # follows next links
                    if isinstance(r, Observation)]
    everything = [r for r in Observation.where(struct={"patient": patient.id}
                                               ).perform_resources_iter(server)
                  if isinstance(r, Observation)]
    assert len(observations) == len(everything) > 5
    assert all(o.subject.reference == f"Patient/{patient.id}" for o in observations)


def test_fhirpy(served, nhs_number):
    from fhirpy import SyncFHIRClient

    app, base_url = served
    app.extensions["facade.auth"].remember_public_base(base_url)
    register(app, "reader", "system/*.rs")
    token = app.extensions["facade.auth"].mint_for("reader", base_url)["access_token"]
    fhir = SyncFHIRClient(base_url, authorization=f"Bearer {token}")
    [patient] = fhir.resources("Patient").search(identifier=nhs_number).fetch()
    observations = fhir.resources("Observation").search(patient=patient["id"]).limit(5).fetch_all()
    assert len(observations) > 5
    one = fhir.reference("Observation", observations[0]["id"]).to_resource()
    assert one["id"] == observations[0]["id"]
    assert fhir.resources("Patient").search(identifier="9990000018").fetch() == []  # nobody's
    from fhirpy.base.exceptions import OperationOutcome

    with pytest.raises(OperationOutcome):  # fails modulus 11: a 400, GP Connect's answer
        fhir.resources("Patient").search(identifier="9990000019").fetch()
