"""The compiled mappings, one per FHIR resource type, ready to apply.

Mapping modules are found in the ``mappings`` package; an overlay folder (a
site's own modules of the same names, arriving in a later release) will be
searched first so a site can change a mapping without forking.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from lxml import etree

from .engine import CompiledMapping
from .narrative import add_narrative
from .transforms import TRANSFORMS
from .validation import validate

MODULES = ("patient", "observation")


@functools.cache
def mapping(name: str) -> CompiledMapping:
    module = _module(name)
    concept_maps = importlib.import_module("mappings.conceptmaps").CONCEPT_MAPS
    return CompiledMapping(module.RESOURCE, module.TEMPLATE, TRANSFORMS, concept_maps)


def map_resource(name: str, element: etree._Element, **variables) -> dict:
    """Apply mapping ``name`` to ``element`` and validate the result, once."""
    resource = mapping(name).apply(element, **variables)
    add_narrative(resource)
    validate(resource)
    return resource


def map_resources(name: str, element: etree._Element, **variables) -> list[dict]:
    """Apply a mapping that yields many resources (e.g. Observations); validate each once."""
    resources = mapping(name).apply(element, **variables)
    for resource in resources:
        add_narrative(resource)
        validate(resource)
    return resources


def _module(name: str) -> ModuleType:
    if name not in MODULES:
        raise KeyError(f"no mapping {name!r}; known: {', '.join(MODULES)}")
    return importlib.import_module(f"mappings.{name}")
