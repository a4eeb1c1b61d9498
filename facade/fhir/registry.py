"""What the API serves: every type's declaration (mapping/declaration.py), and the
CapabilityStatement made from them.

The router checks types and interactions against it, the search parser reads
parameters and their meaning from it, strict handling rejects names it does not
list, and the CapabilityStatement is generated from it.
"""

from __future__ import annotations

from .. import __version__
from ..audit.auditevent import DECLARATION as AUDIT_EVENT
from ..mapping.declaration import Declaration
from ..mapping.registry import DEFAULT, MappingRegistry


def resources_for(mappings: MappingRegistry) -> dict[str, Declaration]:
    """Every served type by name: the mapping modules' declarations (a site's overlay
    included), and the access audit."""
    return {**mappings.declarations(), AUDIT_EVENT.type: AUDIT_EVENT}


#: The built-in types (an app serves ``resources_for`` its own mapping registry).
RESOURCES: dict[str, Declaration] = resources_for(DEFAULT)


def capability_statement(base_url: str, oauth_uris: dict[str, str],
                         resources: dict[str, Declaration] = RESOURCES) -> dict:
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
            "resource": [_resource_capability(resource) for resource in resources.values()],
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


def _resource_capability(resource: Declaration) -> dict:
    capability = {
        "type": resource.type,
        "profile": resource.profile,
        **({"supportedProfile": list(resource.supported_profiles)}
           if resource.supported_profiles else {}),
        "interaction": [{"code": code} for code in resource.interactions],
    }
    if resource.searchable:
        capability["searchParam"] = [
            {"name": p.name, "type": p.type, "documentation": p.documentation}
            for p in resource.search_params]
    if resource.includes:
        capability["searchInclude"] = list(resource.include_names)
    return capability
