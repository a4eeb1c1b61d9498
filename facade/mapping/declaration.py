"""What a served FHIR resource type is, declared once beside its mapping.

Each mapping module (``mappings/<type>.py``) holds a ``DECLARATION``: the type,
its UK Core profiles, where its resources come from (a patient's record, the
practice's patient list, the access audit), which GetPatientRecord sections
feed it, its search parameters *with their meaning* (the FHIR paths each one
reads, and FHIR R4's definition where it defines the parameter), its sort order,
the references ``_include`` may follow and its scope rules. The router, the
search parser, the record service, the planner, the fidelity report and the
CapabilityStatement read these; none of them names a resource type. MAPPINGS.md
("Adding a resource type") walks through one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Where resources of a type come from.
RECORD = "record"  # mapped from a patient's GetPatientRecord answer
PATIENT_LIST = "patient-list"  # the practice's patients (demographics, PatientSearch)
AUDIT = "audit"  # the facade's own access audit
#: A document a patient's record names, fetched from SystmOne (GetDocument) only when
#: read: its id carries the patient and the document's UID (IdCodec.document_id).
DOCUMENT = "document"
#: The organisation behind SystmOne (GetOrganisationMetaData: its sites and users), the
#: same for every patient and fetched once per window however many types it feeds.
ORGANISATION = "organisation"

SEARCH_TYPES = ("token", "date", "reference", "string")
#: Where FHIR R4 publishes the search parameters it defines, as SearchParameter resources.
FHIR_SEARCH_PARAMETER = "http://hl7.org/fhir/SearchParameter/"


def r4(parameter_id: str) -> str:
    """The canonical of FHIR R4's search parameter ``parameter_id`` (``clinical-patient``,
    ``Observation-category``, ``individual-family``): a declared parameter's definition."""
    return FHIR_SEARCH_PARAMETER + parameter_id


@dataclass(frozen=True)
class SearchParam:
    """A search parameter and what it means: the FHIR paths (dotted, through lists) whose
    values it matches, read as its FHIR search type says, and the canonical of FHIR R4's
    SearchParameter it is (``definition``) when FHIR defines it with the same name, type
    and element; None for a parameter of the facade's own."""

    name: str
    type: str  # token, date, reference or string
    paths: tuple[str, ...]
    documentation: str
    definition: str | None = None

    def __post_init__(self) -> None:
        if self.type not in SEARCH_TYPES:
            raise ValueError(f"search parameter {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Declaration:
    type: str
    profile: str
    supported_profiles: tuple[str, ...] = ()
    source: str = RECORD
    #: GetPatientRecord Filter flags whose items this type is made from.
    sections: frozenset[str] = frozenset()
    search_params: tuple[SearchParam, ...] = ()
    #: The search parameters naming the patient; a search of a record type needs one.
    patient_params: tuple[str, ...] = ()
    #: Dotted paths to the date a search sorts by, newest first (the first present counts).
    sort: tuple[str, ...] = ()
    #: Reference parameters that ``_include`` may follow (``Condition:patient``).
    includes: tuple[str, ...] = ()
    interactions: tuple[str, ...] = ("read", "search-type")
    #: Administrative data: only a scope naming the type allows it (never a * scope).
    explicit_scope_only: bool = False
    #: FHIR's Binary read: the answer is the resource's ``data`` as its ``contentType``
    #: unless the client asks for a FHIR format (Accept or _format), then the resource.
    native_content: bool = False

    def __post_init__(self) -> None:
        names = {p.name for p in self.search_params}
        for name in (*self.patient_params, *self.includes):
            if name not in names:
                raise ValueError(f"{self.type}: {name!r} is not one of its search parameters")

    def param(self, name: str) -> SearchParam | None:
        return next((p for p in self.search_params if p.name == name), None)

    @property
    def searchable(self) -> bool:
        return "search-type" in self.interactions

    @property
    def include_names(self) -> tuple[str, ...]:
        return tuple(f"{self.type}:{name}" for name in self.includes)


def patient_param(name: str = "patient", path: str = "subject",
                  definition: str | None = None) -> SearchParam:
    """The parameter every record type declares: the patient whose record it is
    (``definition``: FHIR R4's, e.g. ``r4("clinical-patient")``). Its documentation says
    the chain every patient parameter answers (facade/fhir/chains.py)."""
    return SearchParam(name, "reference", (path,),
                       "Required (or another patient parameter): Patient/[id] or [id], or "
                       f"the patient's NHS number chained: {name}.identifier=https://fhir."
                       f"nhs.uk/Id/nhs-number|[number] (or {name}:Patient.identifier=...).",
                       definition)


#: A path step that follows References to the resources they name (FHIRPath's resolve()).
RESOLVE = "resolve()"
Resolver = Callable[[str], "dict | None"]


def values_at(resource: dict, path: str, resolve: Resolver | None = None) -> list[Any]:
    """Every value at a dotted path, through lists: what a declared path means.

    A ``resolve()`` step follows each Reference found so far to the resource it names
    (``medicationReference.resolve().code.coding``), through ``resolve`` ("Type/id" →
    resource); without one, or for a reference it cannot follow, nothing is found there.
    """
    items: list[Any] = [resource]
    for step in path.split("."):
        found = []
        if step == RESOLVE:
            for item in items:
                target = resolve(item["reference"]) if resolve is not None and \
                    isinstance(item, dict) and "reference" in item else None
                if target is not None:
                    found.append(target)
            items = found
            continue
        for item in items:
            value = item.get(step) if isinstance(item, dict) else None
            if isinstance(value, list):
                found.extend(value)
            elif value is not None:
                found.append(value)
        items = found
    return items
