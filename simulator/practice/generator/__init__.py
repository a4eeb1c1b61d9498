"""A deterministic fictitious practice: patients and their records, built on demand.

The simulator needs a practice large and varied enough to exercise the facade
(search, filters, code translation, big records) without real patient data.
Every patient is derived from ``(seed, index)`` alone, so a patient is the same
whichever practice size it belongs to, and two runs with the same arguments
give byte-identical XML. Demographics are cheap to build (the patient index
reads all of them at start-up); a full record is built only when asked for.

Each record follows one coherent patient: a profile (age, sex, smoking, body
size, long-term conditions chosen with age-dependent prevalence) drives the
recordings, reviews and medication over the years up to ``as_of``. A second
random stream (so the consultations above do not shift) adds the rest of a GP
record around them: drug sensitivities, immunisations, pathology reports for the
bloods taken, referrals with their letters, hospital letters, attachments,
recalls, reminders, next of kin, care plans, activities, and the pending home
visits and workflow tasks of the NonClinical part. Records are held as SystmOne
holds them: CTV3 and Multilex, with part of the events entered since SystmOne
moved to SNOMED CT holding SNOMED CT codes (see ``concepts`` and
``record_xml.entered_in_snomed``). Codes reach well beyond what the facade's
mappings know, and events take the shapes of genuine extracts: problem headers
recorded again under the same ProblemUID, plain codes beside problem headers,
linked problems, repeated blood-pressure pairs, narrative lines naming codes.

Contact details use ranges that can never reach anyone: Ofcom's drama numbers
(0113 496 0xxx, 07700 900xxx), RFC 2606 example domains and NHS numbers from
the 999 test range.

The code is split by stage: ``identifiers``, ``person`` (demographics and their
XML), ``profile``, ``dates``, ``items`` (the recordings), ``timeline``,
``history`` (consultations, reviews, prescribing), ``care`` with
``sensitivities``, ``immunisations``, ``results``, ``correspondence`` and
``ongoing_care``, ``record_xml``, ``sample_organisation`` and ``practice``
(``GeneratedPractice``, which ties them together).
"""

from .history import build_timeline
from .identifiers import MAX_PATIENTS, nhs_number, pseudo_number, strategic_reporting_id
from .immunisations import flu_eligible
from .person import demographics_element, identity_element, make_person
from .practice import GeneratedPractice
from .profile import clinical_profile
from .record_xml import clinical_element, non_clinical_element
from .sample_organisation import (
    DEFAULT_PATIENTS,
    DEFAULT_SEED,
    default_organisation,
    generated_organisation,
)

__all__ = [
    "DEFAULT_PATIENTS",
    "DEFAULT_SEED",
    "MAX_PATIENTS",
    "GeneratedPractice",
    "build_timeline",
    "clinical_element",
    "clinical_profile",
    "default_organisation",
    "demographics_element",
    "flu_eligible",
    "generated_organisation",
    "identity_element",
    "make_person",
    "nhs_number",
    "non_clinical_element",
    "pseudo_number",
    "strategic_reporting_id",
]
