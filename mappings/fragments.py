"""Datatype fragments shared by resource mappings (HumanName, Address, ContactPoint, ...).

Each fragment is evaluated at the element an ``Include(..., at=...)`` points
to; a fragment whose element is absent (or selected away by a predicate such
as ``[normalize-space()]``) leaves nothing behind.
"""

from facade.mapping.vocabulary import Include, ItemKey, Path, Ref, Required, Var, When

from . import systems

# At an Identity/NHSNumber element. SystmOne holds NHS numbers traced against
# PDS at registration, so they are reported as "01 Number present and
# verified" — see MAPPINGS.md for why and when to override.
NHS_NUMBER = {
    "extension": [{
        "url": systems.EXT_NHS_NUMBER_VERIFICATION,
        "valueCodeableConcept": {"coding": [{
            "system": systems.UKCORE_NHS_NUMBER_VERIFICATION,
            "code": "01",
            "display": "Number present and verified",
        }]},
    }],
    "system": systems.NHS_NUMBER,
    "value": Required(Path(".", via="nhs_number")),
}

# At an element holding a SystmOne-local identifier value.
LOCAL_IDENTIFIER = {
    "use": "secondary",
    "system": Var("system"),
    "value": Required(Path(".")),
}

# At Demographics (a record) or Result (a PatientSearch hit): the registered name.
OFFICIAL_NAME = {
    "use": "official",
    "family": Path("Surname"),
    "given": [Path("FirstName"), Path("MiddleNames")],
    "prefix": [Path("Title")],
}

# At Demographics/KnownAs: the name the patient goes by.
KNOWN_AS_NAME = {
    "use": "usual",
    "family": Path("../Surname"),
    "given": Required([Path(".")]),
}

# At a telephone or email element; Var("system") and Var("use") say which.
CONTACT_POINT = {
    "system": Var("system"),
    "value": Required(Path(".", via="single_spaced")),
    "use": Var("use"),
}

# At an Address element (HouseName, HouseNumber, Road, Locality, Town, County, Postcode).
ADDRESS = {
    "use": "home",
    "line": [
        Path("HouseName"),
        Path("normalize-space(concat(HouseNumber, ' ', Road))"),
        Path("Locality"),
    ],
    "city": Path("Town"),
    "district": Path("County"),
    "postalCode": Path("Postcode", via="single_spaced"),
    "country": When("normalize-space(Postcode)", "GB"),
}

# At a Code element (Code@Scheme, @Code, @Term) of Demographics/Ethnicity.
ETHNIC_CATEGORY = {
    "url": systems.EXT_ETHNIC_CATEGORY,
    # Only categories the concept map knows; others are counted as unmapped.
    "valueCodeableConcept": Required({"coding": [Path("@Code", map="ethnic_category")]}),
}



# --- Event items --------------------------------------------------------------------

#: From an Event item (a child of Clinical/Event): its Event.
EVENT = "ancestor::Event[1]"
#: An Event item's key in the record (vocabulary.ItemKey): its Event's EventUID, its name
#: and its place among the Event's items of that name. Ids, event-item identifiers and the
#: fidelity report share it.
ITEM_KEY = ItemKey()

# At an Event item: the identifier naming the item. Every resource names the items it
# was made from, so the fidelity report can tell what was served.
ITEM_IDENTIFIER = {
    "system": systems.SYSTMONE_EVENT_ITEM,
    "value": Required(ITEM_KEY),
}

# At an Event item: who recorded it. The Practitioner of the Event's UserName, when the
# organisation's metadata names that user (the caller's ``practitioners``: user name →
# "Practitioner/[id]"), with SystmOne's DoneBy text as the display; a user it does not name
# (someone at another organisation) keeps the display alone. Every recorder, performer,
# asserter and requester made from an Event is this.
RECORDER = {
    "reference": Path(f"{EVENT}/@UserName", map=Var("practitioners")),
    "display": Path(f"{EVENT}/@DoneBy", via="single_spaced"),
}

# --- Codes ----------------------------------------------------------------------------

# At an item holding a Code element (Code@Scheme, @Code, @Term), e.g. a ClinicalCode.
# The code as SystmOne returned it, with the term as display, plus the same concept in
# the other scheme where conceptmaps.CODE_PAIRS knows it: SNOMED CT first (UK Core's
# preferred system), then CTV3 (http://read.info/ctv3).
SNOMED_CODING = When("Code/@Scheme = 'Snomed'", {
    "system": systems.SNOMED,
    "code": Required(Path("Code/@Code")),
    "display": Path("Code/@Term"),
}, When("Code/@Scheme = 'CTV3'", Path("Code/@Code", map="snomed")))
CTV3_CODING = When("Code/@Scheme = 'CTV3'", {
    "system": systems.CTV3,
    "code": Required(Path("Code/@Code")),
    "display": Path("Code/@Term"),
}, When("Code/@Scheme = 'Snomed'", Path("Code/@Code", map="ctv3")))
CODE = {"coding": [SNOMED_CODING, CTV3_CODING], "text": Path("Code/@Term")}

# At an item: its FreeText as an Annotation.
NOTE = Include({"text": Required(Path("."))}, at="FreeText[normalize-space()]")

# --- Consultations ----------------------------------------------------------------------

# At an Event item: the Encounter made from its Event (mappings/encounter.py), which every
# resource made from an Event item references (Observation.encounter, Condition.encounter,
# MedicationStatement.context...).
ENCOUNTER = Ref("Encounter", f"{EVENT}/@EventUID")
