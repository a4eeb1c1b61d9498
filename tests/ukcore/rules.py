"""Rule-based checks of mapped FHIR R4 resources against UK Core (``expectations``).

``problems(resource)`` checks one resource (a JSON dict); ``bundle_problems(resources)``
checks a set of them together; ``all_problems(resources)`` does both. Each returns a list of
strings, empty when nothing is wrong. A problem reads ``[tag] path: message``; the tags:

generic (any resource)
  resource        resourceType / id missing or malformed
  profile         meta.profile names no UK Core profile of the resource's type
  required        an element the base resource or the UK Core profile makes 1..* is absent
  empty           "", [] or {} (FHIR JSON forbids empty values)
  choice          two variants of one choice element (value[x], effective[x] ...)
  coding          a Coding without system or code, or a system that is not an absolute URI
  ctv3-system     a CTV3 code under another system than http://read.info/ctv3
  ctv3-code / snomed-code / dmd-code / loinc-code / multilex-code
                  a code that cannot belong to its system (SCTID Verhoeff check digit and
                  partition, LOINC mod-10 check digit, CTV3's five characters)
  code-not-in-system  a code that the (small, closed) code system does not define
  inactive-code   a code its code system marks inactive
  binding         a required binding not met (status, intent, clinicalStatus ...)
  quantity        comparator not < <= >= >, code without system (qty-3)
  ucum            a UCUM quantity without a code, or a known misspelling of a UCUM unit
  decimal         a decimal/integer held as a string (or boolean)
  date            not a valid FHIR date/dateTime/instant (calendar checked; a time needs an
                  offset)
  reference       a reference that is not Type/id (or #id, or an absolute URL ending Type/id)
  reference-target  a reference to a type the element does not allow
  identifier      an identifier without system or value where one is required
Observation
  obs-6           dataAbsentReason with a value
  vital-*         the vital-signs profile rules (category, status, LOINC, SNOMED, profile,
                  value, UCUM code, unit), bp-* the blood-pressure components
  lab-*           laboratory codes: category laboratory, Observation-Lab, units, LOINC
Condition: con-3, con-4, con-5, condition-severity
AllergyIntolerance: ait-1, ait-2, nka-* (no known allergy the UK Core way)
Immunization: ukcore-imm-001.  List: lst-1.  Patient: nhs-number, ethnic-category
DiagnosticReport: dr-code (GP Connect's code), dr-category (v2-0074), dr-note
Appointment: app-1, app-2, app-3 (FHIR R4), app-end, app-patient.  RelatedPerson:
  relationship (UK Core PersonRelationshipType).  Task, CarePlan: bindings
bundle: duplicate-id, dangling-reference, multiple-patients, duplicate-identifier
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from tests.ukcore import expectations as ux

# --- FHIR R4 -------------------------------------------------------------------------------

# The resource types of FHIR R4 (4.0.1), for Reference checks.
R4_RESOURCE_TYPES = frozenset("""
Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest
DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice
Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
ObservationDefinition OperationDefinition OperationOutcome Organization OrganizationAffiliation
Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner
PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson
RequestGroup ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject
RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot
SpecimenDefinition Specimen StructureDefinition StructureMap Subscription Substance
SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
TerminologyCapabilities TestReport TestScript ValueSet VerificationResult VisionPrescription
""".split())  # noqa: SIM905 (a word list reads better than 146 quoted strings)

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[1-2][0-9]|3[0-1])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
# The regular expressions of the R4 primitive types (datatypes.html).
FHIR_DATE = re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY})?)?")
FHIR_DATETIME = re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY}(T{_TIME}{_ZONE})?)?)?")
FHIR_INSTANT = re.compile(rf"{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_ZONE}")
_LOCAL_TIME = re.compile(rf"{_YEAR}-{_MONTH}-{_DAY}T[0-9:.]+")

DATE_KEYS = frozenset({"birthDate", "valueDate", "expirationDate"})
INSTANT_KEYS = frozenset({"issued", "lastUpdated", "valueInstant"})
DATETIME_KEYS = frozenset({
    "date", "recordedDate", "dateAsserted", "authoredOn", "lastOccurrence", "time",
    "recorded", "assertedDate",
})
PERIOD_KEYS = frozenset({"start", "end"})

# Element names whose value is a Quantity (or a Quantity profile: Age, Duration, ...).
QUANTITY_KEYS = frozenset({
    "low", "high", "numerator", "denominator", "quantity", "expectedSupplyDuration",
    "maxDosePerAdministration", "maxDosePerLifetime", "origin",
})

# Choice elements [x], by the prefix of their JSON names.
CHOICE_PREFIXES = (
    "value", "effective", "onset", "abatement", "occurrence", "medication", "deceased",
    "multipleBirth", "asNeeded", "allowed", "reported", "born", "age", "timing",
)
_CHOICE_SUFFIXES = frozenset({
    "Boolean", "Integer", "Decimal", "String", "Uri", "Url", "Canonical", "Base64Binary",
    "Instant", "Date", "DateTime", "Time", "Code", "Oid", "Id", "Uuid", "Markdown",
    "PositiveInt", "UnsignedInt", "Quantity", "CodeableConcept", "Coding", "Range", "Ratio",
    "Period", "SampledData", "Attachment", "Reference", "Identifier", "Age", "Duration",
    "Timing", "Address", "HumanName", "ContactPoint", "Money", "Signature", "Annotation",
    "Expression", "Dosage", "Meta",
})

# Closed code systems whose codes are checked wherever a Coding uses them.
CLOSED_CODE_SYSTEMS: dict[str, frozenset[str]] = {
    ux.OBSERVATION_CATEGORY: ux.OBSERVATION_CATEGORIES,
    ux.CONDITION_CLINICAL: ux.CONDITION_CLINICAL_STATUS,
    ux.CONDITION_VERIFICATION: ux.CONDITION_VERIFICATION_STATUS,
    **ux.CONDITION_CATEGORIES,
    ux.ALLERGY_CLINICAL: ux.ALLERGY_CLINICAL_STATUS,
    ux.ALLERGY_VERIFICATION: ux.ALLERGY_VERIFICATION_STATUS,
    **ux.MEDREQ_CATEGORIES,
    # The HL7 code system has seasonal too; the UK Core value set leaves it out.
    ux.MEDREQ_COURSE: ux.MEDREQ_COURSES[ux.MEDREQ_COURSE] | {"seasonal"},
    ux.UKCORE_MEDREQ_COURSE: ux.MEDREQ_COURSES[ux.UKCORE_MEDREQ_COURSE],
    **ux.MEDSTMT_CATEGORIES,
    ux.UKCORE_LIST_EMPTY_REASON: ux.LIST_EMPTY_REASONS,
}

# Unit strings that are not UCUM, with the UCUM code meant.
UCUM_MISSPELLINGS = {
    "mmHg": "mm[Hg]",
    "bpm": "/min",
    "beats/min": "/min",
    "breaths/min": "/min",
    "/minute": "/min",
    "per minute": "/min",
    "kg/m^2": "kg/m2",
    "kg/m²": "kg/m2",
    "°C": "Cel",
    "degC": "Cel",
    "deg C": "Cel",
    "µmol/L": "umol/L",
    "μmol/L": "umol/L",
    "mL/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "mL/min/1.73m^2": "mL/min/{1.73_m2}",
    "kgs": "kg",
    "Kg": "kg",
    "KG": "kg",
    "mls": "mL",
    "percent": "%",
}

_ABSOLUTE_URI = re.compile(r"https?://[^\s/]+\S*|urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+")
_NEGATION_TEXT = re.compile(r"\b(no known|none known|nil known|nkda?|no allerg)", re.IGNORECASE)

# --- Check digits --------------------------------------------------------------------------

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(ch)]]
    return check == 0


def sctid_problem(code: str) -> str | None:
    """Why ``code`` cannot be a SNOMED CT concept id (None when it can)."""
    if not re.fullmatch(r"[1-9][0-9]{5,17}", code):
        return "is not a SNOMED CT concept id (6-18 digits)"
    if code[-3:-1] not in ("00", "10"):
        return f"has partition {code[-3:-1]}, not a concept's (00 or 10)"
    if not verhoeff_ok(code):
        return "fails the SCTID Verhoeff check digit"
    return None


def loinc_ok(code: str) -> bool:
    """LOINC's mod-10 check digit."""
    match = re.fullmatch(r"([0-9]{1,7})-([0-9])", code)
    if not match:
        return False
    total = 0
    for i, ch in enumerate(reversed(match[1])):
        digit = int(ch) * (2 if i % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10 == int(match[2])


def nhs_number_ok(value: str) -> bool:
    if not re.fullmatch(r"[0-9]{10}", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(value[9])


def is_number(value: Any) -> bool:
    """A finite JSON number (a Decimal counts: it is how exact decimals are held in memory)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return isinstance(value, int) or math.isfinite(value)


def valid_date(text: str, kind: str) -> str | None:
    """Why ``text`` is not a valid FHIR ``kind`` (date, dateTime, instant), or None."""
    if not isinstance(text, str):
        return f"{kind} must be a string, not {type(text).__name__}"
    pattern = {"date": FHIR_DATE, "dateTime": FHIR_DATETIME, "instant": FHIR_INSTANT}[kind]
    if not pattern.fullmatch(text):
        if kind != "date" and _LOCAL_TIME.fullmatch(text):
            return f"{text!r}: a {kind} with a time needs seconds and an offset (Z or ±hh:mm)"
        return f"{text!r} is not a FHIR {kind}"
    parts = re.match(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", text)
    year, month, day = parts[1], parts[2], parts[3]
    if day:
        try:
            dt.date(int(year), int(month), int(day))
        except ValueError:
            return f"{text!r} is not a calendar date"
    return None


# --- Helpers -------------------------------------------------------------------------------


class _Report:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, tag: str, path: str, message: str) -> None:
        self.items.append(f"[{tag}] {path}: {message}")


def codings(concept: Any) -> list[dict]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def codes_of(concept: Any, system: str) -> list[str]:
    return [c.get("code") for c in codings(concept) if c.get("system") == system]


def has_choice(resource: dict, name: str) -> bool:
    return any(_choice_variant(key, name) for key in resource)


def _choice_variant(key: str, prefix: str) -> bool:
    return key.startswith(prefix) and key[len(prefix):] in _CHOICE_SUFFIXES


def _present(resource: dict, element: str) -> bool:
    if element.endswith("[x]"):
        return has_choice(resource, element[:-3])
    return resource.get(element) not in (None, "", [], {})


def reference_type(reference: Any) -> str | None:
    """The resource type a Reference points at (from ``reference`` or ``type``)."""
    if not isinstance(reference, dict):
        return None
    text = reference.get("reference")
    if isinstance(text, str):
        match = re.search(r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(/_history/[^/]+)?$", text)
        if match:
            return match[1]
    return reference.get("type")


def _profiles(resource: dict) -> list[str]:
    meta = resource.get("meta")
    profile = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profile if isinstance(p, str)] if isinstance(profile, list) else []


# --- Generic walk --------------------------------------------------------------------------


def _walk(value: Any, path: str, key: str, parent_key: str, report: _Report) -> None:
    if value in ("", [], {}) and not isinstance(value, bool):
        report.add("empty", path, "empty value (FHIR JSON has no empty strings, arrays or objects)")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", key, parent_key, report)
        return
    if isinstance(value, dict):
        if key == "coding" or key.endswith("Coding"):
            _check_coding(value, path, report)
        if key.endswith(("Quantity", "Age", "Duration")) or key in QUANTITY_KEYS:
            _check_quantity(value, path, report)
        if key == "identifier" or key.endswith("Identifier"):
            _check_identifier(value, path, report)
        if isinstance(value.get("reference"), str) and key != "extension":
            _check_reference(value["reference"], f"{path}.reference", report)
        _check_choices(value, path, report)
        for child_key, child in value.items():
            if child_key == "div" and key == "text":
                continue
            _walk(child, f"{path}.{child_key}", child_key, key, report)
        return
    # primitives
    if key in DATE_KEYS:
        _date(value, path, "date", report)
    elif key in INSTANT_KEYS:
        _date(value, path, "instant", report)
    elif key.endswith("DateTime") or key in DATETIME_KEYS or (
        key in PERIOD_KEYS and (parent_key.endswith("Period") or parent_key == "period")
    ):
        _date(value, path, "dateTime", report)
    elif key in ("valueDecimal", "valueInteger", "valuePositiveInt", "valueUnsignedInt") and (
        not is_number(value)
    ):
        report.add("decimal", path, f"{value!r} must be a JSON number")


def _date(value: Any, path: str, kind: str, report: _Report) -> None:
    why = valid_date(value, kind)
    if why:
        report.add("date", path, why)


def _check_choices(value: dict, path: str, report: _Report) -> None:
    for prefix in CHOICE_PREFIXES:
        variants = [k for k in value if _choice_variant(k, prefix)]
        if len(variants) > 1:
            report.add("choice", path, f"{prefix}[x] has more than one variant: {variants}")


def _check_coding(coding: dict, path: str, report: _Report) -> None:
    system, code = coding.get("system"), coding.get("code")
    if not isinstance(system, str) or not system:
        report.add("coding", path, f"coding without a system (code {code!r})")
    if not isinstance(code, str) or not code:
        report.add("coding", path, f"coding without a code (system {system!r})")
    if not isinstance(system, str) or not isinstance(code, str) or not system or not code:
        return
    if code != code.strip() or "  " in code:
        report.add("coding", path, f"code {code!r} has surrounding or doubled whitespace")
    if not _ABSOLUTE_URI.fullmatch(system):
        report.add("coding", path, f"system {system!r} is not an absolute URI")
    lowered = system.lower()
    if system != ux.CTV3 and ("ctv3" in lowered or "readv3" in lowered or lowered == "read"):
        report.add("ctv3-system", path, f"CTV3 codes use {ux.CTV3}, not {system!r}")
    if system == ux.SNOMED:
        why = sctid_problem(code)
        if why:
            hint = " (it looks like a CTV3 code)" if re.fullmatch(r"[A-Za-z0-9.]{5}", code) else ""
            report.add("snomed-code", path, f"{code!r} {why}{hint}")
    elif system == ux.DMD:
        why = sctid_problem(code)
        if why:
            report.add("dmd-code", path, f"dm+d code {code!r} {why}")
    elif system == ux.CTV3:
        if not re.fullmatch(r"(?=.{5}$)[A-Za-z0-9]+\.*", code):
            report.add("ctv3-code", path, f"{code!r} is not a CTV3 code (five characters)")
    elif system == ux.LOINC:
        if not (loinc_ok(code) or re.fullmatch(r"L[AGLP][0-9]+-[0-9]", code)):
            report.add("loinc-code", path, f"{code!r} is not a LOINC code (format or check digit)")
    elif system == ux.MULTILEX and not re.fullmatch(r"[0-9]+", code):
        report.add("multilex-code", path, f"{code!r} is not a Multilex code (digits)")
    allowed = CLOSED_CODE_SYSTEMS.get(system)
    if allowed is not None and code not in allowed:
        report.add("code-not-in-system", path, f"{system} has no code {code!r}")
    if (system, code) in ux.INACTIVE_CODES:
        report.add("inactive-code", path, f"{system}|{code} is marked inactive")


def _check_quantity(quantity: dict, path: str, report: _Report) -> None:
    value = quantity.get("value")
    if "value" in quantity and not is_number(value):
        report.add("decimal", f"{path}.value", f"{value!r} must be a JSON number")
    comparator = quantity.get("comparator")
    if comparator is not None and comparator not in ux.QUANTITY_COMPARATORS:
        report.add("quantity", f"{path}.comparator", f"{comparator!r} is not < <= >= >")
    system, code = quantity.get("system"), quantity.get("code")
    if code is not None and system is None:
        report.add("quantity", path, "a unit code without a system (qty-3)")
    if system == ux.UCUM:
        if not isinstance(code, str) or not code:
            report.add("ucum", path, "a UCUM quantity without a code")
        elif code in UCUM_MISSPELLINGS or re.search(r"\s", code):
            meant = UCUM_MISSPELLINGS.get(code)
            report.add("ucum", f"{path}.code", f"{code!r} is not UCUM" + (
                f" (UCUM writes {meant!r})" if meant else ""))


def _check_identifier(identifier: dict, path: str, report: _Report) -> None:
    system = identifier.get("system")
    if system is not None and not _ABSOLUTE_URI.fullmatch(str(system)):
        report.add("identifier", path, f"system {system!r} is not an absolute URI")


def _check_reference(text: str, path: str, report: _Report) -> None:
    if text.startswith("#"):
        if not FHIR_ID.fullmatch(text[1:]):
            report.add("reference", path, f"{text!r} is not a contained reference")
        return
    if text.startswith("urn:"):
        report.add("reference", path, f"{text!r}: a REST response needs Type/id, not a URN")
        return
    match = re.fullmatch(
        r"(?:https?://\S+/)?([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?",
        text,
    )
    if not match:
        report.add("reference", path, f"{text!r} is not of the form Type/id")
    elif match[1] not in R4_RESOURCE_TYPES:
        report.add("reference", path, f"{match[1]!r} is not a FHIR R4 resource type")


# --- Resources -----------------------------------------------------------------------------


def problems(resource: dict) -> list[str]:
    """Everything wrong with one mapped resource, as ``[tag] path: message`` strings."""
    report = _Report()
    if not isinstance(resource, dict):
        return ["[resource] $: not a JSON object"]
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or rtype not in R4_RESOURCE_TYPES:
        report.add("resource", "resourceType", f"{rtype!r} is not a FHIR R4 resource type")
        return report.items
    rid = resource.get("id")
    if not isinstance(rid, str) or not FHIR_ID.fullmatch(rid):
        report.add("resource", f"{rtype}.id", f"{rid!r} is not a FHIR id")
    _walk(resource, rtype, "", "", report)
    allowed = ux.profiles_for(rtype)
    claimed = _profiles(resource)
    if allowed and not any(p in allowed for p in claimed):
        report.add("profile", f"{rtype}.meta.profile", f"names no UK Core {rtype} profile "
                   f"({claimed or 'none'})")
    foreign = [p for p in claimed if p.startswith(ux.UKCORE_SD) and allowed and p not in allowed]
    if foreign:
        report.add("profile", f"{rtype}.meta.profile",
                   f"UK Core profiles of another type: {foreign}")
    for element in ux.REQUIRED_ELEMENTS.get(rtype, ()):
        if not _present(resource, element):
            report.add("required", f"{rtype}.{element}", "missing (min 1)")
    checker = _CHECKERS.get(rtype)
    if checker:
        checker(resource, report)
    return report.items


def _binding(concept: Any, system: str, allowed: frozenset[str], path: str,
             report: _Report) -> None:
    """A required binding on a CodeableConcept: a coding from ``system`` with an allowed code."""
    if concept is None:
        return
    if not any(c.get("system") == system and c.get("code") in allowed for c in codings(concept)):
        found = [(c.get("system"), c.get("code")) for c in codings(concept)]
        report.add("binding", path,
                   f"needs a coding from {system} ({sorted(allowed)}), has {found}")


def _code(value: Any, allowed: frozenset[str], path: str, report: _Report) -> None:
    if value is not None and value not in allowed:
        report.add("binding", path, f"{value!r} is not one of {sorted(allowed)}")


def _target(resource: dict, element: str, allowed: set[str], report: _Report) -> None:
    ref = resource.get(element)
    if ref is None:
        return
    rtype = reference_type(ref)
    if rtype is None and isinstance(ref, dict) and isinstance(ref.get("reference"), str):
        return  # not Type/id: [reference] has said so
    if rtype not in allowed:
        report.add("reference-target", f"{resource['resourceType']}.{element}",
                   f"must reference {sorted(allowed)}, not {rtype or ref}")


# Observation ---------------------------------------------------------------------------------


def _observation(obs: dict, report: _Report) -> None:
    _code(obs.get("status"), ux.OBSERVATION_STATUS, "Observation.status", report)
    _target(obs, "subject", {"Patient", "Group", "Device", "Location"}, report)
    if obs.get("dataAbsentReason") is not None and has_choice(obs, "value"):
        report.add("obs-6", "Observation.dataAbsentReason", "present together with value[x]")
    code = obs.get("code")
    from_codes: dict[str, ux.Expectation] = {}
    for system in (ux.SNOMED, ux.CTV3):
        for c in codes_of(code, system):
            exp = ux.expected_for(system, c)
            if exp:
                from_codes.setdefault(exp.key, exp)
    loincs = codes_of(code, ux.LOINC)
    from_loinc = {e.key: e for e in map(ux.expected_for_loinc, loincs) if e}
    profiles = _profiles(obs)
    if len(from_codes) > 1:
        report.add("code-conflict", "Observation.code",
                   f"codes of different observations: {sorted(from_codes)}")
    exp = next(iter(from_codes.values()), None) or next(iter(from_loinc.values()), None)
    if exp is None:
        # No code we know: the profile it claims decides.
        claimed = [vs for vs in ux.VITAL_SIGNS.values()
                   if vs.profile in profiles and vs.profile != ux.VITAL_SIGNS_PROFILE]
        if claimed:
            _vital_signs(obs, claimed[0], None, report)
        elif ux.VITAL_SIGNS_PROFILE in profiles:
            _vital_signs(obs, ux.VITAL_SIGNS["VitalSigns"], None, report)
        if ux.OBSERVATION_LAB in profiles:
            _lab_category(obs, report)
        return
    if exp.kind == "vital-signs":
        _vital_signs(obs, ux.VITAL_SIGNS[exp.key], exp, report)
    else:
        _lab(obs, ux.LAB_TESTS[exp.key], exp, report)


def _categories(obs: dict) -> list[tuple[Any, Any]]:
    return [(c.get("system"), c.get("code")) for cat in obs.get("category") or []
            for c in codings(cat)]


def _vital_signs(obs: dict, vs: ux.VitalSign, exp: ux.Expectation | None, report: _Report) -> None:
    what = vs.key if exp else f"{vs.key} (from meta.profile)"
    cats = obs.get("category") or []
    if len(cats) != 1 or (ux.OBSERVATION_CATEGORY, ux.VITAL_SIGNS_CATEGORY) not in _categories(obs):
        report.add("vital-category", "Observation.category",
                   f"{what}: exactly one category, {ux.OBSERVATION_CATEGORY}|vital-signs "
                   f"(has {_categories(obs)})")
    if obs.get("status") != ux.VITAL_SIGNS_FIXED_STATUS:
        report.add("vital-status", "Observation.status",
                   f"{what}: UKCore-Observation-VitalSigns fixes status 'final', not "
                   f"{obs.get('status')!r}")
    loincs = codes_of(obs.get("code"), ux.LOINC)
    if len(loincs) != 1:
        report.add("vital-loinc", "Observation.code.coding",
                   f"{what}: exactly one LOINC coding (has {loincs})")
    if vs.loinc and vs.loinc not in loincs:
        report.add("vital-loinc", "Observation.code.coding",
                   f"{what}: LOINC must be {vs.loinc} ({vs.loinc_display}), not {loincs}")
    snomeds = codes_of(obs.get("code"), ux.SNOMED)
    if not snomeds:
        report.add("vital-snomed", "Observation.code.coding",
                   f"{what}: a SNOMED CT coding is required (a CTV3 code alone is not enough)")
    if vs.single_snomed and len(snomeds) > 1:
        report.add("vital-snomed", "Observation.code.coding",
                   f"{what}: {vs.profile} allows one SNOMED CT coding, has {snomeds}")
    profiles = _profiles(obs)
    if vs.profile not in profiles:
        report.add("vital-profile", "Observation.meta.profile", f"{what}: expected {vs.profile}")
    wrong = [p for p in profiles
             if p in _VITAL_PROFILES and p not in (vs.profile, ux.VITAL_SIGNS_PROFILE)]
    if wrong:
        report.add("vital-profile", "Observation.meta.profile", f"{what}: not {wrong}")
    for element in ux.VITAL_SIGNS_REQUIRED[1:]:
        if not _present(obs, element):
            report.add("required", f"Observation.{element}", f"{what}: missing (min 1)")
    if vs.key == "BloodPressure":
        _blood_pressure(obs, report)
        return
    if vs.key == "VitalSigns":
        return
    quantity = obs.get("valueQuantity")
    if not isinstance(quantity, dict):
        others = [k for k in obs if _choice_variant(k, "value")]
        report.add("vital-value", "Observation.valueQuantity",
                   f"{what}: value[x] 1..1 Quantity (has {others or 'no value'})")
        return
    _vital_quantity(quantity, "Observation.valueQuantity", vs.ucum, vs.unit, what, report)


def _vital_quantity(quantity: dict, path: str, ucum: frozenset[str], unit: str | None, what: str,
                    report: _Report) -> None:
    if "value" not in quantity:
        report.add("vital-value", f"{path}.value", f"{what}: missing")
    if quantity.get("system") != ux.UCUM:
        report.add("vital-ucum", f"{path}.system", f"{what}: must be {ux.UCUM}")
    if ucum and quantity.get("code") not in ucum:
        report.add("vital-ucum", f"{path}.code",
                   f"{what}: UCUM code must be {sorted(ucum)}, not {quantity.get('code')!r}")
    if unit and quantity.get("unit") != unit:
        report.add("vital-unit", f"{path}.unit",
                   f"{what}: the profile fixes {unit!r}, not {quantity.get('unit')!r}")


def _blood_pressure(obs: dict, report: _Report) -> None:
    present = [k for k in obs if _choice_variant(k, "value")]
    if present:
        report.add("bp-value", "Observation", f"BloodPressure: value[x] max 0 (has {present})")
    if obs.get("specimen") is not None:
        report.add("bp-specimen", "Observation.specimen", "BloodPressure: specimen max 0")
    components = obs.get("component") or []
    low, high = ux.BP_COMPONENT_COUNT
    if not low <= len(components) <= high:
        report.add("bp-component", "Observation.component",
                   f"BloodPressure: {low}..{high} components, has {len(components)}")
    by_text = {c.text: c for c in ux.BP_COMPONENTS.values()}
    seen: dict[str, int] = defaultdict(int)
    for i, comp in enumerate(components):
        path = f"Observation.component[{i}]"
        code = comp.get("code") if isinstance(comp, dict) else None
        text = code.get("text") if isinstance(code, dict) else None
        slice_ = by_text.get(text)
        if slice_ is None:
            # The slicing is closed and discriminated by code.text.
            report.add("bp-component", f"{path}.code.text",
                       f"must be one of {sorted(by_text)} (closed slicing on code.text), "
                       f"not {text!r}")
            continue
        seen[slice_.name] += 1
        loincs = codes_of(code, ux.LOINC)
        if loincs != [slice_.loinc]:
            report.add("bp-component-loinc", f"{path}.code.coding",
                       f"{slice_.name}: exactly one LOINC {slice_.loinc}, has {loincs}")
        for c in codings(code):
            if c.get("system") == ux.LOINC and c.get("code") == slice_.loinc \
                    and c.get("display") not in (None, slice_.loinc_display):
                report.add("bp-component-loinc", f"{path}.code.coding",
                           f"{slice_.name}: LOINC display is fixed to {slice_.loinc_display!r}")
        snomeds = codes_of(code, ux.SNOMED)
        if not snomeds:
            report.add("bp-component-snomed", f"{path}.code.coding",
                       f"{slice_.name}: a SNOMED CT coding is required")
        other = next(c for c in ux.BP_COMPONENTS.values() if c is not slice_)
        crossed = [s for s in snomeds if s in other.snomed]
        if crossed:
            report.add("bp-component-snomed", f"{path}.code.coding",
                       f"{slice_.name} coded with {other.name} SNOMED CT {crossed}")
        quantity = comp.get("valueQuantity")
        if not isinstance(quantity, dict):
            report.add("bp-component-unit", f"{path}.valueQuantity", f"{slice_.name}: missing")
            continue
        _vital_quantity(quantity, f"{path}.valueQuantity", frozenset({slice_.ucum}),
                        slice_.unit, slice_.name, report)
    for name, comp in ux.BP_COMPONENTS.items():
        if not comp.min <= seen[name] <= comp.max:
            report.add("bp-component", "Observation.component",
                       f"{name}: {comp.min}..{comp.max}, has {seen[name]}")


def _lab_category(obs: dict, report: _Report) -> None:
    cats = _categories(obs)
    if cats.count((ux.OBSERVATION_CATEGORY, ux.LAB_CATEGORY)) != 1:
        report.add("lab-category", "Observation.category",
                   f"exactly one {ux.OBSERVATION_CATEGORY}|laboratory (has {cats})")
    if (ux.OBSERVATION_CATEGORY, ux.VITAL_SIGNS_CATEGORY) in cats:
        report.add("lab-category", "Observation.category", "a laboratory result is not vital-signs")


def _lab(obs: dict, lab: ux.LabTest, exp: ux.Expectation, report: _Report) -> None:
    _lab_category(obs, report)
    if ux.OBSERVATION_LAB not in _profiles(obs):
        report.add("lab-profile", "Observation.meta.profile",
                   f"{lab.key}: expected {ux.OBSERVATION_LAB}")
    _target(obs, "subject", {"Patient"}, report)
    loincs = codes_of(obs.get("code"), ux.LOINC)
    wrong = [c for c in loincs if c not in lab.loinc]
    if wrong:
        report.add("lab-loinc", "Observation.code.coding",
                   f"{lab.key}: LOINC {wrong} is not {sorted(lab.loinc)}")
    quantity = obs.get("valueQuantity")
    if isinstance(quantity, dict):
        if quantity.get("system") != ux.UCUM or quantity.get("code") not in lab.ucum:
            report.add("lab-ucum", "Observation.valueQuantity",
                       f"{lab.key}: UCUM {sorted(lab.ucum)}, has {quantity.get('system')}|"
                       f"{quantity.get('code')}")
    elif not (has_choice(obs, "value") or obs.get("dataAbsentReason") or obs.get("note")):
        report.add("lab-value", "Observation", f"{lab.key}: value, dataAbsentReason or note "
                   "SHOULD be present (ukcore-obs-lab-001)")


_VITAL_PROFILES = frozenset(vs.profile for vs in ux.VITAL_SIGNS.values())


# Condition -----------------------------------------------------------------------------------


def _condition(cond: dict, report: _Report) -> None:
    _target(cond, "subject", {"Patient", "Group"}, report)
    clinical = cond.get("clinicalStatus")
    verification = cond.get("verificationStatus")
    _binding(clinical, ux.CONDITION_CLINICAL, ux.CONDITION_CLINICAL_STATUS,
             "Condition.clinicalStatus", report)
    _binding(verification, ux.CONDITION_VERIFICATION, ux.CONDITION_VERIFICATION_STATUS,
             "Condition.verificationStatus", report)
    for i, sev in enumerate(codings(cond.get("severity"))):
        if sev.get("system") == ux.SNOMED and sev.get("code") not in ux.CONDITION_SEVERITY_SNOMED:
            report.add("condition-severity", f"Condition.severity.coding[{i}]",
                       f"{sev.get('code')!r} is not one of {sorted(ux.CONDITION_SEVERITY_SNOMED)}")
    in_error = "entered-in-error" in codes_of(verification, ux.CONDITION_VERIFICATION)
    if in_error and clinical is not None:
        report.add("con-5", "Condition.clinicalStatus", "absent when entered-in-error")
    categories = [c.get("code") for cat in cond.get("category") or [] for c in codings(cat)]
    if "problem-list-item" in categories and not in_error and clinical is None:
        report.add("con-3", "Condition.clinicalStatus", "required on a problem-list-item")
    if has_choice(cond, "abatement"):
        status = codes_of(clinical, ux.CONDITION_CLINICAL)
        if not set(status) & ux.CONDITION_ABATED_STATUS:
            report.add("con-4", "Condition.clinicalStatus",
                       f"abated, so inactive, resolved or remission (has {status})")


# AllergyIntolerance --------------------------------------------------------------------------


def _allergy(allergy: dict, report: _Report) -> None:
    _target(allergy, "patient", {"Patient"}, report)
    clinical = allergy.get("clinicalStatus")
    verification = allergy.get("verificationStatus")
    _binding(clinical, ux.ALLERGY_CLINICAL, ux.ALLERGY_CLINICAL_STATUS,
             "AllergyIntolerance.clinicalStatus", report)
    _binding(verification, ux.ALLERGY_VERIFICATION, ux.ALLERGY_VERIFICATION_STATUS,
             "AllergyIntolerance.verificationStatus", report)
    _code(allergy.get("type"), ux.ALLERGY_TYPE, "AllergyIntolerance.type", report)
    for i, category in enumerate(allergy.get("category") or []):
        _code(category, ux.ALLERGY_CATEGORY, f"AllergyIntolerance.category[{i}]", report)
    _code(allergy.get("criticality"), ux.ALLERGY_CRITICALITY, "AllergyIntolerance.criticality",
          report)
    for i, reaction in enumerate(allergy.get("reaction") or []):
        if isinstance(reaction, dict):
            _code(reaction.get("severity"), ux.REACTION_SEVERITY,
                  f"AllergyIntolerance.reaction[{i}].severity", report)
    verified = codes_of(verification, ux.ALLERGY_VERIFICATION)
    in_error = "entered-in-error" in verified
    if clinical is None and not in_error:
        report.add("ait-1", "AllergyIntolerance.clinicalStatus",
                   "required unless verificationStatus is entered-in-error")
    if clinical is not None and in_error:
        report.add("ait-2", "AllergyIntolerance.clinicalStatus", "absent when entered-in-error")
    code = allergy.get("code")
    nka = [c for c in codes_of(code, ux.SNOMED) if c in ux.NO_KNOWN_ALLERGY_CODES]
    if nka:
        if verified != ["confirmed"]:
            report.add("nka-verification", "AllergyIntolerance.verificationStatus",
                       f"'no known allergy' ({nka}) is asserted with verificationStatus "
                       f"confirmed, not {verified} (refuted would negate the negation)")
        if allergy.get("reaction"):
            report.add("nka-reaction", "AllergyIntolerance.reaction",
                       "a 'no known allergy' record has no reaction")
        if allergy.get("criticality") is not None:
            report.add("nka-criticality", "AllergyIntolerance.criticality",
                       "a 'no known allergy' record has no criticality")
        # clinicalStatus is left alone: a superseded 'no known allergy' may well be inactive.
    else:
        texts = [code.get("text")] if isinstance(code, dict) else []
        texts += [c.get("display") for c in codings(code)]
        negated = [t for t in texts if isinstance(t, str) and _NEGATION_TEXT.search(t)]
        if negated:
            report.add("nka-text", "AllergyIntolerance.code",
                       f"negation only in text ({negated}); UK Core codes it as SNOMED CT "
                       f"{ux.NO_KNOWN_ALLERGY} |No known allergy| (ValueSet-UKCore-AllergyCode)")


# Medication ----------------------------------------------------------------------------------


def _medication_concept(concept: Any, path: str, report: _Report) -> None:
    for i, c in enumerate(codings(concept)):
        if c.get("system") not in ux.MEDICATION_CODE_SYSTEMS:
            report.add("medication-system", f"{path}.coding[{i}]",
                       f"{c.get('system')!r} is not dm+d, SNOMED CT or Multilex")


def _medication(med: dict, report: _Report) -> None:
    _code(med.get("status"), ux.MEDICATION_STATUS, "Medication.status", report)
    _medication_concept(med.get("code"), "Medication.code", report)


def _medication_x(resource: dict, report: _Report) -> None:
    rtype = resource["resourceType"]
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        _medication_concept(concept, f"{rtype}.medicationCodeableConcept", report)
    _target(resource, "subject", {"Patient", "Group"}, report)
    if resource.get("medicationReference") is not None:
        _target(resource, "medicationReference", {"Medication"}, report)


def _medication_request(req: dict, report: _Report) -> None:
    _code(req.get("status"), ux.MEDREQ_STATUS, "MedicationRequest.status", report)
    _code(req.get("intent"), ux.MEDREQ_INTENT, "MedicationRequest.intent", report)
    _medication_x(req, report)
    substitution = req.get("substitution")
    if isinstance(substitution, dict) and not has_choice(substitution, "allowed"):
        report.add("required", "MedicationRequest.substitution.allowed[x]", "missing (min 1)")


def _medication_statement(stmt: dict, report: _Report) -> None:
    _code(stmt.get("status"), ux.MEDSTMT_STATUS, "MedicationStatement.status", report)
    _medication_x(stmt, report)
    for i, ident in enumerate(stmt.get("identifier") or []):
        if not (isinstance(ident, dict) and ident.get("system") and ident.get("value")):
            report.add("identifier", f"MedicationStatement.identifier[{i}]",
                       "UKCore-MedicationStatement makes system and value 1..1")


def _immunization(imm: dict, report: _Report) -> None:
    _code(imm.get("status"), ux.IMMUNIZATION_STATUS, "Immunization.status", report)
    _target(imm, "patient", {"Patient"}, report)
    if imm.get("status") == "not-done" and imm.get("statusReason") is None:
        report.add("ukcore-imm-001", "Immunization.statusReason", "required when not-done")


# Patient, List -------------------------------------------------------------------------------


def _patient(patient: dict, report: _Report) -> None:
    _code(patient.get("gender"), ux.ADMINISTRATIVE_GENDER, "Patient.gender", report)
    nhs = []
    for i, ident in enumerate(patient.get("identifier") or []):
        if not isinstance(ident, dict):
            continue
        system = ident.get("system")
        if system == ux.NHS_NUMBER:
            nhs.append(ident)
            if not nhs_number_ok(str(ident.get("value"))):
                report.add("nhs-number", f"Patient.identifier[{i}].value",
                           f"{ident.get('value')!r} is not ten digits with a valid check digit")
        elif isinstance(system, str) and "nhs-number" in system.lower():
            report.add("nhs-number", f"Patient.identifier[{i}].system",
                       f"NHS numbers use {ux.NHS_NUMBER}, not {system!r}")
    if len(nhs) > 1:
        report.add("nhs-number", "Patient.identifier", "identifier:nhsNumber max 1")
    ethnic = [e for e in patient.get("extension") or []
              if isinstance(e, dict) and e.get("url") == ux.ETHNIC_CATEGORY_EXTENSION]
    if len(ethnic) > 1:
        report.add("ethnic-category", "Patient.extension", "extension:ethnicCategory max 1")


def _list(lst: dict, report: _Report) -> None:
    _code(lst.get("status"), ux.LIST_STATUS, "List.status", report)
    _code(lst.get("mode"), ux.LIST_MODE, "List.mode", report)
    if lst.get("emptyReason") is not None and lst.get("entry"):
        report.add("lst-1", "List.emptyReason", "only an empty list has an emptyReason")


_CHECKERS = {
    "Observation": _observation,
    "Condition": _condition,
    "AllergyIntolerance": _allergy,
    "Medication": _medication,
    "MedicationRequest": _medication_request,
    "MedicationStatement": _medication_statement,
    "Immunization": _immunization,
    "Patient": _patient,
    "List": _list,
}


# DiagnosticReport -----------------------------------------------------------------------------


def _diagnostic_report(report_: dict, report: _Report) -> None:
    _code(report_.get("status"), ux.DIAGNOSTIC_REPORT_STATUS, "DiagnosticReport.status", report)
    _target(report_, "subject", {"Patient", "Group", "Device", "Location"}, report)
    for i, result in enumerate(report_.get("result") or []):
        if reference_type(result) != "Observation":
            report.add("reference-target", f"DiagnosticReport.result[{i}]",
                       f"must reference an Observation, not {result}")
    system, code, display = ux.DIAGNOSTIC_STUDIES_REPORT
    if not any((c.get("system"), c.get("code"), c.get("display")) == (system, code, display)
               for c in codings(report_.get("code"))):
        report.add("dr-code", "DiagnosticReport.code", f"not {code} {display!r} (GP Connect)")
    for concept in report_.get("category") or []:
        for c in codings(concept):
            if c.get("system") == ux.V2_0074 and \
                    ux.DIAGNOSTIC_SERVICE_SECTIONS.get(c.get("code")) != c.get("display"):
                report.add("dr-category", "DiagnosticReport.category",
                           f"{c.get('code')!r} {c.get('display')!r} is not a v2-0074 section")
    for extension in report_.get("extension") or []:
        if extension.get("url") == ux.DIAGNOSTIC_REPORT_NOTE and \
                not (extension.get("valueAnnotation") or {}).get("text"):
            report.add("dr-note", "DiagnosticReport.extension", "a note without its text")


_CHECKERS["DiagnosticReport"] = _diagnostic_report

# Non-clinical items: Task, Appointment, RelatedPerson, CarePlan -------------------------------


def _task(task: dict, report: _Report) -> None:
    _code(task.get("status"), ux.TASK_STATUS, "Task.status", report)
    _code(task.get("intent"), ux.TASK_INTENT, "Task.intent", report)
    _target(task, "for", set(R4_RESOURCE_TYPES), report)


def _appointment(appointment: dict, report: _Report) -> None:
    status = appointment.get("status")
    _code(status, ux.APPOINTMENT_STATUS, "Appointment.status", report)
    for i, participant in enumerate(appointment.get("participant") or []):
        if participant.get("status") not in ux.PARTICIPATION_STATUS:
            report.add("binding", f"Appointment.participant[{i}].status",
                       f"{participant.get('status')!r} is not one of "
                       f"{sorted(ux.PARTICIPATION_STATUS)}")
        if not (participant.get("type") or participant.get("actor")):
            report.add("app-1", f"Appointment.participant[{i}]", "neither type nor actor")
    if ("start" in appointment) != ("end" in appointment):
        report.add("app-2", "Appointment", "start and end, or neither")
    if "start" not in appointment and status not in ux.APPOINTMENT_WITHOUT_TIMES:
        report.add("app-3", "Appointment", f"a {status!r} appointment needs start and end")
    if "start" in appointment and "end" in appointment and \
            _instant(appointment["end"]) < _instant(appointment["start"]):
        report.add("app-end", "Appointment.end", "before its start")
    patients = [p for p in appointment.get("participant") or []
                if reference_type(p.get("actor")) == "Patient"]
    if len(patients) != 1:
        report.add("app-patient", "Appointment.participant",
                   f"one participant is the patient (has {len(patients)})")


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _related_person(person: dict, report: _Report) -> None:
    _target(person, "patient", {"Patient"}, report)
    for i, concept in enumerate(person.get("relationship") or []):
        for c in codings(concept):
            known = ux.PERSON_RELATIONSHIP_TYPE.get(c.get("system"))
            if known is None:
                report.add("relationship", f"RelatedPerson.relationship[{i}]",
                           f"{c.get('system')} is not a system of UK Core's "
                           "PersonRelationshipType")
            elif known.get(c.get("code")) != c.get("display"):
                report.add("relationship", f"RelatedPerson.relationship[{i}]",
                           f"{c.get('code')!r} {c.get('display')!r} is not in the value set")


def _care_plan(plan: dict, report: _Report) -> None:
    _code(plan.get("status"), ux.CARE_PLAN_STATUS, "CarePlan.status", report)
    _code(plan.get("intent"), ux.CARE_PLAN_INTENT, "CarePlan.intent", report)
    _target(plan, "subject", {"Patient", "Group"}, report)
    for i, activity in enumerate(plan.get("activity") or []):
        detail = activity.get("detail")
        if detail is None:
            continue
        _code(detail.get("status"), ux.CARE_PLAN_ACTIVITY_STATUS,
              f"CarePlan.activity[{i}].detail.status", report)
        if "status" not in detail:
            report.add("required", f"CarePlan.activity[{i}].detail.status", "missing (min 1)")


_CHECKERS.update({"Task": _task, "Appointment": _appointment, "RelatedPerson": _related_person,
                  "CarePlan": _care_plan})


# Encounter (and every element that references one) -----------------------------------------


def _encounter(encounter: dict, report: _Report) -> None:
    _code(encounter.get("status"), ux.ENCOUNTER_STATUS, "Encounter.status", report)
    klass = encounter.get("class")
    if isinstance(klass, dict) and "code" in klass:
        if klass.get("system") != ux.V3_ACT_CODE or klass["code"] not in ux.ACT_ENCOUNTER_CODES:
            report.add("binding", "Encounter.class",
                       f"{klass} is not a v3 ActEncounterCode")
    elif isinstance(klass, dict):  # no code: only a data-absent-reason may stand in for it
        urls = [e.get("url") for e in klass.get("extension", []) if isinstance(e, dict)]
        if urls != [ux.DATA_ABSENT_REASON]:
            report.add("binding", "Encounter.class", "neither a code nor a data-absent-reason")


def _references_an_encounter(resource: dict, report: _Report) -> None:
    element = ux.ENCOUNTER_ELEMENT.get(resource.get("resourceType"))
    if not element:
        return
    *parents, last = element.split(".")  # DocumentReference: context.encounter, a list
    holder: Any = resource
    for step in parents:
        holder = holder.get(step) if isinstance(holder, dict) else None
    found = holder.get(last) if isinstance(holder, dict) else None
    for ref in found if isinstance(found, list) else [found] if found else []:
        if reference_type(ref) != "Encounter":
            report.add("reference-target", f"{resource['resourceType']}.{element}",
                       f"must reference an Encounter, not {ref}")


def _and_its_encounter(checker):
    """``checker``, then the check that the type's encounter element names an Encounter."""
    def check(resource: dict, report: _Report) -> None:
        checker(resource, report)
        _references_an_encounter(resource, report)
    return check


def _encounter_parts(encounter: dict, report: _Report) -> None:
    """An Activity's Encounter: part of another Encounter, lasting minutes (UCUM)."""
    _encounter(encounter, report)
    if "partOf" in encounter:
        _target(encounter, "partOf", {"Encounter"}, report)
    length = encounter.get("length")
    if length is not None and ({k: length.get(k) for k in ux.MINUTES} != ux.MINUTES
                               or not isinstance(length.get("value"), int | float)
                               or length["value"] < 0):
        report.add("length", "Encounter.length", f"{length} is not a count of UCUM minutes")


_CHECKERS["Encounter"] = _encounter_parts


# Flag -----------------------------------------------------------------------------------------


def _flag(flag: dict, report: _Report) -> None:
    _code(flag.get("status"), ux.FLAG_STATUS, "Flag.status", report)
    _target(flag, "subject", {"Patient"}, report)
    for extension in flag.get("extension") or []:
        if extension.get("url") != ux.FLAG_PRIORITY_EXTENSION:
            continue
        for c in codings(extension.get("valueCodeableConcept") or {}):
            if c.get("system") != ux.FLAG_PRIORITY_SYSTEM or \
                    ux.FLAG_PRIORITY.get(c.get("code")) != c.get("display"):
                report.add("flag-priority", "Flag.extension",
                           f"{c} is not a flag-priority code with its display")
    period = flag.get("period") or {}
    if flag.get("status") == "active" and period.get("end", "9999") < period.get("start", ""):
        report.add("flag-period", "Flag.period", "an active flag that ended before it began")


_CHECKERS["Flag"] = _flag



# ServiceRequest -------------------------------------------------------------------------------


def _service_request(req: dict, report: _Report) -> None:
    _code(req.get("status"), ux.SERVICE_REQUEST_STATUS, "ServiceRequest.status", report)
    _code(req.get("intent"), ux.SERVICE_REQUEST_INTENT, "ServiceRequest.intent", report)
    _code(req.get("priority"), ux.SERVICE_REQUEST_PRIORITY, "ServiceRequest.priority", report)
    _target(req, "subject", {"Patient", "Group", "Location", "Device"}, report)
    referral = any((c.get("system"), c.get("code")) == ux.REFERRAL_CATEGORY
                   for concept in req.get("category") or [] for c in codings(concept))
    if referral and req.get("intent") != ux.REFERRAL_INTENT:
        report.add("referral", "ServiceRequest.intent",
                   f"a referral is an {ux.REFERRAL_INTENT!r}, not {req.get('intent')!r}")
    for i, reason in enumerate(req.get("reasonReference") or []):
        rtype = reference_type(reason)
        if rtype not in {"Condition", "Observation", "DiagnosticReport", "DocumentReference"}:
            report.add("reference-target", f"ServiceRequest.reasonReference[{i}]",
                       f"must reference a Condition, Observation, DiagnosticReport or "
                       f"DocumentReference, not {rtype}")


_CHECKERS["ServiceRequest"] = _service_request

# --- Sets of resources -----------------------------------------------------------------------


def _references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield path, value["reference"]
        for key, child in value.items():
            yield from _references(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _references(item, f"{path}[{i}]")


def _name(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def bundle_problems(resources: Iterable[dict]) -> list[str]:
    """What is wrong with a set of resources together (a record, a search page).

    Ids are unique per type; a relative reference Type/id resolves inside the set whenever
    the set holds resources of that Type (a Patient outside the set is allowed when the set
    holds none); the set is about one Patient; identifiers (system|value) are unique among
    the resources of a type.
    """
    resources = [r for r in resources if isinstance(r, dict)]
    report = _Report()
    ids: dict[tuple[str, str], int] = defaultdict(int)
    for r in resources:
        ids[r.get("resourceType"), r.get("id")] += 1
    for (rtype, rid), count in sorted(ids.items(), key=str):
        if count > 1:
            report.add("duplicate-id", f"{rtype}/{rid}", f"{count} resources share this id")
    types = {rtype for rtype, _ in ids}
    patients: set[str] = set()
    for r in resources:
        for path, text in _references(r, _name(r)):
            match = re.fullmatch(r"([A-Za-z]+)/([A-Za-z0-9\-.]{1,64})", text)
            if not match:
                continue
            if match[1] in types and (match[1], match[2]) not in ids:
                report.add("dangling-reference", path, f"{text} is not in the set")
            if match[1] == "Patient" and path.rsplit(".", 1)[-1] in ("subject", "patient"):
                patients.add(text)
    if len(patients) > 1:
        report.add("multiple-patients", "subject/patient", f"the set is about {sorted(patients)}")
    # A business identifier names one resource of a type; the same source item may stand
    # behind resources of two types (an issue: a MedicationRequest and a MedicationStatement).
    holders: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in resources:
        for ident in r.get("identifier") or []:
            if isinstance(ident, dict) and ident.get("value") is not None:
                holders[r.get("resourceType"), ident.get("system"), ident.get("value")].add(
                    _name(r))
    for (_, system, value), names in holders.items():
        if len(names) > 1:
            report.add("duplicate-identifier", f"{system}|{value}", f"held by {sorted(names)}")
    return report.items


def all_problems(resources: Iterable[dict]) -> list[str]:
    """``problems`` of each resource (prefixed with Type/id) and ``bundle_problems``."""
    resources = list(resources)
    found = [f"{_name(r)} {p}" for r in resources for p in problems(r)]
    return found + bundle_problems(resources)


# Last, once every section above has registered its checkers: each type whose element
# references the Encounter (expectations.ENCOUNTER_ELEMENT) has that reference checked too.
for _type in ux.ENCOUNTER_ELEMENT:
    _CHECKERS[_type] = _and_its_encounter(_CHECKERS.get(_type, lambda resource, report: None))
