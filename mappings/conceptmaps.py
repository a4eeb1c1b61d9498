"""Value maps, as data. Keys are SystmOne values; values are what FHIR gets."""

from . import systems

# Demographics/Sex (M, F, I, U) → Patient.gender (required binding).
GENDER = {"M": "male", "F": "female", "I": "other", "U": "unknown"}


def _ethnic(code: str, display: str) -> dict:
    return {"system": systems.UKCORE_ETHNIC_CATEGORY, "code": code, "display": display}


_WHITE_BRITISH = _ethnic("A", "White - British")
_WHITE_IRISH = _ethnic("B", "White - Irish")
_OTHER_WHITE = _ethnic("C", "White - Any other White background")
_INDIAN = _ethnic("H", "Asian or Asian British - Indian")
_PAKISTANI = _ethnic("J", "Asian or Asian British - Pakistani")
_CARIBBEAN = _ethnic("M", "Black or Black British - Caribbean")
_AFRICAN = _ethnic("N", "Black or Black British - African")
_CHINESE = _ethnic("R", "Other Ethnic Groups - Chinese")

# Demographics/Ethnicity/Code/@Code (CTV3 or SNOMED CT, 2001-census categories)
# → UK Core ethnic category (England). Codes not listed leave the extension out;
# add a site's codes through the overlay folder rather than guessing here.
ETHNIC_CATEGORY = {
    # CTV3
    "XaFwD": _WHITE_BRITISH,  # the code TPP's own specification example uses
    "XaQEa": _WHITE_BRITISH,
    "XaQEb": _WHITE_IRISH,
    "XaJQx": _OTHER_WHITE,
    "XaJR2": _INDIAN,
    "XaJR3": _PAKISTANI,
    "XaJR6": _CARIBBEAN,
    "XaJR7": _AFRICAN,
    "XaJR9": _CHINESE,
    # SNOMED CT
    "494131000000105": _WHITE_BRITISH,
    "494161000000100": _WHITE_IRISH,
    "92411000000108": _OTHER_WHITE,
    "110751000000108": _INDIAN,
    "92461000000105": _PAKISTANI,
    "107691000000105": _CARIBBEAN,
    "92491000000104": _AFRICAN,
    "92511000000107": _CHINESE,
}

CONCEPT_MAPS = {
    "gender": GENDER,
    "ethnic_category": ETHNIC_CATEGORY,
}
