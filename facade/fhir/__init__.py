"""The FHIR R4 REST API (blueprint ``bp`` at /fhir)."""
