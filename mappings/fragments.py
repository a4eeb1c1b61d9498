"""Datatype fragments shared by resource mappings (HumanName, Address, ContactPoint, ...).

Each fragment is evaluated at the element an ``Include(..., at=...)`` points
to; a fragment whose element is absent (or selected away by a predicate such
as ``[normalize-space()]``) leaves nothing behind.
"""

from facade.mapping.vocabulary import Path, Required, Var, When

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

