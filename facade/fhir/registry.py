"""The one description of what the API serves: resources, interactions, search parameters.

The router checks types and interactions against it, the search parser reads
parameter types from it, strict handling rejects names it does not list, and
the CapabilityStatement is generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import __version__


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # FHIR search parameter type: token, string, date, reference
    documentation: str


@dataclass(frozen=True)
class ResourceDef:
    type: str
    profile: str
    supported_profiles: tuple[str, ...]
    interactions: tuple[str, ...]
    search_params: tuple[SearchParam, ...]
    search_includes: tuple[str, ...] = ()
    #: Administrative data: only a scope naming the type allows it (never a * scope).
    explicit_scope_only: bool = False

    def param(self, name: str) -> SearchParam | None:
        return next((p for p in self.search_params if p.name == name), None)


_VITALS = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-VitalSigns"
RESOURCES: dict[str, ResourceDef] = {
    "Patient": ResourceDef(
        type="Patient",
        profile="https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient",
        supported_profiles=("https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient",),
        interactions=("read", "search-type"),
        search_params=(
            SearchParam("_id", "token", "The Patient's logical id."),
            SearchParam("identifier", "token",
                        "NHS number: https://fhir.nhs.uk/Id/nhs-number|9990000018 or the bare "
                        "number. Answered alone."),
            SearchParam("family", "string", "Surname, or its beginning."),
            SearchParam("given", "string", "First name, or its beginning."),
            SearchParam("name", "string", "Any part of a name, or its beginning; narrows a "
                                          "search made with two other criteria."),
            SearchParam("birthdate", "date", "Date of birth; a full date is sent to SystmOne, "
                                             "prefixes and partial dates narrow the results."),
            SearchParam("gender", "token", "male or female."),
            SearchParam("address-postalcode", "string",
                        "A full, correctly spaced postcode (LS18 5TN) or a district (LS18)."),
            SearchParam("phone", "token", "Any of the patient's telephone numbers."),
            SearchParam("telecom", "token", "As phone."),
        ),
    ),
    "Observation": ResourceDef(
        type="Observation",
        profile="https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation",
        supported_profiles=(
            "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation", _VITALS,
            f"{_VITALS}-BloodPressure", f"{_VITALS}-BodyWeight", f"{_VITALS}-BodyHeight",
            f"{_VITALS}-BMI", f"{_VITALS}-HeartRate", f"{_VITALS}-BodyTemperature",
            "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Observation-Lab"),
        interactions=("read", "search-type"),
        search_params=(
            SearchParam("patient", "reference", "Required (or subject): Patient/[id]."),
            SearchParam("subject", "reference", "As patient."),
            SearchParam("code", "token", "system|code or code; comma for OR. SNOMED CT, LOINC "
                                         "and CTV3."),
            SearchParam("category", "token", "e.g. vital-signs, laboratory."),
            SearchParam("date", "date", "effective date/time; prefixes eq ne gt lt ge le; "
                                        "repeat for a range."),
            SearchParam("status", "token", "final."),
        ),
        search_includes=("Observation:patient",),
    ),
    "AuditEvent": ResourceDef(
        type="AuditEvent",
        profile="http://hl7.org/fhir/StructureDefinition/AuditEvent",
        supported_profiles=(),
        interactions=("read", "search-type"),
        search_params=(
            SearchParam("date", "date", "When the request arrived; prefixes ge gt le lt eq; "
                                        "repeat for a range."),
            SearchParam("agent", "token", "The client_id of the caller."),
            SearchParam("patient", "reference", "Patient/[id]: requests that touched it."),
            SearchParam("subtype", "token", "The interaction: read, search-type, token, ..."),
            SearchParam("outcome", "token", "0 success, 4 refused (4xx), 8 failed (5xx)."),
        ),
        explicit_scope_only=True,
    ),
}
#: Parameters every search understands besides the resource's own.
CONTROL_PARAMS = ("_count", "_offset", "_format", "_pretty", "_summary", "_elements",
                  "_include")


def capability_statement(base_url: str, oauth_uris: dict[str, str]) -> dict:
    """The CapabilityStatement; ``oauth_uris`` names the token (and introspection) endpoints."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-24",
        "kind": "instance",
        "software": {"name": "SystmOne FHIR facade", "version": __version__},
        "implementation": {"description": "FHIR R4 facade over TPP SystmOne", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json", "xml", "application/fhir+json", "application/fhir+xml"],
        "rest": [{
            "mode": "server",
            "security": _security(oauth_uris),
            "resource": [_resource_capability(resource) for resource in RESOURCES.values()],
        }],
    }


def _security(oauth_uris: dict[str, str]) -> dict:
    """SMART on FHIR: the service coding and the oauth-uris extension (clients such as
    fhirclient look for the token endpoint only here)."""
    return {
        "cors": True,
        "service": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}],
            "text": "OAuth 2.0 bearer tokens: SMART Backend Services (client_credentials "
                    "with private_key_jwt)"}],
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [{"url": name, "valueUri": uri} for name, uri in oauth_uris.items()],
        }],
        "description": "Every interaction except this CapabilityStatement and "
                       ".well-known/smart-configuration needs a bearer token; see "
                       ".well-known/smart-configuration.",
    }


def _resource_capability(resource: ResourceDef) -> dict:
    capability = {
        "type": resource.type,
        "profile": resource.profile,
        **({"supportedProfile": list(resource.supported_profiles)}
           if resource.supported_profiles else {}),
        "interaction": [{"code": code} for code in resource.interactions],
        "searchParam": [{"name": p.name, "type": p.type, "documentation": p.documentation}
                        for p in resource.search_params],
    }
    if resource.search_includes:
        capability["searchInclude"] = list(resource.search_includes)
    return capability
