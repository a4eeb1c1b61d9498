"""References built from GetOrganisationMetaData: the practice and its clinicians.

Patient.generalPractitioner points at the practice (a ``Site``, by ODS code)
and the usual GP (a ``User``, by national register number): the Organization and
Practitioner made from the same metadata (organization.py, practitioner.py),
with the identifier and display beside the reference so that a client need not
follow it to know who is meant. The caller supplies ``organizations`` (ODS code →
"Organization/[id]") and ``practitioners`` (user name → "Practitioner/[id]").
"""

from facade.mapping.vocabulary import Path, Required, Var, When

from . import systems

# At a GetOrganisationMetaData Site.
PRACTICE = {
    "reference": Path("ID", map=Var("organizations")),
    "identifier": {"system": systems.ODS_ORGANISATION, "value": Required(Path("ID"))},
    "display": Path("Name"),
}

# At a GetOrganisationMetaData User.
CLINICIAN = {
    "reference": Path("UserName", map=Var("practitioners")),
    "identifier": When("NationalIDType = 'GMC'",
                       {"system": systems.GMC_NUMBER, "value": Required(Path("NationalID"))},
                       When("NationalIDType = 'NMC'",
                            {"system": systems.NMC_NUMBER,
                             "value": Required(Path("NationalID"))})),
    "display": Path("normalize-space(concat(Title, ' ', FirstName, ' ', Surname))"),
}
