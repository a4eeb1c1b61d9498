"""Code systems, identifier namespaces and profiles the mappings refer to."""

# Code systems
SNOMED = "http://snomed.info/sct"
CTV3 = "http://read.info/ctv3"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
UKCORE_ETHNIC_CATEGORY = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland"
UKCORE_NHS_NUMBER_VERIFICATION = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland")

# Identifier namespaces
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANISATION = "https://fhir.nhs.uk/Id/ods-organization-code"
# SystmOne's own patient identifiers have no published namespace; these URNs
# name them without claiming anyone else's domain.
SYSTMONE_PSEUDO_NUMBER = "urn:systmone:id:pseudo-number"
SYSTMONE_CLIENT_ID = "urn:systmone:id:client-id"

# Profiles and extensions
UKCORE_PATIENT = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"
EXT_ETHNIC_CATEGORY = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory"
EXT_NHS_NUMBER_VERIFICATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus")
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
UKCORE_OBSERVATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation"
UKCORE_VITAL_SIGNS = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns"
UKCORE_LAB = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-Lab"
SYSTMONE_EVENT_ITEM = "urn:systmone:id:event-item"
GMC_NUMBER = "https://fhir.hl7.org.uk/Id/gmc-number"
NMC_NUMBER = "https://fhir.hl7.org.uk/Id/nmc-number"

# --- Problems, allergies, medication and immunisations ------------------------------

# Profiles and extensions (UK Core R4)
UKCORE_CONDITION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Condition"
UKCORE_ALLERGY_INTOLERANCE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-AllergyIntolerance"
UKCORE_MEDICATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Medication"
UKCORE_MEDICATION_REQUEST = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-MedicationRequest"
UKCORE_MEDICATION_STATEMENT = (
    "https://fhir.hl7.org.uk/StructureDefinition/UKCore-MedicationStatement")
UKCORE_IMMUNIZATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Immunization"
EXT_CONDITION_EPISODE = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ConditionEpisode")
EXT_ALLERGY_INTOLERANCE_END = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AllergyIntoleranceEnd")
EXT_MEDICATION_REPEAT_INFORMATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicationRepeatInformation")
EXT_DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

# Code systems
UKCORE_CONDITION_EPISODICITY = "https://fhir.hl7.org.uk/CodeSystem/UKCore-ConditionEpisodicity"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
MEDICATION_COURSE_OF_THERAPY = (
    "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy")
V3_NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
# dm+d (UK Core's medication code system) and Multilex, as GP Connect names it
# (pages/accessrecord_structured/..._resources_overview.md, "Multilex drug codes").
DMD = "https://dmd.nhs.uk"
MULTILEX_DRUG = "https://fhir.hl7.org.uk/Id/multilex-drug-codes"
# Multilex ingredient ids (DrugSensitivity/Ingredient@IngredientID) have no published
# system and share number ranges with product ids; this URN names them without claiming
# anyone else's domain.
MULTILEX_INGREDIENT = "urn:systmone:code:multilex-ingredient"

# --- Non-clinical items: tasks, appointments, relationships, care plans ---------------

UKCORE_TASK = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Task"
UKCORE_APPOINTMENT = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Appointment"
UKCORE_RELATED_PERSON = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-RelatedPerson"
UKCORE_CARE_PLAN = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-CarePlan"
# RelatedPerson.relationship: UK Core's PersonRelationshipType value set draws on these three.
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V2_CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
UKCORE_ADDITIONAL_RELATIONSHIP = (
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdditionalPersonRelationshipRole")
# Appointment.participant.type (FHIR R4's encounter-participant-type value set).
V3_PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

# --- The practice's people and places (GetOrganisationMetaData) -----------------------

UKCORE_PRACTITIONER = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Practitioner"
UKCORE_PRACTITIONER_ROLE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-PractitionerRole"
UKCORE_ORGANIZATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization"
UKCORE_LOCATION = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Location"
# UK Core's Location and Organization identifier slice for a site's ODS code.
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
# Professional registers TPP's NationalIDType names (GMC, NMC, RPSGB, HPC). The RPSGB's
# register passed to the GPhC in 2010 with its numbers; the HPC is now the HCPC.
GPHC_NUMBER = "https://fhir.hl7.org.uk/Id/gphc-number"
HCPC_NUMBER = "https://fhir.hl7.org.uk/Id/hcpc-number"
# The national RBAC job role on NHS smartcards, written as SystmOne's RoleCode is
# ("S0010:G0020:R0260": staff group, job group, job role), per NHS England's FHIR IG.
SDS_JOB_ROLE = "https://fhir.nhs.uk/CodeSystem/England-SDS-JobRoleCode"


# --- Investigations (DiagnosticReport) -------------------------------------------------

UKCORE_DIAGNOSTIC_REPORT = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-DiagnosticReport"
# DiagnosticReport.category: HL7 v2 table 0074, the diagnostic service section (UK Core's
# examples and GP Connect use it: "LAB" when nothing more specific is known).
V2_DIAGNOSTIC_SERVICE_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
# UK Core's R5 backport of DiagnosticReport.note (an Annotation): R4 has no note here.
EXT_DIAGNOSTIC_REPORT_NOTE = (
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note")

# --- Consultations (Encounter) and narrative ------------------------------------------

UKCORE_ENCOUNTER = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Encounter"
# An Event's EventUID (TPP: "a UID for the event") has no published namespace either.
SYSTMONE_EVENT = "urn:systmone:id:event"
# Encounter.class: FHIR R4 binds it (extensible) to v3 ActEncounterCode.
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

# --- Documents: letters and attachments, and the files behind them -----------------------

UKCORE_DOCUMENT_REFERENCE = (
    "https://fhir.hl7.org.uk/StructureDefinition/UKCore-DocumentReference")
# A document's SystmOne DocumentUID (what GetDocument is asked for).
SYSTMONE_DOCUMENT = "urn:systmone:id:document"
BINARY = "http://hl7.org/fhir/StructureDefinition/Binary"

# --- Referrals and recalls (ServiceRequest) ---------------------------------------------

UKCORE_SERVICE_REQUEST = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-ServiceRequest"
# A Referral's ReferralUID (TPP: the UID an Event's LinkedReferralUID names) has no
# published namespace.
SYSTMONE_REFERRAL = "urn:systmone:id:referral"

# --- Reminders (Flag) -------------------------------------------------------------------

UKCORE_FLAG = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Flag"
# FHIR R4's core extension for a flag's priority, and its code system (PN, PL, PM, PH).
EXT_FLAG_PRIORITY = "http://hl7.org/fhir/StructureDefinition/flag-priority"
FLAG_PRIORITY_CODE = "http://hl7.org/fhir/flag-priority-code"
