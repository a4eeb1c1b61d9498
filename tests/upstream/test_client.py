"""The client against an in-memory transport: envelope, RequestUID, DeviceID, errors."""

import datetime as dt

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol.envelope import OutputScheme, Request, Response, error_body
from facade.protocol.identity import Identity
from facade.protocol.xmlsafe import parse_document
from facade.upstream.client import SystmOneClient
from facade.upstream.device import DeviceIdStore, MemoryDeviceIdStore
from facade.upstream.errors import (
    PermanentError,
    TemporaryError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from facade.upstream.transport import InMemoryTransport


def reply_to(request_bytes: bytes, body: etree._Element, device_id: str = "0123456789abcdef",
             request_uid: str | None = None) -> bytes:
    request = Request.from_element(parse_document(request_bytes))
    response = Response(device_id, request.request_uid if request_uid is None else request_uid,
                        request.function, "1.0", "6F175F30-B338-11E3-9804-010000005129", body)
    return response.to_bytes()


def functions_body() -> etree._Element:
    body = etree.Element("Response")
    supported = etree.SubElement(body, "SupportedFunction")
    etree.SubElement(supported, "Function").text = "GetFunctions"
    etree.SubElement(supported, "Version").text = "1.0"
    return body


def make_client(handler, device_ids=None, **kwargs) -> tuple[SystmOneClient, InMemoryTransport]:
    transport = InMemoryTransport(handler)
    client = SystmOneClient(transport, api_key="k", endpoint="e",
                            device_ids=device_ids or MemoryDeviceIdStore(), **kwargs)
    return client, transport


def sent(transport: InMemoryTransport, index: int = -1) -> Request:
    return Request.from_element(parse_document(transport.requests[index]))


def test_first_request_has_empty_device_id_and_the_issued_one_is_reused(tmp_path):
    store = DeviceIdStore(tmp_path / "device-ids.json")
    client, transport = make_client(lambda raw: reply_to(raw, functions_body()), store)
    assert client.get_functions() == {"GetFunctions": ("1.0",)}
    client.get_functions()
    assert sent(transport, 0).device_id == ""
    assert sent(transport, 1).device_id == "0123456789abcdef"
    assert DeviceIdStore(tmp_path / "device-ids.json").get("e") == "0123456789abcdef"


def test_every_request_has_a_fresh_request_uid():
    client, transport = make_client(lambda raw: reply_to(raw, functions_body()))
    client.get_functions()
    client.get_functions()
    assert sent(transport, 0).request_uid != sent(transport, 1).request_uid


def test_mismatched_request_uid_is_a_protocol_error():
    client, _ = make_client(lambda raw: reply_to(raw, functions_body(), request_uid="other"))
    with pytest.raises(UpstreamProtocolError, match="RequestUID"):
        client.get_functions()


def test_output_scheme_defaults_to_snomed_and_dmd_and_is_configurable():
    client, transport = make_client(lambda raw: reply_to(raw, functions_body()))
    client.get_functions()
    assert sent(transport).output_scheme == OutputScheme("Snomed", "Dmd")
    client.output_scheme = OutputScheme("CTV3", "Multilex")
    client.get_functions()
    assert sent(transport).output_scheme == OutputScheme("CTV3", "Multilex")


@pytest.mark.parametrize(("permanent", "error"), [(True, PermanentError), (False, TemporaryError)])
def test_error_replies_raise_by_kind(permanent, error):
    client, _ = make_client(lambda raw: reply_to(raw, error_body("no", permanent)))
    with pytest.raises(error, match="no") as raised:
        client.get_functions()
    assert raised.value.request_uid and raised.value.response_uid


def test_no_reply_is_a_timeout():
    client, _ = make_client(lambda raw: None)
    with pytest.raises(UpstreamTimeout):
        client.get_functions()


def test_garbage_reply_is_a_protocol_error():
    client, _ = make_client(lambda raw: b"<not-closed>")
    with pytest.raises(UpstreamProtocolError):
        client.get_functions()


def test_values_travel_intact_through_lxml():
    surname = "O'Brien <&>]]>"
    client, transport = make_client(lambda raw: reply_to(raw, etree.Element("Response")))
    assert client.patient_search(fn.PatientSearchCriteria(surname=surname, gender="M")) == []
    assert b"]]>" not in transport.requests[0].split(b"<Surname>")[1]
    parameters = sent(transport).parameters
    assert fn.PatientSearchCriteria.from_parameters(parameters).surname == surname


def test_search_with_fewer_than_two_criteria_is_refused_before_sending():
    client, transport = make_client(lambda raw: reply_to(raw, etree.Element("Response")))
    with pytest.raises(ValueError, match="At least two"):
        client.patient_search(fn.PatientSearchCriteria(surname="Smith"))
    assert transport.requests == []


def test_record_request_parameters():
    client, transport = make_client(lambda raw: reply_to(raw, etree.Element("Response")))
    record_filter = fn.RecordFilter.entered_on(dt.date(2026, 1, 2),
                                               flags=frozenset({"ClinicalCodes"}))
    client.get_patient_record(Identity.nhs_number("9990000018"), record_filter, True)
    request = fn.RecordRequest.from_parameters(sent(transport).parameters)
    assert request == fn.RecordRequest(Identity.nhs_number("9990000018"), record_filter, True)


def test_observers_see_each_exchange():
    seen = []
    client, _ = make_client(lambda raw: reply_to(raw, functions_body()))
    client.observers.append(seen.append)
    client.get_functions()
    assert [(e.function, e.outcome) for e in seen] == [("GetFunctions", "ok")]
    assert seen[0].request_uid and seen[0].response_uid
