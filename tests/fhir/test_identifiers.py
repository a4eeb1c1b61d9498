"""Patient identifiers checked before SystmOne is asked (facade/fhir/identifiers.py): an
NHS number that is not ten digits or fails modulus 11, or a system no Patient here carries,
is a 400 OperationOutcome with GP Connect's Spine error code; over HTTP for Patient search
and Patient/$everything."""

from __future__ import annotations

import pytest

from facade.fhir.identifiers import nhs_number, patient_identity
from facade.fhir.outcome import FhirError
from facade.protocol.identity import Identity
from tests.bundles import matches

from ..tokens import authorized_client
from .test_api import search

NHS = "https://fhir.nhs.uk/Id/nhs-number"
#: GP Connect's error codes (nhsconnect/gpconnect, development_fhir_error_handling_guidance:
#: its providers' OperationOutcome details take the Spine error or warning codes).
SPINE = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1"


def check_digit(nine: str) -> int | None:
    """NHS Digital's modulus 11, written out: the first nine digits weighted 10 down to 2,
    the sum's remainder on 11 taken from 11; 11 becomes 0, and 10 means no NHS number
    begins with these nine digits."""
    total = sum(int(digit) * weight for digit, weight in zip(nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return {11: 0, 10: None}.get(check, check)


# Worked by hand: 9,9,9,0,0,0,0,0,1 weighted 10..2 is 90+81+72+2 = 245; 245 = 22*11 + 3;
# 11 - 3 = 8, so 9990000018 is valid (NHS Digital's usual test number) and ...19 is not.
# 999000000: 90+81+72 = 243 = 22*11 + 1; 11 - 1 = 10: no number begins with it.
VALID = "9990000018"
BAD_CHECK_DIGIT = "9990000019"
NO_CHECK_DIGIT = "9990000000"


def test_the_hand_worked_numbers_agree_with_the_written_out_rule():
    assert check_digit(VALID[:9]) == 8 == int(VALID[9])
    assert check_digit(BAD_CHECK_DIGIT[:9]) != int(BAD_CHECK_DIGIT[9])
    assert check_digit(NO_CHECK_DIGIT[:9]) is None


def spine_code(error: FhirError) -> str:
    coding = error.details["coding"][0]
    assert coding["system"] == SPINE
    return coding["code"]


@pytest.mark.parametrize("value", [VALID, f"{NHS}|{VALID}", "999 000 0018"])
def test_an_nhs_number_names_its_patient(value):
    assert patient_identity("identifier", value) == Identity.nhs_number(VALID)


@pytest.mark.parametrize(("value", "says"), [
    (BAD_CHECK_DIGIT, "check digit"),
    (NO_CHECK_DIGIT, "check digit"),
    ("999000001", "ten digits; this has 9"),
    ("99900000188", "ten digits; this has 11"),
    ("999000001X", "ten digits"),
    ("\u0669" * 10, "ten digits"),  # Arabic-Indic nines: digits, but not an NHS number's
    (f"{NHS}|", "ten digits"),
])
def test_a_bad_nhs_number_is_invalid_nhs_number(value, says):
    with pytest.raises(FhirError) as raised:
        patient_identity("identifier", value)
    error = raised.value
    assert (error.status, error.code, spine_code(error)) == (400, "value", "INVALID_NHS_NUMBER")
    assert error.diagnostics.startswith("identifier: not a valid NHS number")
    assert says in error.diagnostics
    assert value.rpartition("|")[2] not in error.diagnostics or not value.rpartition("|")[2]


def test_every_valid_nhs_number_of_a_range_passes_and_every_other_last_digit_fails():
    for stem in range(999000000, 999000200):
        nine = str(stem)
        for last in range(10):
            number = f"{nine}{last}"
            if check_digit(nine) == last:
                assert nhs_number("identifier", number) == number
            else:
                with pytest.raises(FhirError):
                    nhs_number("identifier", number)


@pytest.mark.parametrize("system", ["http://fhir.nhs.net/Id/nhs-number",
                                    "http://fhir.nhs.uk/Id/nhs-number", "urn:other", ""])
def test_a_system_no_patient_carries_is_invalid_identifier_system(system):
    with pytest.raises(FhirError) as raised:
        patient_identity("patient.identifier", f"{system}|{VALID}")
    error = raised.value
    assert (error.status, spine_code(error)) == (400, "INVALID_IDENTIFIER_SYSTEM")
    assert error.diagnostics.startswith("patient.identifier: ")
    assert NHS in error.diagnostics


def test_systmone_own_identifiers_name_their_identity():
    assert patient_identity("identifier", "urn:systmone:id:pseudo-number|0001980947") == \
        Identity("PseudoNumber", "0001980947")
    assert patient_identity("identifier", "urn:systmone:id:client-id|A1234BC") == \
        Identity("ClientID", "A1234BC")
    with pytest.raises(FhirError) as raised:
        patient_identity("identifier", "urn:systmone:id:client-id|\u200b")
    assert spine_code(raised.value) == "INVALID_IDENTIFIER_VALUE"


def test_several_identifiers_in_one_value_are_refused():
    with pytest.raises(FhirError) as raised:
        patient_identity("identifier", f"{NHS}|{VALID},{NHS}|9990000026")
    assert raised.value.status == 400 and "one identifier" in raised.value.diagnostics


# --- over HTTP -------------------------------------------------------------------------

def refused(response, code: str) -> dict:
    assert response.status_code == 400, response.get_data()
    issue = response.json["issue"][0]
    assert issue["code"] == "value"
    assert issue["details"]["coding"] == [{"system": SPINE, "code": code,
                                           "display": issue["details"]["coding"][0]["display"]}]
    return issue


@pytest.mark.parametrize("url", [
    f"/fhir/Patient?identifier={BAD_CHECK_DIGIT}",
    f"/fhir/Patient?identifier={NHS}|999000001",
    f"/fhir/Patient/$everything?identifier={NHS}|{BAD_CHECK_DIGIT}",
    f"/fhir/Patient/$everything?identifier={NO_CHECK_DIGIT}",
])
def test_a_bad_nhs_number_over_http(client, url):
    issue = refused(client.get(url), "INVALID_NHS_NUMBER")
    assert issue["diagnostics"].startswith("identifier: not a valid NHS number")


def test_an_unknown_system_over_http_and_in_xml(client):
    issue = refused(client.get(f"/fhir/Patient?identifier=http://other|{VALID}"),
                    "INVALID_IDENTIFIER_SYSTEM")
    assert "'http://other'" in issue["diagnostics"]
    xml = client.get(f"/fhir/Patient?identifier=http://other|{VALID}&_format=xml")
    assert xml.status_code == 400
    assert b"INVALID_IDENTIFIER_SYSTEM" in xml.data and b"<details>" in xml.data


def test_a_valid_number_nobody_has_is_still_an_empty_bundle(client, practice):
    unknown = next(n for n in ("9990000018", "9990000026", "9990000034")
                   if practice.find(Identity.nhs_number(n)) is None)
    assert search(client, f"/fhir/Patient?identifier={unknown}")["total"] == 0
    assert client.get(f"/fhir/Patient/$everything?identifier={unknown}").status_code == 404


def test_a_record_without_nhs_number_is_found_by_its_pseudo_number(client, practice):
    pseudo = next(p for p in practice.index.summaries if p.identity.kind == "PseudoNumber")
    bundle = search(client, "/fhir/Patient?identifier=urn:systmone:id:pseudo-number|"
                            f"{pseudo.identity.value}")
    [found] = matches(bundle)
    assert {"system": "urn:systmone:id:pseudo-number", "value": pseudo.identity.value,
            "use": "secondary"}.items() <= found["identifier"][0].items()
    assert found["name"][0]["family"] == pseudo.surname


def test_a_bad_number_is_refused_before_systmone_is_asked(start_simulator, tmp_path):
    from facade.app import create_app

    live = start_simulator()
    host, port = live.address
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01})
    try:
        client = authorized_client(app)
        assert client.get(f"/fhir/Patient?identifier={BAD_CHECK_DIGIT}").status_code == 400
        assert client.get("/fhir/Observation?patient.identifier="
                          f"{BAD_CHECK_DIGIT}").status_code == 400
        assert live.store.messages(function="GetPatientRecord") == []
    finally:
        app.extensions["facade.records"].close()
