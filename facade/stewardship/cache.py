"""Mapped, validated resources, cached as serialised bytes and shared by every worker.

An entry is what one upstream answer became: a Patient, the Patients of one
PatientSearch, a patient's Observations, the practice's metadata. It lives in
the shared store (embedded or Redis) under a key that carries no PHI (a
keyed digest of the patient's opaque id or of the search), with the time the
data left SystmOne. Beside it a small *stamp* key names the entry's version,
so a worker that has already decoded that version uses its own copy without
fetching a megabyte of Observations again. Errors are never cached: only what
SystmOne answered successfully becomes an entry.

A worker trusts its own copy for ``LOCAL_TRUST`` seconds after it last found
the stamp unchanged (or wrote the entry itself) before asking the store again:
reading the stamp (an SQLite read, or a Redis round trip) would otherwise be
a large part of a cached read's cost. So a newer version fetched by another
worker or instance is seen here at most that long after it was stored —
far inside any freshness window.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .. import jsonbytes, metrics
from .store import Store

LOCAL_ENTRIES = 64  # decoded entries each worker keeps
LOCAL_TRUST = 0.25  # seconds a worker's copy is served without re-reading its stamp


class ResourceList(list):
    """An entry's resources when they are a list: one that may be referred to weakly, so
    what is derived from a version (rendered pages) can be dropped with it."""


@dataclass(frozen=True)
class Entry:
    data: Any  # the decoded resources (callers must not modify them)
    fetched_at: float  # time.time() when the data left SystmOne (a full fetch)
    topped_up_at: float  # the last exempt top-up merged in (= fetched_at if none)
    stamp: str

    def age(self, now: float) -> float:
        return now - self.fetched_at


class ResourceCache:
    def __init__(self, store: Store, retain: dict[str, float],
                 local_trust: float = LOCAL_TRUST) -> None:
        """``retain``: per data class, how long the store keeps entries (seconds)."""
        self.store = store
        self.retain = retain
        self.local_trust = local_trust
        self._local: OrderedDict[str, tuple[Entry, float]] = OrderedDict()  # and when checked
        self._lock = threading.Lock()

    def get(self, data_class: str, digest: str) -> Entry | None:
        key = _key(data_class, digest)
        local, checked = self._local.get(key, (None, float("-inf")))
        if local is not None and time.monotonic() - checked < self.local_trust:
            return local
        return self._stored(key, local)

    def latest(self, data_class: str, digest: str) -> Entry | None:
        """The store's current version, whatever this worker holds: for deciding whether
        to call SystmOne (a copy trusted for LOCAL_TRUST may be one version behind, and
        calling because of it would spend a slot on data another worker just fetched)."""
        key = _key(data_class, digest)
        return self._stored(key, self._local.get(key, (None, 0.0))[0])

    def _stored(self, key: str, local: Entry | None) -> Entry | None:
        stamp = self.store.get(key + ":stamp")
        if stamp is None:
            return None
        if local is not None and local.stamp == stamp.decode():
            self._remember(key, local)
            return local
        raw = self.store.get(key)
        if raw is None:
            return None
        entry = _decode(raw)
        self._remember(key, entry)
        return entry

    def put(self, data_class: str, digest: str, data: Any, fetched_at: float,
            topped_up_at: float | None = None) -> Entry:
        key = _key(data_class, digest)
        topped_up_at = fetched_at if topped_up_at is None else topped_up_at
        stamp = f"{fetched_at!r}/{topped_up_at!r}"
        entry = Entry(_weakly_referable(data), fetched_at, topped_up_at, stamp)
        body = jsonbytes.dumps({"stamp": stamp, "fetched_at": fetched_at,
                                "topped_up_at": topped_up_at, "data": data})
        ttl = self.retain[data_class]
        self.store.set(key, body, ttl=ttl)  # the entry first: a stamp never names a missing one
        self.store.set(key + ":stamp", stamp.encode(), ttl=ttl)
        self._remember(key, entry)
        return entry

    def forget(self, data_class: str, digest: str) -> None:
        key = _key(data_class, digest)
        self.store.delete(key + ":stamp")
        self.store.delete(key)
        with self._lock:
            self._local.pop(key, None)

    def _remember(self, key: str, entry: Entry) -> None:
        with self._lock:
            self._local[key] = (entry, time.monotonic())
            self._local.move_to_end(key)
            while len(self._local) > LOCAL_ENTRIES:
                self._local.popitem(last=False)


def lookup(cache: ResourceCache, data_class: str, digest: str, fresh_for: float,
           now: float) -> tuple[Entry | None, bool]:
    """The entry (or None) and whether it is still within its freshness window; counted."""
    entry = cache.get(data_class, digest)
    fresh = entry is not None and entry.age(now) < fresh_for
    metrics.cache_lookup(data_class, "hit" if fresh else "stale" if entry else "miss")
    return entry, fresh


def _key(data_class: str, digest: str) -> str:
    return f"cache:{data_class}:{digest}"


def _decode(raw: bytes) -> Entry:
    body = jsonbytes.loads(raw)  # decimals as written: once per version per worker
    return Entry(_weakly_referable(body["data"]), float(body["fetched_at"]),
                 float(body["topped_up_at"]), body["stamp"])


def _weakly_referable(data: Any) -> Any:
    """Resource lists, at the top or by type under "resources" (a mapped record)."""
    if type(data) is list:
        return ResourceList(data)
    if type(data) is dict and type(data.get("resources")) is dict:
        return {**data, "resources": {name: ResourceList(resources)
                                      for name, resources in data["resources"].items()}}
    return data
