"""Every mapped resource is validated once, here, before anything serves it.

fhir.resources' R4B models check structure and datatypes (R4B's Patient and
Observation match R4). They ignore required value-set bindings, so the codes
FHIR requires to come from a fixed set are checked here as well, along with
NHS numbers and UCUM units.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from ..protocol.identity import nhs_number_is_valid

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
UCUM_SYSTEM = "http://unitsofmeasure.org"

#: Required bindings fhir.resources does not enforce: dotted path → allowed codes.
REQUIRED_CODES: dict[str, frozenset[str]] = {
    "Patient.gender": frozenset({"male", "female", "other", "unknown"}),
    "Patient.name.use": frozenset({"usual", "official", "temp", "nickname", "anonymous", "old",
                                   "maiden"}),
    "Patient.telecom.system": frozenset({"phone", "fax", "email", "pager", "url", "sms",
                                         "other"}),
    "Patient.telecom.use": frozenset({"home", "work", "temp", "old", "mobile"}),
    "Patient.address.use": frozenset({"home", "work", "temp", "old", "billing"}),
    "Patient.identifier.use": frozenset({"usual", "official", "temp", "secondary", "old"}),
    "Observation.status": frozenset({"registered", "preliminary", "final", "amended",
                                     "corrected", "cancelled", "entered-in-error", "unknown"}),
    "Observation.valueQuantity.comparator": frozenset({"<", "<=", ">=", ">"}),
    "Observation.component.valueQuantity.comparator": frozenset({"<", "<=", ">=", ">"}),
}


class ResourceInvalid(ValueError):
    """A mapped resource that is not valid FHIR; names the element and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


def validate(resource: dict[str, Any]) -> None:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise ResourceInvalid("resourceType", "missing")
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except KeyError:
        raise ResourceInvalid("resourceType", f"unknown type {resource_type!r}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in (resource_type, *first["loc"]))
        raise ResourceInvalid(where, first["msg"]) from None
    for path, allowed in REQUIRED_CODES.items():
        if path.split(".", 1)[0] == resource_type:
            for value in _values(resource, path.split(".")[1:]):
                if value not in allowed:
                    raise ResourceInvalid(path, f"{value!r} is not one of {sorted(allowed)}")
    _check_identifiers(resource)
    _check_quantities(resource)


def _values(node: Any, steps: list[str]) -> Iterator[Any]:
    if not steps:
        yield node
        return
    items = node if isinstance(node, list) else [node]
    for item in items:
        if isinstance(item, dict) and steps[0] in item:
            yield from _values(item[steps[0]], steps[1:])


def _check_identifiers(resource: dict[str, Any]) -> None:
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and \
                not nhs_number_is_valid(str(identifier.get("value", ""))):
            raise ResourceInvalid(f"{resource['resourceType']}.identifier",
                                  f"{identifier.get('value')!r} is not a valid NHS number")


def _check_quantities(resource: dict[str, Any]) -> None:
    """Quantities coded in UCUM must carry a code (the unit) as well as the system."""
    for path in ("valueQuantity", "component.valueQuantity"):
        for quantity in _values(resource, path.split(".")):
            if isinstance(quantity, dict) and quantity.get("system") == UCUM_SYSTEM \
                    and not quantity.get("code"):
                raise ResourceInvalid(f"{resource['resourceType']}.{path}",
                                      "a UCUM quantity needs a unit code")
