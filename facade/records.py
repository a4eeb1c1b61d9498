"""From FHIR questions to SystmOne calls and back: the data service behind the API.

The request flow below the views: the planner (stewardship/planner.py) says
whether the cache answers or which call is needed; identical needs of
concurrent requests share one call (single-flight); every call goes through
the endpoint pool, which books its slot in the shared ledger; the answer is
mapped and validated once and cached as serialised bytes for every worker and
instance. When the budget is spent and a refresh is refused, data already in
the cache is served as it is, unless the request asked for fresh data.

Every resource is stamped with its version when it is mapped (versions.py): its
``meta.versionId`` is a hash of its content, its ``meta.lastUpdated`` when the facade
first saw that content — kept from the copy in the cache a fetch replaces while the
content is unchanged.

Cached data is keyed to the upstream it came from: every cache and flight key
carries a name of the configured endpoints *and* of the organisation SystmOne
says is behind them (the ODS code of its primary site, from
GetOrganisationMetaData). A SystmOne client on the same host and port logged on
to another practice — or the demo restarted with another practice in the same
state dir — names another organisation, so the old practice's data is never
served for it; instances configured alike share everything. The organisation is
held in memory, so a cached read costs no more than before, and asked again at
least once per freshness window (``organisation_window``): by the first request
that needs it then, in that request (its audit record names the call). A
process learns it afresh from SystmOne when it starts; afterwards an answer
another worker or instance stored since may stand in for asking.

When SystmOne cannot be asked (down, or the budget spent): a process that has
not learned the organisation serves nothing from the cache — data stored
before cannot be attributed to an upstream it cannot name — and its requests
fail as they would without a cache. One that has keeps the last-known
organisation for one window more, trying again every ``ORGANISATION_RETRY``
seconds, and then no longer serves from the cache until SystmOne answers. A
SystmOne that refuses GetOrganisationMetaData outright (an error reply) is
taken at its word for the window: its data is keyed by the endpoints alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from . import metrics, versions
from .ids import IdCodec
from .mapping.declaration import DOCUMENT, values_at
from .mapping.fidelity import fidelity
from .mapping.registry import DEFAULT, MappingRegistry
from .protocol.functions import PatientSearchCriteria, RecordFilter
from .protocol.identity import Identity
from .protocol.xmlsafe import parse_document
from .stewardship.bulkhead import Bulkhead
from .stewardship.cache import Entry, ResourceCache, lookup
from .stewardship.ledger import Throttled
from .stewardship.planner import (
    LONDON,
    Freshness,
    Step,
    clinical_step,
    demographics_step,
    full_record_filter,
    top_up_filter,
)
from .stewardship.pool import UpstreamPool
from .stewardship.singleflight import SingleFlight
from .upstream.errors import PermanentError, UpstreamError, UpstreamErrorReply

log = logging.getLogger(__name__)
NOT_FOUND_TEXTS = ("no patient", "not found", "does not exist")
ORGANISATION_TTL = 3600.0
#: The organisation behind the endpoints is asked at least this often when the freshness
#: windows are shorter (a window of seconds would spend a request slot on it every time).
ORGANISATION_FLOOR = 60.0
#: Between attempts to ask again, once it is due and SystmOne did not answer.
ORGANISATION_RETRY = 5.0


#: Set by gunicorn's master (serving/gunicorn_conf.py) when the service starts, inherited
#: by every worker it forks; not a FACADE_ setting.
SERVICE_STARTED_ENV = "FHIR_FACADE_SERVICE_STARTED"


def service_started(clock: Callable[[], float]) -> float:
    """When this service started: the master's time under gunicorn, else this process's."""
    try:
        return float(os.environ[SERVICE_STARTED_ENV])
    except (KeyError, ValueError):
        return clock()


def retention(windows: Freshness) -> dict[str, float]:
    """How long the store keeps each class of entry: beyond its freshness window, so that
    stale data can be served when the budget is spent."""
    return {"demographics": max(60.0, windows.demographics * 4),
            "search": max(60.0, windows.demographics * 4),
            "clinical": max(60.0, windows.clinical * 4),
            "organisation": ORGANISATION_TTL * 4}


def organisation_window(windows: Freshness) -> float:
    """How long an organisation learned from SystmOne is trusted: no longer than the data
    cached under it is served fresh (nor an hour, nor less than a minute)."""
    return min(ORGANISATION_TTL,
               max(ORGANISATION_FLOOR, min(windows.demographics, windows.clinical)))


@dataclass(frozen=True)
class Upstream:
    """The organisation behind the configured endpoints, as one process learned it."""

    source: str  # in every cache and flight key: the endpoints and the organisation
    ods: str  # the ODS code SystmOne names ("" when it would not say)
    checked_at: float  # when SystmOne said so (wall clock)
    practice: dict | None  # Patient.generalPractitioner's reference to the practice
    clinicians: dict[str, dict]  # user name → reference (the usual GP)
    #: The practice, its sites and users as FHIR (the organisation types), by type.
    resources: dict[str, list[dict]] = field(default_factory=dict)
    #: User name → "Practitioner/[id]": what every clinical resource's recorder, performer
    #: and the like reference (fragments.RECORDER), for the users the metadata names.
    practitioners: dict[str, str] = field(default_factory=dict)


class RecordService:
    def __init__(self, pool: UpstreamPool, codec: IdCodec, cache: ResourceCache,
                 flights: SingleFlight, windows: Freshness,
                 mappings: MappingRegistry = DEFAULT,
                 clock: Callable[[], float] = time.time,
                 bulkhead: Bulkhead | None = None) -> None:
        self.pool = pool
        #: Upstream-bound work may not take every thread (stewardship/bulkhead.py).
        self.bulkhead = bulkhead or Bulkhead(1 << 16)
        self.codec = codec
        self.cache = cache
        self.flights = flights
        self.windows = windows
        self.mappings = mappings
        self.clock = clock
        #: What a full record fetch asks SystmOne for: the sections every served type is
        #: made from, and no more.
        self.sections = mappings.sections()
        #: The endpoints, by name: what the organisation behind them is stored under.
        self.endpoints = upstream_source([endpoint.name for endpoint in pool.endpoints])
        self.organisation_window = organisation_window(windows)
        #: Answers stored before this service started are not taken for its organisation
        #: (a restart may be onto another practice); after it, a worker takes what another
        #: worker stored, so a replaced worker does not ask SystmOne again.
        self.started = service_started(clock)
        self._upstream: Upstream | None = None
        self._learning = threading.Lock()
        self._retry_at = float("-inf")

    def close(self) -> None:
        self.pool.close()

    def readiness(self) -> tuple[bool, dict]:
        return self.pool.readiness()

    # -- Patients ----------------------------------------------------------------

    def patient(self, identity: Identity, fresh: bool = False) -> dict | None:
        """The full UK Core Patient, or None when SystmOne has no such record."""
        digest = self._digest(identity)
        entry, _ = lookup(self.cache, "demographics", digest, self.windows.demographics,
                          self.clock())
        if demographics_step(entry, self.clock(), self.windows, fresh) is Step.CACHE:
            return entry.data

        def fetch() -> Entry | None:
            record = self._record(identity, RecordFilter.demographics_only(), full=False)
            if record is None:
                return None
            fetched_at = self.clock()
            patient = self._patient_resource(record, fetched_at, _by_id(entry))
            return self.cache.put("demographics", digest, patient, fetched_at)

        found = self._shared(f"demographics:{digest}", fetch, "demographics", digest,
                             stale=None if fresh else entry, seen=entry)
        return found.data if found is not None else None

    def search_patients(self, criteria: PatientSearchCriteria,
                        fresh: bool = False) -> list[dict]:
        """SUBSETTED Patients from SystmOne's PatientSearch summary."""
        source = self.upstream().source
        digest = f"{source}:{self.codec.digest(repr(sorted(criteria.given().items())))}"
        entry, _ = lookup(self.cache, "search", digest, self.windows.demographics,
                          self.clock())
        if demographics_step(entry, self.clock(), self.windows, fresh) is Step.CACHE:
            return entry.data

        def fetch() -> Entry:
            results = self.pool.call("PatientSearch", lambda c: c.patient_search(criteria))
            fetched_at = self.clock()
            earlier = _by_id(entry)
            return self.cache.put("search", digest,
                                  [self._patient_resource(r, fetched_at, earlier)
                                   for r in results], fetched_at)

        return self._shared(f"search:{digest}", fetch, "search", digest,
                            stale=None if fresh else entry, seen=entry).data

    def _patient_resource(self, element: etree._Element, fetched_at: float,
                          earlier: dict[str, dict]) -> dict:
        """The Patient, stamped with its version against the copy it replaces: the one
        of its id in ``earlier`` (what the cache held), if any."""
        identity = Identity.from_element(element.find("Identity"))
        patient = self.mappings.map_resource(
            "patient", element, id=self.codec.patient_id(identity),
            last_updated=_instant(fetched_at), **self._general_practitioner(element))
        return versions.stamped(patient, _instant(fetched_at), earlier.get(patient["id"]))

    # -- the record: every resource type made from it -----------------------------

    def record(self, identity: Identity, fresh: bool = False) -> MappedRecord | None:
        """The patient's record as FHIR: every record type's resources, and what was not
        served; None when SystmOne has no such patient.

        Mapped and validated once per fetched record; later reads and searches of any
        type reuse it. Callers must not modify the resources.
        """
        digest = self._digest(identity)
        now = self.clock()
        entry, _ = lookup(self.cache, "clinical", digest, self.windows.clinical, now)
        step = clinical_step(entry, now, self.windows, fresh)
        if step is Step.CACHE:
            return MappedRecord(entry.data)
        if step is Step.TOP_UP:
            return MappedRecord(self._topped_up(identity, digest, entry).data)

        def fetch() -> Entry | None:
            record = self._record(identity, full_record_filter(self.sections), full=True)
            return self._store_clinical(identity, digest, record, entry) \
                if record is not None else None

        found = self._shared(f"clinical:{digest}", fetch, "clinical", digest,
                             stale=None if fresh else entry, seen=entry)
        return MappedRecord(found.data) if found is not None else None

    def _topped_up(self, identity: Identity, digest: str, entry: Entry) -> Entry:
        """The cached record with what was entered today merged in (an exempt call).

        A resource made again from today's items replaces the cached one of the same id;
        the fidelity report stays the full fetch's.
        """
        def fetch() -> Entry:
            now = self.clock()
            record = self._record(identity, top_up_filter(now, self.sections), full=False)
            if record is None:
                return entry
            added = self._mapped(identity, record, now, entry.data)
            self._store_patient(digest, record, now)
            return self.cache.put("clinical", digest, merged(entry.data, added),
                                  entry.fetched_at, now)

        try:
            return self._shared(f"top-up:{digest}", fetch, "clinical", digest, stale=entry,
                                seen=entry, since="topped_up_at")
        except UpstreamError as error:  # the cached record is still within its window
            log.warning("top-up failed, serving the cached record: %s", type(error).__name__)
            return entry

    def _store_clinical(self, identity: Identity, digest: str, record: etree._Element,
                        earlier: Entry | None) -> Entry:
        fetched_at = self.clock()
        mapped = self._mapped(identity, record, fetched_at,
                              earlier.data if earlier is not None else None)
        report = fidelity(record, (r for rs in mapped["resources"].values() for r in rs))
        mapped["fidelity"] = report.to_json()
        mapped["not_served"] = report.not_served_outcome()  # said with every search
        # Counts only: no PHI. A warning, so that the default configuration shows it.
        log.log(logging.WARNING if sum(report.unserved.values()) else logging.INFO,
                "record mapped: %s", report.log_line())
        metrics.record_items(report)
        self._store_patient(digest, record, fetched_at)
        return self.cache.put("clinical", digest, mapped, fetched_at)

    def _store_patient(self, digest: str, record: etree._Element, fetched_at: float) -> None:
        """A clinical fetch carries the demographics too: the Patient is refreshed free."""
        if record.find("Demographics") is not None:
            patient = self._patient_resource(record, fetched_at,
                                             _by_id(self.cache.get("demographics", digest)))
            self.cache.put("demographics", digest, patient, fetched_at)

    def _mapped(self, identity: Identity, record: etree._Element, fetched_at: float,
                earlier: dict | None = None) -> dict:
        return mapped_record(self.mappings, self.codec, identity, record, fetched_at,
                             practitioners=self.upstream().practitioners, earlier=earlier)

    # -- the practice ------------------------------------------------------------

    def _general_practitioner(self, record: etree._Element) -> dict:
        """References to the practice (by ODS code) and the usual GP, when SystmOne names them."""
        upstream = self.upstream()
        references = {}
        if upstream.practice is not None:
            references["practice"] = upstream.practice
        user_name = (record.findtext("Demographics/UsualGPUserName") or "").strip()
        if user_name in upstream.clinicians:
            references["usual_gp"] = upstream.clinicians[user_name]
        return references

    def upstream(self) -> Upstream:
        """The organisation behind the endpoints: from memory while it is within its window
        (every request asks, so this is all a cached read pays); asked again once it is
        not. Raises UpstreamError or Throttled when it cannot be named (module docstring)."""
        known = self._upstream
        if known is not None and self.clock() - known.checked_at < self.organisation_window:
            return known
        return self._relearned(known)

    def _relearned(self, known: Upstream | None) -> Upstream:
        now = self.clock()
        standing = known is not None and now - known.checked_at < 2 * self.organisation_window
        if standing and now < self._retry_at:
            return known
        # Without a standing organisation every asker waits for the one asking SystmOne;
        # with one, the others go on under it meanwhile.
        if not self._learning.acquire(blocking=not standing):
            return known
        try:
            current = self._upstream
            if current is not None and current is not known:
                return current  # learned by another thread meanwhile
            try:
                learned = self._learn()
            except (UpstreamError, Throttled):
                self._retry_at = self.clock() + ORGANISATION_RETRY
                if standing:
                    log.warning("SystmOne could not be asked which organisation it serves: "
                                "the last-known one stands for now")
                    return known
                self._upstream = None
                raise
            if known is not None and learned.source != known.source:
                log.warning("SystmOne now names another organisation (%s, was %s): data "
                            "cached for the other is no longer served", learned.ods or "none",
                            known.ods or "none")
            self._upstream = learned
            return learned
        finally:
            self._learning.release()

    def _learn(self) -> Upstream:
        """GetOrganisationMetaData, unless another worker or instance stored an answer since
        this service started and within the window (one ask per window per deployment)."""
        practice = f"{self.endpoints}:practice"
        stored = self.cache.latest("organisation", practice)
        now = self.clock()
        if (stored is not None and stored.fetched_at >= self.started
                and now - stored.fetched_at < self.organisation_window):
            metrics.cache_lookup("organisation", "hit")
            return self._upstream_from(stored)

        def fetch() -> Entry:
            try:
                body = self.pool.call("GetOrganisationMetaData",
                                      lambda c: c.get_organisation_metadata())
                text = etree.tostring(body).decode()
            except UpstreamErrorReply as error:
                if not error.permanent:
                    raise
                log.warning("SystmOne refuses GetOrganisationMetaData (%s): cached data is "
                            "keyed by its endpoints alone", type(error).__name__)
                text = ""
            fetched_at = self.clock()
            return self.cache.put("organisation", practice,
                                  self._organisation_answer(text, fetched_at, stored),
                                  fetched_at)

        metrics.cache_lookup("organisation", "stale" if stored else "miss")
        found = self._shared(f"organisation:{practice}", fetch, "organisation", practice,
                             stale=None, seen=stored)
        return self._upstream_from(found)

    def organisation_resources(self, resource_type: str) -> list[dict]:
        """The organisation type's resources (the practice, its sites, its users), as
        learned with the organisation: no call beyond the one a window already makes."""
        return self.upstream().resources.get(resource_type, [])

    def _organisation_answer(self, text: str, fetched_at: float,
                             earlier: Entry | None) -> dict:
        """What is stored of GetOrganisationMetaData's answer: the metadata, and the
        version of each resource made from it, stamped against the answer stored before
        (versions.py). Every worker maps the metadata itself; stamping against the
        stored versions, each says the same meta.lastUpdated."""
        resources = self._organisation_resources(_parsed(text), fetched_at, earlier) \
            if text else []
        return {"metadata": text, "versions": versions.first_seen(resources)}

    def _organisation_resources(self, organisation: etree._Element, fetched_at: float,
                                stored: Entry | None) -> list[dict]:
        """The organisation types' resources, stamped against ``stored``'s versions."""
        resources = self.mappings.map_organisation(
            organisation, ids=self.codec.organisation_id, last_updated=_instant(fetched_at))
        versions.stamp_all(resources, _instant(fetched_at),
                           _organisation_parts(stored.data)[1] if stored is not None else ())
        return resources

    def _upstream_from(self, entry: Entry) -> Upstream:
        metadata, _ = _organisation_parts(entry.data)
        organisation = _parsed(metadata) if metadata else None
        if organisation is None:
            return Upstream(upstream_source([self.endpoints]), "", entry.fetched_at, None, {})
        ids = self.codec.organisation_id
        resources = self._organisation_resources(organisation, entry.fetched_at, entry)
        by_type: dict[str, list[dict]] = {d.type: [] for d in self.mappings.organisation_types()}
        for resource in resources:
            by_type[resource["resourceType"]].append(resource)
        names = dict.fromkeys(name for name in (
            (user.findtext("UserName") or "").strip() for user in organisation.iterfind("User"))
            if name)
        # The references the mappings make to these resources (fragments.RECORDER,
        # references.PRACTICE): user name or ODS code → "Type/[id]".
        known = {"practitioners": {name: f"Practitioner/{ids('Practitioner', name)}"
                                   for name in names},
                 "organizations": {ods: f"Organization/{ids('Organization', ods)}"
                                   for ods in _ods_codes(by_type.get("Organization", ()))}}
        # The practice is the Organization mapping's (its primary site, else the current).
        ods = next(iter(_ods_codes(by_type.get("Organization", ()))), "")
        site = next((site for site in organisation.iterfind("Site")
                     if (site.findtext("ID") or "").strip() == ods), None) if ods else None
        practice = self.mappings.reference("PRACTICE", site, **known) \
            if site is not None else None
        clinicians = {name: self.mappings.reference("CLINICIAN", user, **known)
                      for user in organisation.iterfind("User")
                      if (name := (user.findtext("UserName") or "").strip())}
        return Upstream(upstream_source([self.endpoints, f"ods:{ods}"]), ods,
                        entry.fetched_at, practice, clinicians, by_type,
                        known["practitioners"])

    # -- calls ---------------------------------------------------------------------

    def _record(self, identity: Identity, record_filter: RecordFilter,
                full: bool) -> etree._Element | None:
        """GetPatientRecord through the pool; None when SystmOne has no such patient."""
        try:
            return self.pool.call("GetPatientRecord",
                                  lambda c: c.get_patient_record(identity, record_filter),
                                  full_record=full)
        except PermanentError as error:
            if _means_not_found(error.message):
                return None
            raise

    def _shared(self, key: str, fetch: Callable[[], Entry | None], data_class: str,
                digest: str, stale: Entry | None, seen: Entry | None,
                since: str = "fetched_at") -> Entry | None:
        """One fetch for all concurrent askers; when the budget is spent, the stale entry.

        ``seen`` is the entry the need for a fetch was decided on: one stored after it
        (newer by ``since``) answers that need without a call, however long this
        thread was held up before it took the lead."""
        def stored_since() -> Entry | None:
            return _newer(self.cache.latest(data_class, digest), seen, since)

        try:
            with self.bulkhead.admit():
                return self.flights.run(key, fetch,
                                        lambda: self.cache.latest(data_class, digest),
                                        stored_since)
        except Throttled:
            if stale is None:
                raise
            log.info("budget spent: serving %s data %.0f s old", data_class,
                     stale.age(self.clock()))
            return stale

    def _digest(self, identity: Identity) -> str:
        return f"{self.upstream().source}:{_patient_digest(self.codec, identity)}"


def upstream_source(names: list[str]) -> str:
    """A short name for what data came from: the SystmOne endpoints (HOST:PORT, in any
    order) and, beside them, the organisation they serve."""
    return hashlib.sha256(",".join(sorted(names)).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def _patient_digest(codec: IdCodec, identity: Identity) -> str:
    """The cache-key digest of a patient: the same for every read, so worked out once."""
    return codec.digest(codec.patient_id(identity))


def mapped_record(mappings: MappingRegistry, codec: IdCodec, identity: Identity,
                  record: etree._Element, fetched_at: float,
                  practitioners: dict[str, str] | None = None,
                  earlier: dict | None = None) -> dict:
    """Every record type's resources, by type, each list newest first: what one fetched
    record becomes (the fidelity report is added beside it by the caller).

    ``practitioners``: user name → "Practitioner/[id]" for the organisation's users; an
    Event by anyone else keeps a display-only recorder. Each resource is stamped with its
    version against the same resource in ``earlier`` (the mapped record it replaces)."""
    resources = mappings.map_record(
        record, patient={"reference": f"Patient/{codec.patient_id(identity)}"},
        ids=_id_function(codec, identity, _carrying_keys(mappings)),
        last_updated=_instant(fetched_at),
        practitioners=practitioners or {}, __xpath__={"today": _london_day(fetched_at)})
    versions.stamp_all(resources, _instant(fetched_at),
                       (r for rs in (earlier or {}).get("resources", {}).values() for r in rs))
    by_type: dict[str, list[dict]] = {d.type: [] for d in mappings.record_types()}
    for resource in resources:
        by_type[resource["resourceType"]].append(resource)
    for declaration in mappings.record_types():
        by_type[declaration.type].sort(key=newest_first(declaration.sort))
    return {"resources": by_type}


class MappedRecord:
    """A patient's record as FHIR, as cached: resources by type (each newest first), the
    fidelity report of the fetch they came from and what it says to searches."""

    __slots__ = ("data",)

    def __init__(self, data: dict) -> None:
        self.data = data

    def resources(self, resource_type: str) -> list[dict]:
        """The type's resources (a list that may be referred to weakly: one per version)."""
        return self.data["resources"].get(resource_type, [])

    def find(self, resource_type: str, resource_id: str) -> dict | None:
        resources = self.resources(resource_type)
        by_id = getattr(resources, "by_id", None)
        if by_id is None:
            by_id = {resource["id"]: resource for resource in reversed(resources)}  # first wins
            with contextlib.suppress(AttributeError):  # a cached ResourceList keeps it
                resources.by_id = by_id  # made once per version, not scanned per read
        return by_id.get(resource_id)

    def resolve(self, reference: str) -> dict | None:
        """The resource a relative reference ("Medication/[id]") names in this record."""
        resource_type, _, resource_id = reference.rpartition("/")
        return self.find(resource_type, resource_id) if resource_type else None

    @property
    def not_served(self) -> dict | None:
        """The OperationOutcome naming what the record held but was not served, if any."""
        return self.data.get("not_served")


def merged(cached: dict, added: dict) -> dict:
    """A cached record with resources made again (same id) replaced and new ones added."""
    resources = {}
    for resource_type, old in cached["resources"].items():
        fresh = {r["id"]: r for r in added["resources"].get(resource_type, ())}
        keep = [r for r in old if r["id"] not in fresh]
        resources[resource_type] = keep + list(fresh.values())
    return {**cached, "resources": resources}


def newest_first(paths: tuple[str, ...]):
    """A sort key: the first date found at ``paths``, newest first, then id (stable, so
    a page link gives the same page on any instance)."""
    def key(resource: dict) -> tuple:
        when = next((value for path in paths for value in values_at(resource, path)
                     if isinstance(value, str)), "")
        return (-sortable_time(when), resource["id"])
    return key


def sortable_time(value: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.timestamp()


def _id_function(codec: IdCodec, identity: Identity,
                 carrying: frozenset[str] = frozenset()) -> Callable[[str, str], str]:
    """(type, key) → id for one record; a key is often asked for again (references).

    The types in ``carrying`` (documents: a Binary's id names the DocumentUID that
    GetDocument is asked for) get ids the key can be read back from."""
    @functools.cache
    def ids(resource_type: str, key: str) -> str:
        if resource_type in carrying:
            return codec.document_id(identity, key)
        return codec.resource_id(resource_type, identity, key)
    return ids


def _carrying_keys(mappings: MappingRegistry) -> frozenset[str]:
    """The types whose ids carry their key: those fetched on their own when read."""
    return frozenset(d.type for d in mappings.declarations().values() if d.source == DOCUMENT)


def _london_day(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, LONDON).date().isoformat()


def _ods_codes(organizations) -> list[str]:
    return [identifier["value"] for organization in organizations
            for identifier in organization.get("identifier", ())]


def _parsed(text: str) -> etree._Element:
    return parse_document(text.encode())


def _by_id(entry: Entry | None) -> dict[str, dict]:
    """A cached Patient entry's resources (one, or a search's list) by id."""
    if entry is None:
        return {}
    found = entry.data if isinstance(entry.data, list) else [entry.data]
    return {resource["id"]: resource for resource in found}


def _organisation_parts(data: dict | str) -> tuple[str, list[dict]]:
    """A stored organisation answer's metadata and its resources' versions (an answer
    stored before versions were kept is the metadata alone)."""
    if isinstance(data, str):
        return data, []
    return data.get("metadata", ""), data.get("versions", [])


def _newer(entry: Entry | None, seen: Entry | None, since: str) -> Entry | None:
    """``entry`` if it was stored after ``seen`` (by its ``since`` time), else None."""
    if entry is None or (seen is not None and getattr(entry, since) <= getattr(seen, since)):
        return None
    return entry


def _means_not_found(message: str) -> bool:
    return any(text in message.lower() for text in NOT_FOUND_TEXTS)


def _instant(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


