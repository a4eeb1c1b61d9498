"""UK Core Patient from a SystmOne record (GetPatientRecord) or a PatientSearch Result.

A record's fields sit under ``Demographics``; a search Result carries a
summary (names, date of birth, sex, preferred telephone, address) directly, so
paths list both places. A Patient built from a Result is marked SUBSETTED.
"""

from facade.mapping.declaration import PATIENT_LIST, Declaration, SearchParam, r4
from facade.mapping.vocabulary import Include, Path, Var, When

from . import fragments, systems

RESOURCE = "Patient"
PROFILE = systems.UKCORE_PATIENT

# Where the demographic fields are: a record's Demographics, else the Result itself.
_PERSON = "Demographics | self::Result"

TEMPLATE = {
    "resourceType": "Patient",
    "id": Var("id"),
    "meta": {
        "profile": [PROFILE],
        "lastUpdated": Var("last_updated"),
        # A search Result holds only SystmOne's summary of the patient.
        "tag": [When("self::Result", {
            "system": systems.V3_OBSERVATION_VALUE,
            "code": "SUBSETTED",
            "display": "subsetted",
        })],
    },
    "extension": [
        Include(fragments.ETHNIC_CATEGORY, at="Demographics/Ethnicity/Code"),
    ],
    "identifier": [
        Include(fragments.NHS_NUMBER, at="Identity/NHSNumber | Identity/NhsNumber"),
        Include(fragments.LOCAL_IDENTIFIER, at="Identity/PseudoNumber",
                values={"system": systems.SYSTMONE_PSEUDO_NUMBER}),
        Include(fragments.LOCAL_IDENTIFIER, at="Identity/ClientID",
                values={"system": systems.SYSTMONE_CLIENT_ID}),
    ],
    "active": True,  # SystmOne searches and extracts the organisation's own list
    "name": [
        Include(fragments.OFFICIAL_NAME, at=_PERSON),
        Include(fragments.KNOWN_AS_NAME, at="Demographics/KnownAs[normalize-space()]"),
    ],
    "telecom": [
        Include(fragments.CONTACT_POINT, at="Demographics/HomeTelephone",
                values={"system": "phone", "use": "home"}),
        Include(fragments.CONTACT_POINT, at="Demographics/MobileTelephone",
                values={"system": "phone", "use": "mobile"}),
        Include(fragments.CONTACT_POINT, at="Demographics/WorkTelephone",
                values={"system": "phone", "use": "work"}),
        Include(fragments.CONTACT_POINT, at="Demographics/AlternateTelephone",
                values={"system": "phone"}),
        Include(fragments.CONTACT_POINT, at="Demographics/EmailAddress",
                values={"system": "email", "use": "home"}),
        # A search Result's one "preferred" number, use unknown.
        Include(fragments.CONTACT_POINT, at="self::Result/Telephone",
                values={"system": "phone"}),
    ],
    "gender": Path("Demographics/Sex", "self::Result/Sex", map="gender", default="unknown"),
    "birthDate": Path("Demographics/DateOfBirth", "self::Result/DateOfBirth", via="date"),
    "address": [Include(fragments.ADDRESS, at="Demographics/Address | self::Result/Address")],
    "generalPractitioner": [Var("usual_gp"), Var("practice")],
    # The practice whose list the patient is on is the record's custodian.
    "managingOrganization": Var("practice"),
}

DECLARATION = Declaration(
    type="Patient",
    profile=PROFILE,
    supported_profiles=(PROFILE,),
    source=PATIENT_LIST,
    sections=frozenset({"Demographics"}),
    search_params=(
        SearchParam("_id", "token", ("id",), "The Patient's logical id.",
                    definition=r4("Resource-id")),
        SearchParam("identifier", "token", ("identifier",),
                    "NHS number: https://fhir.nhs.uk/Id/nhs-number|9990000018 or the bare "
                    "number (a record without one: its SystmOne pseudo-number or client id, "
                    "under the systems the Patient carries). Answered alone. A number that "
                    "is not ten digits or fails modulus 11 is a 400 (INVALID_NHS_NUMBER), "
                    "as is any other system (INVALID_IDENTIFIER_SYSTEM).",
                    definition=r4("Patient-identifier")),
        SearchParam("family", "string", ("name.family",),
                    "Surname, or its beginning (:exact: sent as its beginning, then matched "
                    "whole, case and accents as given; :contains: narrows only, not counted "
                    "as a criterion).", definition=r4("individual-family")),
        SearchParam("given", "string", ("name.given",),
                    "First name, or its beginning (:exact and :contains as for family).",
                    definition=r4("individual-given")),
        SearchParam("name", "string", ("name.family", "name.given", "name.text"),
                    "Any part of a name, or its beginning. Beside two other criteria it "
                    "narrows what they find; beside exactly one of birthdate, gender, "
                    "address-postalcode or phone it stands in for the second: SystmOne is "
                    "searched twice, with it as the surname and as the first name (two "
                    "request slots), and either's matches are kept.",
                    definition=r4("Patient-name")),
        SearchParam("birthdate", "date", ("birthDate",),
                    "Date of birth; a full date is sent to SystmOne, prefixes and partial "
                    "dates narrow the results.", definition=r4("individual-birthdate")),
        SearchParam("gender", "token", ("gender",), "male or female.",
                    definition=r4("individual-gender")),
        SearchParam("address-postalcode", "string", ("address.postalCode",),
                    "A full, correctly spaced postcode (LS18 5TN) or a district (LS18).",
                    definition=r4("individual-address-postalcode")),
        SearchParam("phone", "token", ("telecom.value",),
                    "Any of the patient's telephone numbers.", definition=r4("individual-phone")),
        SearchParam("telecom", "token", ("telecom.value",), "As phone.",
                    definition=r4("individual-telecom")),
        SearchParam("general-practitioner", "reference", ("generalPractitioner",),
                    "The usual GP (Practitioner/[id]) or the practice (Organization/[id]); "
                    "narrows the results. _include=Patient:general-practitioner adds them.",
                    definition=r4("Patient-general-practitioner")),
        SearchParam("organization", "reference", ("managingOrganization",),
                    "The practice: Organization/[id]; narrows the results.",
                    definition=r4("Patient-organization")),
    ),
    includes=("general-practitioner", "organization"),
)
