"""Search results: the result parameters (_count, _offset, _summary, _elements,
_include), a stable order, and the searchset Bundle with its paging links.

Pages are cut from a stable order and their links carry the whole query plus
``_offset``, so a link works on any instance and after a restart (stateless).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from . import registry
from .outcome import FhirError

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED", "display": "subsetted"}


@dataclass(frozen=True)
class Controls:
    """The result parameters of a search: paging, summary, elements, includes."""

    count: int | None = None
    offset: int = 0
    summary_count: bool = False
    summary_data: bool = False  # _summary=data: everything but the narrative
    elements: tuple[str, ...] = ()
    include_patient: bool = False


def controls(definition: registry.ResourceDef, params: dict[str, list[str]]) -> Controls:
    count = _whole_number(params, "_count")
    summary = params.get("_summary", [None])[-1]
    if summary not in (None, "count", "data", "false"):
        raise FhirError(400, "not-supported", f"_summary={summary} is not supported; "
                                              "count, data and false are")
    includes = params.get("_include", [])
    for include in includes:
        if include != "Observation:patient" or definition.type != "Observation":
            raise FhirError(400, "not-supported", f"_include={include} is not supported; "
                                                  "Observation:patient is")
    elements = tuple(name.strip() for value in params.get("_elements", [])
                     for name in value.split(",") if name.strip())
    # _count=0 asks only for the total, as _summary=count does (and so gets no next link).
    return Controls(count=count, offset=_whole_number(params, "_offset") or 0,
                    summary_count=summary == "count" or count == 0,
                    summary_data=summary == "data", elements=elements,
                    include_patient=bool(includes))


def _whole_number(params: dict[str, list[str]], name: str) -> int | None:
    values = params.get(name)
    if not values:
        return None
    if not values[-1].isdigit():
        raise FhirError(400, "invalid", f"{name} must be a whole number, not {values[-1]!r}")
    return int(values[-1])


def newest_first(observation: dict) -> tuple:
    """A stable order, so that a page link gives the same page on any instance."""
    when = observation.get("effectiveDateTime", "")
    return (-_sortable_time(when), observation["id"])


def _sortable_time(value: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def shaped(resource: dict, controls: Controls) -> dict:
    """A resource as _elements and _summary=data ask for it (a copy when changed)."""
    if controls.elements:
        return only(resource, controls.elements)
    if controls.summary_data:
        kept = {key: value for key, value in resource.items() if key != "text"}
        meta = dict(kept.get("meta", {}))
        meta["tag"] = [*meta.get("tag", []), SUBSETTED]
        kept["meta"] = meta
        return kept
    return resource


def only(resource: dict, elements: tuple[str, ...]) -> dict:
    """``_elements``: the mandatory parts plus those asked for, marked SUBSETTED."""
    kept = {key: value for key, value in resource.items()
            if key in ("resourceType", "id", "meta") or key in elements}
    meta = dict(kept.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept


def bundle(base_url: str, resource_type: str, resources: list[dict], total: int,
           params: dict[str, list[str]], controls: Controls, more: bool,
           included: list[dict] = ()) -> dict:
    base = f"{base_url}/{resource_type}"

    def link(relation: str, offset: int | None) -> dict:
        pairs = [(name, value) for name, values in params.items() for value in values]
        if controls.summary_count:
            pairs.append(("_summary", "count"))
        if controls.elements:
            pairs.append(("_elements", ",".join(controls.elements)))
        if controls.include_patient:
            pairs.append(("_include", "Observation:patient"))
        if controls.count is not None:
            pairs.append(("_count", str(controls.count)))
        if offset:
            pairs.append(("_offset", str(offset)))
        query = urlencode(pairs)
        return {"relation": relation, "url": f"{base}?{query}" if query else base}

    links = [link("self", controls.offset)]
    if controls.count is not None and controls.offset:
        links.append(link("previous", max(0, controls.offset - controls.count)))
    if more:
        links.append(link("next", controls.offset + (controls.count or 0)))
    entries = [{"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                "search": {"mode": "match"}} for r in resources]
    entries += [{"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                 "search": {"mode": "include"}} for r in included]
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        bundle["entry"] = entries
    return bundle
