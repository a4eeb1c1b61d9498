# ruff: noqa: E501  (the record below keeps the long lines a genuine extract has)
"""Practice folders: recorded GetPatientRecord responses served as recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from facade.protocol import functions as fn
from facade.protocol import schemas
from facade.protocol.envelope import OutputScheme
from facade.protocol.identity import Identity, nhs_number_is_valid
from simulator.practice import RecordError, folder_practice
from simulator.practice.render import render_record

# Shaped like a genuine TPP Demo extract: a prolog, tab indentation, attributes in
# alphabetical order, an Address holding only County and Postcode, empty coded
# fields, a problem header repeating a plain code, a raw newline in task content.
GENUINE_STYLE = """<?xml version="1.0" ?>
<ClientIntegrationResponse>
\t<DeviceID>a824b6abdab4c355</DeviceID>
\t<RequestUID>ecdfc7a6-1b6b-40d6-8a36-5d58a1c5f063</RequestUID>
\t<Function>GetPatientRecord</Function>
\t<FunctionVersion>1.0</FunctionVersion>
\t<ResponseUID>855DFE00-FBED-11E7-B949-99AB34D85A60</ResponseUID>
\t<Response>
\t\t<Identity>
\t\t\t<NHSNumber>{nhs}</NHSNumber>
\t\t\t<StrategicReportingIdentifier>246216</StrategicReportingIdentifier>
\t\t</Identity>
\t\t<Demographics>
\t\t\t<Title>Ms</Title><FirstName>Ada</FirstName><MiddleNames/><Surname>O'Brien</Surname>
\t\t\t<DateOfBirth>1951-01-01</DateOfBirth><Sex>F</Sex>
\t\t\t<MaritalStatus/><Ethnicity/><MainLanguage/><EnglishSpeaker>Unknown</EnglishSpeaker>
\t\t\t<Address><County>No Fixed Abode</County><Postcode>ZZ99 3VZ</Postcode></Address>
\t\t\t<HomeTelephone/><WorkTelephone/><MobileTelephone>07700 900123</MobileTelephone>
\t\t\t<AlternateTelephone/><EmailAddress/><SMSConsent>No</SMSConsent>
\t\t\t<UsualGPUserName>someone2204</UsualGPUserName><CareStartDate>2015-06-10</CareStartDate>
\t\t\t<RegistrationType>Applied</RegistrationType>
\t\t</Demographics>
\t\t<Clinical>
\t\t\t<Event DateTime="2015-06-10T15:17:30" DoneAt="Surgery" DoneBy="SMITH, Jo (General Medical Practitioner) " EventUID="f7b1080000000000" UserName="jsmith2304">
\t\t\t\t<Narrative><Line> D: Gastro-oesophageal reflux disease (X3003)</Line></Narrative>
\t\t\t\t<Medication>
\t\t\t\t\t<MedicationType>NHS medication</MedicationType>
\t\t\t\t\t<Drug Name="Omeprazole 20mg dispersible gastro-resistant tablets" ProductID="2007553" Scheme="Multilex"/>
\t\t\t\t\t<Dose>take one daily</Dose><Quantity>28 tablet</Quantity>
\t\t\t\t\t<StartDate>2015-06-10</StartDate><EndDate>2015-07-08</EndDate><EndReason/>
\t\t\t\t</Medication>
\t\t\t\t<ClinicalCode><Code Code="X3003" Scheme="CTV3" Term="Gastro-oesophageal reflux disease"/></ClinicalCode>
\t\t\t\t<ClinicalCode>
\t\t\t\t\t<Code Code="X3003" Scheme="CTV3" Term="Gastro-oesophageal reflux disease"/>
\t\t\t\t\t<ProblemUID>ed58000000000000</ProblemUID><ProblemSeverity>Major</ProblemSeverity>
\t\t\t\t</ClinicalCode>
\t\t\t</Event>
\t\t\t<Event DateTime="2015-07-14T15:31:56" DoneAt="Surgery" DoneBy="SMITH, Jo (General Medical Practitioner) " EventUID="b202680000000000" Software="Other software" UserName="jsmith2304">
\t\t\t\t<Attachment><FileName>a.htm</FileName><FileSize>0 bytes</FileSize><DocumentUID>62fd200000000000</DocumentUID><Comments>A</Comments></Attachment>
\t\t\t</Event>
\t\t</Clinical>
\t\t<NonClinical>
\t\t\t<Task><TaskUID>122e900000000000</TaskUID><DateTime>2015-09-24T18:17:01</DateTime><TaskType>Miscellaneous</TaskType><Status>Not Started</Status><Content>Thu 24 Sep 18:17
second line</Content></Task>
\t\t</NonClinical>
\t\t<RecordState>Closed</RecordState>
\t</Response>
</ClientIntegrationResponse>
"""


def write(folder, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_genuine_style_record_loads_and_is_served_as_recorded(tmp_path):
    write(tmp_path, "alice.xml", GENUINE_STYLE.format(nhs="9990000018"))
    # Just the Response element is accepted too.
    response = etree.fromstring(GENUINE_STYLE.format(nhs="9990000026").encode()).find("Response")
    write(tmp_path, "bob.xml", etree.tostring(response, encoding="unicode"))
    write(tmp_path, "notes.txt", "ignored")
    practice = folder_practice(tmp_path)
    assert len(practice) == 2
    patient = practice.find(Identity.nhs_number("9990000018"))
    body = render_record(practice.record(patient), None, OutputScheme("Snomed", "Dmd"),
                         practice.translates_codes, "Closed")
    # Recorded codes stay in the recorded scheme, whatever was asked for.
    assert {code.get("Scheme") for code in body.iter("Code")} == {"CTV3"}
    assert body.find(".//Drug").get("Scheme") == "Multilex"
    assert body.findtext(".//Task/Content").endswith("18:17\nsecond line")
    envelope = etree.fromstring(GENUINE_STYLE.format(nhs="9990000018").encode())
    envelope.replace(envelope.find("Response"), body)
    schemas.validate(envelope, "GetPatientRecord.response")


def test_search_and_filters_work_on_recorded_records(tmp_path):
    write(tmp_path, "alice.xml", GENUINE_STYLE.format(nhs="9990000018"))
    practice = folder_practice(tmp_path)
    found = practice.search(fn.PatientSearchCriteria(surname="o'b", postcode="ZZ99"))
    assert [p.identity.value for p in found] == ["9990000018"]
    assert practice.search(fn.PatientSearchCriteria(telephone="07700900123", gender="F"))
    patient = found[0]
    body = render_record(practice.record(patient), fn.RecordFilter(clinical_codes=("X3003",)),
                         OutputScheme(None, None), False, "Closed")
    assert len(body.findall("Clinical/Event/ClinicalCode")) == 2
    assert body.find("Clinical/Event/Medication") is None


@pytest.mark.parametrize(("content", "problem"), [
    ("<Response><Identity>", "not well-formed"),
    ("<Patient/>", "root element is 'Patient'"),
    ("<Response><Demographics/></Response>", "not a SystmOne patient record"),
    ("<ClientIntegrationResponse><DeviceID/><RequestUID/><Function>GetPatientRecord</Function>"
     "<FunctionVersion>1.0</FunctionVersion><ResponseUID/><Response><ErrorMessage>x"
     "</ErrorMessage><PermanentError>true</PermanentError></Response>"
     "</ClientIntegrationResponse>", "error response"),
    ('<!DOCTYPE r [<!ENTITY x "y">]><Response/>', "DTDs"),
])
def test_a_malformed_file_stops_loading_with_an_error_naming_it(tmp_path, content, problem):
    write(tmp_path, "good.xml", GENUINE_STYLE.format(nhs="9990000018"))
    write(tmp_path, "bad.xml", content)
    with pytest.raises(RecordError) as raised:
        folder_practice(tmp_path)
    assert "bad.xml" in str(raised.value) and problem in str(raised.value)


def test_duplicate_identities_name_both_files(tmp_path):
    write(tmp_path, "a.xml", GENUINE_STYLE.format(nhs="9990000018"))
    write(tmp_path, "b.xml", GENUINE_STYLE.format(nhs="9990000018"))
    with pytest.raises(RecordError, match=r"b\.xml.*also in .*a\.xml"):
        folder_practice(tmp_path)


def test_empty_or_missing_folder_is_an_error(tmp_path):
    with pytest.raises(RecordError, match=r"no \*\.xml files"):
        folder_practice(tmp_path)
    with pytest.raises(RecordError, match="does not exist"):
        folder_practice(tmp_path / "nope")


def test_recorded_indentation_is_dropped_and_text_kept(tmp_path):
    write(tmp_path, "alice.xml", GENUINE_STYLE.format(nhs="9990000018"))
    practice = folder_practice(tmp_path)
    record = practice.record(practice.find(Identity.nhs_number("9990000018")))
    assert record.text is None and record.find("Identity").tail is None
    assert record.findtext(".//Narrative/Line") == " D: Gastro-oesophageal reflux disease (X3003)"


# --- the hand-written demo practice in tests/fixtures -----------------------------------

DEMO_PRACTICE = Path(__file__).resolve().parents[1] / "fixtures" / "demo-practice"


@pytest.fixture(scope="module")
def demo():
    return folder_practice(DEMO_PRACTICE)


def test_the_demo_practice_folder_loads_and_is_searchable(demo):
    assert len(demo) == 4
    for nhs in ("9991012346", "9992024682", "9993035793", "9994046802"):
        assert nhs_number_is_valid(nhs)
        record = demo.record(demo.find(Identity.nhs_number(nhs)))
        assert 8 <= len(record.findall("Clinical/Event")) <= 15
    [abel] = demo.search(fn.PatientSearchCriteria(surname="Abel", postcode="ZZ99 3VZ"))
    assert abel.identity.value == "9991012346"


@pytest.mark.parametrize("scheme", [OutputScheme("CTV3", "Multilex"), OutputScheme("Snomed", "Dmd")])
def test_demo_practice_records_are_served_as_recorded_and_valid(demo, scheme):
    for nhs in ("9991012346", "9992024682", "9993035793", "9994046802"):
        patient = demo.find(Identity.nhs_number(nhs))
        recorded = demo.record(patient)
        body = render_record(recorded, None, scheme, demo.translates_codes, "Closed")
        assert [(c.get("Scheme"), c.get("Code")) for c in body.iter("Code")] == [
            (c.get("Scheme"), c.get("Code")) for c in recorded.iter("Code")]
        envelope = etree.fromstring((DEMO_PRACTICE / demo.source.names[patient.index]).read_bytes())
        envelope.replace(envelope.find("Response"), body)
        schemas.validate(envelope, "GetPatientRecord.response")


def test_demo_practice_records_have_the_genuine_extract_shapes(demo):
    records = [demo.record(demo.find(Identity.nhs_number(nhs))) for nhs in
               ("9991012346", "9992024682", "9993035793", "9994046802")]
    tags = {item.tag for record in records for item in record.iterfind("Clinical/Event/*")}
    assert {"ClinicalCode", "Medication", "RepeatMedication", "DrugSensitivity", "Vaccination",
            "Report", "Letter", "Attachment", "Narrative", "LinkedProblemUID"} <= tags
    for record in records:
        assert record.find("NonClinical/Task") is not None
        assert all(event.get("DoneBy").endswith(" ") for event in record.iter("Event"))
        uids = [code.findtext("ProblemUID") for code in record.iter("ClinicalCode")
                if code.find("ProblemUID") is not None]
        assert len(uids) > len(set(uids))  # a problem recorded again in a later event
    # One record is SNOMED CT (and dm+d) throughout, as OutputScheme Snomed returns it.
    acton = records[1]
    assert {code.get("Scheme") for code in acton.iter("Code")} == {"Snomed"}
    assert {drug.get("Scheme") for drug in acton.iter("Drug")} == {"Dmd"}
    assert "999791000000106" in {code.get("Code") for code in acton.iter("Code")}  # HbA1c (IFCC)
    sensitivities = [s for record in records for s in record.iter("DrugSensitivity")]
    assert {s.findtext("Type") for s in sensitivities} == {"Drug", "Ingredient"}
    none_known = [i for s in sensitivities for i in s.iter("Ingredient")
                  if i.get("Name") == "None known"]
    assert none_known and none_known[0].get("Details")
    empty_reasons = [m.find("EndReason") for record in records for m in record.iter("Medication")]
    assert empty_reasons and all(e is not None and not e.text for e in empty_reasons)
    values = {code.findtext("Value") for record in records for code in record.iter("ClinicalCode")}
    assert {"68.40", "4.40", "38.10"} <= values
    lines = [line.text for record in records for line in record.iter("Line")]
    assert any(text.strip() == "D: Hypertensive disease (XE0Ub)" for text in lines)
