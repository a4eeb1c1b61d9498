"""UK Core Organization: the practice behind SystmOne, from GetOrganisationMetaData.

TPP's Site (spec v33.4) gives a site's Name, ID, Telephone, Fax, Email and Address, and
marks the PrimarySite and the CurrentSite (where the SystmOne client sits). The practice is
the primary site, else the current one (the spec's own example marks no primary): one
Organization, identified by that site's ID as its ODS organisation code — the code the
facade keys its cache by and Patient.managingOrganization names. Every site, the primary
one included, is also a Location (location.py).

No type: SystmOne serves GP practices and community and other services alike, and the
metadata does not say which this is.
"""

from facade.mapping.declaration import ORGANISATION, Declaration, SearchParam, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Required, Var

from . import fragments, systems

RESOURCE = "Organization"
PROFILE = systems.UKCORE_ORGANIZATION

#: From the metadata's Response: the practice's site (primary, else current), with an ID.
PRACTICE_SITE = ("(Site[PrimarySite][normalize-space(ID)] | Site[CurrentSite][normalize-space(ID)]"
                 "[not(../Site[PrimarySite][normalize-space(ID)])])[1]")
#: From a Site: the practice's ID (the same site), for references to the Organization.
PRACTICE_ID = ("../Site[PrimarySite]/ID", "../Site[CurrentSite]/ID")

# At a Site: its telephone, fax and e-mail (a site's contacts are work contacts).
SITE_TELECOM = [
    Include(fragments.CONTACT_POINT, at="Telephone", values={"system": "phone", "use": "work"}),
    Include(fragments.CONTACT_POINT, at="Fax", values={"system": "fax", "use": "work"}),
    Include(fragments.CONTACT_POINT, at="Email", values={"system": "email", "use": "work"}),
]
# At a Site: its postal address (fragments.ADDRESS, a work address).
SITE_ADDRESS = [Include({**fragments.ADDRESS, "use": "work"}, at="Address")]

ORGANIZATION = {
    "resourceType": "Organization",
    "id": Id("ID"),
    "meta": {"profile": [PROFILE], "lastUpdated": Var("last_updated")},
    "identifier": [{"system": systems.ODS_ORGANISATION, "value": Required(Path("ID"))}],
    "name": Path("Name"),
    "telecom": SITE_TELECOM,
    "address": SITE_ADDRESS,
}

TEMPLATE = [Each(PRACTICE_SITE, ORGANIZATION)]

DECLARATION = Declaration(
    type="Organization",
    profile=PROFILE,
    supported_profiles=(PROFILE,),
    source=ORGANISATION,
    search_params=(
        SearchParam("_id", "token", ("id",), "The Organization's logical id.",
                    definition=r4("Resource-id")),
        SearchParam("identifier", "token", ("identifier",),
                    "ODS code: https://fhir.nhs.uk/Id/ods-organization-code|[code] or the "
                    "bare code.", definition=r4("Organization-identifier")),
        SearchParam("name", "string", ("name",), "The name, or its beginning.",
                    definition=r4("Organization-name")),
    ),
)
