"""OAuth 2.0 for the FHIR API: SMART Backend Services tokens, their validation, and scopes."""
