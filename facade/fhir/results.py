"""Search results: the result parameters (_count, _offset, _summary, _elements, _sort,
_total, _include, _revinclude), a stable order, and the searchset Bundle with its paging
links.

Pages are cut from a stable order and their links carry the whole query plus
``_count`` and ``_offset``, so a link works on any instance and after a restart
(stateless). Every page has a size: the default when ``_count`` is not given,
never more than the maximum (a larger ``_count`` is capped: FHIR lets a server
return fewer than asked).

What a resource keeps under ``_summary`` and ``_elements`` comes from FHIR R4's own
definition of its type (fhir.resources' R4B models: the elements marked summary, and
the mandatory ones), so every type is shaped alike without naming any. ``_sort`` takes
the type's declared sort order (the date parameters reading ``Declaration.sort``) and
``_lastUpdated``, ascending or (``-``) descending.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from fhir.resources.R4B import get_fhir_model_class

from ..mapping.declaration import Declaration, values_at
from .outcome import FhirError
from .search import COMMON_PARAMS, LAST_UPDATED, moment

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


#: FHIR R4's _summary values; count gives the total only, false the whole resource.
SUMMARIES = ("true", "text", "data", "count", "false")
#: FHIR R4's _total values: every total here is exact, whichever is asked.
TOTALS = ("none", "estimate", "accurate")


@dataclass(frozen=True)
class SortKey:
    """One ``_sort`` parameter: its name, the dotted paths its value is read from (the
    first present counts) and the direction."""

    name: str
    paths: tuple[str, ...]
    descending: bool = False

    @property
    def asked(self) -> str:
        return f"-{self.name}" if self.descending else self.name


@dataclass(frozen=True)
class Controls:
    """The result parameters of a search: paging, summary, elements, order, includes."""

    count: int = PageSize.default
    offset: int = 0
    summary_count: bool = False
    #: _summary as asked (true, text, data, count or false), None when not given.
    summary: str | None = None
    elements: tuple[str, ...] = ()
    sort: tuple[SortKey, ...] = ()
    total: str | None = None  # _total as asked; the total given is always exact
    includes: tuple[str, ...] = ()  # e.g. Observation:patient
    revincludes: tuple[str, ...] = ()  # e.g. Observation:patient on a Patient search
    notes: tuple[str, ...] = ()  # said in the searchset's outcome, e.g. a capped _count
    #: Result parameters the search went without (unsupported _include values...), said
    #: as not-supported warnings.
    unsupported: tuple[str, ...] = ()

    @property
    def summary_data(self) -> bool:  # _summary=data: everything but the narrative
        return self.summary == "data"


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
    summary = _one_of(params, "_summary", SUMMARIES)
    total = _one_of(params, "_total", TOTALS)
    unsupported: list[str] = []
    includes = _supported(definition, "_include", params, definition.include_names, strict,
                          unsupported)
    revincludes = _supported(definition, "_revinclude", params, revincludable, strict,
                             unsupported)
    elements = tuple(name.strip() for value in params.get("_elements", [])
                     for name in value.split(",") if name.strip())
    sort = _sort_keys(definition, params, strict, unsupported)
    # _count=0 asks only for the total, as _summary=count does (and so gets no next link).
    return Controls(count=count, offset=offset,
                    summary_count=summary == "count" or asked == 0,
                    summary=summary, elements=elements, sort=sort, total=total,
                    includes=includes, revincludes=revincludes,
                    notes=_capped(asked, page_size), unsupported=tuple(unsupported))


def _one_of(params: dict[str, list[str]], name: str, allowed: tuple[str, ...]) -> str | None:
    """The last value given, one of FHIR's ``allowed``; None when absent or blank."""
    values = [value.strip() for value in params.get(name, []) if value.strip()]
    if values and values[-1] not in allowed:
        raise FhirError(400, "invalid", f"{name}={values[-1]} is not a value of {name}; "
                                        f"FHIR's are {', '.join(allowed)}")
    return values[-1] if values else None


def sort_params(definition: Declaration) -> dict[str, tuple[str, ...]]:
    """The parameters a search of the type sorts by, each with the paths its value is read
    from: the date parameters whose paths lead to the type's declared sort order (a
    Period's parameter sorts by the start the declaration names), then _lastUpdated."""
    sortable: dict[str, tuple[str, ...]] = {}
    for param in definition.search_params:
        if param.type != "date":
            continue
        paths = tuple(sort for sort in definition.sort
                      if any(sort == path or sort.startswith(path + ".")
                             for path in param.paths))
        if paths:
            sortable[param.name] = paths
    sortable[LAST_UPDATED.name] = LAST_UPDATED.paths
    return sortable


def _sort_keys(definition: Declaration, params: dict[str, list[str]], strict: bool,
               unsupported: list[str]) -> tuple[SortKey, ...]:
    """``_sort``: comma-separated names, each once, ``-`` for descending. A name the type
    does not sort by is refused under strict handling, else ignored and said (FHIR lets a
    server ignore what it cannot sort by)."""
    sortable = sort_params(definition)
    keys: dict[str, SortKey] = {}
    for value in params.get("_sort", []):
        for part in (part.strip() for part in value.split(",")):
            if not part:
                continue
            name = part.removeprefix("-")
            if name in sortable:
                keys.setdefault(name, SortKey(name, sortable[name], part.startswith("-")))
                continue
            said = (f"_sort={part}: {definition.type} sorts by {', '.join(sortable)} "
                    "(each ascending, or descending with -)")
            if strict:
                raise FhirError(400, "not-supported", said)
            unsupported.append(f"{said}; ignored (Prefer: handling=strict refuses it)")
    return tuple(keys.values())


def ordered(resources: list[dict], sort: tuple[SortKey, ...]) -> list[dict]:
    """The resources in ``_sort``'s order; ties by id (so every page of every instance
    agrees), resources without the value last either way."""
    result = sorted(resources, key=lambda resource: resource.get("id", ""))
    for key in reversed(sort):  # the last key first: Python's sort is stable
        result.sort(key=_sort_value(key), reverse=key.descending)
    return result


def _sort_value(key: SortKey) -> Callable[[dict], tuple]:
    absent = (-1, 0.0) if key.descending else (1, 0.0)  # last, whichever the direction

    def value(resource: dict) -> tuple:
        for path in key.paths:
            for found in values_at(resource, path):
                when = moment(found) if isinstance(found, str) else None
                if when is not None:
                    return (0, when.timestamp())
        return absent
    return value


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
                   "given without a value, or an _include, _revinclude or _sort value the "
                   "type does not take, is ignored, and the searchset says so in an "
                   "OperationOutcome entry (search.mode = outcome, severity warning). With "
                   "the header Prefer: handling=strict, an unknown parameter or value is "
                   "refused (400). A modifier or prefix not answered is always refused (400), "
                   "never ignored. Every page holds at most _count entries (see _count).")


def common_search_params(page_size: PageSize) -> list[dict]:
    """The result parameters every search takes, for the CapabilityStatement's
    ``rest.searchParam``: how big pages are and how to page, what each entry holds, the
    order (each type's documentation names its own _sort values) and the total."""
    return [{"name": "_count", "type": "number", "documentation": page_size.documentation()},
            {"name": "_offset", "type": "number",
             "documentation": f"Entries to skip (at most {MAX_OFFSET}); the paging links "
                              "carry it."},
            *({"name": param.name, "type": param.type, "documentation": param.documentation}
              for param in COMMON_PARAMS),
            {"name": "_summary", "type": "token",
             "documentation": "true (the elements FHIR R4 marks summary), text (the "
                              "narrative), data (all but the narrative), count (the total "
                              "alone) or false; true and text keep the mandatory elements, "
                              "and a shortened resource is tagged SUBSETTED."},
            {"name": "_elements", "type": "special",
             "documentation": "Element names, comma-separated (Type.name too): those and the "
                              "mandatory elements are kept, tagged SUBSETTED."},
            {"name": "_sort", "type": "special",
             "documentation": "What each type sorts by is in its documentation: ascending, "
                              "or descending with -, comma-separated for several."},
            {"name": "_total", "type": "token",
             "documentation": f"{', '.join(TOTALS)}: every total given is exact, whichever "
                              "is asked."}]


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
    """A resource as _elements or _summary (true, text, data) ask for it: a copy, marked
    SUBSETTED, when changed. _elements wins when both are given."""
    if controls.elements:
        return only(resource, controls.elements)
    if controls.summary in ("true", "text", "data"):
        return summarised(resource, controls.summary)
    return resource


#: Kept whatever is asked: what makes a resource itself, and the extensions that change
#: the meaning of what is kept (dropping a modifierExtension would change it).
ALWAYS = frozenset({"resourceType", "id", "meta", "modifierExtension"})


def summarised(resource: dict, summary: str) -> dict:
    """``_summary``: true, the elements FHIR marks summary; text, the narrative; data,
    all but the narrative. The mandatory elements are kept by true and text."""
    if summary == "data":
        return _subset(resource, lambda element: element != "text")
    shape = _shape(resource.get("resourceType", ""))
    wanted = shape.summary if summary == "true" else frozenset({"text"})
    return _subset(resource, lambda element: element in wanted or element in shape.mandatory)


def only(resource: dict, elements: tuple[str, ...]) -> dict:
    """``_elements``: the elements asked for (by name, ``Type.name`` too; a choice by its
    base name, ``value`` for ``valueQuantity``, or its full one) and the mandatory ones,
    which FHIR asks servers to keep."""
    resource_type = resource.get("resourceType", "")
    asked = {name.removeprefix(f"{resource_type}.") for name in elements}
    shape = _shape(resource_type)
    return _subset(resource, lambda element: element in asked or element in shape.mandatory,
                   asked)


def _subset(resource: dict, keeps: Callable[[str], bool],
            asked: set[str] = frozenset()) -> dict:
    """The resource's top-level elements ``keeps`` takes (by element name; a primitive's
    ``_name`` goes with it) and ALWAYS, its meta tagged SUBSETTED once."""
    shape = _shape(resource.get("resourceType", ""))
    kept = {}
    for key, value in resource.items():
        bare = key.removeprefix("_")
        if key in ALWAYS or bare in asked or keeps(shape.element.get(bare, bare)):
            kept[key] = value
    meta = dict(kept.get("meta", {}))
    if SUBSETTED not in meta.get("tag", []):
        meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept


@dataclass(frozen=True)
class Shape:
    """What FHIR R4 says of a type's top-level elements, by element name (a choice such
    as ``value[x]`` is ``value``): which are summary, which mandatory, and the element
    each JSON name belongs to."""

    summary: frozenset[str]
    mandatory: frozenset[str]
    element: dict[str, str]


@functools.cache
def _shape(resource_type: str) -> Shape:
    """From fhir.resources' R4B model of the type (read once per type); a type it does
    not know keeps only ALWAYS under _summary."""
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return Shape(frozenset(), frozenset(), {})
    element, mandatory = {}, set()
    for field in model.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        name = field.alias or ""
        element[name] = extra.get("one_of_many") or name
        if extra.get("element_required") or extra.get("one_of_many_required") \
                or field.is_required():
            mandatory.add(element[name])
    summary = frozenset(element.get(name, name) for name in model.summary_elements_sequence())
    return Shape(summary, frozenset(mandatory), element)


def bundle(base_url: str, resource_type: str, resources: list[dict], total: int,
           params: dict[str, list[str]], controls: Controls, more: bool,
           included: list[dict] = (), outcome: dict | None = None) -> dict:
    base = f"{base_url}/{resource_type}"

    def link(relation: str, offset: int | None) -> dict:
        pairs = [(name, value) for name, values in params.items() for value in values]
        if controls.summary or controls.summary_count:
            pairs.append(("_summary", controls.summary or "count"))
        if controls.elements:
            pairs.append(("_elements", ",".join(controls.elements)))
        if controls.sort:
            pairs.append(("_sort", ",".join(key.asked for key in controls.sort)))
        if controls.total:
            pairs.append(("_total", controls.total))
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
