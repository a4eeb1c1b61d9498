"""Tests for the project's XML Schemas (schemas/*.xsd) and their loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from facade.protocol import schemas
from facade.protocol.schemas import SchemaViolation
from tests.conftest import TPP_REFERENCE as TPP

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = TPP / "request-examples"
NO_EXAMPLES = f"TPP request examples not available at {EXAMPLES}"

EXPECTED_SCHEMAS = {
    "types", "envelope.request", "envelope.response", "error.response", "patient-record",
    "GetFunctions.request", "GetFunctions.response",
    "GetOrganisationMetaData.request", "GetOrganisationMetaData.response",
    "PatientSearch.request", "PatientSearch.response",
    "GetPatientRecord.request", "GetPatientRecord.response",
    "IsPatientRetrieved.request", "IsPatientRetrieved.response",
}


# --------------------------------------------------------------------------- helpers

def parse(text: str) -> etree._ElementTree:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.ElementTree(etree.fromstring(text.encode("utf-8"), parser))


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    hits = [number for number, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def request(function: str, parameters: str | None = "", *, header: str = "") -> str:
    lines = [
        "<ClientIntegrationRequest>",
        "    <APIKey>f31e26725b5491f2</APIKey>",
        "    <DeviceID>392752167bd7f69b</DeviceID>",
        "    <DeviceVersion>FHIR facade tests v1.0</DeviceVersion>",
        "    <RequestUID>248DC730-B34A-11E3-A459-010000004280</RequestUID>",
        f"    <Function>{function}</Function>",
        "    <FunctionVersion>1.0</FunctionVersion>",
    ]
    if header:
        lines.append(header)
    if parameters is not None:
        lines += ["    <FunctionParameters>", parameters, "    </FunctionParameters>"]
    lines.append("</ClientIntegrationRequest>")
    return "\n".join(lines)


def response(function: str, body: str) -> str:
    return "\n".join([
        "<ClientIntegrationResponse>",
        "    <DeviceID>392752167bd7f69b</DeviceID>",
        "    <RequestUID>248DC730-B34A-11E3-A459-010000004280</RequestUID>",
        f"    <Function>{function}</Function>",
        "    <FunctionVersion>1.0</FunctionVersion>",
        "    <ResponseUID>E1AE86B0-B34A-11E3-9FEC-010000001020</ResponseUID>",
        "    <Response>",
        body,
        "    </Response>",
        "</ClientIntegrationResponse>",
    ])


def assert_valid(text: str, *names: str) -> None:
    document = parse(text)
    for name in names:
        schemas.validate(document, name)


def assert_violation(text: str, name: str, line: int) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(parse(text), name)
    message = str(caught.value)
    assert message.startswith(f"line {line}: "), message
    assert "\n" not in message
    assert caught.value.line == line
    return caught.value


# --------------------------------------------------------------------------- loader

def test_every_schema_file_loads():
    available = set(schemas.names())
    assert available >= EXPECTED_SCHEMAS
    assert available == {path.stem for path in schemas.SCHEMA_DIR.glob("*.xsd")}
    for name in available:
        assert isinstance(schemas.load(name), etree.XMLSchema)


def test_load_is_cached():
    assert schemas.load("patient-record") is schemas.load("patient-record")


def test_unknown_schema_name_is_refused():
    with pytest.raises(ValueError, match="unknown schema"):
        schemas.load("../etc/passwd")


def test_every_schema_file_is_listed_in_readme():
    readme = (schemas.SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    for name in schemas.names():
        assert f"{name}.xsd" in readme


def test_types_has_no_global_elements_and_nothing_declares_a_namespace():
    xs = "{http://www.w3.org/2001/XMLSchema}"
    types = etree.parse(str(schemas.SCHEMA_DIR / "types.xsd"))
    assert types.getroot().findall(f"{xs}element") == []
    for path in schemas.SCHEMA_DIR.glob("*.xsd"):
        assert etree.parse(str(path)).getroot().get("targetNamespace") is None, path.name


def test_validate_accepts_element_or_tree():
    document = parse(IS_PATIENT_RETRIEVED)
    schemas.validate(document, "IsPatientRetrieved.response")
    schemas.validate(document.getroot(), "IsPatientRetrieved.response")


def test_root_element_must_be_the_expected_one():
    # A bare Response is a valid patient-record document but not a reply.
    text = response("GetPatientRecord", GENUINE_STYLE_RECORD)
    inner = parse(text).getroot().find("Response")
    with pytest.raises(SchemaViolation, match="root element is 'Response'"):
        schemas.validate(inner, "GetPatientRecord.response")
    # Documented children are global declarations; none of them may be a root.
    violation = assert_violation("<Sex>M</Sex>", "patient-record", 1)
    assert "expected 'Response'" in str(violation)


def test_violation_keeps_every_error():
    text = response("IsPatientRetrieved", "<IsPatientRetrieved>maybe</IsPatientRetrieved>")
    text = text.replace("<ResponseUID>E1AE86B0-B34A-11E3-9FEC-010000001020", "<ResponseUID>")
    with pytest.raises(SchemaViolation) as caught:
        schemas.validate(parse(text), "IsPatientRetrieved.response")
    assert len(caught.value.errors) == 2
    assert str(caught.value) == caught.value.errors[0]


# --------------------------------------------------------------------------- TPP's templates

_PLACEHOLDER = re.compile(r"@(\w+)((?:\|[^|<>\"]+)*)")
_PLACEHOLDER_VALUES = {
    "APIKey": "f31e26725b5491f2",
    "DeviceID": "392752167bd7f69b",
    "DeviceVersion": "FHIR facade tests v1.0",
    "RequestUID": "F7354CA0-B339-11E3-A459-010000004280",
    "NhsNumber": "9434765919",
    "PseudoNumber": "0002767317",
    "PrisonNumber": "4812207731",
    "FirstName": "Drew",
    "Surname": "Littler",
    "PostCode": "LS18 5TN",
    "Telephone": "01132050080",
    "UserName": "dlittler2405",
}


def fill_placeholders(text: str) -> str:
    """Replace TPP's ``@Name`` / ``@Name|A|B`` placeholders with real values."""

    def value(match: re.Match[str]) -> str:
        name, choices = match.group(1), match.group(2)
        if choices:
            return choices.split("|")[1]
        if name in _PLACEHOLDER_VALUES:
            return _PLACEHOLDER_VALUES[name]
        if "Date" in name:
            return "2014-08-25"
        if "Code" in name:
            return "22A.."
        if name.endswith("Number"):
            return "9434765919"
        return name

    return _PLACEHOLDER.sub(value, text)


def test_fill_placeholders():
    assert fill_placeholders("<G>@Gender|M|F</G>") == "<G>M</G>"
    assert fill_placeholders("<S>@ProblemSeverity|Major Episode|Minor</S>") == (
        "<S>Major Episode</S>")
    assert fill_placeholders("<D>@DateEntryMin</D><C>@CodeOne</C>") == (
        "<D>2014-08-25</D><C>22A..</C>")
    assert fill_placeholders("<N>@NhsNumber</N><P>@PrisonNumber</P>") == (
        "<N>9434765919</N><P>4812207731</P>")


TEMPLATE_FOLDERS = {
    "GetFunctions": "GetFunctions.request",
    "GetOrgMetaData": "GetOrganisationMetaData.request",
    "PatientSearch": "PatientSearch.request",
    "GetPatientRecord": "GetPatientRecord.request",
    "IsPatientRetrieved": "IsPatientRetrieved.request",
}


def _template_cases() -> list:
    if not EXAMPLES.is_dir():
        return [pytest.param(None, None, id="tpp-examples-missing")]
    cases = []
    for folder, name in TEMPLATE_FOLDERS.items():
        for path in sorted((EXAMPLES / folder).glob("*.xml")):
            cases.append(pytest.param(path, name, id=f"{folder}/{path.name}"))
    return cases


# One TPP template (GetPatientRecord/b1_...) is not well-formed: its XML
# declaration leaves the pseudo-attribute values unquoted. That is a defect of
# the template, not something a schema can accept, so the test repairs it.
_UNQUOTED_PROLOG = re.compile(r"^<\?xml version=1\.0 encoding=UTF-8\?>")


def load_template(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    text = _UNQUOTED_PROLOG.sub('<?xml version="1.0" encoding="UTF-8"?>', text)
    text = fill_placeholders(text)
    assert "@" not in text, f"unfilled placeholder in {path.name}"
    return text


@pytest.mark.parametrize(("path", "name"), _template_cases())
def test_tpp_request_template_validates(path: Path | None, name: str | None):
    if path is None:
        pytest.skip(NO_EXAMPLES)
    text = load_template(path)
    document = parse(text)
    schemas.validate(document, name)
    schemas.validate(document, "envelope.request")


def test_tpp_template_folders_are_all_present():
    if not EXAMPLES.is_dir():
        pytest.skip(NO_EXAMPLES)
    for folder in TEMPLATE_FOLDERS:
        assert list((EXAMPLES / folder).glob("*.xml")), folder


def test_patient_search_without_criteria_is_schema_valid():
    """The two-criteria rule is the simulator's job, not the schema's."""
    path = EXAMPLES / "PatientSearch" / "e_PatientSearch_error.xml"
    if not path.is_file():
        pytest.skip(NO_EXAMPLES)
    document = parse(load_template(path))
    schemas.validate(document, "PatientSearch.request")
    assert len(document.find("FunctionParameters")) < 2


@pytest.mark.parametrize("file_name", [
    "a_Error_empty_template.xml",
    "b_Error_invalid_root.xml",
    "c_Error_Invalid_function.xml",
    "d_Error_Invalid_coding_scheme.xml",
])
def test_tpp_error_templates_fail_the_request_envelope(file_name: str):
    path = EXAMPLES / "Errors" / file_name
    if not path.is_file():
        pytest.skip(NO_EXAMPLES)
    with pytest.raises(SchemaViolation, match=r"^line \d+: "):
        schemas.validate(parse(load_template(path)), "envelope.request")


# --------------------------------------------------------------------------- requests

FULL_FILTER = """\
        <Identity>
            <NhsNumber>9434765919</NhsNumber>
        </Identity>
        <LeaveRecordOpen></LeaveRecordOpen>
        <Filter>
            <MinEffectiveDate>2014-08-25</MinEffectiveDate>
            <MaxEffectiveDate>2014-08-25</MaxEffectiveDate>
            <MinEntryDate>2014-09-01</MinEntryDate>
            <MaxEntryDate>2014-09-01</MaxEntryDate>
            <Appointments></Appointments>
            <CarePlans></CarePlans>
            <Demographics></Demographics>
            <ClinicalCodes></ClinicalCodes>
            <ClinicalCode>XE0s6</ClinicalCode>
            <ClinicalCode>XM1GI</ClinicalCode>
            <Letters></Letters>
            <Medication></Medication>
            <Sensitivities></Sensitivities>
            <Recalls></Recalls>
            <Referrals></Referrals>
            <Relationships></Relationships>
            <Results></Results>
            <Vaccinations></Vaccinations>
            <Numeric>229..</Numeric>
            <Numeric>22A..</Numeric>
            <Reminders></Reminders>
            <Activity></Activity>
            <Attachments></Attachments>
            <Narrative></Narrative>
            <Visits></Visits>
            <Tasks/>
            <UserNameDoneBy>dlittler2405</UserNameDoneBy>
            <UserNameDoneBy>jefffry</UserNameDoneBy>
        </Filter>"""


def test_get_patient_record_request_with_every_filter():
    assert_valid(request("GetPatientRecord", FULL_FILTER),
                 "GetPatientRecord.request", "envelope.request")


def test_get_patient_record_parameters_and_filter_in_any_order():
    lines = FULL_FILTER.splitlines()
    identity, leave_open, filter_body = lines[:3], lines[3], lines[5:-1]
    shuffled = "\n".join(
        ["<Filter>", *reversed(filter_body), "</Filter>", leave_open, *identity])
    assert_valid(request("GetPatientRecord", shuffled), "GetPatientRecord.request")


def test_request_envelope_children_in_any_order_and_first_contact():
    text = "\n".join([
        "<ClientIntegrationRequest>",
        "  <FunctionParameters><LoggedOnUserOnly/></FunctionParameters>",
        "  <OutputScheme><Codes>Snomed</Codes><Drugs>Dmd</Drugs></OutputScheme>",
        "  <Function>GetOrganisationMetaData</Function>",
        "  <FunctionVersion>1.0</FunctionVersion>",
        "  <RequestUID>42</RequestUID>",
        "  <DeviceVersion></DeviceVersion>",
        "  <DeviceID/>",
        "  <APIKey>f31e26725b5491f2</APIKey>",
        "</ClientIntegrationRequest>",
    ])
    assert_valid(text, "envelope.request", "GetOrganisationMetaData.request")


def test_request_without_function_parameters():
    assert_valid(request("IsPatientRetrieved", None),
                 "IsPatientRetrieved.request", "envelope.request")


def test_patient_search_request_criteria_in_any_order():
    criteria = "\n".join([
        "<Gender>F</Gender>", "<Telephone>01132050080</Telephone>",
        "<Surname>Sw</Surname>", "<FirstName>A</FirstName>",
        "<PostCode>LS15</PostCode>", "<DateOfBirth>1933-01-01</DateOfBirth>",
    ])
    assert_valid(request("PatientSearch", criteria), "PatientSearch.request")


# --------------------------------------------------------------------------- responses

GET_FUNCTIONS = response("GetFunctions", """\
        <SupportedFunction>
            <Function>GetFunctions</Function>
            <Version>1.0</Version>
        </SupportedFunction>
        <SupportedFunction>
            <Function>GetPatientRecord</Function>
            <Version>1.0</Version>
            <Version>2.0</Version>
        </SupportedFunction>""")

GET_ORGANISATION_METADATA = response("GetOrganisationMetaData", """\
        <Site>
            <Name>Troy Road Health Centre</Name>
            <ID>B82099</ID>
            <Telephone>01130000001</Telephone>
            <Fax>01130000002</Fax>
            <Email>reception@example.org</Email>
            <Address>
                <HouseName>The Health Centre</HouseName>
                <HouseNumber></HouseNumber>
                <Road>Troy Road</Road>
                <Locality>Horsforth</Locality>
                <Town>Leeds</Town>
                <County>West Yorkshire</County>
                <Postcode>LS18 5TN</Postcode>
            </Address>
            <PrimarySite/>
            <CurrentSite></CurrentSite>
        </Site>
        <Site>
            <Name>Branch Surgery</Name>
            <ID>B82099-1</ID>
            <Telephone>01130000003</Telephone>
            <Address><Postcode>LS18 4LB</Postcode></Address>
        </Site>
        <User>
            <Title>Dr</Title>
            <FirstName>Priya</FirstName>
            <MiddleNames></MiddleNames>
            <Surname>Ashworth</Surname>
            <UserName>pashworth1207</UserName>
            <Gender>F</Gender>
            <Role>General Medical Practitioner</Role>
            <RoleCode>S0010:G0020:R0260</RoleCode>
            <NationalID>7654321</NationalID>
            <NationalIDType>GMC</NationalIDType>
            <AccessRights>
                <Access>can record clinical data</Access>
                <Access>can prescribe</Access>
            </AccessRights>
            <UserGroups>
                <Group>Doctors</Group>
            </UserGroups>
            <Teams>
                <Team>Doctors</Team>
            </Teams>
            <CurrentUser></CurrentUser>
        </User>
        <User>
            <Title></Title>
            <FirstName>Sam</FirstName>
            <MiddleNames>J</MiddleNames>
            <Surname>Reception</Surname>
            <UserName>sreception0101</UserName>
            <Gender></Gender>
            <Role>Receptionist</Role>
            <RoleCode></RoleCode>
            <NationalID></NationalID>
            <NationalIDType></NationalIDType>
            <AccessRights/>
            <Teams/>
        </User>
        <SlotType>Telephone Appointment Slot</SlotType>
        <SlotType>Slot</SlotType>
        <ClinicType>Nurse Clinic</ClinicType>""")

PATIENT_SEARCH = response("PatientSearch", """\
        <Result>
            <Identity>
                <PseudoNumber>0001980947</PseudoNumber>
                <StrategicReportingIdentifier>88110</StrategicReportingIdentifier>
            </Identity>
            <FirstName>Jasper</FirstName>
            <Surname>Fenwick</Surname>
            <DateOfBirth>1929-09-01</DateOfBirth>
            <Sex>M</Sex>
            <Telephone></Telephone>
            <Address>
                <HouseNumber>13</HouseNumber>
                <Road>Clarence Road</Road>
                <Town>Leeds</Town>
                <Postcode>LS18 4LB</Postcode>
            </Address>
        </Result>
        <Result>
            <Identity>
                <NHSNumber>9434765870</NHSNumber>
                <StrategicReportingIdentifier>88111</StrategicReportingIdentifier>
            </Identity>
            <FirstName>Jane</FirstName>
            <Surname>Fenwick</Surname>
            <DateOfBirth>1931-02-11</DateOfBirth>
            <Sex>U</Sex>
        </Result>""")

PATIENT_SEARCH_NO_MATCH = response("PatientSearch", "")

IS_PATIENT_RETRIEVED = response(
    "IsPatientRetrieved", "        <IsPatientRetrieved>true</IsPatientRetrieved>")

ERROR = response("PatientSearch", """\
        <ErrorMessage>At least two search parameters must be specified</ErrorMessage>
        <PermanentError>true</PermanentError>""")

ERROR_TO_UNPARSEABLE_REQUEST = """\
<ClientIntegrationResponse>
    <DeviceID></DeviceID>
    <RequestUID/>
    <Function/>
    <FunctionVersion/>
    <ResponseUID>90BDF4D0-B33A-11E3-9804-010000005129</ResponseUID>
    <Response>
        <ErrorMessage>The request could not be parsed</ErrorMessage>
        <PermanentError>false</PermanentError>
    </Response>
</ClientIntegrationResponse>"""

SPEC_STYLE_RECORD = """\
        <Identity>
            <NHSNumber>9434765919</NHSNumber>
            <StrategicReportingIdentifier>8484556</StrategicReportingIdentifier>
        </Identity>
        <Demographics>
            <Title>Mrs</Title>
            <FirstName>Edith</FirstName>
            <MiddleNames></MiddleNames>
            <Surname>Marlowe</Surname>
            <KnownAs>Edie</KnownAs>
            <DateOfBirth>1933-01-01</DateOfBirth>
            <Sex>F</Sex>
            <MaritalStatus>
                <Code Scheme="CTV3" Code="XE0oZ" Term="Single person"></Code>
            </MaritalStatus>
            <Ethnicity>
                <Code Scheme="CTV3" Code="XaFwD" Term="White British"></Code>
            </Ethnicity>
            <MainLanguage>
                <Code Scheme="Snomed" Code="300897006"/>
            </MainLanguage>
            <EnglishSpeaker>Yes</EnglishSpeaker>
            <Address>
                <HouseName></HouseName>
                <HouseNumber>425</HouseNumber>
                <Road>Leeds Road</Road>
                <Locality>Scholes</Locality>
                <Town>Leeds</Town>
                <County></County>
                <Postcode>LS15 4DF</Postcode>
            </Address>
            <HomeTelephone>01130000004</HomeTelephone>
            <WorkTelephone></WorkTelephone>
            <MobileTelephone>07700900123</MobileTelephone>
            <AlternateTelephone></AlternateTelephone>
            <EmailAddress></EmailAddress>
            <SMSConsent></SMSConsent>
            <UsualGPUserName>pashworth1207</UsualGPUserName>
            <CareStartDate>1990-10-29</CareStartDate>
            <RegistrationType>GMS</RegistrationType>
        </Demographics>
        <Clinical>
            <Event DateTime="2014-03-26T09:06:50" UserName="pashworth1207"
                   DoneBy="Priya Ashworth" DoneAt="Surgery" Software="Client Integration Software"
                   LinkedReferralUID="6510300000000000" EventUID="b95ee04200000000"
                   Method="Face to face">
                <ClinicalCode>
                    <Code Scheme="CTV3" Code="22A.." Term="O/E - weight"/>
                    <Value>72.5</Value>
                    <Units>kg</Units>
                    <Comparator>4</Comparator>
                </ClinicalCode>
                <ClinicalCode>
                    <Code Scheme="CTV3" Code="XE2eD" Term="HbA1c level"/>
                    <Value>-0.5</Value>
                    <Comparator>7</Comparator>
                </ClinicalCode>
                <ClinicalCode>
                    <Code Scheme="CTV3" Code="XE0Ub" Term="Hypertension"/>
                    <Episodicity>New</Episodicity>
                    <ProblemUID>ed58000000000000</ProblemUID>
                    <ProblemSeverity>Major</ProblemSeverity>
                    <ProblemEndDate>2015-03-26</ProblemEndDate>
                    <FreeText>Home readings confirm</FreeText>
                    <LinkedProblemUID>794d100000000000</LinkedProblemUID>
                    <LinkedProblemUID>894d100000000000</LinkedProblemUID>
                </ClinicalCode>
                <Medication>
                    <MedicationType>NHS medication</MedicationType>
                    <Drug Scheme="Multilex" ProductID="2007553" PackID="12"
                          Name="Omeprazole 20mg dispersible gastro-resistant tablets"/>
                    <Dose>take one daily</Dose>
                    <Quantity>28 tablet</Quantity>
                    <StartDate>2014-03-26</StartDate>
                    <EndDate>2014-04-23T00:00:00</EndDate>
                    <EndReason>Course complete</EndReason>
                </Medication>
                <RepeatMedication>
                    <Drug Scheme="Dmd" ProductID="39113611000001102" Name="Amlodipine 5mg tablets"/>
                    <Dose>one daily</Dose>
                    <Quantity>28 tablet</Quantity>
                    <StartDate>2014-03-26</StartDate>
                    <ReviewDate>2015-03-26</ReviewDate>
                    <MaxIssues>12</MaxIssues>
                    <IssueDurationDays>28</IssueDurationDays>
                </RepeatMedication>
                <Narrative>
                    <Line>H: headaches for two weeks</Line>
                    <Line>P: review in one month</Line>
                </Narrative>
                <Attachment>
                    <FileName>home-readings.pdf</FileName>
                    <FileSize>12 KB</FileSize>
                    <DocumentUID>62fd200000000000</DocumentUID>
                    <Comments>Home blood pressure diary</Comments>
                </Attachment>
                <LinkedProblemUID>794d100000000000</LinkedProblemUID>
            </Event>
            <Event DateTime="2017-12-19T12:45:12.0Z" UserName="lsharples1004"
                   DoneBy="SHARPLES, Laura ('Other' Community Health Service)" DoneAt="Surgery"
                   EventUID="3c891fb900000000">
                <DrugSensitivity>
                    <Type>Ingredient</Type>
                    <Ingredient Scheme="Multilex" IngredientID="1" Name="None known"
                                Details="LATEX FOAM - ADHESIVE"/>
                    <EndedWithUnknownDate/>
                </DrugSensitivity>
                <DrugSensitivity>
                    <Type>Drug</Type>
                    <Drug Scheme="Multilex" ProductID="1004531" Name="Penicillin V 250mg tablets"/>
                    <EndDate>2019-01-01</EndDate>
                    <FreeText>rash</FreeText>
                </DrugSensitivity>
                <Vaccination>
                    <Name>Influenza</Name>
                    <BatchNumber>AB123</BatchNumber>
                </Vaccination>
                <Report>Free-text report body</Report>
            </Event>
        </Clinical>
        <NonClinical>
            <Appointment>
                <DateTime>2014-03-26T14:55:00</DateTime>
                <Duration>10.0</Duration>
                <Clinician>ASHWORTH, Priya</Clinician>
                <UserName>pashworth1207</UserName>
                <Site>Troy Road Health Centre</Site>
                <ClinicType>Session</ClinicType>
                <AppointmentUID>6510300000000000</AppointmentUID>
                <Status>Booked</Status>
            </Appointment>
            <Task>
                <TaskUID>122e900000000000</TaskUID>
                <DateTime>2014-03-26T15:00:00</DateTime>
                <TaskType>Miscellaneous</TaskType>
                <Status>Not Started</Status>
                <Content>Please book a blood pressure check</Content>
            </Task>
        </NonClinical>
        <RecordState>Open</RecordState>"""

GET_PATIENT_RECORD = response("GetPatientRecord", SPEC_STYLE_RECORD)

# Shaped like a genuine SystmOne Demo extract: tabs, attributes in alphabetical
# order, empty address parts left out, empty coded values, undocumented
# children and attributes, raw newlines in a task.
GENUINE_STYLE_RECORD = """\
\t\t<Identity> \n\t\t\t<NHSNumber>9000000009</NHSNumber>
\t\t\t<StrategicReportingIdentifier>246216</StrategicReportingIdentifier>
\t\t</Identity>
\t\t<Demographics>
\t\t\t<Title>Miss</Title>
\t\t\t<FirstName>Harriet</FirstName>
\t\t\t<MiddleNames/>
\t\t\t<Surname>Oakley</Surname>
\t\t\t<DateOfBirth>1951-01-01</DateOfBirth>
\t\t\t<Sex>F</Sex>
\t\t\t<MaritalStatus/>
\t\t\t<Ethnicity/>
\t\t\t<MainLanguage/>
\t\t\t<EnglishSpeaker>Unknown</EnglishSpeaker>
\t\t\t<Address>
\t\t\t\t<County>No Fixed Abode</County>
\t\t\t\t<Postcode>ZZ99 3VZ</Postcode>
\t\t\t</Address>
\t\t\t<HomeTelephone/>
\t\t\t<WorkTelephone/>
\t\t\t<MobileTelephone/>
\t\t\t<AlternateTelephone/>
\t\t\t<EmailAddress/>
\t\t\t<SMSConsent>No</SMSConsent>
\t\t\t<UsualGPUserName>pashworth1207</UsualGPUserName>
\t\t\t<CareStartDate>2015-06-10</CareStartDate>
\t\t\t<RegistrationType>Applied</RegistrationType>
\t\t\t<PreferredPharmacy>FAKE01</PreferredPharmacy>
\t\t</Demographics>
\t\t<Clinical>
\t\t\t<Event DateTime="2015-06-10T15:17:30" DoneAt="Surgery" \
DoneBy="ASHWORTH, Priya (General Medical Practitioner) " EventUID="f7b1080000000000" \
UserName="pashworth1207">
\t\t\t\t<Narrative>
\t\t\t\t\t<Line> D: Gastro-oesophageal reflux disease (X3003)</Line>
\t\t\t\t</Narrative>
\t\t\t\t<Medication>
\t\t\t\t\t<MedicationType>NHS medication</MedicationType>
\t\t\t\t\t<Drug Name="Omeprazole 20mg dispersible gastro-resistant tablets" \
ProductID="2007553" Scheme="Multilex"/>
\t\t\t\t\t<Dose>take one daily</Dose>
\t\t\t\t\t<Quantity>28 tablet</Quantity>
\t\t\t\t\t<StartDate>2015-06-10</StartDate>
\t\t\t\t\t<EndDate>2015-07-08</EndDate>
\t\t\t\t\t<EndReason/>
\t\t\t\t</Medication>
\t\t\t\t<ClinicalCode>
\t\t\t\t\t<Code Code="X3003" Scheme="CTV3" Term="Gastro-oesophageal reflux disease"/>
\t\t\t\t</ClinicalCode>
\t\t\t\t<ClinicalCode>
\t\t\t\t\t<Code Code="X3003" Scheme="CTV3" Term="Gastro-oesophageal reflux disease"/>
\t\t\t\t\t<ProblemUID>ed58000000000000</ProblemUID>
\t\t\t\t\t<ProblemSeverity>Major</ProblemSeverity>
\t\t\t\t\t<SharingConsent Level="2">Shared</SharingConsent>
\t\t\t\t</ClinicalCode>
\t\t\t\t<ConsultationSummary>
\t\t\t\t\t<Heading>Reflux</Heading>
\t\t\t\t</ConsultationSummary>
\t\t\t</Event>
\t\t\t<Event DateTime="2015-07-14T15:31:56" DoneAt="Surgery" \
DoneBy="ASHWORTH, Priya (General Medical Practitioner) " EventUID="b202680000000000" \
OnlineVisibility="Hidden" Software="Example Integration" UserName="pashworth1207">
\t\t\t\t<Attachment>
\t\t\t\t\t<Comments>TESTFILE1</Comments>
\t\t\t\t\t<DocumentUID>62fd200000000000</DocumentUID>
\t\t\t\t\t<FileName>testfile1.htm</FileName>
\t\t\t\t\t<FileSize>0 bytes</FileSize>
\t\t\t\t</Attachment>
\t\t\t</Event>
\t\t</Clinical>
\t\t<NonClinical>
\t\t\t<Task>
\t\t\t\t<TaskUID>022e900000000000</TaskUID>
\t\t\t\t<DateTime>2015-09-24T18:16:51</DateTime>
\t\t\t\t<TaskType>Miscellaneous</TaskType>
\t\t\t\t<Status>Not Started</Status>
\t\t\t\t<Content>Thu 24 Sep 18:16 - ASHWORTH, Priya
Please call the patient about her results.
Second line of the note.
</Content>
\t\t\t</Task>
\t\t</NonClinical>
\t\t<RecordState>Closed</RecordState>"""


def as_record_file(body: str) -> str:
    return f"<?xml version=\"1.0\" ?>\n<Response>\n{body}\n\t</Response>"


@pytest.mark.parametrize(("text", "name"), [
    pytest.param(GET_FUNCTIONS, "GetFunctions.response", id="GetFunctions"),
    pytest.param(GET_ORGANISATION_METADATA, "GetOrganisationMetaData.response",
                 id="GetOrganisationMetaData"),
    pytest.param(PATIENT_SEARCH, "PatientSearch.response", id="PatientSearch"),
    pytest.param(PATIENT_SEARCH_NO_MATCH, "PatientSearch.response", id="PatientSearch-empty"),
    pytest.param(GET_PATIENT_RECORD, "GetPatientRecord.response", id="GetPatientRecord"),
    pytest.param(IS_PATIENT_RETRIEVED, "IsPatientRetrieved.response", id="IsPatientRetrieved"),
    pytest.param(ERROR, "error.response", id="error"),
    pytest.param(ERROR_TO_UNPARSEABLE_REQUEST, "error.response", id="error-echoes-nothing"),
])
def test_response_validates(text: str, name: str):
    assert_valid(text, name, "envelope.response")


def test_spec_style_record_validates_on_its_own():
    assert_valid(as_record_file(SPEC_STYLE_RECORD), "patient-record")


def test_genuine_style_record_validates():
    assert_valid(as_record_file(GENUINE_STYLE_RECORD), "patient-record")
    assert_valid(response("GetPatientRecord", GENUINE_STYLE_RECORD),
                 "GetPatientRecord.response", "envelope.response")
    content = parse(as_record_file(GENUINE_STYLE_RECORD)).findtext(".//Content")
    assert content.count("\n") == 3


def test_record_state_optional_in_a_file_but_required_in_a_reply():
    body = SPEC_STYLE_RECORD.replace("        <RecordState>Open</RecordState>", "")
    assert_valid(as_record_file(body), "patient-record")
    text = response("GetPatientRecord", body)
    # A missing child is reported on the parent's start tag.
    violation = assert_violation(text, "GetPatientRecord.response",
                                 line_of(text, "<Response>"))
    assert "RecordState" in str(violation)


def test_a_filtered_record_may_hold_identity_only():
    body = "<Identity><NHSNumber>9434765919</NHSNumber></Identity><RecordState>Closed</RecordState>"
    assert_valid(response("GetPatientRecord", body), "GetPatientRecord.response")


def test_lax_content_checks_known_names_and_skips_unknown_ones():
    """The open-container pattern really works in libxml2."""
    def event(children: str) -> str:
        return as_record_file(
            "<Identity><NHSNumber>9434765919</NHSNumber></Identity>\n<Clinical>\n"
            f"<Event DateTime=\"2015-06-10T15:17:30\">\n{children}\n</Event>\n</Clinical>")

    assert_valid(event("<Mystery a=\"1\"><Deeper>anything</Deeper></Mystery>"), "patient-record")
    text = event("<ClinicalCode>\n<Code Scheme=\"CTV3\" Code=\"22A..\"/>\n"
                 "<Value>heavy</Value>\n</ClinicalCode>")
    assert_violation(text, "patient-record", line_of(text, "<Value>"))
    # A documented name is checked even inside an undocumented element.
    text = event("<Mystery>\n<Comparator>9</Comparator>\n</Mystery>")
    assert_violation(text, "patient-record", line_of(text, "<Comparator>"))
    # Values SystmOne may well use beyond the two TPP's XSD lists are accepted,
    # and an empty date of birth (e.g. of a relative) too.
    assert_valid(event("<ClinicalCode><Code Scheme=\"CTV3\" Code=\"H33..\"/>"
                       "<Episodicity>Flare Up</Episodicity></ClinicalCode>"), "patient-record")
    assert_valid(event("<Relationship><DateOfBirth/></Relationship>"), "patient-record")
    # A documented structure with an undocumented value is still refused.
    text = event("<Medication>\n<Drug Scheme=\"Read2\" ProductID=\"1\"/>\n</Medication>")
    assert_violation(text, "patient-record", line_of(text, "<Drug "))
    text = event("<ClinicalCode>\n<Code Scheme=\"CTV3\"/>\n</ClinicalCode>")
    assert_violation(text, "patient-record", line_of(text, "<Code "))


@pytest.mark.parametrize("severity", ["Major", "Minor", "Major Episode", "Minor Event", ""])
def test_problem_severity_spellings(severity: str):
    body = SPEC_STYLE_RECORD.replace("<ProblemSeverity>Major<",
                                     f"<ProblemSeverity>{severity}<")
    assert_valid(as_record_file(body), "patient-record")


@pytest.mark.parametrize("value", [
    "2014-03-26T09:06:50", "2017-12-19T12:45:12.0Z", "2014-03-26T09:06:50+01:00", "2014-03-26",
])
def test_event_date_time_is_tolerant(value: str):
    body = SPEC_STYLE_RECORD.replace('DateTime="2014-03-26T09:06:50"', f'DateTime="{value}"')
    assert_valid(as_record_file(body), "patient-record")


# --------------------------------------------------------------------------- negative cases

def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


NEGATIVE_CASES = {
    "sex-X": (
        _replace(as_record_file(SPEC_STYLE_RECORD), "<Sex>F</Sex>", "<Sex>X</Sex>"),
        "patient-record", "<Sex>X</Sex>"),
    "value-abc": (
        _replace(GET_PATIENT_RECORD, "<Value>72.5</Value>", "<Value>abc</Value>"),
        "GetPatientRecord.response", "<Value>abc</Value>"),
    "comparator-9": (
        _replace(as_record_file(SPEC_STYLE_RECORD), "<Comparator>4<", "<Comparator>9<"),
        "patient-record", "<Comparator>9<"),
    "missing-event-datetime": (
        _replace(as_record_file(GENUINE_STYLE_RECORD),
                 'Event DateTime="2015-07-14T15:31:56" ', "Event "),
        "patient-record", 'EventUID="b202680000000000"'),
    "filter-bad-date": (
        request("GetPatientRecord", _replace(
            FULL_FILTER, "<MinEntryDate>2014-09-01<", "<MinEntryDate>01/09/2014<")),
        "GetPatientRecord.request", "<MinEntryDate>"),
    "filter-bad-ctv3": (
        request("GetPatientRecord", _replace(FULL_FILTER, "<Numeric>229..<", "<Numeric>229<")),
        "GetPatientRecord.request", "<Numeric>229<"),
    "filter-flag-twice": (
        request("GetPatientRecord", _replace(
            FULL_FILTER, "<Tasks/>", "<Tasks/>\n            <Demographics/>")),
        "GetPatientRecord.request", "<Demographics/>"),
    "filter-date-twice": (
        request("GetPatientRecord", _replace(
            FULL_FILTER, "<Tasks/>", "<Tasks/>\n<MaxEntryDate>2014-09-02</MaxEntryDate>")),
        "GetPatientRecord.request", "<MaxEntryDate>2014-09-02"),
    "filter-flag-with-text": (
        request("GetPatientRecord", _replace(FULL_FILTER, "<Tasks/>", "<Tasks>yes</Tasks>")),
        "GetPatientRecord.request", "<Tasks>yes"),
    "identity-two-identifiers": (
        request("GetPatientRecord", "\n".join([
            "<Identity>",
            "<NHSNumber>9434765919</NHSNumber>",
            "<PseudoNumber>0002767317</PseudoNumber>",
            "</Identity>"])),
        "GetPatientRecord.request", "<PseudoNumber>"),
    "identity-empty": (
        request("GetPatientRecord", "<Identity>\n</Identity>"),
        "GetPatientRecord.request", "<Identity>"),
    "nhs-number-not-ten-digits": (
        request("GetPatientRecord", "<Identity>\n<NhsNumber>943 476 5919</NhsNumber>\n</Identity>"),
        "GetPatientRecord.request", "<NhsNumber>"),
    "patient-search-gender-U": (
        request("PatientSearch", "<Surname>Fenwick</Surname>\n<Gender>U</Gender>"),
        "PatientSearch.request", "<Gender>U</Gender>"),
    "patient-search-criterion-twice": (
        request("PatientSearch", "<Surname>Fenwick</Surname>\n<Surname>Smith</Surname>"),
        "PatientSearch.request", "<Surname>Smith"),
    "wrong-function-for-schema": (
        request("GetPatientRecord", ""), "PatientSearch.request", "<Function>"),
    "unknown-output-scheme": (
        request("GetFunctions", "", header="<OutputScheme>\n<Drugs>Mulitlex</Drugs>\n"
                                           "</OutputScheme>"),
        "envelope.request", "<Drugs>"),
    "request-duplicate-child": (
        _replace(request("GetFunctions"), "<FunctionVersion>1.0</FunctionVersion>",
                 "<FunctionVersion>1.0</FunctionVersion>\n<APIKey>x</APIKey>"),
        "envelope.request", "<APIKey>x"),
    "response-out-of-order": (
        _replace(IS_PATIENT_RETRIEVED,
                 "    <DeviceID>392752167bd7f69b</DeviceID>\n"
                 "    <RequestUID>248DC730-B34A-11E3-A459-010000004280</RequestUID>",
                 "    <RequestUID>248DC730-B34A-11E3-A459-010000004280</RequestUID>\n"
                 "    <DeviceID>392752167bd7f69b</DeviceID>"),
        "envelope.response", "<RequestUID>"),
    "response-without-response-uid": (
        _replace(ERROR, "E1AE86B0-B34A-11E3-9FEC-010000001020", ""),
        "error.response", "<ResponseUID>"),
    "permanent-error-yes": (
        _replace(ERROR, "<PermanentError>true<", "<PermanentError>yes<"),
        "error.response", "<PermanentError>"),
    "is-patient-retrieved-maybe": (
        _replace(IS_PATIENT_RETRIEVED, ">true<", ">maybe<"),
        "IsPatientRetrieved.response", "<IsPatientRetrieved>"),
    "search-result-sex-X": (
        _replace(PATIENT_SEARCH, "<Sex>U</Sex>", "<Sex>X</Sex>"),
        "PatientSearch.response", "<Sex>X</Sex>"),
    "user-gender-U": (
        _replace(GET_ORGANISATION_METADATA, "<Gender>F</Gender>", "<Gender>U</Gender>"),
        "GetOrganisationMetaData.response", "<Gender>U</Gender>"),
    "record-state-unknown": (
        _replace(GET_PATIENT_RECORD, "<RecordState>Open<", "<RecordState>Saved<"),
        "GetPatientRecord.response", "<RecordState>"),
    "english-speaker-maybe": (
        _replace(GET_PATIENT_RECORD, "<EnglishSpeaker>Yes<", "<EnglishSpeaker>Maybe<"),
        "GetPatientRecord.response", "<EnglishSpeaker>"),
    "record-without-identity": (
        as_record_file("<Clinical/>"), "patient-record", "<Clinical/>"),
}


@pytest.mark.parametrize(("text", "name", "needle"),
                         [pytest.param(*case, id=key) for key, case in NEGATIVE_CASES.items()])
def test_invalid_document_is_refused_with_its_line(text: str, name: str, needle: str):
    assert_violation(text, name, line_of(text, needle))
