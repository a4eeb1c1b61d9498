"""Independent FHIR R4 validators (Medplum and FHIR.js, run in Node) beside fhir.resources."""
