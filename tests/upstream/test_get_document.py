"""GetDocument on the wire: the request and reply bytes typed out by hand from TPP's
specification (v33.4, "GetDocument"), never produced by the code under test.

The specification's request sends the identity as ``NhsNumber`` (TPP's templates'
spelling); the facade writes the specification's ``NHSNumber`` (see identity.py), which
is the one difference, and an empty ``LeaveRecordOpen`` is left out (the record is not
left open in the SystmOne client for a document read).
"""

from __future__ import annotations

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol import schemas
from facade.protocol.envelope import Request
from facade.protocol.identity import Identity
from facade.protocol.xmlsafe import parse_document
from facade.upstream.client import SystmOneClient
from facade.upstream.errors import PermanentError, UpstreamProtocolError
from facade.upstream.transport import InMemoryTransport

#: The specification's request, on one line, as the facade writes it (see module docstring).
REQUEST_WRITTEN = (
    b"<ClientIntegrationRequest>"
    b"<APIKey>f31e26725b5491f2</APIKey>"
    b"<DeviceID>392752167bd7f69b</DeviceID>"
    b"<DeviceVersion>v1.0</DeviceVersion>"
    b"<RequestUID>6D76C710-B4C3-11E3-8523-010000000060</RequestUID>"
    b"<Function>GetDocument</Function>"
    b"<FunctionVersion>1.0</FunctionVersion>"
    b"<FunctionParameters>"
    b"<Identity><NHSNumber>6640569094</NHSNumber></Identity>"
    b"<DocumentUID>4093400000000000</DocumentUID>"
    b"<WriteTo>d:\\</WriteTo>"
    b"</FunctionParameters>"
    b"</ClientIntegrationRequest>"
)

#: The specification's reply, pretty-printed with CRLF as TPP's files are.
REPLY = (
    b"<ClientIntegrationResponse>\r\n"
    b"    <DeviceID>392752167bd7f69b</DeviceID>\r\n"
    b"    <RequestUID>6D76C710-B4C3-11E3-8523-010000000060</RequestUID>\r\n"
    b"    <Function>GetDocument</Function>\r\n"
    b"    <FunctionVersion>1.0</FunctionVersion>\r\n"
    b"    <ResponseUID>74C58150-B4C3-11E3-AA12-010000000028</ResponseUID>\r\n"
    b"    <Response>\r\n"
    b"        <DocumentFile>d:\\276740.doc</DocumentFile>\r\n"
    b"        <RecordState>Open</RecordState>\r\n"
    b"    </Response>\r\n"
    b"</ClientIntegrationResponse>"
)

#: A document exported as several image files: DocumentFile repeats, one per file.
REPLY_OF_IMAGES = REPLY.replace(
    b"        <DocumentFile>d:\\276740.doc</DocumentFile>\r\n",
    b"        <DocumentFile>d:\\276740-1.tif</DocumentFile>\r\n"
    b"        <DocumentFile>d:\\276740-2.tif</DocumentFile>\r\n")


def test_the_request_written_is_the_specifications():
    request = Request(api_key="f31e26725b5491f2", device_id="392752167bd7f69b",
                      device_version="v1.0", request_uid="6D76C710-B4C3-11E3-8523-010000000060",
                      function="GetDocument",
                      parameters=fn.DocumentRequest(Identity.nhs_number("6640569094"),
                                                    "4093400000000000", "d:\\").to_parameters())
    assert request.to_bytes() == REQUEST_WRITTEN
    schemas.validate(parse_document(REQUEST_WRITTEN), "GetDocument.request")


def test_the_specifications_request_is_read_with_its_nhsnumber_spelling():
    spec_request = REQUEST_WRITTEN.replace(b"NHSNumber", b"NhsNumber").replace(
        b"</WriteTo>", b"</WriteTo><LeaveRecordOpen></LeaveRecordOpen>")
    parameters = parse_document(spec_request).find("FunctionParameters")
    read = fn.DocumentRequest.from_parameters(parameters)
    assert read == fn.DocumentRequest(Identity("NHSNumber", "6640569094"), "4093400000000000",
                                      "d:\\", leave_record_open=True)


@pytest.mark.parametrize(("missing", "message"), [
    (b"<DocumentUID>4093400000000000</DocumentUID>", "DocumentUID"),
    (b"<WriteTo>d:\\</WriteTo>", "WriteTo"),
    (b"<Identity><NHSNumber>6640569094</NHSNumber></Identity>", "Identity"),
])
def test_a_request_without_a_required_parameter_is_refused_naming_it(missing, message):
    parameters = parse_document(REQUEST_WRITTEN.replace(missing, b"")).find("FunctionParameters")
    with pytest.raises(ValueError, match=message):
        fn.DocumentRequest.from_parameters(parameters)


def test_the_specifications_reply_conforms_and_names_its_file():
    schemas.validate(parse_document(REPLY), "GetDocument.response")
    assert fn.document_files(parse_document(REPLY).find("Response")) == ["d:\\276740.doc"]


def test_a_reply_of_several_image_files_names_each_in_order():
    body = parse_document(REPLY_OF_IMAGES).find("Response")
    assert fn.document_files(body) == ["d:\\276740-1.tif", "d:\\276740-2.tif"]


def _client(reply: bytes) -> tuple[SystmOneClient, InMemoryTransport]:
    def answer(raw: bytes) -> bytes:
        uid = parse_document(raw).findtext("RequestUID").encode()
        return reply.replace(b"6D76C710-B4C3-11E3-8523-010000000060", uid)
    transport = InMemoryTransport(answer)
    return SystmOneClient(transport, api_key="f31e26725b5491f2"), transport


def test_the_client_sends_getdocument_and_returns_the_files():
    client, transport = _client(REPLY_OF_IMAGES)
    files = client.get_document(Identity.nhs_number("6640569094"), "4093400000000000", "d:\\")
    assert files == ["d:\\276740-1.tif", "d:\\276740-2.tif"]
    sent = parse_document(transport.requests[-1])
    schemas.validate(sent, "GetDocument.request")
    assert etree.tostring(sent.find("FunctionParameters")) == (
        b"<FunctionParameters><Identity><NHSNumber>6640569094</NHSNumber></Identity>"
        b"<DocumentUID>4093400000000000</DocumentUID><WriteTo>d:\\</WriteTo>"
        b"</FunctionParameters>")


def test_a_reply_naming_no_file_is_a_protocol_error():
    client, _ = _client(REPLY.replace(b"        <DocumentFile>d:\\276740.doc</DocumentFile>\r\n",
                                      b""))
    with pytest.raises(UpstreamProtocolError, match="DocumentFile"):
        client.get_document(Identity.nhs_number("6640569094"), "4093400000000000", "d:\\")


def test_an_error_reply_is_raised_as_systmones_error():
    error = (b"<ClientIntegrationResponse><DeviceID>392752167bd7f69b</DeviceID>"
             b"<RequestUID>6D76C710-B4C3-11E3-8523-010000000060</RequestUID>"
             b"<Function>GetDocument</Function><FunctionVersion>1.0</FunctionVersion>"
             b"<ResponseUID>74C58150-B4C3-11E3-AA12-010000000028</ResponseUID>"
             b"<Response><ErrorMessage>The folder d:\\ cannot be written to</ErrorMessage>"
             b"<PermanentError>true</PermanentError></Response></ClientIntegrationResponse>")
    client, _ = _client(error)
    with pytest.raises(PermanentError, match="cannot be written"):
        client.get_document(Identity.nhs_number("6640569094"), "4093400000000000", "d:\\")
