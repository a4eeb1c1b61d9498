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
SYSTMONE_SRI = "urn:systmone:id:strategic-reporting-identifier"

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
