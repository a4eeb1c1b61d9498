"""The compiled mappings, one per FHIR resource type, ready to apply, and their declarations.

Mapping modules come from the ``mappings`` package: every module there with a
``DECLARATION`` (see declaration.py) is a served resource type, named by the
module (``mappings/condition.py`` → ``condition``). A site can add or
override them without forking through an overlay folder
(``FACADE_MAPPINGS_OVERLAY``): a ``patient.py`` or ``observation.py`` there
replaces the built-in module of that name (it may import the built-in one and
change a copy of its TEMPLATE), and a ``conceptmaps.py`` there adds entries:
each map in its ``CONCEPT_MAPS`` is laid over the built-in map of that name.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import importlib.util
import pkgutil
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from lxml import etree

from .declaration import ORGANISATION, RECORD, Declaration
from .engine import XPATH_VARIABLES, CompiledMapping
from .narrative import add_narrative
from .transforms import TRANSFORMS, london_today
from .validation import validate, validate_mapped

FRAGMENT_MODULES = ("references",)  # datatypes used beside them


@functools.cache
def _resource_modules() -> tuple[str, ...]:
    """The mapping modules that declare a resource type, in name order."""
    package = importlib.import_module("mappings")
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    return tuple(name for name in names
                 if hasattr(importlib.import_module(f"mappings.{name}"), "DECLARATION"))


class MappingRegistry:
    def __init__(self, overlay: Path | None = None) -> None:
        self.overlay = Path(overlay) if overlay else None
        if self.overlay is not None and not self.overlay.is_dir():
            raise ValueError(f"mappings overlay {self.overlay} is not a directory")
        self._compiled: dict[str, CompiledMapping] = {}
        self._declarations: dict[str, Declaration] | None = None
        self._overlays: dict[str, ModuleType | None] = {}
        self._lock = threading.RLock()
        self.concept_maps = self._concept_maps()
        self.modules = self._resource_modules()

    def declarations(self) -> dict[str, Declaration]:
        """Every served type's declaration, by FHIR type, in module order."""
        with self._lock:
            if self._declarations is None:
                found = (self._module(name).DECLARATION for name in self.modules)
                self._declarations = {d.type: d for d in found}
            return self._declarations

    def _resource_modules(self) -> tuple[str, ...]:
        """The built-in resource modules, and an overlay's modules that declare a type of
        their own (a site's new resource type: MAPPINGS.md)."""
        names = set(_resource_modules())
        if self.overlay is not None:
            for path in sorted(self.overlay.glob("*.py")):
                module = self._overlay_module(path.stem)
                if module is not None and hasattr(module, "DECLARATION"):
                    names.add(path.stem)
        return tuple(sorted(names))

    def record_types(self) -> list[Declaration]:
        """The types made from a patient's record (GetPatientRecord), as the record
        service maps them."""
        return [d for d in self.declarations().values() if d.source == RECORD]

    def organisation_types(self) -> list[Declaration]:
        """The types made from GetOrganisationMetaData (the practice, its sites and users)."""
        return [d for d in self.declarations().values() if d.source == ORGANISATION]

    def map_organisation(self, metadata: etree._Element, **variables: Any) -> list[dict]:
        """Every resource of every organisation type the metadata's Response holds, each
        validated once."""
        resources: list[dict] = []
        for declaration in self.organisation_types():
            resources += self.map_resources(declaration.type.lower(), metadata, **variables)
        return resources

    def sections(self) -> frozenset[str]:
        """The GetPatientRecord sections every served type together is made from."""
        return frozenset().union(*(d.sections for d in self.declarations().values()))

    def map_record(self, record: etree._Element, **variables: Any) -> list[dict]:
        """Every resource of every record type a record holds, each validated once."""
        resources: list[dict] = []
        with _no_cycle_collection():
            for declaration in self.record_types():
                resources += self.map_resources(declaration.type.lower(), record, **variables)
        return resources

    def mapping(self, name: str) -> CompiledMapping:
        if name not in self.modules:
            raise KeyError(f"no mapping {name!r}; known: {', '.join(self.modules)}")
        with self._lock:
            if name not in self._compiled:
                module = self._module(name)
                self._compiled[name] = CompiledMapping(module.RESOURCE, module.TEMPLATE,
                                                       TRANSFORMS, self.concept_maps)
            return self._compiled[name]

    def reference(self, name: str, element: etree._Element, **variables: Any) -> dict | None:
        """A datatype from ``mappings/references.py`` (e.g. PRACTICE), at ``element``."""
        key = f"references.{name}"
        with self._lock:
            if key not in self._compiled:
                template = getattr(self._module("references"), name)
                self._compiled[key] = CompiledMapping(key, template, TRANSFORMS,
                                                      self.concept_maps)
            compiled = self._compiled[key]
        return compiled.apply(element, **variables) or None

    def map_resource(self, name: str, element: etree._Element, **variables: Any) -> dict:
        """Apply mapping ``name`` to ``element``; add the narrative; validate, once."""
        resource = self.mapping(name).apply(element, **variables)
        add_narrative(resource)
        validate(resource)
        return resource

    def map_document(self, name: str, **variables: Any) -> dict:
        """A fetched document's resource (Binary) from the caller's values alone. Validated
        without its ``data``: base64 the caller encoded itself, and up to 5 MB of it."""
        resource = self.mapping(name).apply(etree.Element("Document"), **variables)
        validate({key: value for key, value in resource.items() if key != "data"})
        return resource

    def map_resources(self, name: str, element: etree._Element, **variables: Any) -> list[dict]:
        """Apply a mapping that yields many resources (e.g. Observations); validate each once.

        Mappings may compare dates with ``$today`` (statuses from end dates): the day in
        England unless the caller gives ``__xpath__={"today": ...}``.
        """
        variables.setdefault(XPATH_VARIABLES, {"today": london_today()})
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
        if name not in self.modules + FRAGMENT_MODULES:
            raise KeyError(f"no mapping {name!r}; known: {', '.join(self.modules)}")
        return self._overlay_module(name) or importlib.import_module(f"mappings.{name}")

    def _concept_maps(self) -> dict[str, dict]:
        built_in = importlib.import_module("mappings.conceptmaps").CONCEPT_MAPS
        maps = {name: dict(table) for name, table in built_in.items()}
        overlay = self._overlay_module("conceptmaps")
        for name, table in getattr(overlay, "CONCEPT_MAPS", {}).items():
            maps.setdefault(name, {}).update(table)
        return maps

    def _overlay_module(self, name: str) -> ModuleType | None:
        """The overlay's module ``name`` (loaded once), or None."""
        if name in self._overlays:
            return self._overlays[name]
        path = self.overlay / f"{name}.py" if self.overlay is not None else None
        module = None
        if path is not None and path.is_file():
            spec = importlib.util.spec_from_file_location(f"facade_overlay_{name}", path)
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as error:
                raise ValueError(f"mappings overlay {path} cannot be loaded: {error}") \
                    from error
        self._overlays[name] = module
        return module


_collection_paused = 0  # mappings under way (threads of one process)
_collection_was_on = True
_collection_lock = threading.Lock()


@contextlib.contextmanager
def _no_cycle_collection():
    """Mapping a record makes tens of thousands of dicts and lists, none in a cycle, and
    each batch of them sets off a collection that walks every object the process holds:
    measured, collections were half the cost of a 1 MB record. Reference counting still
    frees everything; cycles made meanwhile are collected after."""
    global _collection_paused, _collection_was_on
    with _collection_lock:
        if not _collection_paused:
            _collection_was_on = gc.isenabled()
            gc.disable()
        _collection_paused += 1
    try:
        yield
    finally:
        with _collection_lock:
            _collection_paused -= 1
            if not _collection_paused and _collection_was_on:
                gc.enable()


DEFAULT = MappingRegistry()


def mapping(name: str) -> CompiledMapping:
    return DEFAULT.mapping(name)


def map_resource(name: str, element: etree._Element, **variables: Any) -> dict:
    return DEFAULT.map_resource(name, element, **variables)


def map_resources(name: str, element: etree._Element, **variables: Any) -> list[dict]:
    return DEFAULT.map_resources(name, element, **variables)
