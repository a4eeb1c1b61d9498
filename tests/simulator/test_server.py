"""The simulator over real TCP with the real client: functions, throttling, bad input."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol import schemas
from facade.protocol.envelope import OutputScheme
from facade.protocol.framing import FrameDecoder
from facade.protocol.identity import Identity
from facade.protocol.xmlsafe import parse_document
from facade.upstream.errors import PermanentError, TemporaryError, UpstreamTimeout
from simulator.practice import concepts
from tests.conftest import AS_OF

DEMOGRAPHICS = fn.RecordFilter.demographics_only()


def first_patient(practice):
    return practice.index.summaries[0]


def raw_exchange(address, payload: bytes, timeout: float = 5.0) -> list[bytes]:
    """Send bytes on a fresh socket; return every document received until it closes or idles."""
    with socket.create_connection(address, timeout=timeout) as connection:
        connection.sendall(payload)
        return read_documents(connection, timeout)


def read_documents(connection: socket.socket, timeout: float, expect: int = 1) -> list[bytes]:
    decoder, documents = FrameDecoder(), []
    connection.settimeout(timeout)
    while len(documents) < expect:
        try:
            data = connection.recv(65536)
        except TimeoutError:
            break
        if not data:
            break
        documents += decoder.feed(data)
    return documents


def error_of(document: bytes) -> tuple[str, str]:
    root = parse_document(document)
    schemas.validate(root, "error.response")
    return root.findtext("Response/ErrorMessage"), root.findtext("Response/PermanentError")


def test_every_function_round_trips_and_validates(simulator, practice, tmp_path):
    client = simulator.client()
    replies = []
    client.observers.append(replies.append)
    assert set(client.get_functions()) == {
        "GetFunctions", "GetOrganisationMetaData", "PatientSearch", "GetPatientRecord",
        "IsPatientRetrieved", "GetDocument"}
    client.get_organisation_metadata()
    patient = first_patient(practice)
    assert client.patient_search(fn.PatientSearchCriteria(
        surname=patient.surname, date_of_birth=patient.date_of_birth))
    client.get_patient_record(patient.identity)
    assert client.is_patient_retrieved() is False
    holder = next(p for p in practice.index.summaries
                  if practice.record(p).find(".//DocumentUID") is not None)
    uid = practice.record(holder).findtext(".//DocumentUID")
    assert client.get_document(holder.identity, uid, str(tmp_path))
    for entry in simulator.messages(6):
        assert entry.outcome == "success", entry.error
        assert b"\n" not in entry.response_xml  # one line, as SystmOne replies
        schemas.validate(parse_document(entry.response_xml), f"{entry.function}.response")
        schemas.validate(parse_document(entry.request_xml), f"{entry.function}.request")


def test_leave_record_open_opens_the_record(simulator, practice):
    client = simulator.client()
    patient = first_patient(practice)
    body = client.get_patient_record(patient.identity, DEMOGRAPHICS, leave_record_open=True)
    assert body.findtext("RecordState") == "Open"
    assert client.is_patient_retrieved() is True
    current = client.get_patient_record(None, DEMOGRAPHICS)
    assert Identity.from_element(current.find("Identity")) == patient.identity


def test_record_without_identity_and_nothing_open_is_an_error(simulator):
    with pytest.raises(PermanentError, match="no patient record is open"):
        simulator.client().get_patient_record(None, DEMOGRAPHICS)


def test_device_id_is_issued_once_and_reused(simulator):
    client = simulator.client()
    client.get_functions()
    issued = client.device_ids.get(client.endpoint)
    assert len(issued) == 16 and int(issued, 16) >= 0
    client.get_functions()
    devices = [entry.device_id for entry in simulator.messages(2)]
    assert devices == [issued, issued]


def test_blocked_device_gets_a_permanent_error(start_simulator):
    live = start_simulator(device_policy="block")
    with pytest.raises(PermanentError, match="blocked"):
        live.client().get_functions()


def test_wrong_api_key_is_refused(simulator):
    client = simulator.client()
    client.api_key = "0000000000000000"
    with pytest.raises(PermanentError, match="API key"):
        client.get_functions()


def test_snomed_and_ctv3_output_schemes(simulator, practice):
    patient = first_patient(practice)
    ctv3 = simulator.client(output_scheme=OutputScheme("CTV3", "Multilex"))
    snomed = simulator.client(output_scheme=OutputScheme("Snomed", "Dmd"))
    ctv3_codes = [code for code in ctv3.get_patient_record(patient.identity).iter("Code")]
    snomed_codes = {code.get("Scheme") for code in snomed.get_patient_record(patient.identity)
                    .iter("Code")}
    # Asked for CTV3, only codes held in SNOMED CT alone stay in SNOMED CT.
    assert {code.get("Scheme") for code in ctv3_codes} <= {"CTV3", "Snomed"}
    assert all(concepts.BY_SNOMED[code.get("Code")].ctv3 is None for code in ctv3_codes
               if code.get("Scheme") == "Snomed")
    assert any(code.get("Scheme") == "CTV3" for code in ctv3_codes)
    assert snomed_codes == {"Snomed"}


def test_full_record_is_throttled_by_dropping(start_simulator, practice):
    live = start_simulator(record_interval=30)
    client = live.client(read_timeout=0.5)
    patient = first_patient(practice)
    client.get_patient_record(patient.identity)
    with pytest.raises(UpstreamTimeout):
        client.get_patient_record(patient.identity)
    # Exempt requests still pass inside the window.
    client.get_patient_record(patient.identity, DEMOGRAPHICS)
    client.get_patient_record(patient.identity, fn.RecordFilter.entered_on(AS_OF))
    outcomes = [entry.outcome for entry in live.messages(4, function="GetPatientRecord")]
    assert outcomes == ["success", "dropped", "success", "success"]


def test_throttle_can_answer_with_a_temporary_error(start_simulator, practice):
    live = start_simulator(record_interval=30, on_throttle="error")
    client = live.client()
    patient = first_patient(practice)
    client.get_patient_record(patient.identity)
    with pytest.raises(TemporaryError, match="one request per 30 seconds"):
        client.get_patient_record(patient.identity)


def test_throttle_rules_hold_with_eight_concurrent_connections(start_simulator, practice):
    """Requests queue (none rejected), start request_interval apart; full records
    are served record_interval apart and the rest are dropped."""
    request_interval, record_interval = 0.02, 0.3
    live = start_simulator(request_interval=request_interval, record_interval=record_interval,
                           on_throttle="error")
    starts: list[tuple[float, str, bool]] = []
    dispatcher = live.running.server.dispatcher
    original = dispatcher.handle

    def timed(document: bytes, arrived: float):
        started = time.monotonic()
        outcome = original(document, arrived)
        full = b"<Filter>" not in document and b"GetPatientRecord" in document
        starts.append((started, arrived, outcome.outcome, full))
        return outcome
    dispatcher.handle = timed
    patients = practice.index.summaries
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        client = live.client(read_timeout=10)
        try:
            for round_ in range(4):
                client.get_functions()
                patient = patients[(number + round_) % len(patients)]
                client.get_patient_record(patient.identity, DEMOGRAPHICS)
                with contextlib.suppress(TemporaryError):
                    client.get_patient_record(patient.identity)
        except BaseException as error:  # reported below
            errors.append(error)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert len(starts) == 8 * 4 * 3
    times = sorted(start for start, *_ in starts)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= request_interval * 0.95
    # the record window runs between arrivals (a request's turn may come late in the queue)
    served_full = sorted(arrived for _, arrived, outcome, full in starts
                         if full and outcome == "success")
    full_gaps = [b - a for a, b in itertools.pairwise(served_full)]
    assert served_full and all(gap >= record_interval for gap in full_gaps)
    assert any(outcome == "error" for _, _, outcome, full in starts if full)


# --- bad input never kills the simulator --------------------------------------------

def assert_still_serving(simulator):
    assert "GetFunctions" in simulator.client().get_functions()


@pytest.mark.parametrize("payload", [
    b"\x00\xff\xfe garbage bytes\n",
    b"<<<>>>\n",
    b"<ClientIntegrationRequest><APIKey>x</APIKey></Wrong>\n",
    b"<WrongClientIntegrationRequest><RequestUID>1</RequestUID></WrongClientIntegrationRequest>\n",
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    b"<ClientIntegrationRequest><APIKey>&x;</APIKey></ClientIntegrationRequest>\n",
    b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;">]><ClientIntegrationRequest>'
    b"<APIKey>&lol3;</APIKey></ClientIntegrationRequest>\n",
], ids=["garbage", "brackets", "mismatched-tags", "wrong-root", "xxe", "billion-laughs"])
def test_bad_documents_get_an_error_envelope(simulator, payload):
    replies = raw_exchange(simulator.address, payload)
    assert len(replies) == 1
    message, permanent = error_of(replies[0])
    assert message and permanent == "true"
    assert b"root:" not in replies[0]  # nothing from /etc/passwd
    assert_still_serving(simulator)


def test_oversized_document_gets_an_error_and_a_closed_connection(simulator):
    with socket.create_connection(simulator.address, timeout=10) as connection:
        connection.sendall(b"<ClientIntegrationRequest><APIKey>")
        chunk = b"x" * (1024 * 1024)
        try:
            for _ in range(50):  # 50 MB
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the simulator stopped reading, as it should
        replies = read_documents(connection, 5)
    assert replies and "maximum size" in error_of(replies[0])[0]
    assert_still_serving(simulator)


def test_client_disconnecting_mid_document_does_not_disturb_others(simulator):
    with socket.create_connection(simulator.address) as connection:
        connection.sendall(b"<ClientIntegrationRequest><APIKey>abc")
    assert_still_serving(simulator)


def test_unterminated_document_with_a_complete_root_is_answered(simulator):
    request = (b"<ClientIntegrationRequest><APIKey>fac4de0000000001</APIKey><DeviceID/>"
               b"<DeviceVersion>t</DeviceVersion><RequestUID>42</RequestUID>"
               b"<Function>GetFunctions</Function><FunctionVersion>1.0</FunctionVersion>"
               b"</ClientIntegrationRequest>")  # no newline
    replies = raw_exchange(simulator.address, request)
    assert len(replies) == 1
    root = parse_document(replies[0])
    schemas.validate(root, "GetFunctions.response")
    assert root.findtext("RequestUID") == "42"


def test_pipelined_documents_on_one_connection_are_answered_in_order(simulator):
    def request(uid: str) -> bytes:
        return (f"<ClientIntegrationRequest>\r\n  <APIKey>fac4de0000000001</APIKey>\r\n"
                f"  <DeviceID></DeviceID><DeviceVersion/><RequestUID>{uid}</RequestUID>\r\n"
                "  <Function>IsPatientRetrieved</Function><FunctionVersion>1.0</FunctionVersion>"
                "\r\n</ClientIntegrationRequest>\r\n").encode()
    with socket.create_connection(simulator.address, timeout=5) as connection:
        connection.sendall(request("a") + request("b") + request("c"))
        replies = read_documents(connection, 5, expect=3)
    assert [etree.fromstring(reply).findtext("RequestUID") for reply in replies] == ["a", "b", "c"]


def test_clients_starting_together_cause_one_approval(simulator, tmp_path):
    """Workers sharing a state dir must not each register a device (one dialog each)."""
    from facade.upstream.device import DeviceIdStore

    path = tmp_path / "device-ids.json"
    clients = [simulator.client(device_ids=DeviceIdStore(path)) for _ in range(4)]
    barrier = threading.Barrier(4)

    def first_call(client):
        barrier.wait()
        client.get_functions()
    threads = [threading.Thread(target=first_call, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(simulator.store.devices()) == 1
    assert {entry.device_id for entry in simulator.messages(4)} == {
        simulator.store.devices()[0][0]}


def pipelined(count: int, function: str = "IsPatientRetrieved") -> bytes:
    return b"".join(
        (f"<ClientIntegrationRequest><APIKey>fac4de0000000001</APIKey><DeviceID/>"
         f"<DeviceVersion/><RequestUID>{n}</RequestUID><Function>{function}</Function>"
         f"<FunctionVersion>1.0</FunctionVersion></ClientIntegrationRequest>\n").encode()
        for n in range(count))


def test_requests_of_a_client_that_hung_up_are_abandoned(start_simulator):
    live = start_simulator(request_interval=0.05)
    with socket.create_connection(live.address) as connection:
        connection.sendall(pipelined(30))
        time.sleep(0.12)
    started = time.monotonic()
    assert "GetFunctions" in live.client().get_functions()
    assert time.monotonic() - started < 0.5  # not behind 30 x 0.05 s of dead requests
    outcomes = [entry.outcome for entry in live.messages(31)]
    assert outcomes.count("abandoned") >= 20
    assert outcomes[-1] == "success"


def test_a_connection_pipelining_many_requests_gets_every_reply(simulator):
    with socket.create_connection(simulator.address, timeout=10) as connection:
        connection.sendall(pipelined(200))
        replies = read_documents(connection, 10, expect=200)
    assert [etree.fromstring(r).findtext("RequestUID") for r in replies] == \
        [str(n) for n in range(200)]


def test_recorded_practice_is_served_on_one_line(start_simulator, tmp_path):
    from simulator.practice import folder_practice
    from tests.simulator.test_folder import GENUINE_STYLE

    (tmp_path / "alice.xml").write_text(GENUINE_STYLE.format(nhs="9990000018"))
    live = start_simulator(practice_override=folder_practice(tmp_path))
    with socket.create_connection(live.address, timeout=5) as connection:
        connection.sendall(
            b"<ClientIntegrationRequest><APIKey>fac4de0000000001</APIKey><DeviceID/>"
            b"<DeviceVersion/><RequestUID>1</RequestUID><Function>GetPatientRecord</Function>"
            b"<FunctionVersion>1.0</FunctionVersion><FunctionParameters><Identity><NHSNumber>"
            b"9990000018</NHSNumber></Identity></FunctionParameters></ClientIntegrationRequest>\n")
        data = b""
        while not data.endswith(b"\n"):
            data += connection.recv(65536)
    assert data.count(b"\n") == 1  # only the terminator
    root = parse_document(data)
    schemas.validate(root, "GetPatientRecord.response")
    assert root.findtext(".//Task/Content") == "Thu 24 Sep 18:17\nsecond line"


def test_the_record_window_runs_from_arrival_not_from_a_late_turn(start_simulator, practice):
    """A full record that waited in the queue behind a slow request (its turn came late)
    does not push the window for the next one, which arrived a whole window after it."""
    live = start_simulator(record_interval=0.3, on_throttle="error")
    dispatcher = live.running.server.dispatcher
    original = dispatcher.handle

    def slow_functions(document: bytes, *arrived: float):
        if b"GetFunctions" in document:
            time.sleep(0.6)  # a slow answer: those arriving meanwhile wait their turn
        return original(document, *arrived)
    dispatcher.handle = slow_functions
    patients = practice.index.summaries
    results: dict[str, object] = {}

    def ask(name: str, after: float, call) -> None:
        time.sleep(after)
        try:
            results[name] = call(live.client(read_timeout=5))
        except BaseException as error:  # reported below
            results[name] = error
    asks = [("slow", 0.0, lambda c: c.get_functions()),
            ("first", 0.1, lambda c: c.get_patient_record(patients[0].identity)),
            ("second", 0.45, lambda c: c.get_patient_record(patients[1].identity))]
    threads = [threading.Thread(target=ask, args=a) for a in asks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not [r for r in results.values() if isinstance(r, BaseException)], results
    outcomes = [m.outcome for m in live.messages(3)]
    assert outcomes == ["success", "success", "success"]
