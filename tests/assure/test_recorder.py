"""The recording transport: what went over the wire, when, and what did not."""

from __future__ import annotations

import time

import pytest

from facade.assure.conformance import Conformance
from facade.assure.recorder import Recorder, RecordingTransport
from facade.assure.report import redact
from facade.assure.scenario import SCENARIOS, complete, passed
from facade.upstream.errors import UpstreamTimeout
from facade.upstream.transport import InMemoryTransport, MissedSlot, send_deadline

REQUEST = (b"<ClientIntegrationRequest><APIKey>fac4de0000000001</APIKey><DeviceID/>"
           b"<DeviceVersion>v</DeviceVersion><RequestUID>U-1</RequestUID>"
           b"<Function>GetFunctions</Function><FunctionVersion>1.0</FunctionVersion>"
           b"<FunctionParameters/></ClientIntegrationRequest>")
REPLY = (b"<ClientIntegrationResponse><DeviceID>0123456789abcdef</DeviceID>"
         b"<RequestUID>U-1</RequestUID><Function>GetFunctions</Function>"
         b"<FunctionVersion>1.0</FunctionVersion><ResponseUID>R-1</ResponseUID><Response>"
         b"<SupportedFunction><Function>GetFunctions</Function><Version>1.0</Version>"
         b"</SupportedFunction></Response></ClientIntegrationResponse>")


def test_an_exchange_is_recorded_with_its_times():
    recorder = Recorder()
    recorder.phase = "scripted"
    transport = RecordingTransport(InMemoryTransport(lambda raw: REPLY), recorder, "e:1")
    assert transport.exchange(REQUEST) == REPLY
    [message] = recorder.messages
    assert (message.seq, message.endpoint, message.phase, message.request, message.reply,
            message.failure) == (1, "e:1", "scripted", REQUEST, REPLY, "")
    assert 0 <= message.sent <= message.answered <= recorder.now()


def test_a_request_without_a_reply_is_recorded_as_such():
    recorder = Recorder()
    transport = RecordingTransport(InMemoryTransport(lambda raw: None), recorder, "e:1")
    with pytest.raises(UpstreamTimeout):
        transport.exchange(REQUEST)
    [message] = recorder.messages
    assert message.reply is None and message.failure == "UpstreamTimeout"


def test_a_request_that_missed_its_slot_was_not_sent_and_is_not_recorded():
    recorder = Recorder()
    transport = RecordingTransport(InMemoryTransport(lambda raw: REPLY), recorder, "e:1")
    token = send_deadline.set(time.monotonic() - 1)
    try:
        with pytest.raises(MissedSlot):
            transport.exchange(REQUEST)
    finally:
        send_deadline.reset(token)
    assert recorder.messages == []


def test_messages_are_checked_against_the_project_schemas():
    conformance = Conformance(None)
    assert conformance.request(REQUEST).valid
    assert conformance.request(REQUEST).schemas == ("GetFunctions.request",)
    assert conformance.reply(REPLY).valid
    wrong = REQUEST.replace(b"<FunctionVersion>1.0</FunctionVersion>", b"")
    assert not conformance.request(wrong).valid
    assert not conformance.request(b"<ClientIntegrationRequest>").valid


def test_the_api_key_is_redacted_from_kept_messages():
    assert b"fac4de0000000001" not in redact(REQUEST)
    assert b"<APIKey>[redacted]</APIKey>" in redact(REQUEST)


def test_a_scenario_without_a_verdict_is_reported_failed():
    verdicts = complete({"get-functions": passed("get-functions", "listed")}, "not run")
    assert [v.id for v in verdicts] == list(SCENARIOS)
    assert [v.id for v in verdicts if v.passed] == ["get-functions"]
    assert all(v.reason == "not run" for v in verdicts if not v.passed)
