"""SMART on FHIR scopes (v1 and v2): parsing, what a token is granted, what a scope permits.

A resource scope is ``context/ResourceType.permissions[?name=value&...]``:

* *context* is ``patient``, ``user`` or ``system``;
* *ResourceType* is a FHIR type (``Patient``, ``Observation``) or ``*`` for every type;
* *permissions* are SMART v1 words or SMART v2 letters (App Launch 2.x,
  "scopes and launch context").

v1 and v2 are equivalent and both are accepted, even mixed in one request
(``system/Patient.read system/Observation.rs``): v1 ``read`` is v2 ``rs``,
``write`` is ``cud`` and ``*`` is ``cruds``. v2 letters must be a non-empty
subsequence of ``cruds`` in that order (``rs``, ``r``, ``s``, ``cruds``);
``sr``, ``rr`` or an unknown letter is malformed. Only v2 scopes may carry
restrictions (``patient/Observation.rs?category=laboratory``): FHIR search
parameters, percent-decoded (``+`` stays a plus), all of which a resource must
match. Every permission is held as a set of letters, whatever the wording.

The non-resource scopes ``openid``, ``fhirUser``, ``profile``, ``launch``,
``launch/patient``, ``online_access`` and ``offline_access`` are understood
(:func:`parse_scope` returns None for them) but never granted. Anything else
that is not a well-formed resource scope is malformed (:class:`ScopeError`).

What is granted (:func:`grant`): each requested resource scope narrowed to
what the client's registered scopes allow -- the same context, the same type
or one the registration covers with ``*`` (a requested ``*`` under registered
specific types becomes those types), the permissions both allow, and the
restrictions of both (a resource must match the requested ones and the
registered ones). A scope granted in full keeps the client's wording (v1
``system/Patient.read`` stays so); a narrowed one is written in v2
(``system/Patient.rs``). This server is read-only: write permissions (``c``,
``u``, ``d``) are never granted, and a scope asking only to write is dropped.
A request of which nothing can be granted is refused, as is a malformed
requested or registered scope.

How ``patient/`` confines (:func:`permitted`): a ``patient/`` scope reaches
only the patient in the token's launch context (the caller enforces that with
:attr:`Permit.patient_only`); a grant can be limited to the contexts available
(``contexts={"system"}`` when there is no patient context, so ``patient/``
scopes are not granted at all).

``user/`` is treated like ``system/``: this server's clients are backend
services and there is no user identity in a token, so nothing narrows a
``user/`` scope to a user's compartment. What a record shows is governed by
SystmOne's own access control for the SystmOne user the facade is logged on as.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn
from urllib.parse import quote, unquote

CONTEXTS = frozenset({"patient", "user", "system"})
PERMISSION_ORDER = "cruds"
READ_PERMISSIONS = frozenset("rs")  # all this read-only server ever grants
OTHER_SCOPES = frozenset({
    "openid", "fhirUser", "profile", "launch", "launch/patient",
    "online_access", "offline_access",
})
INTERACTIONS = {"read": "r", "search": "s"}

_V1_PERMISSIONS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
_RESOURCE_SCOPE = re.compile(
    r"(?P<context>[a-z]+)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perms>[^?]*)(?:\?(?P<query>.*))?",
    re.DOTALL,
)
_V2_PERMISSIONS = re.compile(r"c?r?u?d?s?")
# RFC 6749 scope-token: %x21 / %x23-5B / %x5D-7E (printable ASCII but " and \)
_TOKEN = re.compile(r'[\x21\x23-\x5b\x5d-\x7e]+')
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# What restrictions are written with unencoded when a narrowed scope is formatted
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"\\%&=')

Restrictions = tuple[tuple[str, str], ...]


class ScopeError(ValueError):
    """A malformed scope, or a request of which nothing can be granted."""


@dataclass(frozen=True)
class Scope:
    context: str  # "patient" | "user" | "system"
    resource_type: str  # a FHIR type or "*"
    permissions: frozenset[str]  # a subset of {"c", "r", "u", "d", "s"}
    restrictions: Restrictions  # (name, value) pairs, percent-decoded, as written
    text: str  # as written
    version: int  # 1 or 2

    def covers(self, resource_type: str, permission: str) -> bool:
        """Whether this scope allows *permission* (one of ``cruds``) on *resource_type*.

        Restrictions and patient confinement are not considered here: see :func:`permitted`.
        """
        if len(permission) != 1 or permission not in PERMISSION_ORDER:
            raise ValueError(f"unknown permission {permission!r}: expected one of c, r, u, d, s")
        return (
            permission in self.permissions
            and self.resource_type in ("*", resource_type)
        )

    @property
    def v2_text(self) -> str:
        """The scope written in SMART v2 (the same meaning, possibly other wording)."""
        return _format(self.context, self.resource_type, self.permissions, self.restrictions)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Permit:
    """What a token's scopes allow for one interaction on one resource type.

    ``restrictions`` are alternatives: a resource is allowed when it matches every
    (name, value) pair of at least one of them; empty means unrestricted.
    ``patient_only`` confines the interaction to the patient in the launch context.
    """

    allowed: bool
    patient_only: bool = False
    restrictions: tuple[Restrictions, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


DENIED = Permit(False)


def parse_scope(text: str) -> Scope | None:
    """One scope: a :class:`Scope`, None for a non-resource scope, ScopeError if malformed."""
    if text in OTHER_SCOPES:
        return None
    if not _TOKEN.fullmatch(text):
        _fail(text, "is empty or holds characters an OAuth scope may not contain")
    match = _RESOURCE_SCOPE.fullmatch(text)
    if match is None:
        _fail(text, "is neither a resource scope (context/Type.permissions) nor a known scope")
    context, resource_type, perms, query = match.group("context", "type", "perms", "query")
    if context not in CONTEXTS:
        _fail(text, f"has context {context!r}: expected patient, user or system")
    if perms in _V1_PERMISSIONS:
        if query is not None:
            _fail(text, "is a SMART v1 scope, which may not carry restrictions (?...)")
        return Scope(context, resource_type, _V1_PERMISSIONS[perms], (), text, 1)
    if not perms:
        _fail(text, "has no permissions")
    if not _V2_PERMISSIONS.fullmatch(perms):
        _fail(text, f"has permissions {perms!r}: expected read, write, * or "
                    "letters of 'cruds' in that order, each at most once")
    restrictions = () if query is None else _parse_restrictions(text, query)
    return Scope(context, resource_type, frozenset(perms), restrictions, text, 2)


def split_scopes(text: str) -> tuple[list[Scope], list[str]]:
    """A space-separated scope string: its resource scopes and its other (non-resource) scopes."""
    resource: list[Scope] = []
    other: list[str] = []
    for token in text.split(" "):
        if not token:
            continue  # tolerate repeated spaces
        scope = parse_scope(token)
        if scope is None:
            other.append(token)
        else:
            resource.append(scope)
    return resource, other


def parse_scopes(text: str) -> list[Scope]:
    """The resource scopes of a space-separated scope string, in order; ScopeError if any
    scope is malformed. Non-resource scopes are left out."""
    return split_scopes(text)[0]


def grant(requested: str, registered: str, contexts: set[str] | None = None) -> str:
    """The scope string a token gets when a client registered with *registered* asks for
    *requested*; *contexts*, if given, are the only contexts that may be granted."""
    if contexts is not None and not contexts <= CONTEXTS:
        raise ValueError(f"unknown contexts {sorted(contexts - CONTEXTS)}")
    wanted = parse_scopes(requested)
    allowed = parse_scopes(registered)
    granted: dict[tuple, str] = {}  # meaning -> wording, first wording kept
    for scope in wanted:
        if contexts is not None and scope.context not in contexts:
            continue
        for piece in _narrow(scope, allowed):
            granted.setdefault(piece[0], piece[1])
    if not granted:
        raise ScopeError(f"no requested scope can be granted: {requested!r} asks for nothing "
                         f"that the client's registered scopes ({registered!r}) allow "
                         "to be read" + (f" in context {'/'.join(sorted(contexts))}"
                                         if contexts is not None else ""))
    return " ".join(granted.values())


def permitted(scopes: Iterable[Scope], resource_type: str, interaction: str) -> Permit:
    """Whether *scopes* allow *interaction* ("read": needs r; "search": needs s, a FHIR
    search-type) on *resource_type*, and within which limits.

    Never wider than the scopes: when ``patient/`` scopes allow it and ``system/`` or
    ``user/`` ones allow it only restricted, the union cannot be expressed as one Permit,
    so the result is confined to the patient in context, with the restrictions of every
    allowing scope as alternatives (none if a ``patient/`` one is unrestricted).
    """
    try:
        permission = INTERACTIONS[interaction]
    except KeyError:
        raise ValueError(f"unknown interaction {interaction!r}: expected read or search") from None
    allowing = [s for s in scopes if s.covers(resource_type, permission)]
    if not allowing:
        return DENIED
    unconfined = [s for s in allowing if s.context != "patient"]
    confined = [s for s in allowing if s.context == "patient"]
    if any(not s.restrictions for s in unconfined):
        return Permit(True)
    if not confined:
        return Permit(True, False, _alternatives(unconfined))
    return Permit(True, True, _alternatives(confined + unconfined))


# -- internals ---------------------------------------------------------------------------


def _fail(text: str, why: str) -> NoReturn:
    raise ScopeError(f"malformed scope {text!r}: it {why}")


def _parse_restrictions(text: str, query: str) -> Restrictions:
    if _BAD_PERCENT.search(query):
        _fail(text, "has a '%' that is not a percent-encoding")
    pairs = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if not eq or not name or not value or "=" in value:
            _fail(text, f"has restriction {part!r}: expected name=value")
        try:
            name, value = unquote(name, errors="strict"), unquote(value, errors="strict")
        except UnicodeDecodeError:
            _fail(text, f"has restriction {part!r}, which is not percent-encoded UTF-8")
        if not _PARAM_NAME.fullmatch(name):
            _fail(text, f"has restriction {part!r}: {name!r} is not a search parameter name")
        pairs.append((name, value))
    return tuple(pairs)


def _format(context: str, resource_type: str, permissions: Iterable[str],
            restrictions: Restrictions) -> str:
    letters = "".join(p for p in PERMISSION_ORDER if p in permissions)
    text = f"{context}/{resource_type}.{letters}"
    if restrictions:
        text += "?" + "&".join(f"{quote(n, safe=_SAFE)}={quote(v, safe=_SAFE)}"
                               for n, v in restrictions)
    return text


def _narrow(scope: Scope, registered: list[Scope]) -> list[tuple[tuple, str]]:
    """What of *scope* the *registered* scopes allow to be read, as (meaning, wording) pairs."""
    # (type, restriction set) -> [permissions, restrictions in order]
    pieces: dict[tuple[str, frozenset], list] = {}
    for reg in registered:
        if reg.context != scope.context:
            continue
        if reg.resource_type in ("*", scope.resource_type):
            resource_type = scope.resource_type
        elif scope.resource_type == "*":
            resource_type = reg.resource_type
        else:
            continue
        permissions = scope.permissions & reg.permissions & READ_PERMISSIONS
        if not permissions:
            continue
        mine = set(scope.restrictions)
        restrictions = scope.restrictions + tuple(
            dict.fromkeys(p for p in reg.restrictions if p not in mine))
        piece = pieces.setdefault((resource_type, frozenset(restrictions)),
                                  [frozenset(), restrictions])
        piece[0] |= permissions
    full = pieces.get((scope.resource_type, frozenset(scope.restrictions)))
    if full is not None and full[0] == scope.permissions:
        return [(_meaning(scope.context, scope.resource_type, scope.permissions,
                          scope.restrictions), scope.text)]
    out = []
    for (resource_type, restriction_set), (permissions, restrictions) in pieces.items():
        if any(other != (resource_type, restriction_set)
               and other[0] in ("*", resource_type)
               and other_piece[0] >= permissions
               and other[1] <= restriction_set
               for other, other_piece in pieces.items()):
            continue  # within another piece
        out.append((_meaning(scope.context, resource_type, permissions, restrictions),
                    _format(scope.context, resource_type, permissions, restrictions)))
    return out


def _meaning(context: str, resource_type: str, permissions: frozenset[str],
             restrictions: Restrictions) -> tuple:
    return context, resource_type, permissions, frozenset(restrictions)


def _alternatives(scopes: list[Scope]) -> tuple[Restrictions, ...]:
    """The restrictions of *scopes* as alternatives; () when any scope is unrestricted."""
    if any(not s.restrictions for s in scopes):
        return ()
    unique: dict[frozenset, Restrictions] = {}
    for scope in scopes:
        unique.setdefault(frozenset(scope.restrictions), scope.restrictions)
    # an alternative that demands more than another one allows nothing extra
    return tuple(r for key, r in unique.items() if not any(other < key for other in unique))
