"""UK Core Medications: one per distinct drug the record prescribes.

A drug is a Drug element (Drug@Scheme, @ProductID, @Name) of a Medication (an issue) or a
RepeatMedication (a repeat template); MedicationRequests and MedicationStatements refer to
it (``MEDICATION_REFERENCE``), so the Medication is reached by reference and ``_include``,
never searched. Its code is the drug as SystmOne returned it: dm+d (https://dmd.nhs.uk)
when the record is in dm+d (Drug@Scheme "Dmd", OutputScheme Drugs=Dmd), Multilex
otherwise, under the system GP Connect names for Multilex drug codes; Drug@Name is the
display and the text. SystmOne gives no form, ingredients or batch for a drug.

A Medication names no Event item: it stands for a drug, not for a recording (the
MedicationRequests and MedicationStatements made from the items name them).

The drug fragments here are shared by the MedicationRequest, MedicationStatement and
AllergyIntolerance mappings.
"""

from facade.mapping.declaration import Declaration, SearchParam, r4
from facade.mapping.vocabulary import Each, Id, Include, Path, Ref, Required, Var

from . import systems

RESOURCE = "Medication"

#: At a Drug element: the key of its Medication (the same drug in every item shares it).
DRUG_KEY = "concat(@Scheme, '-', @ProductID)"

# At a Drug element: its coding (only for a scheme whose system is known) and its concept.
DRUG_CODING = {
    "system": Required(Path("@Scheme", map="drug_system")),
    "code": Required(Path("@ProductID")),
    "display": Path("@Name"),
}
DRUG_CODE = {"coding": [DRUG_CODING], "text": Path("@Name")}

#: An item's Drug, as the Drug elements the mappings serve select it.
DRUG = "Drug[normalize-space(@ProductID)]"

#: At a Medication or RepeatMedication item: a reference to the Medication of its drug.
MEDICATION_REFERENCE = Include(Ref("Medication", DRUG_KEY), at=DRUG)

MEDICATION = {
    "resourceType": "Medication",
    "id": Id(DRUG_KEY),
    "meta": {"profile": [systems.UKCORE_MEDICATION], "lastUpdated": Var("last_updated")},
    "code": DRUG_CODE,
}

TEMPLATE = [
    Each(f"Clinical/Event/*[self::Medication or self::RepeatMedication]/{DRUG}", MEDICATION,
         key=DRUG_KEY),
]

DECLARATION = Declaration(
    type="Medication",
    profile=systems.UKCORE_MEDICATION,
    supported_profiles=(systems.UKCORE_MEDICATION,),
    sections=frozenset({"Medication"}),
    search_params=(
        # The record the drugs were prescribed from: a Medication has no patient element.
        SearchParam("patient", "reference", (),
                    "Required: Patient/[id], or the patient's NHS number chained: patient."
                    "identifier=https://fhir.nhs.uk/Id/nhs-number|[number]. The drugs of the "
                    "patient's medication."),
        SearchParam("code", "token", ("code.coding",),
                    "system|code or code: dm+d (https://dmd.nhs.uk) or Multilex.",
                    definition=r4("clinical-code")),
    ),
    patient_params=("patient",),
)
