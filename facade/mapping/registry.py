"""The compiled mappings, one per FHIR resource type, ready to apply.

Mapping modules come from the ``mappings`` package. A site can add or
override them without forking through an overlay folder
(``FACADE_MAPPINGS_OVERLAY``): a ``patient.py`` or ``observation.py`` there
replaces the built-in module of that name (it may import the built-in one and
change a copy of its TEMPLATE), and a ``conceptmaps.py`` there adds entries:
each map in its ``CONCEPT_MAPS`` is laid over the built-in map of that name.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from lxml import etree

from .engine import CompiledMapping
from .narrative import add_narrative
from .transforms import TRANSFORMS
from .validation import validate, validate_mapped

MODULES = ("patient", "observation")  # one per FHIR resource type
FRAGMENT_MODULES = ("references",)  # datatypes used beside them


class MappingRegistry:
    def __init__(self, overlay: Path | None = None) -> None:
        self.overlay = Path(overlay) if overlay else None
        if self.overlay is not None and not self.overlay.is_dir():
            raise ValueError(f"mappings overlay {self.overlay} is not a directory")
        self._compiled: dict[str, CompiledMapping] = {}
        self._lock = threading.Lock()
        self.concept_maps = self._concept_maps()

    def mapping(self, name: str) -> CompiledMapping:
        if name not in MODULES:
            raise KeyError(f"no mapping {name!r}; known: {', '.join(MODULES)}")
        with self._lock:
            if name not in self._compiled:
                module = self._module(name)
                self._compiled[name] = CompiledMapping(module.RESOURCE, module.TEMPLATE,
                                                       TRANSFORMS, self.concept_maps)
            return self._compiled[name]

    def reference(self, name: str, element: etree._Element) -> dict | None:
        """A datatype from ``mappings/references.py`` (e.g. PRACTICE), at ``element``."""
        key = f"references.{name}"
        with self._lock:
            if key not in self._compiled:
                template = getattr(self._module("references"), name)
                self._compiled[key] = CompiledMapping(key, template, TRANSFORMS,
                                                      self.concept_maps)
            compiled = self._compiled[key]
        return compiled.apply(element) or None

    def map_resource(self, name: str, element: etree._Element, **variables: Any) -> dict:
        """Apply mapping ``name`` to ``element``; add the narrative; validate, once."""
        resource = self.mapping(name).apply(element, **variables)
        add_narrative(resource)
        validate(resource)
        return resource

    def map_resources(self, name: str, element: etree._Element, **variables: Any) -> list[dict]:
        """Apply a mapping that yields many resources (e.g. Observations); validate each once."""
        compiled = self.mapping(name)
        resources, evidence = compiled.apply_with_evidence(element, **variables)
        for resource, trace, dynamic in evidence:
            add_narrative(resource)
            validate_mapped(resource, trace, dynamic, compiled.known_traces,
                            compiled.value_sites)
        traced = {id(resource) for resource, _, _ in evidence}
        for resource in resources:  # e.g. a resourceType read from the source: no trace
            if id(resource) not in traced:
                add_narrative(resource)
                validate(resource)
        return resources

    def _module(self, name: str) -> ModuleType:
        if name not in MODULES + FRAGMENT_MODULES:
            raise KeyError(f"no mapping {name!r}; known: {', '.join(MODULES)}")
        return self._overlay_module(name) or importlib.import_module(f"mappings.{name}")

    def _concept_maps(self) -> dict[str, dict]:
        built_in = importlib.import_module("mappings.conceptmaps").CONCEPT_MAPS
        maps = {name: dict(table) for name, table in built_in.items()}
        overlay = self._overlay_module("conceptmaps")
        for name, table in getattr(overlay, "CONCEPT_MAPS", {}).items():
            maps.setdefault(name, {}).update(table)
        return maps

    def _overlay_module(self, name: str) -> ModuleType | None:
        path = self.overlay / f"{name}.py" if self.overlay is not None else None
        if path is None or not path.is_file():
            return None
        spec = importlib.util.spec_from_file_location(f"facade_overlay_{name}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise ValueError(f"mappings overlay {path} cannot be loaded: {error}") from error
        return module


DEFAULT = MappingRegistry()


def mapping(name: str) -> CompiledMapping:
    return DEFAULT.mapping(name)


def map_resource(name: str, element: etree._Element, **variables: Any) -> dict:
    return DEFAULT.map_resource(name, element, **variables)


def map_resources(name: str, element: etree._Element, **variables: Any) -> list[dict]:
    return DEFAULT.map_resources(name, element, **variables)
