"""Patient/$everything: the operation's parameters, read once, and the tests they make.

FHIR R4 defines the operation (http://hl7.org/fhir/OperationDefinition/Patient-everything)
with ``start`` and ``end`` (care dates, not when the record was written: each type's
declared sort date here), ``_since`` (an instant: resources updated at or after it, by
meta.lastUpdated), ``_type`` (the types wanted, comma-separated or repeated) and
``_count``; it returns a searchset Bundle. ``Patient/$everything`` (no id) takes the
patient's NHS number in ``identifier`` instead, as a Patient search does. What the
facade serves for the patient, and who may see which type, is the service's
(service.py: ``FhirService.everything``); these are pure functions over strings and
mapped resources.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..mapping.declaration import Declaration, values_at
from .outcome import FhirError
from .search import CONTROL_PARAMS, DateRange, Ignored, alternatives, date_matches, date_range

#: The operation's own parameters; ``identifier`` only without an id in the path.
OPERATION_PARAMS = ("_type", "_since", "start", "end")
TYPE_LEVEL_PARAMS = ("identifier",)
#: A reference this server can follow: [type]/[id], relative to its base.
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})")


@dataclass(frozen=True)
class EverythingRequest:
    """The operation's parameters, parsed: what the paging links carry, the types wanted
    (None: every type), the time tests, the NHS number (type level) and what was ignored."""

    params: dict[str, list[str]]
    types: tuple[str, ...] | None = None
    since: DateRange | None = None
    start: DateRange | None = None
    end: DateRange | None = None
    identifier: tuple[str, ...] = ()
    ignored: tuple[Ignored, ...] = ()

    def wants(self, resource_type: str) -> bool:
        return self.types is None or resource_type in self.types

    def updated_since(self, resource: dict) -> bool:
        """``_since``: meta.lastUpdated at or after the instant (kept when it has none)."""
        updated = resource.get("meta", {}).get("lastUpdated")
        return self.since is None or updated is None or date_matches(updated, self.since)

    def in_care_window(self, resource: dict, declaration: Declaration | None) -> bool:
        """``start``/``end``: the resource's care date (the first of its type's sort dates)
        within them; a resource without one (a Medication) is always kept."""
        if self.start is None and self.end is None:
            return True
        paths = declaration.sort if declaration is not None else ()
        when = next((value for path in paths for value in values_at(resource, path)
                     if isinstance(value, (str, dict))), None)
        if when is None:
            return True
        return all(date_matches(when, bound) for bound in (self.start, self.end)
                   if bound is not None)

    def keeps(self, resource: dict, declaration: Declaration | None) -> bool:
        return self.updated_since(resource) and self.in_care_window(resource, declaration)


def parse_everything(params: dict[str, list[str]], served: dict[str, Declaration],
                     strict: bool, type_level: bool) -> EverythingRequest:
    """The operation's parameters; what it does not take is ignored and said to be, or
    refused under strict handling, as in every search (search.py)."""
    known = (*OPERATION_PARAMS, *(TYPE_LEVEL_PARAMS if type_level else ()))
    kept: dict[str, list[str]] = {}
    ignored: list[Ignored] = []
    for name, values in params.items():
        given = [value for value in values if value.strip()]
        if name in CONTROL_PARAMS:
            continue
        if name not in known:
            ignored.append(_unknown(name, known, strict))
        elif given:
            kept[name] = given
        else:
            ignored.append(Ignored(name, "informational", f"{name} has no value; ignored"))
    types = None
    if "_type" in kept:
        types, unknown = _types(kept["_type"], served)
        for name in unknown:
            said = f"_type: {name} is not a type this server serves"
            if strict:
                raise FhirError(400, "not-supported", said)
            ignored.append(Ignored("_type", "not-supported", f"{said}; ignored"))
    if type_level and "identifier" not in kept:
        raise FhirError(400, "invalid", "Patient/$everything names the patient by NHS number: "
                                        "?identifier=https://fhir.nhs.uk/Id/nhs-number|[number]"
                                        " (or use Patient/[id]/$everything)")
    return EverythingRequest(
        kept, types, _bound(kept, "_since", "ge"), _bound(kept, "start", "ge"),
        _bound(kept, "end", "le"), tuple(kept.get("identifier", ())), tuple(ignored))


def _unknown(name: str, known: tuple[str, ...], strict: bool) -> Ignored:
    said = f"{name} is not a parameter of $everything (it takes {', '.join(known)}, _count)"
    if strict:
        raise FhirError(400, "not-supported", said)
    return Ignored(name, "not-supported", f"{said}; ignored (Prefer: handling=strict "
                                          "refuses it)")


def _types(values: list[str], served: dict[str, Declaration]) -> tuple[tuple, list[str]]:
    names = [part.strip() for value in values for part in alternatives(value) if part.strip()]
    return (tuple(dict.fromkeys(n for n in names if n in served)),
            [n for n in dict.fromkeys(names) if n not in served])


def _bound(kept: dict[str, list[str]], name: str, prefix: str) -> DateRange | None:
    """The last value given, as a date range compared with ``prefix`` (no prefix of its
    own: ``_since=ge2020`` is no instant)."""
    if name not in kept:
        return None
    value = kept[name][-1]
    if value[:2].isalpha():
        raise FhirError(400, "invalid", f"{name} takes a date or instant without a prefix, "
                                        f"not {value!r}")
    return date_range(name, prefix + value)


def references(resource: dict) -> Iterator[tuple[str, str]]:
    """Every relative reference in a resource, as (type, id), in document order."""
    stack: list = [resource]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            target = item.get("reference")
            if isinstance(target, str):
                match = _RELATIVE.fullmatch(target)
                if match:
                    yield match.group(1), match.group(2)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
