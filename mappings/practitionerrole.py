"""UK Core PractitionerRole: what each registered user does at the practice, from
GetOrganisationMetaData.

One per TPP User (spec v33.4): the Practitioner, the practice (organization.py) and the
user's job role — SystmOne's RoleCode is the national RBAC code "as used on NHS smartcards"
(staff group:job group:job role, "S0010:G0020:R0260"), served as it came with the Role as
its display. SystmOne does not tie a user to a site, so no location.
"""

from facade.mapping.declaration import ORGANISATION, Declaration, SearchParam, r4
from facade.mapping.vocabulary import Each, Id, Path, Ref, Required, Var

from . import systems
from .organization import PRACTICE_ID

RESOURCE = "PractitionerRole"
PROFILE = systems.UKCORE_PRACTITIONER_ROLE

PRACTITIONER_ROLE = {
    "resourceType": "PractitionerRole",
    "id": Id("UserName"),
    "meta": {"profile": [PROFILE], "lastUpdated": Var("last_updated")},
    "practitioner": Ref("Practitioner", "UserName"),
    "organization": Ref("Organization", *PRACTICE_ID),
    "code": [{
        "coding": [{"system": systems.SDS_JOB_ROLE, "code": Required(Path("RoleCode")),
                    "display": Path("Role")}],
        "text": Path("Role"),
    }],
}

TEMPLATE = [Each("User[normalize-space(UserName)]", PRACTITIONER_ROLE)]

DECLARATION = Declaration(
    type="PractitionerRole",
    profile=PROFILE,
    supported_profiles=(PROFILE,),
    source=ORGANISATION,
    search_params=(
        SearchParam("_id", "token", ("id",), "The PractitionerRole's logical id.",
                    definition=r4("Resource-id")),
        SearchParam("practitioner", "reference", ("practitioner",),
                    "The person: Practitioner/[id].",
                    definition=r4("PractitionerRole-practitioner")),
        SearchParam("organization", "reference", ("organization",),
                    "The practice: Organization/[id].",
                    definition=r4("PractitionerRole-organization")),
        SearchParam("role", "token", ("code",),
                    "The smartcard job role: "
                    "https://fhir.nhs.uk/CodeSystem/England-SDS-JobRoleCode|S0010:G0020:R0260 "
                    "(or the bare code).", definition=r4("PractitionerRole-role")),
    ),
    includes=("practitioner", "organization"),
)
