"""Versions of what the facade serves: ``meta.versionId`` and ``meta.lastUpdated``.

SystmOne says neither which version of an item it holds nor when the item last
changed. So a served resource's version is its content: ``meta.versionId`` is a
hash of the resource leaving out ``meta.versionId`` and ``meta.lastUpdated``
themselves, the same on every fetch, worker and instance while the content is the
same, and another as soon as anything in it changes. ``meta.lastUpdated`` is when
the facade first saw that version: a resource fetched again unchanged keeps the
``lastUpdated`` of the copy it replaces (so both stay as they were); one that
changed, or is new, takes the time of the fetch that brought it.

Stamped once, when a fetch is mapped (records.py), never when a resource is read:
the cache holds the stamped resources and they are served as they are.

The limit: the copy a fetch is compared with is the one the cache still holds.
When the cache no longer has it (past its retention, a new state dir, a flushed
Redis), an unchanged resource fetched again is first seen then: its ``versionId``
stays, its ``lastUpdated`` becomes that fetch's time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

from . import jsonbytes

#: What the version leaves out: the version itself, and when it was first seen.
UNVERSIONED = ("versionId", "lastUpdated")
#: Hex digits kept of the SHA-256 (128 bits): short in an ETag, far from colliding.
VERSION_DIGITS = 32


def version_id(resource: dict) -> str:
    """The content's version: the same for the same content, whatever its key order."""
    meta = {key: value for key, value in resource.get("meta", {}).items()
            if key not in UNVERSIONED}
    content = jsonbytes.dumps({**resource, "meta": meta}, orjson.OPT_SORT_KEYS)
    return hashlib.sha256(content).hexdigest()[:VERSION_DIGITS]


def stamped(resource: dict, seen_at: str, previous: dict | None = None) -> dict:
    """``resource`` (changed in place) with its ``versionId``, and the ``lastUpdated`` of
    ``previous`` (the copy it replaces) when that is the same version, else ``seen_at``."""
    version = version_id(resource)
    before = (previous or {}).get("meta", {})
    updated = before.get("lastUpdated") if before.get("versionId") == version else None
    meta = {key: value for key, value in resource.get("meta", {}).items()
            if key not in UNVERSIONED}
    resource["meta"] = {"versionId": version, "lastUpdated": updated or seen_at, **meta}
    return resource


def versioned(resource: dict) -> dict:
    """``resource`` (changed in place) with its ``versionId`` alone: for what is made anew
    on every read and never cached (a Binary), so nothing says when it was first seen."""
    resource["meta"] = {"versionId": version_id(resource), **{
        key: value for key, value in resource.get("meta", {}).items()
        if key not in UNVERSIONED}}
    return resource


def stamp_all(resources: Iterable[dict], seen_at: str,
              previous: Iterable[dict] = ()) -> None:
    """Every resource stamped (``stamped``) against the copy of the same type and id
    among ``previous``, if any."""
    earlier = {(r["resourceType"], r["id"]): r for r in previous}
    for resource in resources:
        stamped(resource, seen_at, earlier.get((resource["resourceType"], resource["id"])))


def first_seen(resources: Iterable[dict]) -> list[dict]:
    """Just what ``stamp_all`` needs of earlier copies (type, id and meta's two): what is
    kept of resources whose content is not kept."""
    return [{"resourceType": r["resourceType"], "id": r["id"],
             "meta": {key: r["meta"][key] for key in UNVERSIONED}} for r in resources]
