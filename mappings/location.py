"""UK Core Location: the practice's sites, from GetOrganisationMetaData.

One Location per TPP Site (spec v33.4): its ID as the ODS site code (UK Core's odsSiteCode
slice), name, telephone, fax, e-mail and address, managed by the practice (organization.py).
status active: SystmOne lists the sites the organisation works at now.
"""

from facade.mapping.declaration import ORGANISATION, Declaration, SearchParam, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Required, Var

from . import fragments, systems
from .organization import PRACTICE_ID, SITE_TELECOM

RESOURCE = "Location"
PROFILE = systems.UKCORE_LOCATION

LOCATION = {
    "resourceType": "Location",
    "id": Id("ID"),
    "meta": {"profile": [PROFILE], "lastUpdated": Var("last_updated")},
    "identifier": [{"system": systems.ODS_SITE, "value": Required(Path("ID"))}],
    "status": "active",
    "name": Path("Name"),
    "telecom": SITE_TELECOM,
    "address": Include({**fragments.ADDRESS, "use": "work"}, at="Address"),
    "managingOrganization": Ref("Organization", *PRACTICE_ID),
}

TEMPLATE = [Each("Site[normalize-space(ID)]", LOCATION)]

DECLARATION = Declaration(
    type="Location",
    profile=PROFILE,
    supported_profiles=(PROFILE,),
    source=ORGANISATION,
    search_params=(
        SearchParam("_id", "token", ("id",), "The Location's logical id.",
                    definition=r4("Resource-id")),
        SearchParam("identifier", "token", ("identifier",),
                    "ODS site code: https://fhir.nhs.uk/Id/ods-site-code|[code] or the bare "
                    "code.", definition=r4("Location-identifier")),
        SearchParam("name", "string", ("name",), "The name, or its beginning.",
                    definition=r4("Location-name")),
        SearchParam("organization", "reference", ("managingOrganization",),
                    "The practice: Organization/[id].", definition=r4("Location-organization")),
    ),
    includes=("organization",),
)
