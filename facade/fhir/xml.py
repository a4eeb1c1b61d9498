"""FHIR XML from the validated JSON-shaped dicts, without pydantic's serialiser.

FHIR XML differs from JSON in three ways that matter here: elements must come
in the order the specification defines (taken once per type from
fhir.resources' ``elements_sequence``), primitives are ``value`` attributes,
and ``Extension.url`` and element ``id`` are attributes. Everything else is a
straight walk of the dict.
"""

from __future__ import annotations

import functools
import sys
import typing
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from lxml import etree

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"

def _attributes(model: type, is_resource: bool) -> frozenset[str]:
    """Element ``id`` (not a resource's) and ``Extension.url`` are XML attributes."""
    if is_resource:
        return frozenset()
    return frozenset({"id", "url"}) if model.__name__ == "Extension" else frozenset({"id"})


def to_xml(resource: dict, pretty: bool = False) -> bytes:
    root = _resource_element(resource)
    if pretty:
        etree.indent(root)
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _resource_element(resource: dict) -> etree._Element:
    resource_type = resource["resourceType"]
    element = etree.Element(f"{{{FHIR_NS}}}{resource_type}", nsmap={None: FHIR_NS})
    _fill(element, resource, get_fhir_model_class(resource_type), is_resource=True)
    return element


def _fill(element: etree._Element, data: dict, model: type, is_resource: bool = False) -> None:
    attributes = _attributes(model, is_resource)
    for name in attributes & data.keys():
        element.set(name, str(data[name]))
    for name in _ordered_keys(model, tuple(data)):
        if name == "resourceType" or name in attributes:
            continue
        values = data[name] if isinstance(data[name], list) else [data[name]]
        for value in values:
            _append(element, name, value, model)


def _append(parent: etree._Element, name: str, value: Any, model: type) -> None:
    tag = f"{{{FHIR_NS}}}{name}"
    if name == "div" and isinstance(value, str):
        parent.append(etree.fromstring(value))
        return
    if isinstance(value, dict):
        child = etree.SubElement(parent, tag)
        if "resourceType" in value:  # a contained or Bundle.entry resource
            child.append(_resource_element(value))
        else:
            _fill(child, value, _child_model(model, name))
        return
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    etree.SubElement(parent, tag, value=text)


@functools.cache
def _ordered_keys(model: type, keys: tuple[str, ...]) -> list[str]:
    order = {name: index for index, name in enumerate(model.elements_sequence())}
    return sorted(keys, key=lambda key: order.get(key, len(order)))


@functools.cache
def _child_model(model: type, name: str) -> type:
    """The model class of element ``name`` of ``model`` (a datatype or a backbone element)."""
    field = model.model_fields.get(name) or next(  # class, for...: kept under other names
        (f for f in model.model_fields.values() if f.alias == name), None)
    type_name = _type_name(field.annotation) if field is not None else None
    if type_name is None:
        raise ValueError(f"{model.__name__}.{name} is not a complex element")
    owner = sys.modules[model.__module__]
    return getattr(owner, type_name, None) or get_fhir_model_class(type_name)


def _type_name(annotation: Any) -> str | None:
    name = getattr(annotation, "__name__", "")
    if name.endswith("Type") and name != "Type":
        return name[: -len("Type")]
    for argument in typing.get_args(annotation):
        found = _type_name(argument)
        if found:
            return found
    return None
