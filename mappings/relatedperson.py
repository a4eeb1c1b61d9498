"""UK Core RelatedPersons: the people SystmOne records beside the patient (an Event's
Relationship item: Title, FirstName, Surname, Address, Telephone, WorkContact, EndDate,
DateOfBirth, Type), one RelatedPerson each.

These are the relative's own details (name, address, telephone, birth date): served under
the same patient confinement and scopes as the rest of the record, never searchable
without naming the patient.

- relationship from conceptmaps.RELATIONSHIP (UK Core's PersonRelationshipType value set:
  "Mother" is v3 RoleCode MTH, "Next of kin" v2-0131 N), with the Type as text; a Type
  the map does not know is served as its text alone.
- TPP: "relationships - effective from when recorded to when ended". period starts on the
  Event's date and ends on the EndDate; 9999-12-31 is SystmOne's "not ended" (its own
  template writes it), so it is no end. active is false once the EndDate has passed.
- name carries no use: SystmOne does not say which of the person's names it holds.
- Telephone is a phone with no use (SystmOne does not say home or mobile); WorkContact a
  work phone. The address is their home address.
"""

from facade.mapping.declaration import Declaration, SearchParam, patient_param, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Var, When

from . import systems
from .fragments import ADDRESS, CONTACT_POINT, EVENT, ITEM_IDENTIFIER, ITEM_KEY
from .task import lower_case

RESOURCE = "RelatedPerson"

#: An EndDate that says the relationship has ended (not blank, not SystmOne's 9999-12-31).
ENDS = "normalize-space(EndDate) and not(starts-with(normalize-space(EndDate), '9999'))"
ENDED = f"{ENDS} and translate(substring(EndDate, 1, 10), '-', '') " \
        "< translate($today, '-', '')"

RELATED_PERSON = {
    "resourceType": "RelatedPerson",
    "id": Id(ITEM_KEY),
    "meta": {"profile": [systems.UKCORE_RELATED_PERSON], "lastUpdated": Var("last_updated")},
    "identifier": [Include(ITEM_IDENTIFIER)],
    "active": When(ENDED, False, True),
    "patient": Var("patient"),
    "relationship": [{"coding": [Path(lower_case("Type"), map="relationship")],
                      "text": Path("Type", via="single_spaced")}],
    "name": [{"family": Path("Surname", via="single_spaced"),
              "given": [Path("FirstName", via="single_spaced")],
              "prefix": [Path("Title", via="single_spaced")]}],
    "telecom": [
        Include(CONTACT_POINT, at="Telephone", values={"system": "phone"}),
        Include(CONTACT_POINT, at="WorkContact", values={"system": "phone", "use": "work"}),
    ],
    "birthDate": Path("DateOfBirth", via="date"),
    "address": [Include(ADDRESS, at="Address")],
    "period": {"start": Path(f"{EVENT}/@DateTime", via="date"),
               "end": When(ENDS, Path("EndDate", via="date"))},
}

TEMPLATE = [Each("Clinical/Event/Relationship", RELATED_PERSON)]

DECLARATION = Declaration(
    type="RelatedPerson",
    profile=systems.UKCORE_RELATED_PERSON,
    supported_profiles=(systems.UKCORE_RELATED_PERSON,),
    sections=frozenset({"Relationships"}),
    search_params=(
        patient_param("patient", "patient", definition=r4("RelatedPerson-patient")),
        SearchParam("relationship", "token", ("relationship",),
                    "system|code or code: v3 RoleCode, v2-0131 or UK Core's additional roles.",
                    definition=r4("RelatedPerson-relationship")),
        SearchParam("name", "string", ("name.family", "name.given", "name.text"),
                    "any part of the name, or its beginning.", definition=r4("RelatedPerson-name")),
        SearchParam("active", "token", ("active",), "true while the relationship lasts.",
                    definition=r4("RelatedPerson-active")),
        SearchParam("birthdate", "date", ("birthDate",), "their date of birth.",
                    definition=r4("individual-birthdate")),
    ),
    patient_params=("patient",),
    sort=("period.start",),
    includes=("patient",),
)
