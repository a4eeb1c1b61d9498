"""What the API serves: every type's declaration (mapping/declaration.py), and the
CapabilityStatement made from them.

The router checks types and interactions against it, the search parser reads
parameters and their meaning from it, strict handling rejects names it does not
list, and the CapabilityStatement is generated from it.
"""

from __future__ import annotations

from .. import __version__
from ..audit.auditevent import DECLARATION as AUDIT_EVENT
from ..mapping.declaration import AUDIT, DOCUMENT, PATIENT_LIST, RECORD, Declaration, SearchParam
from ..mapping.registry import DEFAULT, MappingRegistry
from .results import sort_params

#: The operation a compartment's owner (the Patient) answers: its whole record.
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
EVERYTHING_DOCUMENTATION = (
    "Patient/[id]/$everything, or Patient/$everything?identifier=https://fhir.nhs.uk/Id/"
    "nhs-number|[number]: the Patient, every resource of their record (from one record "
    "fetch) and the served resources these reference, as a paged searchset. Parameters: "
    "_type (types, comma-separated), _since (meta.lastUpdated at or after), start and end "
    "(care dates: the date each type sorts by), _count. Only the types the token's scopes "
    "allow reading are returned.")


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
            "resource": [_resource_capability(resource, resources)
                         for resource in resources.values()],
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


def owns_compartment(declaration: Declaration) -> bool:
    """The type whose compartment the record types are (the Patient): it answers
    ``$everything`` and ``_revinclude``."""
    return declaration.source == PATIENT_LIST


def revinclude_names(declaration: Declaration,
                     resources: dict[str, Declaration]) -> tuple[str, ...]:
    """What ``_revinclude`` takes on a search of ``declaration``: every record type's
    patient parameter that references the patient (Observation:patient...)."""
    if not owns_compartment(declaration):
        return ()
    return tuple(f"{d.type}:{name}" for d in resources.values()
                 if d.source == RECORD and d.searchable
                 for name in d.patient_params if d.param(name).paths)


def _resource_capability(resource: Declaration, resources: dict[str, Declaration]) -> dict:
    capability = {
        "type": resource.type,
        "profile": resource.profile,
        **({"supportedProfile": list(resource.supported_profiles)}
           if resource.supported_profiles else {}),
        "interaction": [{"code": code} for code in resource.interactions],
        # Every resource says its version in meta.versionId (facade/versions.py).
        "versioning": "versioned",
        # Reads answer the current version only: no vread, no _history.
        "readHistory": False,
        **({"conditionalRead": _conditional_read(resource)}
           if "read" in resource.interactions else {}),
    }
    if resource.searchable:
        capability["searchParam"] = [search_param_capability(p) for p in resource.search_params]
        capability["documentation"] = sort_documentation(resource)
    if resource.includes:
        capability["searchInclude"] = list(resource.include_names)
    revincludes = revinclude_names(resource, resources)
    if revincludes and resource.searchable:
        capability["searchRevInclude"] = list(revincludes)
    if owns_compartment(resource):
        capability["operation"] = [{"name": "everything", "definition": EVERYTHING,
                                    "documentation": EVERYTHING_DOCUMENTATION}]
    return capability


def _conditional_read(resource: Declaration) -> str:
    """If-None-Match on every read (the ETag is the version); If-Modified-Since too where
    a resource says when its version was first seen: not a document, fetched anew on every
    read (versions.versioned), which has no meta.lastUpdated."""
    return "not-match" if resource.source == DOCUMENT else "full-support"


def search_param_capability(param: SearchParam) -> dict:
    """A searchParam entry: FHIR R4's definition where the declaration names it."""
    return {"name": param.name, **({"definition": param.definition} if param.definition else {}),
            "type": param.type, "documentation": param.documentation}


def sort_documentation(resource: Declaration) -> str:
    """How a search of the type is ordered, what its ``_sort`` takes (and, for the audit,
    that its parameters take no modifier and no comma-separated OR)."""
    if resource.source == AUDIT:  # the store answers, in its own order and terms
        return ("Searches are ordered newest first, as the audit store pages them; _sort is "
                "not taken (ignored and said; refused under Prefer: handling=strict), nor is "
                "any modifier or comma-separated alternative (each refused, naming it).")
    order = (f"Searches are ordered newest first by {' or '.join(resource.sort)}, then by "
             "id. " if resource.sort else "")
    return (f"{order}_sort takes {', '.join(sort_params(resource))}: each ascending, or "
            "descending with -, comma-separated for several.")
