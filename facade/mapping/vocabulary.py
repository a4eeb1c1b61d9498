"""The words mapping modules are written in. MAPPINGS.md is the grammar.

A mapping is a template: a dict (FHIR object) or list (FHIR array) whose
leaves are plain constants or one of the nodes below. Paths are XPath 1.0
relative to the current source element (a record's ``Response``, or whatever
an ``Each``/``Include`` moved to). The engine compiles each path once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Path:
    """The first of ``paths`` that yields a non-blank value (fallbacks in order).

    ``via`` names a value transform (see facade.mapping.transforms); ``map``
    names a concept map (see mappings/conceptmaps.py) looked up with the value, or is
    ``Var(name)``: a table the caller supplies with each call (a practice's clinicians by
    SystmOne user name), where a value it does not hold maps to nothing (or ``default``).
    ``default`` is used when no path yields a value, or the map has no entry
    for it; with ``keep_unmapped`` a value the map does not know is kept as it is.
    """

    paths: tuple[str, ...]
    via: str | None = None
    map: str | Var | None = None
    default: Any = None
    keep_unmapped: bool = False

    def __init__(self, *paths: str, via: str | None = None, map: str | Var | None = None,
                 default: Any = None, keep_unmapped: bool = False) -> None:
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "via", via)
        object.__setattr__(self, "map", map)
        object.__setattr__(self, "default", default)
        object.__setattr__(self, "keep_unmapped", keep_unmapped)


@dataclass(frozen=True)
class Var:
    """A value the caller supplies (the resource id, a reference to the patient...)."""

    name: str


@dataclass(frozen=True)
class When:
    """``then`` only where the XPath ``condition`` is true of the current element."""

    condition: str
    then: Any
    otherwise: Any = None


@dataclass(frozen=True)
class Each:
    """``template`` once per element matched by ``path``: a FHIR array.

    With ``key`` (an XPath giving each element's key), elements sharing a key
    make one value: the template is evaluated at the last of them in document
    order (SystmOne lists Events oldest first, so the latest recording), and
    its XPaths may name the key as ``$key`` and all the elements sharing it, in
    document order, as ``$group``.

    ``let`` binds XPath variables for the template, each the value of an XPath at
    the element (as XSLT's variables do): ``let={"started": "StartDate"}`` lets
    paths that move elsewhere compare with ``$started``. Each binding sees those
    before it, so a node-set found once can be named and reused.
    """

    path: str
    template: Any
    key: str | None = None
    let: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Include:
    """A shared fragment (a datatype template), evaluated at the element ``at``.

    With ``at`` matching nothing the fragment is left out.
    """

    fragment: Any
    at: str = "."
    #: Named values handed to the fragment's ``Var`` nodes.
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Required:
    """The enclosing object is left out altogether when this value is absent.

    Keeps constants such as an extension's ``url`` or a ContactPoint's
    ``system`` from surviving on their own when the datum they describe is missing.
    """

    template: Any


@dataclass(frozen=True)
class Id:
    """The logical id of the resource being made, from a key read at ``paths``.

    The key names the source item (e.g. its EventUID and position, a ProblemUID);
    the caller's id function turns it into an opaque id, stable across fetches.
    """

    paths: tuple[str, ...]

    def __init__(self, *paths: str) -> None:
        object.__setattr__(self, "paths", paths)


@dataclass(frozen=True)
class Ref:
    """A Reference (``{"reference": "Type/id"}``) to a resource of ``resource_type``
    made from the same record, found by the key it is made with (see ``Id``)."""

    resource_type: str
    paths: tuple[str, ...]

    def __init__(self, resource_type: str, *paths: str) -> None:
        object.__setattr__(self, "resource_type", resource_type)
        object.__setattr__(self, "paths", paths)


@dataclass(frozen=True)
class Link:
    """The relative URL (``"Type/id"``, a string) of a resource of ``resource_type`` this
    server reads, made with the key read at ``paths`` as ``Ref`` makes a Reference: for
    elements that are a url rather than a Reference (``Attachment.url`` → ``Binary/[id]``)."""

    resource_type: str
    paths: tuple[str, ...]

    def __init__(self, resource_type: str, *paths: str) -> None:
        object.__setattr__(self, "resource_type", resource_type)
        object.__setattr__(self, "paths", paths)


@dataclass(frozen=True)
class ItemKey:
    """The key of the Event item at hand: its Event's EventUID, its element name and its
    place among the Event's items of that name (``b95ee04200000000-ClinicalCode-2``).

    Counting only items of the same name keeps the key when a Filter leaves other kinds
    out of the Event, so ids and identifiers survive a change of the sections fetched.
    """
