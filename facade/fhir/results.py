"""Search results: the result parameters (_count, _offset, _summary, _elements,
_include, _revinclude), a stable order, and the searchset Bundle with its paging links.

Pages are cut from a stable order and their links carry the whole query plus
``_count`` and ``_offset``, so a link works on any instance and after a restart
(stateless). Every page has a size: the default when ``_count`` is not given,
never more than the maximum (a larger ``_count`` is capped: FHIR lets a server
return fewer than asked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from ..mapping.declaration import Declaration
from .outcome import FhirError
from .search import COMMON_PARAMS

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED", "display": "subsetted"}


#: The furthest a page may start: more than any record or audit holds, and well within
#: the 64-bit integers the audit's storage takes.
MAX_OFFSET = 10**9
#: ASCII digits only: ``str.isdigit`` also takes "²" and "٣", which ``int`` refuses.
_WHOLE = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class PageSize:
    """How many entries a page holds: ``default`` without ``_count``, at most ``maximum``."""

    default: int = 50
    maximum: int = 500

    def documentation(self) -> str:
        return (f"Entries per page: {self.default} when _count is not given, at most "
                f"{self.maximum} (a larger _count is capped; follow the next link for more). "
                "_count=0 gives the total only.")


@dataclass(frozen=True)
class Controls:
    """The result parameters of a search: paging, summary, elements, includes."""

    count: int = PageSize.default
    offset: int = 0
    summary_count: bool = False
    summary_data: bool = False  # _summary=data: everything but the narrative
    elements: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()  # e.g. Observation:patient
    revincludes: tuple[str, ...] = ()  # e.g. Observation:patient on a Patient search
    notes: tuple[str, ...] = ()  # said in the searchset's outcome, e.g. a capped _count
    #: Result parameters the search went without (unsupported _include values...), said
    #: as not-supported warnings.
    unsupported: tuple[str, ...] = ()


def controls(definition: Declaration, params: dict[str, list[str]],
             page_size: PageSize = PageSize(), strict: bool = False,
             revincludable: tuple[str, ...] = ()) -> Controls:
    """The result parameters; ``revincludable`` are the ``_revinclude`` values the type
    takes. An unsupported ``_include``/``_revinclude`` value is ignored and said to be,
    or refused (400) under strict handling."""
    asked = _whole_number(params, "_count")
    count = page_size.default if asked is None else min(asked, page_size.maximum)
    offset = _whole_number(params, "_offset") or 0
    if offset > MAX_OFFSET:
        raise FhirError(400, "invalid", f"_offset must be at most {MAX_OFFSET}")
    summary = params.get("_summary", [None])[-1]
    if summary not in (None, "count", "data", "false"):
        raise FhirError(400, "not-supported", f"_summary={summary} is not supported; "
                                              "count, data and false are")
    unsupported: list[str] = []
    includes = _supported(definition, "_include", params, definition.include_names, strict,
                          unsupported)
    revincludes = _supported(definition, "_revinclude", params, revincludable, strict,
                             unsupported)
    elements = tuple(name.strip() for value in params.get("_elements", [])
                     for name in value.split(",") if name.strip())
    # _count=0 asks only for the total, as _summary=count does (and so gets no next link).
    return Controls(count=count, offset=offset,
                    summary_count=summary == "count" or asked == 0,
                    summary_data=summary == "data", elements=elements,
                    includes=includes, revincludes=revincludes,
                    notes=_capped(asked, page_size), unsupported=tuple(unsupported))


def _supported(definition: Declaration, name: str, params: dict[str, list[str]],
               supported: tuple[str, ...], strict: bool, unsupported: list[str]) -> tuple:
    """The values of ``_include`` or ``_revinclude`` the type takes, each once; the others
    refused under strict handling, else noted in ``unsupported``."""
    kept = []
    for value in dict.fromkeys(v for v in params.get(name, []) if v.strip()):
        if value in supported:
            kept.append(value)
            continue
        said = (f"{name}={value} is not supported for {definition.type}; supported: "
                f"{', '.join(supported) or 'none'}")
        if strict:
            raise FhirError(400, "not-supported", said)
        unsupported.append(f"{said}; ignored (Prefer: handling=strict refuses it)")
    return tuple(kept)


def _capped(asked: int | None, page_size: PageSize) -> tuple[str, ...]:
    if asked is None or asked <= page_size.maximum:
        return ()
    return (f"_count is capped at {page_size.maximum} entries per page; the next link "
            "gives the rest",)


#: How searches treat what they do not understand (the CapabilityStatement says it).
SEARCH_HANDLING = ("Searches are lenient by default: a parameter a type does not declare, or one "
                   "given without a value, or an _include or _revinclude value the type does "
                   "not take, is ignored, and the searchset says so in an "
                   "OperationOutcome entry (search.mode = outcome, severity warning). With "
                   "the header Prefer: handling=strict, an unknown parameter or value is "
                   "refused (400). Every page holds at most _count entries (see _count).")


def common_search_params(page_size: PageSize) -> list[dict]:
    """The result parameters every search takes, for the CapabilityStatement's
    ``rest.searchParam``: how big pages are and how to page."""
    return [{"name": "_count", "type": "number", "documentation": page_size.documentation()},
            {"name": "_offset", "type": "number",
             "documentation": f"Entries to skip (at most {MAX_OFFSET}); the paging links "
                              "carry it."},
            *({"name": param.name, "type": param.type, "documentation": param.documentation}
              for param in COMMON_PARAMS)]


def _whole_number(params: dict[str, list[str]], name: str) -> int | None:
    """The last value given, as a whole number; None when absent or blank (ignored)."""
    values = [value for value in params.get(name, []) if value.strip()]
    if not values:
        return None
    text = values[-1].strip()
    if not _WHOLE.fullmatch(text):
        raise FhirError(400, "invalid", f"{name} must be a whole number, not {text!r}")
    digits = text.lstrip("0")
    # More digits than any bound here means "very many": int() of thousands of digits is
    # refused by Python, and would be capped or refused anyway.
    return int(digits or "0") if len(digits) <= 18 else 10**18


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
        pairs.extend(("_revinclude", value) for value in controls.revincludes)
        pairs.append(("_count", str(controls.count)))
        if offset:
            pairs.append(("_offset", str(offset)))
        query = urlencode(pairs)
        return {"relation": relation, "url": f"{base}?{query}" if query else base}

    links = [link("self", controls.offset)]
    if controls.offset:
        links.append(link("previous", max(0, controls.offset - controls.count)))
    if more:
        links.append(link("next", controls.offset + controls.count))
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
