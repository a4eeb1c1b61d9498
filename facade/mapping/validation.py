"""Every mapped resource is validated once, here, before anything serves it.

fhir.resources' R4B models check structure and datatypes (R4B's Patient and
Observation match R4). They ignore required value-set bindings, so the codes
FHIR requires to come from a fixed set are checked here as well, along with
NHS numbers and UCUM units.

Structure is a matter of shape: which elements, lists and value types a
resource has. A mapping produces few shapes and thousands of resources, so the
models validate each new shape in full, once, and remember the FHIR primitive
type of every leaf; a resource of a known shape then has each of its values
checked against the rules for that primitive type (the same rules the models
apply: the FHIR regular expressions and real calendar dates). Any value whose
type is not understood sends the resource through the models in full.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import sys
import typing
from decimal import Decimal
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
    "Condition.clinicalStatus.coding.code": frozenset({
        "active", "recurrence", "relapse", "inactive", "remission", "resolved"}),
    "Condition.verificationStatus.coding.code": frozenset({
        "unconfirmed", "provisional", "differential", "confirmed", "refuted",
        "entered-in-error"}),
    "AllergyIntolerance.clinicalStatus.coding.code": frozenset({
        "active", "inactive", "resolved"}),
    "AllergyIntolerance.verificationStatus.coding.code": frozenset({
        "unconfirmed", "confirmed", "refuted", "entered-in-error"}),
    "AllergyIntolerance.type": frozenset({"allergy", "intolerance"}),
    "AllergyIntolerance.category": frozenset({"food", "medication", "environment",
                                              "biologic"}),
    "AllergyIntolerance.criticality": frozenset({"low", "high", "unable-to-assess"}),
    "AllergyIntolerance.reaction.severity": frozenset({"mild", "moderate", "severe"}),
    "MedicationRequest.status": frozenset({
        "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft",
        "unknown"}),
    "MedicationRequest.intent": frozenset({
        "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
        "instance-order", "option"}),
    "MedicationRequest.priority": frozenset({"routine", "urgent", "asap", "stat"}),
    "MedicationStatement.status": frozenset({
        "active", "completed", "entered-in-error", "intended", "stopped", "on-hold",
        "unknown", "not-taken"}),
    "Medication.status": frozenset({"active", "inactive", "entered-in-error"}),
    "Immunization.status": frozenset({"completed", "entered-in-error", "not-done"}),
    "ServiceRequest.status": frozenset({
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}),
    "ServiceRequest.intent": frozenset({
        "proposal", "plan", "directive", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option"}),
    "ServiceRequest.priority": frozenset({"routine", "urgent", "asap", "stat"}),
    "Encounter.status": frozenset({
        "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled",
        "entered-in-error", "unknown"}),
    "Flag.status": frozenset({"active", "inactive", "entered-in-error"}),
    "DiagnosticReport.status": frozenset({
        "registered", "partial", "preliminary", "final", "amended", "corrected", "appended",
        "cancelled", "entered-in-error", "unknown"}),
    # Non-clinical items (FHIR R4 task-status, request-intent, appointmentstatus,
    # participationstatus, care-plan-*; contact point and address codes as Patient's).
    "Task.status": frozenset({
        "draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
        "in-progress", "on-hold", "failed", "completed", "entered-in-error"}),
    "Task.intent": frozenset({
        "unknown", "proposal", "plan", "order", "original-order", "reflex-order",
        "filler-order", "instance-order", "option"}),
    "Appointment.status": frozenset({
        "proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
        "entered-in-error", "checked-in", "waitlist"}),
    "Appointment.participant.status": frozenset({
        "accepted", "declined", "tentative", "needs-action"}),
    "RelatedPerson.telecom.system": frozenset({"phone", "fax", "email", "pager", "url", "sms",
                                               "other"}),
    "RelatedPerson.telecom.use": frozenset({"home", "work", "temp", "old", "mobile"}),
    "RelatedPerson.address.use": frozenset({"home", "work", "temp", "old", "billing"}),
    "CarePlan.status": frozenset({
        "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}),
    "CarePlan.intent": frozenset({"proposal", "plan", "order", "option"}),
    "CarePlan.activity.detail.status": frozenset({
        "not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled",
        "stopped", "unknown", "entered-in-error"}),
}


_BINDINGS: dict[str, list[tuple[str, list[str], frozenset[str]]]] = {}
for _path, _allowed in REQUIRED_CODES.items():
    _type, *_steps = _path.split(".")
    _BINDINGS.setdefault(_type, []).append((_path, _steps, _allowed))


class ResourceInvalid(ValueError):
    """A mapped resource that is not valid FHIR; names the element and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


def validate(resource: dict[str, Any]) -> None:
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise ResourceInvalid("resourceType", "missing")
    signature: list = [resource_type]
    values: list = []
    _shape_of(resource, signature, values)
    shape = tuple(signature)
    known = _SHAPES.get(shape)
    if known is None:
        _validate_with_models(resource_type, resource)
        leaves = _leaves(resource, ())
        known = (_primitive_kinds(resource_type, leaves), _binding_positions(resource_type, leaves))
        if len(_SHAPES) > 50_000:  # an unbounded variety of shapes is not expected
            _SHAPES.clear()
        _SHAPES[shape] = known
    elif not _values_conform(values, known[0]):
        _validate_with_models(resource_type, resource)
    for path, positions, allowed in known[1]:
        for position in positions:
            if values[position] not in allowed:
                raise ResourceInvalid(path, f"{values[position]!r} is not one of "
                                            f"{sorted(allowed)}")
    _check_identifiers(resource)
    _check_quantities(resource)


def validate_mapped(resource: dict[str, Any], trace: tuple, dynamic: list,
                    known: dict, value_sites: dict[int, str]) -> None:
    """``validate``, for a resource a generated mapping made, using its evidence.

    A resource whose trace (codegen.generate) is new is validated in full. One whose
    trace has been validated before has the same shape and the same constants, so only
    its dynamic values are checked, each against the type of its FHIR path and any
    required binding, along with the checks ``validate`` makes beyond the models.
    ``known`` (trace → value checks) belongs to the mapping that made the traces.
    """
    key = (resource["resourceType"], trace, "text" in resource)
    checks = known.get(key)
    if checks is None:
        validate(resource)
        if len(known) > 50_000:  # an unbounded variety of traces is not expected
            known.clear()
        known[key] = tuple(_checker(value_sites[token]) for token in trace
                           if type(token) is int and token in value_sites)
        return
    for check, value in zip(checks, dynamic, strict=True):
        if not check(value):
            validate(resource)  # the models name the problem, or find none
            return
    text = resource.get("text")
    if text is not None and not _PRIMITIVE_CHECKS["Xhtml"](text.get("div")):
        validate(resource)
        return
    _check_identifiers(resource)
    _check_quantities(resource)


def _checker(fhir_path: str):
    """A test that a value may stand at a FHIR path: its type's rules and any required
    binding. Text values recur (codes, units, URLs), so those that pass are remembered."""
    check = _CHECKERS.get(fhir_path)
    if check is not None:
        return check
    kind, allowed = _site(fhir_path)
    test = _PRIMITIVE_CHECKS.get(kind) if kind else None
    passed = _PASSED.setdefault(kind, set())

    def check(value: Any) -> bool:
        if type(value) is str and value in passed:
            pass
        elif type(value) is dict or type(value) is list:
            return _container_conforms(fhir_path, value)
        elif test is None or not test(value):
            return False
        elif type(value) is str and len(passed) < 100_000:
            passed.add(value)
        return allowed is None or value in allowed

    _CHECKERS[fhir_path] = check
    return check


_CHECKERS: dict[str, Any] = {}
_PASSED: dict[str | None, set[str]] = {}


def _conforms(fhir_path: str, value: Any) -> bool:
    return _checker(fhir_path)(value)


def _container_conforms(fhir_path: str, value: Any) -> bool:
    """Containers (codings from concept maps, the caller's references) recur as the same
    objects; each is checked once, remembered by identity while held."""
    seen = _CONTAINERS_SEEN.get(id(value))
    if seen is not None and seen[0] is value and seen[1] == fhir_path:
        return True
    resource_type, _, rest = fhir_path.partition(".")
    steps = tuple(rest.split(".")) if rest else ()
    for path, leaf in _leaves(value, steps):
        inner = ".".join((resource_type, *(step for step in path if step != "[]")))
        if type(leaf) is dict or type(leaf) is list or not _conforms(inner, leaf):
            return False
    if len(_CONTAINERS_SEEN) > 10_000:
        _CONTAINERS_SEEN.clear()
    _CONTAINERS_SEEN[id(value)] = (value, fhir_path)
    return True


def _site(fhir_path: str) -> tuple[str | None, frozenset[str] | None]:
    """The primitive type at a dotted FHIR path, and its required codes if it is bound."""
    resource_type, *steps = fhir_path.split(".")
    try:
        model = get_fhir_model_class(resource_type)
    except KeyError:
        model = None
    kind = _kind_at(model, tuple(steps)) if model is not None else None
    site = (kind if kind in _PRIMITIVE_CHECKS else None, REQUIRED_CODES.get(fhir_path))
    _SITES[fhir_path] = site
    return site


_SITES: dict[str, tuple[str | None, frozenset[str] | None]] = {}
_CONTAINERS_SEEN: dict[int, tuple[Any, str]] = {}


def _validate_with_models(resource_type: str, resource: dict[str, Any]) -> None:
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except KeyError:
        raise ResourceInvalid("resourceType", f"unknown type {resource_type!r}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in (resource_type, *first["loc"]))
        raise ResourceInvalid(where, first["msg"]) from None


# --- shapes ------------------------------------------------------------------------

#: A resource's shape (see _shape_of) → the FHIR primitive kind of each of its values,
#: and where the values of each required binding sit among them.
_SHAPES: dict[tuple, tuple] = {}


def _shape_of(node: Any, signature: list, values: list) -> None:
    """The resource's shape as a flat token list, and its primitive values in the same order.

    Primitives are handled in the loops rather than by a call each: this runs for
    every resource mapped, and most of a resource's elements are primitives.
    """
    mark = signature.append
    keep = values.append
    if type(node) is dict:
        mark("{")
        for key, value in node.items():
            if key == "resourceType":
                continue
            mark(key)
            kind = type(value)
            if kind is dict or kind is list:
                _shape_of(value, signature, values)
            else:
                mark(kind)
                keep(value)
        mark("}")
    else:
        mark("[")
        for item in node:
            kind = type(item)
            if kind is dict or kind is list:
                _shape_of(item, signature, values)
            else:
                mark(kind)
                keep(item)
        mark("]")


def _leaves(node: Any, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], Any]]:
    """(path, value) for every primitive; list items share their list's path (marked [])."""
    out: list[tuple[tuple[str, ...], Any]] = []
    _collect(node, path, out)
    return out


def _collect(node: Any, path: tuple[str, ...], out: list) -> None:
    # Plain recursion appending to one list: this runs for every value of every resource.
    if type(node) is dict:
        for key, value in node.items():
            if key != "resourceType":
                _collect(value, (*path, key), out)
    elif type(node) is list:
        inner = (*path, "[]")
        for item in node:
            _collect(item, inner, out)
    else:
        out.append((path, node))


def _binding_positions(resource_type: str, leaves: list) -> tuple:
    """For each required binding of the type, where its values sit in the value list."""
    plain = [tuple(step for step in path if step != "[]") for path, _ in leaves]
    return tuple((path, [i for i, steps_at in enumerate(plain) if list(steps_at) == steps],
                  allowed)
                 for path, steps, allowed in _BINDINGS.get(resource_type, ()))


def _primitive_kinds(resource_type: str, leaves: list) -> tuple[str | None, ...]:
    model = get_fhir_model_class(resource_type)
    return tuple(_kind_at(model, tuple(step for step in path if step != "[]"))
                 for path, _ in leaves)


@functools.cache
def _kind_at(model: type, path: tuple[str, ...]) -> str | None:
    """The primitive type name (Code, DateTime, String...) at ``path`` of ``model``."""
    field = model.model_fields.get(path[0]) if path else None
    if field is None:
        return None
    annotation = field.annotation
    if len(path) == 1:
        return _primitive_name(annotation)
    child = _complex_type(model, annotation)
    return _kind_at(child, path[1:]) if child is not None else None


def _primitive_name(annotation: Any) -> str | None:
    if annotation is bool:
        return "Boolean"
    for argument in typing.get_args(annotation):
        if type(argument).__name__ in _PRIMITIVE_CHECKS:
            return type(argument).__name__
        found = _primitive_name(argument)
        if found:
            return found
    return None


def _complex_type(model: type, annotation: Any) -> type | None:
    name = getattr(annotation, "__name__", "")
    if name.endswith("Type") and name != "Type":
        owner = sys.modules[model.__module__]
        try:
            return getattr(owner, name[:-4], None) or get_fhir_model_class(name[:-4])
        except KeyError:
            return None
    for argument in typing.get_args(annotation):
        found = _complex_type(model, argument)
        if found is not None:
            return found
    return None


def _values_conform(values: list, kinds: tuple[str | None, ...]) -> bool:
    conforming = _CONFORMING
    for value, kind in zip(values, kinds, strict=True):
        key = (kind, type(value), value)
        if key in conforming:  # system URLs, codes, units recur thousands of times
            continue
        check = _PRIMITIVE_CHECKS.get(kind) if kind else None
        if check is None or not check(value):
            return False
        if len(conforming) < 100_000:
            conforming.add(key)
    return True


#: (kind, type, value) already seen to conform (the type keeps 1, 1.0 and True apart).
_CONFORMING: set[tuple[str, type, Any]] = set()


def _matches(pattern: str):
    compiled = re.compile(pattern)
    return lambda value: isinstance(value, str) and compiled.fullmatch(value) is not None


def _real_date(value: str) -> bool:
    """FHIR dates may be partial (YYYY, YYYY-MM); full ones must exist on the calendar."""
    if len(value) < 10:
        return True
    try:
        dt.date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


_DATE = (r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
         r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
_date = _matches(_DATE)
_date_time = _matches(rf"{_DATE}(T{_TIME}{_ZONE})?")
_instant = _matches(rf"{_DATE}T{_TIME}{_ZONE}")
_PRIMITIVE_CHECKS = {
    "Boolean": lambda v: isinstance(v, bool),
    "String": lambda v: isinstance(v, str) and v.strip() != "",
    "Markdown": lambda v: isinstance(v, str) and v.strip() != "",
    "Code": _matches(r"[^\s]+( [^\s]+)*"),
    "Id": _matches(r"[A-Za-z0-9\-.]{1,64}"),
    "Uri": _matches(r"\S+"),
    "Url": _matches(r"\S+"),
    "Canonical": _matches(r"\S+"),
    "Date": lambda v: _date(v) and _real_date(v),
    "DateTime": lambda v: _date_time(v) and _real_date(v),
    "Instant": lambda v: _instant(v) and _real_date(v),
    "Decimal": lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool)
    and math.isfinite(v),
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "PositiveInt": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    "UnsignedInt": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "Xhtml": lambda v: isinstance(v, str) and v.startswith("<div"),
}


def _check_identifiers(resource: dict[str, Any]) -> None:
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and \
                not nhs_number_is_valid(str(identifier.get("value", ""))):
            raise ResourceInvalid(f"{resource['resourceType']}.identifier",
                                  f"{identifier.get('value')!r} is not a valid NHS number")


def _check_quantities(resource: dict[str, Any]) -> None:
    """Quantities coded in UCUM must carry a code (the unit) as well as the system."""
    quantities = [(resource.get("valueQuantity"), "valueQuantity")]
    quantities += [(component.get("valueQuantity"), "component.valueQuantity")
                   for component in resource.get("component", ()) if type(component) is dict]
    for quantity, path in quantities:
        if type(quantity) is dict and quantity.get("system") == UCUM_SYSTEM \
                and not quantity.get("code"):
            raise ResourceInvalid(f"{resource['resourceType']}.{path}",
                                  "a UCUM quantity needs a unit code")
