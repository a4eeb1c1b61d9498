"""HEAD is GET without the body (RFC 9110 9.3.2), with the same token and scope checks."""

from __future__ import annotations

from ..tokens import authorized_client
from .conftest import patient_with_numerics


def test_head_answers_as_get_without_a_body(api, practice):
    client = api()
    number = patient_with_numerics(practice).identity.value
    search = f"/fhir/Patient?identifier={number}"
    found = client.get(search)
    read = f"/fhir/Patient/{found.json['entry'][0]['resource']['id']}"
    for url in (search, read, "/fhir/metadata"):
        got, head = client.get(url), client.head(url)
        assert head.status_code == got.status_code == 200, url
        assert head.get_data() == b""
        assert head.headers["Content-Type"] == got.headers["Content-Type"]
        assert head.headers.get("ETag") == got.headers.get("ETag")
    validators = client.get(read).headers
    current = client.head(read, headers={"If-None-Match": validators["ETag"]})
    assert current.status_code == 304 and current.headers["ETag"] == validators["ETag"]
    dated = client.head(read, headers={"If-Modified-Since": validators["Last-Modified"]})
    assert dated.status_code == 304


def test_head_is_refused_as_get_is(api, practice):
    client = api()
    app = client.application
    assert app.test_client().head("/fhir/Patient?identifier=9990000018").status_code == 401
    narrow = authorized_client(app, "system/Observation.rs", client_id="narrow")
    assert narrow.head("/fhir/Patient?identifier=9990000018").status_code == 403
    assert client.head("/fhir/Nothing").status_code == 404
