"""References built from GetOrganisationMetaData: the practice and its clinicians.

Patient.generalPractitioner points at the practice (a ``Site``, by ODS code)
and the usual GP (a ``User``, by national register number); neither is served
as a resource yet, so these are logical references with a display.
"""

from facade.mapping.vocabulary import Path, Required, When

from . import systems

# At a GetOrganisationMetaData Site.
PRACTICE = {
    "identifier": {"system": systems.ODS_ORGANISATION, "value": Required(Path("ID"))},
    "display": Path("Name"),
}

# At a GetOrganisationMetaData User.
CLINICIAN = {
    "identifier": When("NationalIDType = 'GMC'",
                       {"system": systems.GMC_NUMBER, "value": Required(Path("NationalID"))},
                       When("NationalIDType = 'NMC'",
                            {"system": systems.NMC_NUMBER,
                             "value": Required(Path("NationalID"))})),
    "display": Path("normalize-space(concat(Title, ' ', FirstName, ' ', Surname))"),
}
