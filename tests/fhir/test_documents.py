"""Documents end to end: DocumentReference → its Binary url → GetDocument on the simulator
→ the file's bytes, through the app, the slot ledger and real TCP.

Expected bytes come from the simulator's practice (the upstream), never from the facade.
"""

from __future__ import annotations

import base64
import io
import shutil
import zipfile
from pathlib import Path

import pytest

from facade.app import create_app
from facade.audit.auditevent import query_from_params
from facade.protocol.identity import Identity
from simulator.practice import folder_practice
from tests.validators.external import fhir_validators  # noqa: F401 (a fixture)

from ..tokens import authorized_client

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-practice"
ABEL = Identity.nhs_number("9991012346")  # tests/fixtures/demo-practice/abel-agnes.xml
ABEL_LETTER, ABEL_ECHO = "e2d4a10000000000", "e2d4a10100000000"
ADLEY = Identity.nhs_number("9993035793")  # adley-clara.xml
DOCUMENT_UID = "urn:systmone:id:document"


def codec(client):
    return client.application.extensions["facade.records"].codec


def document_references(client, identity: Identity) -> dict[str, dict]:
    """The patient's DocumentReferences by DocumentUID."""
    patient = codec(client).patient_id(identity)
    bundle = client.get(f"/fhir/DocumentReference?patient={patient}&_count=500").json
    found = {}
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] == "DocumentReference":
            uid = next(i["value"] for i in resource["identifier"] if i["system"] == DOCUMENT_UID)
            found[uid] = resource
    return found


def gets_of(live, function: str = "GetDocument") -> int:
    return len(live.store.messages(function=function))


@pytest.fixture
def holder(practice):
    """A generated patient with a PDF attachment: (summary, DocumentUID)."""
    for patient in practice.index.summaries:
        for item in practice.record(patient).iterfind("Clinical/Event/Attachment"):
            if item.findtext("FileName").endswith(".pdf") and \
                    patient.identity.kind == "NHSNumber":
                return patient, item.findtext("DocumentUID")
    raise AssertionError("no generated patient with a PDF attachment")


@pytest.fixture
def documents_dir(tmp_path) -> Path:
    folder = tmp_path / "documents"
    folder.mkdir()
    return folder


@pytest.fixture
def facade(start_simulator, tmp_path):
    """``facade(practice=None, **settings)``: the app over a live simulator of its own,
    as (test client, simulator)."""
    apps = []

    def make(practice=None, **settings):
        live = start_simulator(practice)
        host, port = live.address
        apps.append(create_app({
            "upstream": f"{host}:{port}", "state_dir": tmp_path / f"facade{len(apps)}",
            "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
            "read_timeout": 5.0, **settings}))
        return authorized_client(apps[-1]), live
    yield make
    for app in apps:
        app.extensions["facade.records"].close()


@pytest.fixture
def demo_api(facade, tmp_path, documents_dir):
    """The app over a copy of the demo practice folder holding some documents."""
    folder = tmp_path / "practice"
    shutil.copytree(DEMO, folder)
    held = folder / "documents"
    held.mkdir()
    (held / f"{ABEL_ECHO}.pdf").write_bytes(b"%PDF-1.4 " + b"x" * (5 * 1024 * 1024 + 1))
    (held / ABEL_LETTER).mkdir()
    (held / ABEL_LETTER / "1.tif").write_bytes(b"II*\x00first page")
    (held / ABEL_LETTER / "2.tif").write_bytes(b"II*\x00second page")
    return facade(folder_practice(folder), document_dir=documents_dir)


def test_a_binary_read_fetches_the_document_through_getdocument(facade, practice, holder,
                                                                documents_dir):
    client, _ = facade(document_dir=documents_dir)
    patient, uid = holder
    reference = document_references(client, patient.identity)[uid]
    attachment = reference["content"][0]["attachment"]
    assert attachment["contentType"] == "application/pdf"
    assert attachment["url"].startswith("Binary/")

    answer = client.get(f"/fhir/{attachment['url']}")
    assert answer.status_code == 200, answer.data[:300]
    [expected] = practice.document(patient, uid)
    assert answer.data == expected.data
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"] == "attachment"
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert list(documents_dir.iterdir()) == []  # nothing kept once read


def test_a_binary_read_asking_for_fhir_gets_the_binary_resource(facade, practice, holder,
                                                                 documents_dir):
    client, _ = facade(document_dir=documents_dir)
    patient, uid = holder
    url = document_references(client, patient.identity)[uid]["content"][0]["attachment"]["url"]
    for asked in ({"headers": {"Accept": "application/fhir+json"}},
                  {"query_string": {"_format": "json"}}):
        answer = client.get(f"/fhir/{url}", **asked)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("application/fhir+json")
        binary = answer.json
        assert binary["resourceType"] == "Binary"
        assert binary["id"] == url.split("/")[1]
        assert binary["contentType"] == "application/pdf"
        assert base64.b64decode(binary["data"]) == practice.document(patient, uid)[0].data
        assert binary["securityContext"] == {
            "reference": f"Patient/{codec(client).patient_id(patient.identity)}"}


def test_the_binary_and_its_document_reference_pass_two_validators(
        facade, holder, documents_dir, fhir_validators):  # noqa: F811
    client, _ = facade(document_dir=documents_dir)
    patient, uid = holder
    reference = document_references(client, patient.identity)[uid]
    url = reference["content"][0]["attachment"]["url"]
    binary = client.get(f"/fhir/{url}", headers={"Accept": "application/fhir+json"}).json
    results = fhir_validators([reference, binary])
    assert all(result["valid"] for result in results), results


def test_each_read_is_a_getdocument_booked_like_any_call_and_audited(facade, holder,
                                                                     documents_dir):
    client, simulator = facade(document_dir=documents_dir)
    patient, uid = holder
    url = document_references(client, patient.identity)[uid]["content"][0]["attachment"]["url"]
    before = gets_of(simulator)
    assert client.get(f"/fhir/{url}").status_code == 200
    assert client.get(f"/fhir/{url}").status_code == 200  # never cached: asked again
    assert len(simulator.messages(before + 2, function="GetDocument")) == before + 2
    sink = client.application.extensions["facade.audit"]
    rows, _ = sink.search(query_from_params({"_count": ["20"]}))
    reads = [entry for _, entry in rows if entry.resource_type == "Binary"]
    assert len(reads) == 2
    for entry in reads:
        assert entry.interaction == "read" and entry.status == 200
        assert entry.patient_ids == (codec(client).patient_id(patient.identity),)
        assert len(entry.request_uids) == 1  # the GetDocument it sent


def test_a_patient_confined_client_cannot_read_another_patients_document(facade, practice,
                                                                         holder,
                                                                         documents_dir):
    client, simulator = facade(document_dir=documents_dir)
    patient, uid = holder
    url = document_references(client, patient.identity)[uid]["content"][0]["attachment"]["url"]
    other = next(p for p in practice.index.summaries if p.identity != patient.identity)
    confined = authorized_client(client.application, "patient/*.rs", client_id="confined",
                                 patient=codec(client).patient_id(other.identity))
    before = gets_of(simulator)
    refused = confined.get(f"/fhir/{url}")
    assert refused.status_code == 403
    assert refused.json["resourceType"] == "OperationOutcome"
    assert gets_of(simulator) == before  # SystmOne was never asked
    own = authorized_client(client.application, "patient/Binary.rs", client_id="own",
                            patient=codec(client).patient_id(patient.identity))
    assert own.get(f"/fhir/{url}").status_code == 200


def test_without_a_document_folder_a_binary_read_is_501_naming_the_setting(facade, holder):
    client, simulator = facade()
    patient, uid = holder
    url = document_references(client, patient.identity)[uid]["content"][0]["attachment"]["url"]
    answer = client.get(f"/fhir/{url}")
    assert answer.status_code == 501
    assert "FACADE_DOCUMENT_DIR" in answer.json["issue"][0]["diagnostics"]
    assert gets_of(simulator) == 0


def test_a_document_folder_that_cannot_be_written_is_503(facade, holder, tmp_path):
    client, simulator = facade(document_dir=tmp_path / "not-mounted")
    patient, uid = holder
    url = document_references(client, patient.identity)[uid]["content"][0]["attachment"]["url"]
    answer = client.get(f"/fhir/{url}")
    assert answer.status_code == 503
    assert "FACADE_DOCUMENT_DIR" in answer.json["issue"][0]["diagnostics"]
    assert answer.headers["Retry-After"]
    assert gets_of(simulator) == 0


def test_ids_that_are_not_documents_of_ours_are_404(facade, holder, documents_dir):
    client, _ = facade(document_dir=documents_dir)
    patient, _ = holder
    assert client.get("/fhir/Binary/not-an-id").status_code == 404
    unknown = codec(client).document_id(patient.identity, "ffff000000000000")
    answer = client.get(f"/fhir/Binary/{unknown}")  # SystmOne: no such document
    assert answer.status_code == 404
    assert answer.json["resourceType"] == "OperationOutcome"


def test_a_document_exported_as_several_images_is_one_zip_of_them(demo_api, documents_dir):
    client, _ = demo_api
    url = document_references(client, ABEL)[ABEL_LETTER]["content"][0]["attachment"]["url"]
    answer = client.get(f"/fhir/{url}")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.data))
    assert [archive.read(name) for name in archive.namelist()] == [
        b"II*\x00first page", b"II*\x00second page"]
    assert list(documents_dir.iterdir()) == []


def test_a_document_over_5_mb_is_refused_and_not_kept(demo_api, documents_dir):
    client, _ = demo_api
    reference = document_references(client, ABEL)[ABEL_ECHO]
    url = reference["content"][0]["attachment"]["url"]  # the record says 184320 bytes
    answer = client.get(f"/fhir/{url}")
    assert answer.status_code == 422
    assert answer.json["issue"][0]["code"] == "too-costly"
    assert "5 MB" in answer.json["issue"][0]["diagnostics"]
    assert list(documents_dir.iterdir()) == []


def test_a_document_the_folder_does_not_hold_is_404(demo_api):
    client, _ = demo_api
    url = document_references(client, ADLEY)["a3e5b20100000000"]["content"][0]["attachment"][
        "url"]
    assert client.get(f"/fhir/{url}").status_code == 404


def test_binary_is_read_only_and_in_the_capability_statement(api):
    client = api()
    statement = client.get("/fhir/metadata").json
    binary = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Binary")
    assert binary["interaction"] == [{"code": "read"}]
    assert client.get("/fhir/Binary?patient=x").status_code == 405


def test_document_references_are_searched_by_type_and_identifier(api, practice):
    client = api()
    patient = next(p for p in practice.index.summaries if any(
        item.findtext("Type") == "Referral letter"
        for item in practice.record(p).iterfind("Clinical/Event/Letter")))
    patient_id = codec(client).patient_id(patient.identity)
    letters = client.get(f"/fhir/DocumentReference?patient={patient_id}"
                         "&type=http://snomed.info/sct|25611000000107").json
    assert letters["total"] >= 1
    for entry in letters["entry"]:
        assert entry["resource"]["type"]["text"] == "Referral letter"
    uid = next(item.findtext("DocumentUID")
               for item in practice.record(patient).iterfind("Clinical/Event/Letter"))
    found = client.get(f"/fhir/DocumentReference?patient={patient_id}"
                       f"&identifier={DOCUMENT_UID}|{uid}").json
    assert found["total"] == 1
