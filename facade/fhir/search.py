"""FHIR search: a query parsed once, against the type's declaration, into a typed request.

``parse_search`` checks every parameter against the declaration (unknown ones are
ignored and said to be, or refused under ``Prefer: handling=strict``; empty values are
ignored, as FHIR asks), refuses what no SystmOne request could carry (characters XML
cannot hold), reads each value by its declared type and builds one predicate per value
from the paths the declaration gives it. Pure functions over strings and mapped
resources, so they are tested without HTTP.

FHIR R4's modifiers are answered by the parameter's type (``MODIFIERS``): ``:missing``
on every type; ``:not``, ``:text`` and (on identifiers) ``:of-type`` on tokens;
``:exact`` and ``:contains`` on strings; ``:[type]`` on references. Any other modifier is
refused (400) naming it: a modifier ignored would widen what a search returns. Every
date prefix (eq ne gt lt ge le sa eb ap) is answered. A modified parameter's predicate
is also one a source that answers upstream must apply afterwards (``common``):
SystmOne's PatientSearch knows no modifier.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..mapping.declaration import Declaration, Resolver, SearchParam, values_at
from ..mapping.transforms import LONDON
from ..protocol.xmlsafe import xml_can_hold
from .outcome import FhirError

#: A test of a resource; references in it may be followed through the resolver.
Predicate = Callable[[dict, Resolver | None], bool]
#: Parameters every search understands besides the type's own (results.py reads them).
CONTROL_PARAMS = ("_count", "_offset", "_format", "_pretty", "_summary", "_elements",
                  "_include", "_revinclude", "_sort", "_total")
#: FHIR's parameters common to every type that this server answers, beside each type's own:
#: when the facade first saw the content it serves (meta.lastUpdated, facade/versions.py;
#: see service.py for what that means for a record).
LAST_UPDATED = SearchParam(
    "_lastUpdated", "date", ("meta.lastUpdated",),
    "When the facade first saw the resource's content (meta.lastUpdated: kept while "
    "SystmOne's copy is unchanged), with every date prefix (eq, ne, gt, lt, ge, le, sa, eb, "
    "ap): never earlier than the change SystmOne holds, so _lastUpdated=ge[instant] misses "
    "nothing changed since then.")
COMMON_PARAMS = (LAST_UPDATED,)


@dataclass(frozen=True)
class Ignored:
    """A parameter the search went without, and why (said in the searchset's outcome)."""

    parameter: str
    code: str  # the OperationOutcome issue type
    reason: str


@dataclass(frozen=True)
class SearchRequest:
    """A search, parsed: the type's own parameters as given, the patients named, a
    predicate per value (a resource matches when every predicate holds), and what was
    ignored."""

    params: dict[str, list[str]]
    patients: tuple[str, ...]  # Patient ids named by the patient parameters
    predicates: tuple[Predicate, ...]
    ignored: tuple[Ignored, ...] = ()
    #: The predicates of the common parameters and of every modified parameter (also in
    #: ``predicates``): a source that answers the type's own parameters upstream
    #: (PatientSearch) applies these to what it found.
    common: tuple[Predicate, ...] = ()

    def matches(self, resource: dict, resolve: Resolver | None = None) -> bool:
        """Every predicate holds; ``resolve`` follows references (``resolve()`` paths)."""
        return all(predicate(resource, resolve) for predicate in self.predicates)

    def matches_common(self, resource: dict) -> bool:
        return all(predicate(resource, None) for predicate in self.common)

    @property
    def own_params(self) -> dict[str, list[str]]:
        """The type's own parameters, without the common ones (modified ones included, by
        the name given: a source answering upstream sees, and may refuse, a modifier)."""
        return {name: values for name, values in self.params.items()
                if name not in COMMON_NAMES}


def param_of(declaration: Declaration, name: str) -> SearchParam | None:
    """The type's own parameter of that name, else the common one."""
    return declaration.param(name) or _COMMON.get(name)


_COMMON = {param.name: param for param in COMMON_PARAMS}
COMMON_NAMES = tuple(_COMMON)


def parse_search(declaration: Declaration, params: dict[str, list[str]],
                 strict: bool = False) -> SearchRequest:
    known: dict[str, list[str]] = {}
    ignored: list[Ignored] = []
    for name, values in params.items():
        _refuse_unsendable(name, values)
        base, colon, modifier = name.partition(":")
        if colon and base in CONTROL_PARAMS:
            raise FhirError(400, "not-supported",
                            f"{name}: the :{modifier} modifier is not supported; {base} is a "
                            "result parameter and takes none")
        param = param_of(declaration, base)
        if param is None:
            if name not in CONTROL_PARAMS:
                ignored.append(_unknown(declaration, name, strict))
            continue
        if colon:
            _check_modifier(param, modifier)
        given = [value for value in values if value.strip()]
        if given:
            known[name] = given
        else:  # FHIR: a parameter without a value is ignored, not an error
            ignored.append(Ignored(name, "informational", f"{name} has no value; ignored"))
    patients: list[str] = []
    predicates: list[Predicate] = []
    common: list[Predicate] = []
    for name, values in known.items():
        base, _, modifier = name.partition(":")
        param = param_of(declaration, base)
        for value in values:
            if base in declaration.patient_params and modifier in ("", "Patient"):
                patients.append(patient_id(name, value))
            else:
                predicates.append(predicate(param, value, modifier))
                if modifier or declaration.param(base) is None:
                    common.append(predicates[-1])
    return SearchRequest(known, tuple(dict.fromkeys(patients)), tuple(predicates),
                         tuple(ignored), tuple(common))


#: The modifiers each parameter type takes (FHIR R4 search.html#modifiers); ``[type]``
#: stands for a resource type's name (``subject:Patient=[id]``).
MODIFIERS = {"token": ("missing", "not", "text", "of-type"),
             "string": ("missing", "exact", "contains"),
             "date": ("missing",),
             "reference": ("missing", "[type]")}
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")


def _check_modifier(param: SearchParam, modifier: str) -> None:
    """A modifier the parameter's type takes, else 400 naming it (never ignored: a
    modifier ignored would widen or change what the search returns)."""
    taken = MODIFIERS[param.type]
    if modifier in taken or ("[type]" in taken and _RESOURCE_TYPE.fullmatch(modifier)):
        if modifier == "of-type" and not names_identifiers(param):
            raise FhirError(400, "not-supported",
                            f"{param.name}:of-type: the :of-type modifier applies to "
                            "parameters of Identifiers (such as identifier)")
        return
    raise FhirError(400, "not-supported",
                    f"{param.name}:{modifier}: the :{modifier} modifier is not supported on "
                    f"{param.type} parameters; supported: "
                    + ", ".join(f":{name}" for name in taken))


def names_identifiers(param: SearchParam) -> bool:
    """Whether a token parameter reads Identifiers: each path ends at an ``identifier``
    element (FHIR's name for Identifier elements)."""
    return param.type == "token" and bool(param.paths) and all(
        path.rsplit(".", 1)[-1] == "identifier" for path in param.paths)


def _refuse_unsendable(name: str, values: list[str]) -> None:
    """Control characters, and anything XML cannot hold (U+FFFE, surrogates), are refused
    here, once for every type: no SystmOne request could carry them."""
    if not _sendable(name):
        raise FhirError(400, "invalid", f"the parameter name {name!r} holds control "
                                        "characters or characters XML cannot hold")
    if not all(_sendable(value) for value in values):
        raise FhirError(400, "invalid", f"{name}: control characters and characters XML "
                                        "cannot hold (such as U+FFFE) are not allowed")


def _unknown(declaration: Declaration, name: str, strict: bool) -> Ignored:
    """A parameter the type does not declare: refused under strict handling, else ignored."""
    supported = ", ".join([*(p.name for p in declaration.search_params), *COMMON_NAMES])
    if strict:
        raise FhirError(400, "not-supported",
                        f"unknown search parameter {name!r} for {declaration.type}; "
                        f"supported: {supported}")
    return Ignored(name, "not-supported",
                   f"{name} is not a search parameter of {declaration.type}; ignored "
                   f"(supported: {supported}; Prefer: handling=strict refuses it)")


def patient_id(name: str, value: str) -> str:
    """The Patient id a reference names: ``Patient/[id]``, ``[id]`` or an absolute URL."""
    parts = value.rstrip("/").split("/")
    if len(parts) > 1 and parts[-2] != "Patient":
        raise FhirError(400, "invalid", f"{name} must reference a Patient, not {value!r}")
    return parts[-1]


def predicate(param: SearchParam, value: str, modifier: str = "") -> Predicate:
    """One value of a parameter, as a test of a resource, by the parameter's type and
    modifier (``_check_modifier`` has admitted the modifier)."""
    paths = param.paths

    def found(resource: dict, resolve: Resolver | None) -> list[Any]:
        return [item for path in paths for item in values_at(resource, path, resolve)]

    if modifier == "missing":  # true: no value at any path; false: some value
        missing = _boolean(f"{param.name}:missing", value)
        return lambda r, resolve=None: not any(_present(item) for item in found(r, resolve)) \
            if missing else any(_present(item) for item in found(r, resolve))
    if param.type == "token":
        return _token_predicate(param, value, modifier, found)
    if param.type == "date":  # commas: any of the dates (OR), as for every type
        whens = [date_range(param.name, part) for part in alternatives(value)]
        return lambda r, resolve=None: any(date_matches(item, when)
                                           for item in found(r, resolve) for when in whens)
    if param.type == "reference":
        targets = [reference_value(param.name, part, modifier) for part in alternatives(value)]
        return lambda r, resolve=None: any(isinstance(item, dict) and
                                           reference_matches(item, target)
                                           for item in found(r, resolve) for target in targets)
    strings = alternatives(value)
    compare = {"exact": exact_matches, "contains": contains_matches}.get(modifier,
                                                                          string_matches)
    return lambda r, resolve=None: any(compare(
        [item for item in found(r, resolve) if isinstance(item, str)], part)
        for part in strings)


def _token_predicate(param: SearchParam, value: str, modifier: str,
                     found: Callable[[dict, Resolver | None], list[Any]]) -> Predicate:
    if modifier == "text":  # FHIR R4: a string search of the text beside the code
        texts = alternatives(value)
        return lambda r, resolve=None: any(
            string_matches(texts_at(r, param.paths, resolve), text) for text in texts)
    if modifier == "of-type":
        typed = [of_type(param.name, part) for part in alternatives(value)]
        return lambda r, resolve=None: any(identifier_of_type(item, wanted)
                                           for item in found(r, resolve) for wanted in typed)
    wanted = tokens(param.name, value)
    if modifier == "not":  # FHIR: no element has the code, a resource without one included
        return lambda r, resolve=None: not any(token_matches(item, wanted)
                                               for item in found(r, resolve))
    return lambda r, resolve=None: any(token_matches(item, wanted)
                                       for item in found(r, resolve))


def _boolean(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise FhirError(400, "invalid", f"{name} takes true or false, not {value!r}")
    return value == "true"


def _present(item: Any) -> bool:
    """A value, not an empty one (a mapped resource holds none, but a resolved one may)."""
    return item is not None and item != "" and item != [] and item != {}


def texts_at(resource: dict, paths: tuple[str, ...], resolve: Resolver | None) -> list[str]:
    """The text beside the codes at ``paths`` (FHIR's :text): each CodeableConcept's text,
    each Coding's display, each Identifier's type text. A path to a CodeableConcept's
    codings (``code.coding``) reads the CodeableConcept too."""
    items = []
    for path in paths:
        items += values_at(resource, path, resolve)
        if path.endswith(".coding"):
            items += values_at(resource, path.removesuffix(".coding"), resolve)
    return [text for item in items for text in _texts(item)]


def _texts(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return []
    kind = item.get("type") if isinstance(item.get("type"), dict) else {}
    codings = [c for c in (*_listed(item.get("coding")), *_listed(kind.get("coding")))
               if isinstance(c, dict)]
    found = [item.get("text"), item.get("display"), kind.get("text"),
             *(coding.get("display") for coding in codings)]
    return [text for text in found if isinstance(text, str)]


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class OfType:
    """``:of-type``'s ``system|code|value``: the Identifier's type coding, and its value."""

    system: str
    code: str
    value: str


def of_type(name: str, value: str) -> OfType:
    parts = value.split("|")
    if len(parts) != 3 or not all(parts):
        raise FhirError(400, "invalid", f"{name}:of-type takes [system]|[code]|[value], all "
                                        f"three given, not {value!r}")
    return OfType(*parts)


def identifier_of_type(found: Any, wanted: OfType) -> bool:
    if not isinstance(found, dict) or found.get("value") != wanted.value:
        return False
    kind = found.get("type") if isinstance(found.get("type"), dict) else {}
    return any(isinstance(coding, dict) and coding.get("system") == wanted.system
               and coding.get("code") == wanted.code for coding in _listed(kind.get("coding")))


def alternatives(value: str) -> list[str]:
    """The values a comma separates (any of them matches); ``\\,`` is a comma inside one."""
    return [part.replace("\\,", ",") for part in _COMMA.split(value)]


def token_matches(found: Any, wanted: list[Token]) -> bool:
    """A token against a code, a boolean, a Coding, a CodeableConcept or an
    Identifier/ContactPoint."""
    if isinstance(found, bool):  # FHIR: a boolean's token is true or false
        found = "true" if found else "false"
    if isinstance(found, str):
        return any(token.system in (None, "") and token.code == found for token in wanted)
    if not isinstance(found, dict):
        return False
    if "coding" in found:
        return coding_matches(found["coding"], wanted)
    code = found.get("code", found.get("value"))
    return any(token.code == code and token.system in (None, found.get("system", ""))
               for token in wanted)


def date_matches(found: Any, when: DateRange) -> bool:
    """A date search against a date, a dateTime or a Period."""
    if isinstance(found, str):
        return when.matches(found)
    if isinstance(found, dict) and ("start" in found or "end" in found):
        return when.overlaps(found.get("start"), found.get("end"))
    return False


def reference_value(name: str, value: str, resource_type: str = "") -> str:
    """A reference searched for; with a ``:[type]`` modifier, a bare id is of that type
    (``subject:Patient=p1`` is ``subject=Patient/p1``)."""
    if not value.strip("/"):
        raise FhirError(400, "invalid", f"{name}: empty reference (give [type]/[id] or [id])")
    if not resource_type or resource_type == "missing":
        return value
    parts = value.rstrip("/").split("/")
    if len(parts) == 1:
        return f"{resource_type}/{value}"
    if parts[-2] != resource_type:
        raise FhirError(400, "invalid", f"{name}:{resource_type}: {value!r} names a "
                                        f"{parts[-2]}, not a {resource_type}")
    return value


def reference_matches(reference: dict, value: str) -> bool:
    """``[type]/[id]`` names one resource, so the type must agree; a bare ``[id]`` names
    that id of any type; an absolute URL is read by its last two segments (the server's
    own base is not known here)."""
    target = reference.get("reference", "")
    if not target:  # a logical reference (identifier only) names no id to compare
        return False
    wanted = value.rstrip("/").split("/")[-2:]
    return target == value or target.rstrip("/").split("/")[-len(wanted):] == wanted


def _sendable(text: str) -> bool:
    """No control characters (tab and newline included: no search value needs them) and
    nothing XML cannot hold."""
    return xml_can_hold(text) and not any(ord(c) < 32 or ord(c) == 127 for c in text)

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
#: FHIR's prefixes this server does not answer, refused by name: none (every R4 prefix is
#: answered for dates).
UNSUPPORTED_PREFIXES: tuple[str, ...] = ()
#: ``ap``: FHIR R4 recommends, for a date, 10% of the gap between now and the date.
APPROXIMATION = 0.1
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})"
                           r"(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?")
_COMMA = re.compile(r"(?<!\\),")
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Token:
    system: str | None  # None: any system; "": no system
    code: str


def tokens(name: str, value: str) -> list[Token]:
    """``system|code``, ``|code`` or ``code``; commas separate alternatives (OR)."""
    out = []
    for part in alternatives(value):
        system, bar, code = part.partition("|")
        if not bar:
            system, code = None, part
        if not code:
            raise FhirError(400, "invalid", f"{name}: empty code in {value!r}")
        out.append(Token(system, code))
    return out


def coding_matches(codings: list[dict], wanted: list[Token]) -> bool:
    return any(
        coding.get("code") == token.code and (token.system is None
                                              or token.system == coding.get("system", ""))
        for coding in codings for token in wanted)


@dataclass(frozen=True)
class DateRange:
    prefix: str
    low: dt.datetime  # inclusive
    high: dt.datetime  # exclusive (for ap, widened by the approximation)

    def matches(self, value: str) -> bool:
        return self.covers(*_range(value))

    def overlaps(self, start: str | None, end: str | None) -> bool:
        """A Period (either end open) against the range."""
        low = _range(start)[0] if start else _EARLIEST
        high = _range(end)[1] if end else _LATEST
        return self.covers(low, high)

    def covers(self, low: dt.datetime, high: dt.datetime) -> bool:
        """The prefix's comparison of the instants [low, high) with the range, as FHIR R4
        defines it: eq, the range contains them; ne, it does not; gt, some lie after the
        range; lt, some before it; ge and le, either (a value merely overlapping the
        range's start is not ge, nor one overlapping its end le); sa, all lie after it
        (starts after); eb, all before it (ends before); ap, some lie within the range
        widened by the approximation."""
        within = low >= self.low and high <= self.high
        if self.prefix == "eq":
            return within
        if self.prefix == "ne":
            return not within
        if self.prefix == "gt":
            return high > self.high
        if self.prefix == "lt":
            return low < self.low
        if self.prefix == "ge":
            return high > self.high or within
        if self.prefix == "sa":
            return low >= self.high
        if self.prefix == "eb":
            return high <= self.low
        if self.prefix == "ap":
            return low < self.high and high > self.low
        return low < self.low or within  # le

    @property
    def exact_date(self) -> dt.date | None:
        """The one calendar day this means, when it is ``eq`` of a full date."""
        if self.prefix == "eq" and self.high - self.low == dt.timedelta(days=1):
            return self.low.date()
        return None


def date_range(name: str, value: str, now: dt.datetime | None = None) -> DateRange:
    """A date search value, its prefix read; ``now`` (for ``ap``) defaults to the clock."""
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    try:
        low, high = _range(text)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999
        raise FhirError(400, "invalid", f"{name}: {value!r} is not a FHIR date "
                                        "(YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss]"
                                        "[Z|+hh:mm], with an optional prefix "
                                        f"{'/'.join(DATE_PREFIXES)})") from None
    if prefix == "ap":
        low, high = approximately(low, high, now or dt.datetime.now(dt.UTC))
    return DateRange(prefix, low, high)


def approximately(low: dt.datetime, high: dt.datetime,
                  now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``ap``'s range: the value's own, widened on each side by 10% of the gap between now
    and the date given (its first instant: FHIR R4's recommendation); a value at now is
    its own range."""
    margin = abs(now - low) * APPROXIMATION
    return _shifted(low, -margin), _shifted(high, margin)


def _shifted(moment: dt.datetime, by: dt.timedelta) -> dt.datetime:
    try:
        return moment + by
    except OverflowError:  # past year 1 or 9999: the calendar's end
        return _EARLIEST if by < dt.timedelta(0) else _LATEST


def _range(text: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants a (partial) date or dateTime covers, in UTC, as [low, high): its
    precision is its range (2020-03 is all of March, 10:00 the whole minute)."""
    match = _PARTIAL_DATE.fullmatch(text)
    if not match:
        raise ValueError(text)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if hour:
        zone = LONDON if offset is None else dt.UTC if offset == "Z" else \
            dt.datetime.strptime(offset, "%z").tzinfo  # no offset: the practice's local time
        moment = _utc(dt.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                  int(second or 0), int((fraction or ".0")[1:7].ljust(6, "0")),
                                  tzinfo=zone))
        return moment, _later(moment, _time_precision(fraction, second))
    start = dt.datetime(int(year), int(month or 1), int(day or 1), tzinfo=dt.UTC)
    try:
        if day:
            end = start + dt.timedelta(days=1)
        elif month:
            end = (start + dt.timedelta(days=32)).replace(day=1)
        else:
            end = start.replace(year=start.year + 1)
    except (OverflowError, ValueError):  # 9999's last day, month or year: open above
        end = _LATEST
    return start, end


def _utc(moment: dt.datetime) -> dt.datetime:
    """In UTC; an offset taking it past year 1 or 9999 (``9999-12-31T23:00-14:00``) gives
    the first or last instant there is (nothing recorded lies beyond either)."""
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        return _EARLIEST if moment.year == dt.MINYEAR else _LATEST


def _time_precision(fraction: str | None, second: str | None) -> dt.timedelta:
    """The span a time's last given part stands for: .5 is a tenth of a second (beyond
    microseconds, one microsecond), seconds one second, minutes one minute."""
    if fraction:
        return dt.timedelta(microseconds=10 ** max(0, 7 - len(fraction)))
    return dt.timedelta(seconds=1) if second else dt.timedelta(minutes=1)


def _later(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    try:
        return moment + step
    except OverflowError:  # the last instant Python can hold
        return _LATEST


def string_matches(candidates: list[str], wanted: str) -> bool:
    """FHIR string search: the beginning matches, ignoring case and accents."""
    wanted = _folded(wanted)
    return any(_folded(candidate).startswith(wanted) for candidate in candidates)


def exact_matches(candidates: list[str], wanted: str) -> bool:
    """``:exact``: the whole string, case and accents included."""
    return wanted in candidates


def contains_matches(candidates: list[str], wanted: str) -> bool:
    """``:contains``: anywhere in the string, ignoring case and accents."""
    wanted = _folded(wanted)
    return any(wanted in _folded(candidate) for candidate in candidates)


def _folded(text: str) -> str:
    """Case and accents removed (FHIR compares strings "normalized by case and accent"):
    é is e and ß is ss."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def moment(value: str) -> dt.datetime | None:
    """The instant (UTC) a date or dateTime begins at; None for what is not one. What a
    sort compares: dates of any precision and offset, London time when none is given."""
    try:
        return _range(value)[0]
    except (ValueError, OverflowError):
        return None
