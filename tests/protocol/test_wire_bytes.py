"""The codec against bytes written by hand, exactly as TPP's specification puts them on the wire.

The framer and envelope code is shared by the facade's client and its simulator, so
a round trip through both can hide a bug they share (a framer that keeps the ``\\r``
of a CRLF terminator passed every other test). Here every expected value is typed
out by hand from the specification (v33.4: "XML Overview", "Function Requests",
"Function Responses", "Error Responses", "GetFunctions") and its request templates,
never produced by the facade's own encoder.

What the specification says about the transport: a TCP connection to the SystmOne
client; each request and response is an XML document "terminated by a newline
character"; the connection stays open for the next request. TPP's own templates
are multi-line files with CRLF line ends and an XML declaration.

Only RequestUID and ResponseUID legitimately vary: the RequestUID is injected, a
ResponseUID is checked to be a GUID and then replaced by a fixed one.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol.envelope import OutputScheme, Request, Response, error_body
from facade.protocol.framing import FrameDecoder, FrameTooLarge, encode_frame
from facade.protocol.xmlsafe import MalformedDocument, parse_document, to_line
from facade.upstream import client as client_module
from facade.upstream.client import SystmOneClient
from facade.upstream.device import MemoryDeviceIdStore
from facade.upstream.transport import SocketTransport, Timeouts
from tests.conftest import TPP_REFERENCE as TPP

SPEC = TPP / "spec-v33.4.txt"
NO_SPEC = f"TPP specification text not available at {SPEC}"
EXAMPLES = TPP / "request-examples"
NO_EXAMPLES = f"TPP request examples not available at {EXAMPLES}"

# ----------------------------------------------------------------- hand-written wire bytes

#: The specification's GetFunctions request ("Function Descriptions" > GetFunctions), on one line.
GET_FUNCTIONS_REQUEST = (
    b"<ClientIntegrationRequest>"
    b"<APIKey>f31e26725b5491f2</APIKey>"
    b"<DeviceID>392752167bd7f69b</DeviceID>"
    b"<DeviceVersion>v1.0</DeviceVersion>"
    b"<RequestUID>F90B7D20-B342-11E3-A459-010000004280</RequestUID>"
    b"<Function>GetFunctions</Function>"
    b"<FunctionVersion>1.0</FunctionVersion>"
    b"<FunctionParameters></FunctionParameters>"
    b"</ClientIntegrationRequest>"
)

#: The same request as the facade writes it: lxml closes an empty element as ``<X/>``.
GET_FUNCTIONS_REQUEST_WRITTEN = GET_FUNCTIONS_REQUEST.replace(
    b"<FunctionParameters></FunctionParameters>", b"<FunctionParameters/>")

#: The specification's answer to it, pretty-printed with CRLF the way TPP's files are.
GET_FUNCTIONS_RESPONSE = (
    b"<ClientIntegrationResponse>\r\n"
    b"    <DeviceID>392752167bd7f69b</DeviceID>\r\n"
    b"    <RequestUID>F90B7D20-B342-11E3-A459-010000004280</RequestUID>\r\n"
    b"    <Function>GetFunctions</Function>\r\n"
    b"    <FunctionVersion>1.0</FunctionVersion>\r\n"
    b"    <ResponseUID>F9A63680-B342-11E3-8FBA-01000000C200</ResponseUID>\r\n"
    b"    <Response>\r\n"
    b"        <SupportedFunction>\r\n"
    b"            <Function>GetFunctions</Function>\r\n"
    b"            <Version>1.0</Version>\r\n"
    b"        </SupportedFunction>\r\n"
    b"        <SupportedFunction>\r\n"
    b"            <Function>GetCurrentActivity</Function>\r\n"
    b"            <Version>1.0</Version>\r\n"
    b"        </SupportedFunction>\r\n"
    b"    </Response>\r\n"
    b"</ClientIntegrationResponse>"
)

#: The specification's "Error Responses" example, on one line.
ERROR_RESPONSE = (
    b"<ClientIntegrationResponse>"
    b"<DeviceID>392752167bd7f69b</DeviceID>"
    b"<RequestUID>9033DD40-B33A-11E3-A459-010000004280</RequestUID>"
    b"<Function>PatientSearch</Function>"
    b"<FunctionVersion>1.0</FunctionVersion>"
    b"<ResponseUID>90BDF4D0-B33A-11E3-9804-010000005129</ResponseUID>"
    b"<Response>"
    b"<ErrorMessage>At least two search parameters must be specified</ErrorMessage>"
    b"<PermanentError>true</PermanentError>"
    b"</Response>"
    b"</ClientIntegrationResponse>"
)

#: A filled-in TPP template: declaration, tabs, CRLF line ends, an OutputScheme (the
#: specification's own example misspells Multilex as "Mulitlex"; here it is spelt right).
TEMPLATE_REQUEST = (
    b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
    b"<ClientIntegrationRequest>\r\n"
    b"\t<APIKey>f31e26725b5491f2</APIKey>\r\n"
    b"\t<DeviceID>392752167bd7f69b</DeviceID>\r\n"
    b"\t<DeviceVersion>v1.0</DeviceVersion>\r\n"
    b"\t<RequestUID>99DDDEE0-B335-11E3-A459-010000004280</RequestUID>\r\n"
    b"\t<Function>GetFunctions</Function>\r\n"
    b"\t<FunctionVersion>1.0</FunctionVersion>\r\n"
    b"\t<OutputScheme>\r\n"
    b"\t\t<Drugs>Multilex</Drugs>\r\n"
    b"\t\t<Codes>CTV3</Codes>\r\n"
    b"\t</OutputScheme>\r\n"
    b"\t<FunctionParameters>\r\n"
    b"\t</FunctionParameters>\r\n"
    b"</ClientIntegrationRequest>"
)

#: TPP's request example Errors/b_Error_invalid_root.xml, typed out.
INVALID_ROOT_REQUEST = (
    b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
    b"<WrongClientIntegrationRequest>\r\n"
    b"\t<RequestUID>123</RequestUID>\r\n"
    b"\t<ApplicationKey>abcdef</ApplicationKey>\r\n"
    b"\t<Function>SomeFunction</Function>\r\n"
    b"\t<FunctionVersion>1.0</FunctionVersion>\r\n"
    b"</WrongClientIntegrationRequest>"
)

#: A document that can never become well-formed, on one CRLF-terminated line.
UNFINISHABLE = b"<ClientIntegrationRequest><RequestUID>7</RequestUID></Wrong>"

BOM = b"\xef\xbb\xbf"
GUID = re.compile(rb"\A[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\Z")
FIXED_RESPONSE_UID = b"00000000-0000-0000-0000-000000000000"


def fixed_response_uid(line: bytes) -> bytes:
    """``line`` with its ResponseUID, checked to be an upper-case GUID, replaced by zeros."""
    found = re.findall(rb"<ResponseUID>(.*?)</ResponseUID>", line)
    assert len(found) == 1 and GUID.match(found[0]), line
    return line.replace(found[0], FIXED_RESPONSE_UID)


# --------------------------------------------------------------------------- the framer

#: The facade reads replies with the plain decoder, the simulator requests with
#: ``detect_malformed``; both must cut the same documents out of the same bytes.
SIDES = {"facade": False, "simulator": True}


@pytest.fixture(params=list(SIDES), ids=list(SIDES))
def new_decoder(request):
    return lambda **settings: FrameDecoder(detect_malformed=SIDES[request.param], **settings)


def test_a_request_terminated_by_lf(new_decoder):
    decoder = new_decoder()
    assert decoder.feed(GET_FUNCTIONS_REQUEST + b"\n") == [GET_FUNCTIONS_REQUEST]
    assert decoder.pending == 0


def test_a_request_terminated_by_crlf_loses_the_cr(new_decoder):
    decoder = new_decoder()
    [document] = decoder.feed(GET_FUNCTIONS_REQUEST + b"\r\n")
    assert document == GET_FUNCTIONS_REQUEST
    assert not document.endswith(b"\r")
    assert decoder.pending == 0


def test_a_tpp_template_with_crlf_lines_is_one_document(new_decoder):
    # CRLFs inside the document are the document's own; only the terminator goes.
    assert new_decoder().feed(TEMPLATE_REQUEST + b"\r\n") == [TEMPLATE_REQUEST]


def test_cr_and_lf_of_the_terminator_in_separate_reads(new_decoder):
    decoder = new_decoder()
    assert decoder.feed(GET_FUNCTIONS_REQUEST + b"\r") == [GET_FUNCTIONS_REQUEST]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(ERROR_RESPONSE + b"\r\n") == [ERROR_RESPONSE]
    assert decoder.pending == 0


def test_several_documents_in_one_read(new_decoder):
    wire = (GET_FUNCTIONS_REQUEST + b"\r\n" + TEMPLATE_REQUEST + b"\n"
            + GET_FUNCTIONS_RESPONSE + b"\r\n" + ERROR_RESPONSE + b"\n")
    assert new_decoder().feed(wire) == [
        GET_FUNCTIONS_REQUEST, TEMPLATE_REQUEST, GET_FUNCTIONS_RESPONSE, ERROR_RESPONSE]


def test_a_request_split_in_two_at_every_byte(new_decoder):
    wire = GET_FUNCTIONS_REQUEST + b"\r\n"
    for cut in range(len(wire) + 1):
        decoder = new_decoder()
        documents = decoder.feed(wire[:cut]) + decoder.feed(wire[cut:])
        assert documents == [GET_FUNCTIONS_REQUEST], f"cut after byte {cut}: {wire[:cut]!r}"
        assert decoder.pending == 0, f"cut after byte {cut}"


SHORT_STREAMS = {
    "plain": (b"<R><A>x</A></R>\r\n<R/>\n", [b"<R><A>x</A></R>", b"<R/>"]),
    # The root's name nested, back to back, with ">" in an attribute and a space
    # and a CRLF inside end tags: all legal XML, all places to lose count.
    "nested": (b'<R><R/><R a=">">x</R ></R\r\n>\r\n<R/>\n',
               [b'<R><R/><R a=">">x</R ></R\r\n>', b"<R/>"]),
}


@pytest.mark.parametrize("stream", list(SHORT_STREAMS))
def test_a_short_stream_split_in_three_at_every_pair_of_bytes(new_decoder, stream):
    wire, expected = SHORT_STREAMS[stream]
    for first in range(len(wire) + 1):
        for second in range(first, len(wire) + 1):
            decoder = new_decoder()
            documents = (decoder.feed(wire[:first]) + decoder.feed(wire[first:second])
                         + decoder.feed(wire[second:]))
            assert documents == expected, (first, second)
            assert decoder.pending == 0, (first, second)


def test_a_pretty_printed_response_fed_one_byte_at_a_time(new_decoder):
    wire = GET_FUNCTIONS_RESPONSE + b"\r\n" + TEMPLATE_REQUEST + b"\r\n"
    decoder, documents = new_decoder(), []
    for index in range(len(wire)):
        documents += decoder.feed(wire[index : index + 1])
    assert documents == [GET_FUNCTIONS_RESPONSE, TEMPLATE_REQUEST]
    assert decoder.pending == 0


def test_a_byte_order_mark_and_leading_whitespace_are_skipped(new_decoder):
    # framing.py skips whitespace and a UTF-8 byte order mark before a document.
    wire = (BOM + b" \t\r\n" + GET_FUNCTIONS_REQUEST + b"\r\n"
            + b"\r\n\r\n  " + BOM + TEMPLATE_REQUEST + b"\n")
    assert new_decoder().feed(wire) == [GET_FUNCTIONS_REQUEST, TEMPLATE_REQUEST]
    decoder = new_decoder()  # the mark split across reads
    assert decoder.feed(BOM[:1]) == []
    assert decoder.feed(BOM[1:] + GET_FUNCTIONS_REQUEST + b"\r\n") == [GET_FUNCTIONS_REQUEST]


def test_a_document_without_its_newline_ends_at_its_root(new_decoder):
    assert new_decoder().feed(ERROR_RESPONSE) == [ERROR_RESPONSE]


def test_an_unterminated_document_is_what_flush_returns(new_decoder):
    decoder = new_decoder()
    assert decoder.feed(b"\r\n" + GET_FUNCTIONS_REQUEST[:40]) == []
    assert decoder.pending == 40
    assert decoder.flush() == GET_FUNCTIONS_REQUEST[:40]
    assert decoder.pending == 0


def test_an_over_long_frame_is_refused_with_its_size(new_decoder):
    decoder = new_decoder(max_size=64)
    with pytest.raises(FrameTooLarge, match=r"^document exceeds 64 bytes \(100 received\)$"):
        decoder.feed(b"<ClientIntegrationRequest>" + b"x" * 74)  # 26 + 74 bytes
    assert decoder.pending == 0  # the decoder starts afresh
    assert decoder.feed(b"<R/>\r\n") == [b"<R/>"]


def test_an_over_long_frame_over_several_reads(new_decoder):
    decoder = new_decoder(max_size=64)
    assert decoder.feed(b"<ClientIntegrationRequest>" + b"x" * 30) == []
    with pytest.raises(FrameTooLarge, match=r"^document exceeds 64 bytes \(66 received\)$"):
        decoder.feed(b"y" * 10)


def test_an_over_long_document_is_refused_even_when_it_arrives_whole(new_decoder):
    document = b"<ClientIntegrationRequest>" + b"x" * 40 + b"</ClientIntegrationRequest>"
    with pytest.raises(FrameTooLarge, match=r"^document exceeds 64 bytes \(93 received\)$"):
        new_decoder(max_size=64).feed(document + b"\n")


def test_an_over_long_line_that_is_not_xml_is_refused(new_decoder):
    with pytest.raises(FrameTooLarge, match="exceeds 64 bytes"):
        new_decoder(max_size=64).feed(b"GET / HTTP/1.1 " + b"x" * 60)


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_line_that_is_not_xml_is_handed_on_without_its_terminator(new_decoder, terminator):
    decoder = new_decoder()
    assert decoder.feed(b"GET / HTTP/1.1" + terminator + GET_FUNCTIONS_REQUEST + b"\r\n") == [
        b"GET / HTTP/1.1", GET_FUNCTIONS_REQUEST]
    with pytest.raises(MalformedDocument, match=r"^not well-formed at line 1, column 1: "):
        parse_document(b"GET / HTTP/1.1")


@pytest.mark.parametrize("stray", [b"\xbb", b"\xef", b"\xbf", b"\xef\xbb"])
def test_a_stray_byte_of_a_byte_order_mark_is_data_not_blank(new_decoder, stray):
    """Only the whole mark (EF BB BF) is skipped before a document; a part of it is the
    start of a line that is not XML, handed on as received."""
    decoder = new_decoder()
    assert decoder.feed(stray + b"hello\n" + b"\xef\xbb\xbf" + GET_FUNCTIONS_REQUEST
                        + b"\n") == [stray + b"hello", GET_FUNCTIONS_REQUEST]


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_the_simulator_hands_on_an_unfinishable_document_at_its_line_end(terminator):
    decoder = FrameDecoder(detect_malformed=True)
    wire = UNFINISHABLE + terminator + GET_FUNCTIONS_REQUEST + b"\r\n"
    assert decoder.feed(wire) == [UNFINISHABLE, GET_FUNCTIONS_REQUEST]
    assert decoder.pending == 0
    decoder = FrameDecoder(detect_malformed=True)  # over several CRLF lines
    assert decoder.feed(b"<C>\r\n<A>\r\n</B>\r\n<C/>\r\n") == [b"<C>\r\n<A>\r\n</B>", b"<C/>"]
    with pytest.raises(MalformedDocument, match=r"^not well-formed at line 1, column \d+: "):
        parse_document(UNFINISHABLE)


def test_the_facade_waits_on_an_unfinishable_document():
    decoder = FrameDecoder()
    assert decoder.feed(UNFINISHABLE + b"\r\n") == []
    assert decoder.pending == len(UNFINISHABLE) + 2


def test_the_encoder_terminates_a_document_with_one_lf():
    assert encode_frame(GET_FUNCTIONS_REQUEST) == GET_FUNCTIONS_REQUEST + b"\n"
    assert encode_frame(b"<R/>\n") == b"<R/>\n"


# --------------------------------------------------------------------------- the envelope

def test_the_request_envelope_read_from_a_tpp_template():
    [document] = FrameDecoder().feed(TEMPLATE_REQUEST + b"\r\n")
    request = Request.from_element(parse_document(document))
    assert request == Request(
        api_key="f31e26725b5491f2", device_id="392752167bd7f69b", device_version="v1.0",
        request_uid="99DDDEE0-B335-11E3-A459-010000004280", function="GetFunctions",
        function_version="1.0", output_scheme=OutputScheme(codes="CTV3", drugs="Multilex"))
    assert request.parameters is not None and request.parameters.tag == "FunctionParameters"
    assert len(request.parameters) == 0


def test_request_fields_lose_the_crlf_and_indentation_around_them():
    wire = (b"<ClientIntegrationRequest>\r\n  <APIKey>\r\n    f31e26725b5491f2\r\n  </APIKey>\r\n"
            b"  <DeviceID></DeviceID>\r\n  <RequestUID>216D31D0-B340-11E3-A459-010000004280\r\n"
            b"  </RequestUID>\r\n  <Function>GetFunctions</Function>\r\n"
            b"</ClientIntegrationRequest>\r\n")
    [document] = FrameDecoder().feed(wire)
    request = Request.from_element(parse_document(document))
    assert (request.api_key, request.device_id, request.request_uid, request.function) == (
        "f31e26725b5491f2", "", "216D31D0-B340-11E3-A459-010000004280", "GetFunctions")


def test_the_request_envelope_written():
    request = Request(api_key="f31e26725b5491f2", device_id="392752167bd7f69b",
                      device_version="v1.0", request_uid="F90B7D20-B342-11E3-A459-010000004280",
                      function="GetFunctions")
    assert request.to_bytes() == GET_FUNCTIONS_REQUEST_WRITTEN
    assert encode_frame(request.to_bytes()) == GET_FUNCTIONS_REQUEST_WRITTEN + b"\n"


def test_the_request_envelope_written_with_scheme_parameters_and_awkward_text():
    request = Request(api_key="f31e26725b5491f2", device_id="", device_version="O'Brien <&> v1",
                      request_uid="E9B220C0-B344-11E3-A459-010000004280",
                      function="GetOrganisationMetaData",
                      output_scheme=OutputScheme(codes="Snomed", drugs="Dmd"),
                      parameters=fn.organisation_parameters(logged_on_user_only=True))
    assert request.to_bytes() == (
        b"<ClientIntegrationRequest>"
        b"<APIKey>f31e26725b5491f2</APIKey>"
        b"<DeviceID></DeviceID>"
        b"<DeviceVersion>O'Brien &lt;&amp;&gt; v1</DeviceVersion>"
        b"<RequestUID>E9B220C0-B344-11E3-A459-010000004280</RequestUID>"
        b"<Function>GetOrganisationMetaData</Function>"
        b"<FunctionVersion>1.0</FunctionVersion>"
        b"<OutputScheme><Drugs>Dmd</Drugs><Codes>Snomed</Codes></OutputScheme>"
        b"<FunctionParameters><LoggedOnUserOnly/></FunctionParameters>"
        b"</ClientIntegrationRequest>")


def test_the_response_envelope_read_from_the_specifications_example():
    [document] = FrameDecoder().feed(GET_FUNCTIONS_RESPONSE + b"\r\n")
    response = Response.from_element(parse_document(document))
    assert (response.device_id, response.request_uid, response.function,
            response.function_version, response.response_uid) == (
        "392752167bd7f69b", "F90B7D20-B342-11E3-A459-010000004280", "GetFunctions", "1.0",
        "F9A63680-B342-11E3-8FBA-01000000C200")
    assert response.error is None
    assert [element.findtext("Function") for element in response.body] == [
        "GetFunctions", "GetCurrentActivity"]


def test_the_error_response_read_from_the_specifications_example():
    [document] = FrameDecoder().feed(ERROR_RESPONSE + b"\r\n")
    response = Response.from_element(parse_document(document))
    assert (response.device_id, response.request_uid, response.function,
            response.response_uid) == (
        "392752167bd7f69b", "9033DD40-B33A-11E3-A459-010000004280", "PatientSearch",
        "90BDF4D0-B33A-11E3-9804-010000005129")
    assert (response.error.message, response.error.permanent) == (
        "At least two search parameters must be specified", True)


def test_the_error_response_written():
    response = Response(device_id="392752167bd7f69b",
                        request_uid="9033DD40-B33A-11E3-A459-010000004280",
                        function="PatientSearch", function_version="1.0",
                        response_uid="90BDF4D0-B33A-11E3-9804-010000005129",
                        body=error_body("At least two search parameters must be specified", True))
    assert response.to_bytes() == ERROR_RESPONSE
    assert to_line(response.to_element()) == ERROR_RESPONSE


def test_the_simulators_reply_writer_keeps_a_reply_on_one_line():
    response = Response(device_id="", request_uid="1", function="F", function_version="1.0",
                        response_uid="R", body=error_body("two\r\nlines", False))
    assert encode_frame(to_line(response.to_element())) == (
        b"<ClientIntegrationResponse><DeviceID></DeviceID><RequestUID>1</RequestUID>"
        b"<Function>F</Function><FunctionVersion>1.0</FunctionVersion>"
        b"<ResponseUID>R</ResponseUID><Response><ErrorMessage>two&#13;&#10;lines</ErrorMessage>"
        b"<PermanentError>false</PermanentError></Response></ClientIntegrationResponse>\n")


# ----------------------------------------------------------- against the specification text

def spec_example(text: str, after: str, root: str) -> bytes:
    """The first ``<root>...</root>`` example after the line ``after``, tags run together."""
    start = text.index(f"<{root}>", text.index(after))
    end = text.index(f"</{root}>", start) + len(root) + 3
    return re.sub(r">\s+<", "><", text[start:end]).encode()


def expand_empty(document: bytes) -> bytes:
    """``<X/>`` written as ``<X></X>``, the way the specification's examples write it."""
    return re.sub(rb"<([A-Za-z]+)/>", rb"<\1></\1>", document)


@pytest.fixture(scope="module")
def spec_text() -> str:
    if not SPEC.is_file():
        pytest.skip(NO_SPEC)
    return SPEC.read_text(encoding="utf-8")


def test_the_hand_written_bytes_are_the_specifications(spec_text):
    assert spec_example(spec_text, "The function request looks like this:",
                        "ClientIntegrationRequest") == GET_FUNCTIONS_REQUEST
    assert spec_example(spec_text, "The response XML looks like this:",
                        "ClientIntegrationResponse") == re.sub(
        rb">\s+<", b"><", GET_FUNCTIONS_RESPONSE)
    assert spec_example(spec_text, "it will result in this",
                        "ClientIntegrationResponse") == ERROR_RESPONSE


def test_the_writer_matches_the_specifications_organisation_request(spec_text):
    request = Request(api_key="f31e26725b5491f2", device_id="392752167bd7f69b",
                      device_version="v1.0", request_uid="E9B220C0-B344-11E3-A459-010000004280",
                      function="GetOrganisationMetaData",
                      parameters=fn.organisation_parameters(logged_on_user_only=True))
    expected = spec_example(spec_text, "GetOrganisationMetaData\n       This function allows",
                            "ClientIntegrationRequest")
    assert expand_empty(request.to_bytes()) == expected


def test_tpps_template_file_is_one_document():
    path = EXAMPLES / "GetFunctions" / "a_GetFunctions.xml"
    if not path.is_file():
        pytest.skip(NO_EXAMPLES)
    data = path.read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\r\n<ClientIntegrationRequest>')
    for detect_malformed in (False, True):
        assert FrameDecoder(detect_malformed=detect_malformed).feed(data + b"\r\n") == [data]


# --------------------------------------------------------------------------- on a real socket

class RawPeer:
    """A listening socket that records what it receives and answers with given byte pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.received = b""
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(5)
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._server.accept()
        with connection:
            connection.settimeout(5)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self.received.endswith(b"\n"):
                data = connection.recv(4096)
                if not data:
                    return
                self.received += data
            for piece in self.pieces:
                connection.sendall(piece)
                time.sleep(0.02)  # separate reads at the far end, most likely
            connection.recv(1)  # until the client hangs up

    def close(self) -> None:
        self._thread.join(5)
        self._server.close()


#: Cut inside the root's end tag, just before its ">", and between CR and LF.
REPLY_CUTS = {
    "inside the end tag": len(GET_FUNCTIONS_RESPONSE) - 10,
    "before the last >": len(GET_FUNCTIONS_RESPONSE) - 1,
    "between CR and LF": len(GET_FUNCTIONS_RESPONSE) + 1,
}


@pytest.mark.parametrize("cut", list(REPLY_CUTS.values()), ids=list(REPLY_CUTS))
def test_the_facade_client_on_the_wire(monkeypatch, cut):
    """What the client sends, byte for byte, and what it makes of the specification's reply."""
    monkeypatch.setattr(client_module, "new_request_uid",
                        lambda: "F90B7D20-B342-11E3-A459-010000004280")
    reply = GET_FUNCTIONS_RESPONSE + b"\r\n"
    peer = RawPeer([reply[:cut], reply[cut:]])
    device_ids = MemoryDeviceIdStore()
    device_ids.set("default", "392752167bd7f69b")
    client = SystmOneClient(SocketTransport("127.0.0.1", peer.port, Timeouts(2.0, 5.0)),
                            api_key="f31e26725b5491f2", device_ids=device_ids,
                            device_version="v1.0", output_scheme=None)
    try:
        assert client.get_functions() == {"GetFunctions": ("1.0",),
                                          "GetCurrentActivity": ("1.0",)}
    finally:
        client.close()
        peer.close()
    assert peer.received == GET_FUNCTIONS_REQUEST_WRITTEN + b"\n"


def read_lines(connection: socket.socket, count: int) -> list[bytes]:
    data = b""
    connection.settimeout(10)
    while data.count(b"\n") < count:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n")[:-1]


def test_the_simulator_on_the_wire(simulator):
    """Three requests in one write, with a byte order mark and CRLF; three one-line replies."""
    wire = (BOM + b"\r\n" + GET_FUNCTIONS_REQUEST + b"\r\n"  # an API key the simulator refuses
            + INVALID_ROOT_REQUEST + b"\r\n"
            + UNFINISHABLE + b"\r\n")
    with socket.create_connection(simulator.address, timeout=10) as connection:
        connection.sendall(wire)
        replies = read_lines(connection, 3)
    assert len(replies) == 3, replies
    assert fixed_response_uid(replies[0]) == (
        b"<ClientIntegrationResponse><DeviceID>392752167bd7f69b</DeviceID>"
        b"<RequestUID>F90B7D20-B342-11E3-A459-010000004280</RequestUID>"
        b"<Function>GetFunctions</Function><FunctionVersion>1.0</FunctionVersion>"
        b"<ResponseUID>00000000-0000-0000-0000-000000000000</ResponseUID>"
        b"<Response><ErrorMessage>The API key is not recognised</ErrorMessage>"
        b"<PermanentError>true</PermanentError></Response></ClientIntegrationResponse>")
    assert fixed_response_uid(replies[1]) == (
        b"<ClientIntegrationResponse><DeviceID></DeviceID><RequestUID>123</RequestUID>"
        b"<Function>SomeFunction</Function><FunctionVersion>1.0</FunctionVersion>"
        b"<ResponseUID>00000000-0000-0000-0000-000000000000</ResponseUID>"
        b"<Response><ErrorMessage>Invalid root element 'WrongClientIntegrationRequest': "
        b"expected ClientIntegrationRequest</ErrorMessage>"
        b"<PermanentError>true</PermanentError></Response></ClientIntegrationResponse>")
    assert fixed_response_uid(replies[2]).startswith(
        b"<ClientIntegrationResponse><DeviceID></DeviceID><RequestUID></RequestUID>"
        b"<Function></Function><FunctionVersion>1.0</FunctionVersion>"
        b"<ResponseUID>00000000-0000-0000-0000-000000000000</ResponseUID>"
        b"<Response><ErrorMessage>The request could not be read as XML: "
        b"not well-formed at line 1, column ")
    # The audit keeps each request as it arrived, less its terminator.
    assert [entry.request_xml for entry in simulator.messages(3)] == [
        GET_FUNCTIONS_REQUEST, INVALID_ROOT_REQUEST, UNFINISHABLE]


def test_the_simulator_refuses_an_over_long_request_and_hangs_up(start_simulator):
    live = start_simulator(max_request=256)
    with socket.create_connection(live.address, timeout=10) as connection:
        connection.sendall(b"<ClientIntegrationRequest>" + b"x" * 300)
        replies = read_lines(connection, 1)
        assert connection.recv(1) == b""  # closed
    assert [fixed_response_uid(reply) for reply in replies] == [
        b"<ClientIntegrationResponse><DeviceID></DeviceID><RequestUID></RequestUID>"
        b"<Function></Function><FunctionVersion></FunctionVersion>"
        b"<ResponseUID>00000000-0000-0000-0000-000000000000</ResponseUID>"
        b"<Response><ErrorMessage>The request exceeds the maximum size of 256 bytes"
        b"</ErrorMessage><PermanentError>true</PermanentError></Response>"
        b"</ClientIntegrationResponse>"]


def test_the_reply_parser_copes_with_what_the_simulator_wrote():
    # The simulator's reply line, as a client reads it back: one line, nothing lost.
    line = (b"<ClientIntegrationResponse><DeviceID>d</DeviceID><RequestUID>1</RequestUID>"
            b"<Function>F</Function><FunctionVersion>1.0</FunctionVersion>"
            b"<ResponseUID>R</ResponseUID><Response><ErrorMessage>two&#13;&#10;lines"
            b"</ErrorMessage><PermanentError>false</PermanentError></Response>"
            b"</ClientIntegrationResponse>\n")
    [document] = FrameDecoder().feed(line)
    response = Response.from_element(parse_document(document))
    assert (response.error.message, response.error.permanent) == ("two\r\nlines", False)


def test_a_newline_in_a_parameter_is_sent_as_a_character_reference():
    """The request stays one line (TPP's framing ends a document at a newline), and reads
    back with its newline."""
    parameters = etree.Element("FunctionParameters")
    etree.SubElement(parameters, "Surname").text = "Smith\nJones"
    request = Request(api_key="K", device_id="D", device_version="1", request_uid="U",
                      function="PatientSearch", parameters=parameters)
    written = request.to_bytes()
    assert b"\n" not in written and b"<Surname>Smith&#10;Jones</Surname>" in written
    assert etree.fromstring(written).findtext("FunctionParameters/Surname") == "Smith\nJones"
