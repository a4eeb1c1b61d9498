"""UK Core Practitioner: the practice's registered users, from GetOrganisationMetaData.

TPP's User (spec v33.4, GetOrganisationMetaData) gives the person's Title, FirstName,
MiddleNames, Surname, Gender, UserName, NationalID and NationalIDType (GMC, NMC, RPSGB,
HPC), Role and RoleCode. One Practitioner per User:

- id: from the UserName (SystmOne: "can be used as a unique identifier for a user"), made
  opaque by the deployment's key (records.py): a login name is not published in URLs, and
  a user with no register number (a receptionist, a health care assistant) still has one.
- identifier: the register number under its UK Core namespace; a NationalIDType nobody
  publishes a namespace for is left out rather than invented.
- name: official, as Patient's; gender M/F; the role is the PractitionerRole's.

Every clinical resource's recorder/performer references the Practitioner of its Event's
UserName (fragments.RECORDER), so a client can ``_include`` the people behind a record.
"""

from facade.mapping.declaration import ORGANISATION, Declaration, SearchParam, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var, When

from . import fragments, systems

RESOURCE = "Practitioner"
PROFILE = systems.UKCORE_PRACTITIONER

# At a User: its register number, under the register's namespace.
REGISTER_NUMBER = When("NationalIDType = 'GMC'", systems.GMC_NUMBER,
                       When("NationalIDType = 'NMC'", systems.NMC_NUMBER,
                            When("NationalIDType = 'RPSGB'", systems.GPHC_NUMBER,
                                 When("NationalIDType = 'HPC'", systems.HCPC_NUMBER))))

PRACTITIONER = {
    "resourceType": "Practitioner",
    "id": Id("UserName"),
    "meta": {"profile": [PROFILE], "lastUpdated": Var("last_updated")},
    "identifier": [{"system": Required(REGISTER_NUMBER),
                    "value": Required(Path("NationalID"))}],
    "name": [Include(fragments.OFFICIAL_NAME)],
    "gender": Path("Gender[. = 'M' or . = 'F']", map="gender"),
}

TEMPLATE = [Each("User[normalize-space(UserName)]", PRACTITIONER)]

DECLARATION = Declaration(
    type="Practitioner",
    profile=PROFILE,
    supported_profiles=(PROFILE,),
    source=ORGANISATION,
    search_params=(
        SearchParam("_id", "token", ("id",), "The Practitioner's logical id.",
                    definition=r4("Resource-id")),
        SearchParam("identifier", "token", ("identifier",),
                    "A register number: https://fhir.hl7.org.uk/Id/gmc-number|[number] "
                    "(GMC; nmc-number, gphc-number, hcpc-number) or the bare number.",
                    definition=r4("Practitioner-identifier")),
        SearchParam("name", "string", ("name.family", "name.given", "name.prefix"),
                    "Any part of the name, or its beginning.", definition=r4("Practitioner-name")),
        SearchParam("family", "string", ("name.family",), "Surname, or its beginning.",
                    definition=r4("individual-family")),
        SearchParam("given", "string", ("name.given",),
                    "First or middle name, or its beginning.", definition=r4("individual-given")),
    ),
)
