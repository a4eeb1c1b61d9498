import pytest
from lxml import etree

from facade.protocol.envelope import (
    OutputScheme,
    Request,
    Response,
    error_body,
    new_request_uid,
    new_response_uid,
)


def test_request_writes_the_specification_order_and_reads_back():
    request = Request("k", "d", "v", "u", "GetFunctions", output_scheme=OutputScheme())
    root = request.to_element()
    assert [child.tag for child in root] == [
        "APIKey", "DeviceID", "DeviceVersion", "RequestUID", "Function", "FunctionVersion",
        "OutputScheme", "FunctionParameters"]
    assert Request.from_element(etree.fromstring(request.to_bytes())) == request


def test_request_reader_is_lenient_about_order_and_missing_parts():
    root = etree.fromstring(b"<ClientIntegrationRequest><Function>F</Function><APIKey> k "
                            b"</APIKey></ClientIntegrationRequest>")
    request = Request.from_element(root)
    assert (request.api_key, request.function, request.device_id) == ("k", "F", "")
    assert request.parameters is None
    assert request.output_scheme == OutputScheme(None, None)


def test_bad_output_scheme_is_reported_with_the_rest_of_the_envelope():
    root = etree.fromstring(b"<ClientIntegrationRequest><RequestUID>7</RequestUID>"
                            b"<OutputScheme><Codes>Read2</Codes></OutputScheme>"
                            b"</ClientIntegrationRequest>")
    request, problem = Request.read(root)
    assert request.request_uid == "7" and "Read2" in problem
    with pytest.raises(ValueError, match="Read2"):
        Request.from_element(root)


def test_response_round_trip_and_error_reading():
    response = Response("d", "u", "F", "1.0", new_response_uid(), error_body("nope", False))
    read = Response.from_element(etree.fromstring(response.to_bytes()))
    assert read == response
    assert read.error.message == "nope" and read.error.permanent is False


def test_response_without_a_response_element_is_refused():
    with pytest.raises(ValueError, match="no Response"):
        Response.from_element(etree.fromstring(b"<ClientIntegrationResponse/>"))
    with pytest.raises(ValueError, match="expected ClientIntegrationResponse"):
        Response.from_element(etree.fromstring(b"<Other/>"))


def test_uids_look_like_tpps():
    assert new_request_uid() != new_request_uid()
    assert len(new_response_uid()) == 36 and new_response_uid().isupper()
