"""Search results: the result parameters (_count, _offset, _summary, _elements,
_include), a stable order, and the searchset Bundle with its paging links.

Pages are cut from a stable order and their links carry the whole query plus
``_offset``, so a link works on any instance and after a restart (stateless).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from ..mapping.declaration import Declaration
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
    includes: tuple[str, ...] = ()  # e.g. Observation:patient


def controls(definition: Declaration, params: dict[str, list[str]]) -> Controls:
    count = _whole_number(params, "_count")
    summary = params.get("_summary", [None])[-1]
    if summary not in (None, "count", "data", "false"):
        raise FhirError(400, "not-supported", f"_summary={summary} is not supported; "
                                              "count, data and false are")
    includes = tuple(dict.fromkeys(params.get("_include", [])))
    for include in includes:
        if include not in definition.include_names:
            supported = ", ".join(definition.include_names) or "none"
            raise FhirError(400, "not-supported", f"_include={include} is not supported for "
                                                  f"{definition.type}; supported: {supported}")
    elements = tuple(name.strip() for value in params.get("_elements", [])
                     for name in value.split(",") if name.strip())
    # _count=0 asks only for the total, as _summary=count does (and so gets no next link).
    return Controls(count=count, offset=_whole_number(params, "_offset") or 0,
                    summary_count=summary == "count" or count == 0,
                    summary_data=summary == "data", elements=elements,
                    includes=includes)


def _whole_number(params: dict[str, list[str]], name: str) -> int | None:
    values = params.get(name)
    if not values:
        return None
    if not values[-1].isdigit():
        raise FhirError(400, "invalid", f"{name} must be a whole number, not {values[-1]!r}")
    return int(values[-1])


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
           included: list[dict] = (), outcome: dict | None = None) -> dict:
    base = f"{base_url}/{resource_type}"

    def link(relation: str, offset: int | None) -> dict:
        pairs = [(name, value) for name, values in params.items() for value in values]
        if controls.summary_count:
            pairs.append(("_summary", "count"))
        if controls.elements:
            pairs.append(("_elements", ",".join(controls.elements)))
        pairs.extend(("_include", include) for include in controls.includes)
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
    if outcome is not None:  # what the server has to say about the search itself
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        bundle["entry"] = entries
    return bundle
