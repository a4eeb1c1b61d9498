"""Reads and searches of any served type: policy in one place, then the type's source.

A type's declaration names its source: a patient's record (every clinical type),
the practice's patient list (Patient) or the access audit (AuditEvent). Before a
source is asked anything, the policy here applies to every type alike:

- the patients a request names are noted for the audit (a refused attempt is
  traced to them too), and a caller confined to one patient (patient/ scopes)
  is refused any other (403);
- what a search finds is noted, and a confined caller sees only its patient.

The views parse, call ``read``/``search`` and render; nothing in them knows a type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g

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
    def __init__(self, records, audit_sink, base_url: Callable[[], str]) -> None:
        self.records = records  # records.RecordService
        self.codec = records.codec
        self._sources = {RECORD: RecordSource(records), PATIENT_LIST: PatientSource(records),
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
                 resources: dict[str, Declaration], fresh: bool) -> list[dict]:
        """What ``_include`` asks for: the resources the page's references name (each once,
        read through the same policy), in reference order."""
        references: dict[str, None] = {}
        for name in names:
            param = declaration.param(name.split(":", 1)[1])
            for resource in page:
                for path in param.paths:
                    for found in values_at(resource, path):
                        if isinstance(found, dict) and "/" in found.get("reference", ""):
                            references[found["reference"]] = None
        included = []
        for reference in references:
            resource_type, _, resource_id = reference.rpartition("/")
            target = resources.get(resource_type.rsplit("/", 1)[-1])
            resource = self.read(target, resource_id, fresh) if target is not None else None
            if resource is not None:
                included.append(resource)
        return included


_NOBODY = object()  # a type owned by no patient (AuditEvent)


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
        own = dict(request.params)
        narrowing = parse_search(declaration, {name: own.pop(name) for name in NARROWING
                                               if name in own})
        query = patients.plan(own, self.records.codec)
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
            found = [p for p in self.records.search_patients(query.criteria, fresh)
                     if query.keeps(p)]
        found = [p for p in found if narrowing.matches(p)]
        return Found(found, len(found))


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
        params = request.params
        if not any(value.startswith(("lt", "le")) for value in params.get("date", [])):
            arrived = (g.get("audit_time") or dt.datetime.now(dt.UTC)).isoformat(
                timespec="microseconds").replace("+00:00", "Z")
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

