"""Reads and searches of any served type: policy in one place, then the type's source.

A type's declaration names its source: a patient's record (every clinical type),
the practice's patient list (Patient) or the access audit (AuditEvent). Before a
source is asked anything, the policy here applies to every type alike:

- the patients a request names are noted for the audit (a refused attempt is
  traced to them too), and a caller confined to one patient (patient/ scopes)
  is refused any other (403);
- what a search finds is noted, and a confined caller sees only its patient;
- an answer holding other types besides the one asked for (``_include``,
  ``_revinclude``, ``$everything``) holds only the types the token's scopes allow
  (each checked as a request for it alone would be, patient/ confinement included);
  what is left out for that is said in the searchset's outcome.

``$everything`` answers from one record fetch: the mapped record holds every record
type's resources, and the Patient comes with it (a clinical fetch refreshes the
cached Patient). ``_revinclude`` on a Patient search fetches the record of the one
patient on the page: a page of several patients would spend a SystmOne record slot
(one per 30 s) for each, so it is refused under strict handling, else left out and said.

``meta.lastUpdated`` is when the facade first saw the resource's content (facade/
versions.py: kept while a fetch finds it unchanged; what an exempt entered-today top-up
brings in new or changed carries the top-up's time): never earlier than the change
SystmOne holds, so ``_lastUpdated=ge``/``_since`` miss nothing changed since (and may
return more). SystmOne items carry no entry date, and only an entered-today
filter is exempt from the record slot, so these are answered from the record already
fetched (topped up as every read is), never by another record call.

The views parse, call ``read``/``search`` and render; nothing in them knows a type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..audit import trail
from ..audit.auditevent import query_from_params, to_audit_event
from ..audit.sink import MAX_COUNT
from ..auth import guard
from ..mapping.declaration import (
    AUDIT,
    ORGANISATION,
    PATIENT_LIST,
    RECORD,
    Declaration,
    values_at,
)
from . import patients
from .documents import DOCUMENT, DocumentSource
from .everything import EverythingRequest, references
from .outcome import FhirError
from .search import SearchRequest, parse_search


@dataclass
class Found:
    """What a search found: every match in order (``total`` of them), or — for a source
    that pages itself — the page asked for (``paged``)."""

    resources: list[dict]
    total: int
    paged: bool = False
    #: The list the matches were cut from, for rendered-page reuse (one per record version).
    version: Any = None
    #: Said about the search (search.mode = outcome), e.g. what the record held but the
    #: facade did not serve.
    outcome: dict | None = None
    #: The parameters paging links carry, when the source added to those asked for.
    link_params: dict[str, list[str]] | None = None
    #: The entries per page a source that pages itself used, when it allows fewer than
    #: asked (paging links then step by it).
    page_size: int | None = None


class FhirService:
    def __init__(self, records, audit_sink, base_url: Callable[[], str],
                 documents=None) -> None:
        self.records = records  # records.RecordService
        self.codec = records.codec
        self._sources = {RECORD: RecordSource(records), PATIENT_LIST: PatientSource(records),
                         DOCUMENT: DocumentSource(records, documents),
                         AUDIT: AuditSource(audit_sink, base_url),
                         ORGANISATION: OrganisationSource(records)}

    def read(self, declaration: Declaration, resource_id: str, fresh: bool) -> dict | None:
        source = self._sources[declaration.source]
        owner = source.owner_of(declaration, resource_id)
        if owner is None:  # not an id this deployment made for the type
            return None
        if owner is not _NOBODY:
            _admit([owner])
        return source.read(declaration, resource_id, fresh)

    def search(self, declaration: Declaration, request: SearchRequest, controls,
               fresh: bool) -> Found:
        source = self._sources[declaration.source]
        _admit(request.patients)
        found = source.search(declaration, request, controls, fresh)
        confined = guard.confined_to()
        if source.lists_patients:
            if confined is not None:  # others are left out, as if they were not found
                found.resources = [p for p in found.resources if p["id"] == confined]
                found.total = len(found.resources)
            trail.note_patients(p["id"] for p in found.resources)
        return found

    def included(self, declaration: Declaration, page: list[dict], names: tuple[str, ...],
                 resources: dict[str, Declaration], fresh: bool) -> tuple[list[dict], list[str]]:
        """What ``_include`` asks for: the resources the page's references name (each once,
        read through the same policy, of the types the scopes allow), in reference order;
        and what was left out for the scopes."""
        named: dict[str, None] = {}
        for name in names:
            param = declaration.param(name.split(":", 1)[1])
            for resource in page:
                for path in param.paths:
                    for found in values_at(resource, path):
                        if isinstance(found, dict) and "/" in found.get("reference", ""):
                            named[found["reference"]] = None
        included, refused = [], {}
        for reference in named:
            resource_type, _, resource_id = reference.rpartition("/")
            target = resources.get(resource_type.rsplit("/", 1)[-1])
            if target is None:
                continue
            if guard.may(target.type, "read", target.explicit_scope_only) is None:
                refused[target.type] = None
                continue
            resource = self.read(target, resource_id, fresh)
            if resource is not None:
                included.append(resource)
        return included, [_not_allowed("_include", "read", t) for t in refused]

    def revincluded(self, page: list[dict], names: tuple[str, ...],
                    resources: dict[str, Declaration], fresh: bool,
                    strict: bool) -> tuple[list[dict], list[str]]:
        """What ``_revinclude`` asks for on a page of Patients: the resources of each named
        type that reference the page's patient, from that patient's record (one fetch for
        every type); and what was left out, and why. Answered for one patient a page."""
        if len(page) > 1:
            said = (f"_revinclude is answered for one patient a page (each patient's record "
                    f"is a SystmOne record fetch, one per 30 s); this page holds {len(page)}: "
                    "search by identifier, or page with _count=1")
            if strict:
                raise FhirError(400, "too-costly", said)
            return [], [f"{said}; _revinclude ignored"]
        found: dict[tuple[str, str], dict] = {}
        refused: dict[str, None] = {}
        for patient in page:
            for name in names:
                resource_type, _, param = name.partition(":")
                target = resources[resource_type]
                caller = guard.may(target.type, "search", target.explicit_scope_only)
                if caller is None or caller.patient not in (None, patient["id"]):
                    refused[target.type] = None
                    continue
                asked = SearchRequest({param: [patient["id"]]}, (patient["id"],), ())
                for resource in self.search(target, asked, None, fresh).resources:
                    found.setdefault((resource["resourceType"], resource["id"]), resource)
        return list(found.values()), [_not_allowed("_revinclude", "search", t)
                                      for t in refused]

    def everything(self, owner: Declaration, patient_id: str | None, asked: EverythingRequest,
                   resources: dict[str, Declaration], fresh: bool) -> Everything:
        """Patient/$everything: the patient (by id, or by the NHS number asked), every
        resource of their record, and the served resources outside the record these
        reference; only the types the token allows reading for this patient."""
        identity = self._identity(patient_id, asked)
        patient_id = self.records.codec.patient_id(identity)
        _admit_noted(patient_id)
        readable, notes = _readable(owner, patient_id, asked, resources)
        record_types = [d for d in resources.values()
                        if d.source == RECORD and d.type in readable]
        beyond = [t for t in readable if resources[t].source not in (RECORD, PATIENT_LIST)]
        record = None
        if record_types or beyond:  # what lies beyond the record is found by its references
            record = self.records.record(identity, fresh)
            if record is None:
                return _no_such_patient(patient_id)
        entries: list[tuple[dict, str]] = []
        if owner.type in readable:
            patient = self.records.patient(identity, fresh and record is None)
            if patient is None:
                return _no_such_patient(patient_id)
            if asked.keeps(patient, owner):
                entries.append((patient, "match"))
        for declaration in record_types:
            mode = "match" if _references_patient(declaration) else "include"
            entries += [(resource, mode) for resource in record.resources(declaration.type)
                        if asked.keeps(resource, declaration)]
        entries += [(resource, "include") for resource in
                    self._referenced(entries, beyond, resources, asked)]
        return Everything(entries, notes, record.not_served if record is not None else None)

    def _identity(self, patient_id: str | None, asked: EverythingRequest):
        """The patient's identity: from the id in the path, or the NHS number asked; 404
        when either names nobody this server could ask for."""
        codec = self.records.codec
        if patient_id is not None:
            identity = codec.patient_identity(patient_id)
            return identity if identity is not None else _no_such_patient(patient_id)
        query = patients.by_identity({"identifier": list(asked.identifier)}, codec)
        if query.matches_nothing or query.identity is None:
            raise FhirError(404, "not-found", "no patient has that NHS number here (give "
                                              "https://fhir.nhs.uk/Id/nhs-number|[number])")
        return query.identity

    def _referenced(self, entries: list[tuple[dict, str]], types: list[str],
                    resources: dict[str, Declaration], asked: EverythingRequest) -> list[dict]:
        """The resources of ``types`` (served from outside the record) that the entries
        reference, each once, in reference order, read through the same policy."""
        seen = {(resource["resourceType"], resource["id"]) for resource, _ in entries}
        found = []
        for resource, _ in entries:
            for reference in references(resource):
                if reference in seen or reference[0] not in types:
                    continue
                seen.add(reference)
                target = self.read(resources[reference[0]], reference[1], False)
                if target is not None and asked.updated_since(target):
                    found.append(target)
        return found


_NOBODY = object()  # a type owned by no patient (AuditEvent)


@dataclass
class Everything:
    """What $everything found: each resource with its search mode (match: the patient's
    compartment; include: what it references), what was left out and why, and what the
    record held but was not served."""

    entries: list[tuple[dict, str]]
    notes: list[str]
    outcome: dict | None = None


def _readable(owner: Declaration, patient_id: str, asked: EverythingRequest,
              resources: dict[str, Declaration]) -> tuple[set[str], list[str]]:
    """The types $everything may return for this patient: asked for (``_type``), read by
    id here, and allowed by the token for this patient; notes naming the record's types
    left out for the scopes. Forbidden when the token allows none of them."""
    readable, refused = set(), []
    for declaration in resources.values():
        if not asked.wants(declaration.type) or "read" not in declaration.interactions \
                or declaration.source == AUDIT:
            continue
        caller = guard.may(declaration.type, "read", declaration.explicit_scope_only)
        if caller is not None and caller.patient in (None, patient_id):
            readable.add(declaration.type)
        elif declaration is owner or declaration.source == RECORD:
            refused.append(declaration.type)
    if not readable:
        raise guard.Forbidden("the token's scopes allow reading none of this patient's "
                              "record" + (f" ({', '.join(refused)})" if refused else ""))
    return readable, [_not_allowed("$everything", "read", t) for t in refused]


def _references_patient(declaration: Declaration) -> bool:
    """Whether the type's resources name the patient (a Medication does not: it is in
    the record because the patient's prescriptions reference it)."""
    return any(declaration.param(name).paths for name in declaration.patient_params)


def _not_allowed(asked: str, interaction: str, resource_type: str) -> str:
    return (f"{asked}: the token's scopes do not allow {interaction} of {resource_type} "
            "here; left out")


def _no_such_patient(patient_id: str):
    raise FhirError(404, "not-found", f"Patient/{patient_id} is not known")


def _admit_noted(patient_id: str) -> None:
    """Noted for the audit; confinement is checked per type (``_readable``)."""
    trail.note_patients([patient_id])


def _admit(patient_ids: list[str] | tuple[str, ...]) -> None:
    """Note the patients asked for; refuse a confined caller any other (Forbidden)."""
    trail.note_patients(patient_ids)
    for patient in patient_ids:
        guard.confine(patient)


class RecordSource:
    """Types made from a patient's record: one cached record answers all of them."""

    lists_patients = False

    def __init__(self, records) -> None:
        self.records = records

    def owner_of(self, declaration: Declaration, resource_id: str) -> str | None:
        identity = self.records.codec.record_of(declaration.type, resource_id)
        return self.records.codec.patient_id(identity) if identity is not None else None

    def read(self, declaration: Declaration, resource_id: str, fresh: bool) -> dict | None:
        identity = self.records.codec.record_of(declaration.type, resource_id)
        record = self.records.record(identity, fresh)
        return record.find(declaration.type, resource_id) if record is not None else None

    def search(self, declaration: Declaration, request: SearchRequest, controls,
               fresh: bool) -> Found:
        if not request.patients:
            names = " or ".join(declaration.patient_params)
            raise FhirError(400, "invalid", f"{declaration.type} searches need {names}: "
                                            f"?{declaration.patient_params[0]}=Patient/[id]")
        if len(request.patients) > 1:  # one record cannot belong to two patients
            return Found([], 0)
        identity = self.records.codec.patient_identity(request.patients[0])
        record = self.records.record(identity, fresh) if identity is not None else None
        if record is None:
            return Found([], 0)
        resources = record.resources(declaration.type)
        matches = [r for r in resources if request.matches(r, record.resolve)] \
            if request.predicates else resources
        return Found(matches, len(matches), version=resources,
                     outcome=record.not_served)


#: Patient parameters SystmOne cannot search by (the references Patient holds): they
#: narrow what a search found.
NARROWING = ("general-practitioner", "organization")


class PatientSource:
    """Patients: a Demographics-only record by id or NHS number, else PatientSearch."""

    lists_patients = True

    def __init__(self, records) -> None:
        self.records = records

    def owner_of(self, declaration: Declaration, resource_id: str) -> str | None:
        return resource_id

    def read(self, declaration: Declaration, resource_id: str, fresh: bool) -> dict | None:
        identity = self.records.codec.patient_identity(resource_id)
        return self.records.patient(identity, fresh) if identity is not None else None

    def search(self, declaration: Declaration, request: SearchRequest, controls,
               fresh: bool) -> Found:
        own = request.own_params  # a copy
        narrowing = parse_search(declaration, {name: own.pop(name) for name in NARROWING
                                               if name in own})
        query = patients.plan(declaration, own, self.records.codec)
        found: list[dict] = []
        if query.matches_nothing:
            pass
        elif query.identity is not None:
            confined = guard.confined_to()
            if confined is None or self.records.codec.patient_identity(confined) \
                    == query.identity:  # another patient: not worth SystmOne's time
                patient = self.records.patient(query.identity, fresh)
                found = [patient] if patient is not None else []
        else:
            found = [p for p in self._searched(query.criteria, fresh) if query.keeps(p)]
        found = [p for p in found if request.matches_common(p) and narrowing.matches(p)]
        return Found(found, len(found))

    def _searched(self, criteria: list, fresh: bool) -> list[dict]:
        """What each PatientSearch found (each call a request slot, or the cache), each
        patient once, in the order found: a name searched as surname, then as first name,
        lists the surnames' matches first."""
        found: dict[str, dict] = {}
        for asked in criteria:
            for patient in self.records.search_patients(asked, fresh):
                found.setdefault(patient["id"], patient)
        return list(found.values())


class OrganisationSource:
    """The practice, its sites and its users (GetOrganisationMetaData): the same for every
    patient, learned with the organisation once per window (records.py), so a read or a
    search costs no SystmOne call of its own. Owned by no patient: a client that may read
    a record may read the people and places it names."""

    lists_patients = False

    def __init__(self, records) -> None:
        self.records = records

    def owner_of(self, declaration: Declaration, resource_id: str) -> object:
        return _NOBODY

    def read(self, declaration: Declaration, resource_id: str, fresh: bool) -> dict | None:
        return next((r for r in self.records.organisation_resources(declaration.type)
                     if r["id"] == resource_id), None)

    def search(self, declaration: Declaration, request: SearchRequest, controls,
               fresh: bool) -> Found:
        resources = self.records.organisation_resources(declaration.type)
        matches = [r for r in resources if request.matches(r, self._resolve)] \
            if request.predicates else resources
        return Found(matches, len(matches), version=resources)

    def _resolve(self, reference: str) -> dict | None:
        resource_type, _, resource_id = reference.rpartition("/")
        return next((r for r in self.records.organisation_resources(resource_type)
                     if r["id"] == resource_id), None)


class AuditSource:
    """The access audit, paged by the sink itself: it can be far larger than a page."""

    lists_patients = False

    def __init__(self, sink, base_url: Callable[[], str]) -> None:
        self.sink, self.base_url = sink, base_url

    def owner_of(self, declaration: Declaration, resource_id: str) -> object:
        return _NOBODY

    def read(self, declaration: Declaration, resource_id: str, fresh: bool) -> dict | None:
        entry = self.sink.get(resource_id)
        return to_audit_event(resource_id, entry, self.base_url()) if entry is not None \
            else None

    def search(self, declaration: Declaration, request: SearchRequest, controls,
               fresh: bool) -> Found:
        """Newest first. Without an upper date bound, the search is anchored at its own
        arrival (``date=lt...``, carried into the paging links): records written while a
        client pages — its own page requests among them — never shift the pages."""
        # An audit record is written once, when it is recorded: _lastUpdated is its date.
        params = {**request.own_params}
        if request.params.get("_lastUpdated"):
            params["date"] = [*params.get("date", []), *request.params["_lastUpdated"]]
        if not any(value.startswith(("lt", "le")) for value in params.get("date", [])):
            arrived = trail.arrived()
            params = {**params, "date": [*params.get("date", []), f"lt{arrived}"]}
        count = min(controls.count, MAX_COUNT)  # the sink's own page limit
        try:
            query = query_from_params({**params, "_count": [str(count)],
                                       "_offset": [str(controls.offset)]})
        except ValueError as error:
            raise FhirError(400, "invalid", str(error)) from None
        rows, total = self.sink.search(query)
        return Found([to_audit_event(row_id, entry, self.base_url()) for row_id, entry in rows],
                     total, paged=True, link_params=params, page_size=count)

