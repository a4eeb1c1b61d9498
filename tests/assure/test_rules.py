"""TPP's throttle rules as the harness reads them: hand-written requests, the spec's words.

"GetPatientRecord ≤ 1 per 30 s, except when the filter asks only for Demographics,
or when MinEntryDate and MaxEntryDate both equal today" (spec v33.4, Throttling).
"""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from facade.assure.rules import Sent, exempt, read_request, too_close

TODAY = dt.date(2026, 11, 2)


def record_request(filter_xml: str | None) -> bytes:
    parameters = "<Identity><NHSNumber>9990000018</NHSNumber></Identity>" + (filter_xml or "")
    return ("<ClientIntegrationRequest><APIKey>k</APIKey><DeviceID>d</DeviceID>"
            "<DeviceVersion>v</DeviceVersion><RequestUID>U-1</RequestUID>"
            "<Function>GetPatientRecord</Function><FunctionVersion>1.0</FunctionVersion>"
            f"<FunctionParameters>{parameters}</FunctionParameters>"
            "</ClientIntegrationRequest>").encode()


@pytest.mark.parametrize(("filter_xml", "is_exempt"), [
    (None, False),  # the whole record
    ("<Filter><Demographics/></Filter>", True),
    ("<Filter><Demographics/><ClinicalCodes/></Filter>", False),
    ("<Filter><Medication/></Filter>", False),
    ("<Filter><MinEntryDate>2026-11-02</MinEntryDate><MaxEntryDate>2026-11-02</MaxEntryDate>"
     "<Demographics/><ClinicalCodes/></Filter>", True),
    ("<Filter><MinEntryDate>2026-11-02</MinEntryDate><ClinicalCodes/></Filter>", False),
    ("<Filter><MinEntryDate>2026-11-01</MinEntryDate><MaxEntryDate>2026-11-02</MaxEntryDate>"
     "</Filter>", False),
    ("<Filter><MinEffectiveDate>2026-11-02</MinEffectiveDate>"
     "<MaxEffectiveDate>2026-11-02</MaxEffectiveDate></Filter>", False),
])
def test_which_record_requests_are_exempt(filter_xml, is_exempt):
    request = etree.fromstring(record_request(filter_xml))
    assert exempt(request, TODAY) is is_exempt
    assert read_request(1, 0.0, record_request(filter_xml), TODAY).full_record is not is_exempt


def test_other_functions_never_take_the_record_slot():
    search = record_request(None).replace(b"GetPatientRecord", b"PatientSearch")
    sent = read_request(7, 1.5, search, TODAY)
    assert (sent.function, sent.request_uid, sent.device_id, sent.full_record) == \
        ("PatientSearch", "U-1", "d", False)


def test_sends_closer_than_the_interval_are_found():
    sends = [Sent(n, at, "GetFunctions", str(n), "d", False)
             for n, at in enumerate((0.0, 1.0, 1.4, 3.0, 3.9995))]
    close = too_close(sends, 1.0)
    assert [(pair.first.seq, pair.second.seq) for pair in close] == [(1, 2)]
    assert close[0].gap == pytest.approx(0.4)
