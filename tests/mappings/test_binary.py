"""Binary: FHIR R4's rule for reading one (http.html#binary): the server answers the
content itself, as its own media type, unless the client asks for a FHIR format. Read
through the app over a simulated practice; expected bytes come from the practice."""

from __future__ import annotations

import pytest

from facade.app import create_app
from tests.tokens import authorized_client

DOCUMENT_UID = "urn:systmone:id:document"


@pytest.fixture
def app_and_document(start_simulator, practice, tmp_path):
    """A client of the app, a Binary's url and the bytes the practice holds for it."""
    live = start_simulator()
    host, port = live.address
    documents = tmp_path / "documents"
    documents.mkdir()
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                      "read_timeout": 5.0, "document_dir": documents})
    client = authorized_client(app)
    patient, uid = next(
        (patient, item.findtext("DocumentUID")) for patient in practice.index.summaries
        if patient.identity.kind == "NHSNumber"
        for item in practice.record(patient).iterfind("Clinical/Event/Attachment")
        if item.findtext("FileName").endswith(".pdf"))
    codec = app.extensions["facade.records"].codec
    bundle = client.get("/fhir/DocumentReference",
                        query_string={"patient": codec.patient_id(patient.identity),
                                      "identifier": f"{DOCUMENT_UID}|{uid}"}).json
    [reference] = [e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "DocumentReference"]
    [expected] = practice.document(patient, uid)
    yield client, reference["content"][0]["attachment"]["url"], expected.data
    app.extensions["facade.records"].close()


def test_a_binary_read_answers_the_file_itself(app_and_document):
    client, url, data = app_and_document
    answer = client.get(f"/fhir/{url}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.data == data


def test_a_binary_read_asking_for_fhir_answers_the_resource(app_and_document):
    client, url, _ = app_and_document
    answer = client.get(f"/fhir/{url}", headers={"Accept": "application/fhir+json"})
    assert answer.status_code == 200
    assert answer.json["resourceType"] == "Binary"
    assert answer.json["contentType"] == "application/pdf"
