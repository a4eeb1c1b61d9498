"""Interprets mapping templates over parsed SystmOne XML.

A template is compiled once into a tree of small nodes (every XPath becomes an
``etree.XPath``); ``CompiledMapping.apply`` walks it over a source element and
returns a plain dict. Absent values, empty strings, empty lists and empty
objects are left out, so a fragment whose source is missing disappears instead
of leaving ``{"system": "phone"}`` behind.

A failure names the FHIR path being built and the source element it came
from, e.g. ``Patient.birthDate from /Response/Demographics/DateOfBirth: ...``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from lxml import etree

from .vocabulary import Each, Id, Include, ItemKey, Link, Path, Ref, Required, Var, When

Transform = Callable[[str], Any]
#: The variable holding XPath variables (``$key`` inside a keyed Each).
XPATH_VARIABLES = "__xpath__"
#: The variable holding the caller's id function: (resource type, key) -> logical id.
ID_FUNCTION = "ids"
_NO_VARIABLES: dict = {}


class MappingError(ValueError):
    def __init__(self, fhir_path: str, source: str, problem: str) -> None:
        self.fhir_path, self.source, self.problem = fhir_path, source, problem
        super().__init__(f"{fhir_path} from {source}: {problem}")


class Scope:
    """Where a template is being evaluated: the source element and the caller's values."""

    __slots__ = ("element", "memo", "variables")

    def __init__(self, element: etree._Element, variables: Mapping[str, Any]) -> None:
        self.element = element
        self.variables = variables
        #: XPath results at this element: a template asks for the same few paths many times.
        self.memo: dict = {}

    def select(self, path: etree.XPath) -> Any:
        try:
            return self.memo[path]
        except KeyError:
            result = self.memo[path] = run(path, self.element, self.variables)
            return result


class _Node:
    fhir_path: str

    def evaluate(self, scope: Scope) -> Any:
        raise NotImplementedError


class _Const(_Node):
    def __init__(self, value: Any) -> None:
        self.value = value

    def evaluate(self, scope: Scope) -> Any:
        return self.value


class _Var(_Node):
    def __init__(self, name: str, fhir_path: str) -> None:
        self.name, self.fhir_path = name, fhir_path

    def evaluate(self, scope: Scope) -> Any:
        return scope.variables.get(self.name)


class _Path(_Node):
    def __init__(self, spec: Path, fhir_path: str, transforms: Mapping[str, Transform],
                 concept_maps: Mapping[str, Mapping[str, Any]]) -> None:
        self.fhir_path = fhir_path
        self.paths = [_xpath(path, fhir_path) for path in spec.paths]
        self.transform = _named(transforms, spec.via, "value transform", fhir_path)
        #: ``map=Var(name)``: a table the caller supplies with each call (the practice's
        #: clinicians by user name), looked up as a concept map is; absent, nothing maps.
        self.variable_map = spec.map.name if isinstance(spec.map, Var) else None
        self.concept_map = _named(concept_maps, spec.map, "concept map", fhir_path) \
            if self.variable_map is None else None
        self.default = spec.default
        self.keep_unmapped = spec.keep_unmapped

    def evaluate(self, scope: Scope) -> Any:
        for path in self.paths:
            found = _first_value(scope.select(path))
            if found is None:
                continue
            text, item = found
            try:
                value = self.transform(text) if self.transform else text
            except ValueError as error:
                raise MappingError(self.fhir_path, _origin(item), str(error)) from None
            table = self.concept_map if self.variable_map is None \
                else scope.variables.get(self.variable_map) or {}
            if table is not None:
                value = table.get(value, value if self.keep_unmapped else self.default)
            return value
        return self.default


class _When(_Node):
    def __init__(self, condition: etree.XPath, then: _Node, otherwise: _Node | None) -> None:
        self.condition, self.then, self.otherwise = condition, then, otherwise

    def evaluate(self, scope: Scope) -> Any:
        if scope.select(self.condition):
            return self.then.evaluate(scope)
        return self.otherwise.evaluate(scope) if self.otherwise is not None else None


class _Each(_Node):
    def __init__(self, path: etree.XPath, template: _Node, key: etree.XPath | None = None,
                 let: dict[str, etree.XPath] | None = None) -> None:
        self.path, self.template, self.key, self.let = path, template, key, let or {}

    def evaluate(self, scope: Scope) -> list:
        elements = [found for found in scope.select(self.path)
                    if isinstance(found, etree._Element)]
        if self.key is None:
            pairs = ((element, None) for element in elements)
        else:
            pairs = ((group[-1], {"key": key, "group": group})
                     for key, group in groups(elements, self.key))
        out = []
        for element, bound in pairs:
            variables = with_xpath(scope.variables, bound) if bound else scope.variables
            if self.let:  # evaluated where $key and $group are already bound
                variables = with_xpath(variables, bindings(element, self.let, variables))
            out.append(self.template.evaluate(Scope(element, variables)))
        return _flatten(out)


def groups(elements: list, key: etree.XPath) -> list[tuple[str, list[etree._Element]]]:
    """Elements sharing a key, in document order, by key, in order of first appearance.
    An element without a key stands alone."""
    found: dict[Any, tuple[str, list[etree._Element]]] = {}
    for position, element in enumerate(elements):
        first = _first_value(key(element))
        value = first[0] if first is not None else ""
        name = value if first is not None else ("", position)
        if name in found:
            found[name][1].append(element)
        else:
            found[name] = (value, [element])
    return list(found.values())


def run(path: etree.XPath, element: etree._Element, variables: Mapping[str, Any]) -> Any:
    """An XPath at ``element``, handed the XPath variables it names and no others: a
    node-set variable such as ``$group`` costs its size on every call that is handed it."""
    names = _named_variables(path)
    if not names:
        return path(element)
    bound = variables.get(XPATH_VARIABLES, _NO_VARIABLES)
    return path(element, **{name: bound[name] for name in names if name in bound})


@functools.cache
def _named_variables(path: etree.XPath) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_VARIABLE.findall(path.path)))


_VARIABLE = re.compile(r"\$([A-Za-z_][\w.\-]*)")


def bindings(element: etree._Element, let: Mapping[str, etree.XPath],
             variables: Mapping[str, Any]) -> dict[str, Any]:
    """``let``'s XPath variables at ``element``: strings, or node-sets as found. Each
    sees those bound before it (as XSLT's successive variables), so a costly node-set is
    found once and named, not searched for again by every field that needs it."""
    bound: dict[str, Any] = {}
    for name, path in let.items():
        value = run(path, element, with_xpath(variables, bound) if bound else variables)
        if isinstance(value, list) and not all(isinstance(v, etree._Element) for v in value):
            first = _first_value(value)
            value = first[0] if first is not None else ""
        bound[name] = value
    return bound


def with_xpath(variables: Mapping[str, Any], bound: Mapping[str, Any]) -> dict[str, Any]:
    """The variables, with more XPath variables bound."""
    outer = variables.get(XPATH_VARIABLES, _NO_VARIABLES)
    return {**variables, XPATH_VARIABLES: {**outer, **bound}}


def item_key(item: etree._Element) -> str:
    """An Event item's key (vocabulary.ItemKey): the one definition, for the mappings'
    ids and identifiers and for the fidelity report.

    A NonClinical item (Appointment, Visit, Task) belongs to no Event: it is keyed by its
    own UID (``AppointmentUID``...), which SystmOne keeps while the item is pending, so
    its id survives other appointments being booked or cancelled around it.
    """
    parent = item.getparent()
    own_uid = item.findtext(f"{item.tag}UID") if parent is not None and \
        parent.tag == "NonClinical" else None
    if own_uid and own_uid.strip():
        return f"{own_uid.strip()}-{item.tag}-0"
    uid = parent.get("EventUID", "") if parent is not None else ""
    place = sum(1 for _ in item.itersiblings(item.tag, preceding=True))
    return f"{uid}-{item.tag}-{place}"


class _ItemKey(_Node):
    def __init__(self, fhir_path: str) -> None:
        self.fhir_path = fhir_path

    def evaluate(self, scope: Scope) -> Any:
        return item_key(scope.element)


class _Id(_Node):
    """A logical id from a key: the caller's id function, or the key itself without one."""

    def __init__(self, resource_type: str, key: _Node, fhir_path: str) -> None:
        self.resource_type, self.key, self.fhir_path = resource_type, key, fhir_path

    def evaluate(self, scope: Scope) -> Any:
        key = self.key.evaluate(scope)
        if key is None:
            return None
        ids = scope.variables.get(ID_FUNCTION)
        return ids(self.resource_type, key) if ids is not None else key


class _Ref(_Id):
    def evaluate(self, scope: Scope) -> Any:
        found = super().evaluate(scope)
        return {"reference": f"{self.resource_type}/{found}"} if found is not None else None


class _Link(_Id):
    """A url string "Type/id" (vocabulary.Link); code generation evaluates it as it is."""

    def evaluate(self, scope: Scope) -> Any:
        found = super().evaluate(scope)
        return f"{self.resource_type}/{found}" if found is not None else None


class _Include(_Node):
    def __init__(self, at: etree.XPath, fragment: _Node, values: dict[str, _Node]) -> None:
        self.at, self.fragment, self.values = at, fragment, values

    def evaluate(self, scope: Scope) -> Any:
        targets = [found for found in scope.select(self.at) if isinstance(found, etree._Element)]
        if not targets:
            return None
        variables = {**scope.variables,
                     **{name: node.evaluate(scope) for name, node in self.values.items()}}
        return self.fragment.evaluate(Scope(targets[0], variables))


class _Required(_Node):
    def __init__(self, node: _Node) -> None:
        self.node = node

    def evaluate(self, scope: Scope) -> Any:
        return self.node.evaluate(scope)


class _Object(_Node):
    def __init__(self, fields: dict[str, _Node]) -> None:
        self.fields = [(key, node, isinstance(node, _Required)) for key, node in fields.items()]

    def evaluate(self, scope: Scope) -> dict | None:
        result = {}
        for key, node, required in self.fields:
            value = node.evaluate(scope)
            if not _is_empty(value):
                result[key] = value
            elif required:
                return None
        return result or None


class _Array(_Node):
    def __init__(self, items: list[_Node]) -> None:
        self.items = items

    def evaluate(self, scope: Scope) -> list:
        return _flatten(item.evaluate(scope) for item in self.items)


class CompiledMapping:
    """A template ready to apply; compile once, apply to any number of records."""

    def __init__(self, name: str, template: Any, transforms: Mapping[str, Transform],
                 concept_maps: Mapping[str, Mapping[str, Any]]) -> None:
        self.name = name
        #: The FHIR type an ``Id`` names: the mapping's own resource type.
        self.resource_type = name.split(".")[0]
        self._transforms = transforms
        self._concept_maps = concept_maps
        self._root = self._compile(template, name)
        from .codegen import generate

        self._generated, self.value_sites = generate(self._root, name)
        #: Traces of this mapping's resources validated in full → their value checks.
        self.known_traces: dict = {}

    def apply(self, element: etree._Element, **variables: Any) -> Any:
        """The mapped value: a dict for a one-resource template, a list for a list template."""
        return self._result(self._generated(element, variables))

    def apply_with_evidence(self, element: etree._Element,
                            **variables: Any) -> tuple[Any, list[tuple[dict, tuple, list]]]:
        """``apply``, plus (resource, trace, dynamic values) for each resource made: what
        validation needs to check a resource of a known shape quickly (codegen.generate)."""
        evidence: list = []
        return self._result(self._generated(element, variables, evidence)), evidence

    def _result(self, result: Any) -> Any:
        if isinstance(self._root, _Array):
            return result
        return result if isinstance(result, dict) else {}

    def interpret(self, element: etree._Element, **variables: Any) -> Any:
        """``apply`` by walking the node tree: the reference the generated code must match."""
        result = self._root.evaluate(Scope(element, variables))
        if isinstance(self._root, _Array):
            return result
        return result if isinstance(result, dict) else {}

    def _compile(self, template: Any, fhir_path: str) -> _Node:
        if isinstance(template, dict):
            return _Object({key: self._compile(value, f"{fhir_path}.{key}")
                            for key, value in template.items()})
        if isinstance(template, list):
            return _Array([self._compile(item, fhir_path) for item in template])
        if isinstance(template, Path):
            return _Path(template, fhir_path, self._transforms, self._concept_maps)
        if isinstance(template, Required):
            return _Required(self._compile(template.template, fhir_path))
        if isinstance(template, Var):
            return _Var(template.name, fhir_path)
        if isinstance(template, When):
            otherwise = (self._compile(template.otherwise, fhir_path)
                         if template.otherwise is not None else None)
            return _When(_xpath(f"boolean({template.condition})", fhir_path),
                         self._compile(template.then, fhir_path), otherwise)
        if isinstance(template, Each):
            key = _xpath(template.key, fhir_path) if template.key is not None else None
            let = {name: _xpath(path, fhir_path) for name, path in template.let.items()}
            return _Each(_xpath(template.path, fhir_path),
                         self._compile(template.template, fhir_path), key, let)
        if isinstance(template, ItemKey):
            return _ItemKey(fhir_path)
        if isinstance(template, Ref):
            return _Ref(template.resource_type, self._key(template.paths, fhir_path), fhir_path)
        if isinstance(template, Link):
            return _Link(template.resource_type, self._key(template.paths, fhir_path), fhir_path)
        if isinstance(template, Id):
            return _Id(self.resource_type, self._key(template.paths, fhir_path), fhir_path)
        if isinstance(template, Include):
            values = {name: self._compile(value, fhir_path)
                      for name, value in template.values.items()}
            return _Include(_xpath(template.at, fhir_path),
                            self._compile(template.fragment, fhir_path), values)
        if template is None or isinstance(template, str | int | float | bool):
            return _Const(template)
        raise TypeError(f"{fhir_path}: {type(template).__name__} is not part of the mapping "
                        "vocabulary (see MAPPINGS.md)")


    def _key(self, paths: tuple, fhir_path: str) -> _Node:
        """An Id's or Ref's key: XPaths (the first that yields a value), or one word such
        as ItemKey."""
        if len(paths) == 1 and not isinstance(paths[0], str):
            return self._compile(paths[0], fhir_path)
        return self._compile(Path(*paths), fhir_path)


def _xpath(expression: str, fhir_path: str) -> etree.XPath:
    try:
        return _compiled(expression)
    except etree.XPathSyntaxError as error:
        raise ValueError(f"{fhir_path}: bad XPath {expression!r}: {error}") from None


@functools.cache
def _compiled(expression: str) -> etree.XPath:
    """One XPath object per expression, so that a Scope's memo is shared by all its users."""
    return etree.XPath(expression, smart_strings=True)


def _named(table: Mapping[str, Any], name: str | None, kind: str, fhir_path: str) -> Any:
    if name is None:
        return None
    if name not in table:
        raise ValueError(f"{fhir_path}: unknown {kind} {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def _first_value(result: Any) -> tuple[str, Any] | None:
    """The first non-blank text an XPath result holds, with the node it came from."""
    if isinstance(result, bool | float):
        return None if result is False else (str(result), None)
    items = result if isinstance(result, list) else [result]
    for item in items:
        text = (item.text or "") if isinstance(item, etree._Element) else str(item)
        text = text.strip()
        if text:
            return text, item
    return None


def _origin(item: Any) -> str:
    """Where a value came from, as an XPath a person can follow (only built for errors)."""
    if isinstance(item, etree._Element):
        return item.getroottree().getpath(item)
    if isinstance(item, tuple):  # (element, attribute name), from generated quick paths
        element, attribute = item
        return f"{element.getroottree().getpath(element)}/@{attribute}"
    parent = getattr(item, "getparent", lambda: None)()
    if parent is not None and getattr(item, "is_attribute", False):
        return f"{parent.getroottree().getpath(parent)}/@{item.attrname}"
    return "an XPath expression"


_CONTAINERS = (str, list, dict)


def _is_empty(value: Any) -> bool:
    """None, "", [] and {} are empty; 0 and False are values."""
    return value is None or (type(value) in _CONTAINERS and not value)


def _flatten(values) -> list:
    out = []
    for value in values:
        if type(value) is list:
            out.extend(item for item in value if not _is_empty(item))
        elif not _is_empty(value):
            out.append(value)
    return out
