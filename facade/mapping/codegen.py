"""Turns a compiled mapping's node tree into one Python function.

The interpreter in engine.py walks the tree for every item of every record;
most of its time goes on the walking, not on reading XML. This module writes
the same evaluation out as straight-line Python once per mapping, so a record
costs little more than reading its values. The node tree stays the single
definition of meaning: every node kind below mirrors its ``evaluate`` method,
and the engine's tests run against both.

What makes the code fast:

- Plain paths ("Value", "Code/@Code", "@DateTime", "ancestor::Event[1]/@DoneBy", ".")
  and plain conditions ("Code/@Scheme = 'CTV3'", "FreeText") are read once per
  element, up front, into local variables, from one pass over the element's
  children; other XPath runs through lxml when first needed, remembered per element.
- What is known when the code is written is not tested when it runs: constants are
  present, a value read from the source is either None or non-blank text.

Each resource made also yields its evidence for validation (see ``generate``).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from lxml import etree

from . import engine as e

_STEP = r"[A-Za-z_][\w\-]*"
_PLAIN = re.compile(rf"(?P<steps>{_STEP}(?:/{_STEP})*)?(?:(?<=.)/)?(?:@(?P<attr>{_STEP}))?")
_UP = re.compile(rf"ancestor::(?P<tag>{_STEP})\[1\]/@(?P<attr>{_STEP})")
_EQUALS = re.compile(r"(?P<path>[^=!<>'\"()\[\]]+?)\s*=\s*'(?P<literal>[^']*)'")


def generate(root: e._Node, name: str):
    """A function ``(element, variables, evidence=None) -> value`` equivalent to
    ``root.evaluate``, and the FHIR path of each value site it records.

    When ``evidence`` is a list, each resource the mapping makes (an object with a
    constant resourceType) is added to it as ``(resource, trace, dynamic)``. The trace
    records every decision that shaped the resource: the site of each value present
    (with the structure of container values), each branch taken. Two resources with
    the same trace have the same shape and the same constants and differ only in the
    ``dynamic`` values, one per value site in the trace, in order. Validation uses this
    to check a resource of a known trace by its dynamic values alone (validation.py).
    """
    writer = _Writer()
    writer.line(0, "def mapped(element, variables, evidence=None):")
    writer.line(1, "tr0, dy0 = [], []  # evidence outside any resource: not kept")
    scope = writer.open_scope(1, root, "element")
    result = _emit(writer, root, 1, scope)
    writer.line(1, f"return {result}")
    source = "\n".join(writer.lines)
    namespace = dict(writer.env)
    exec(compile(source, f"<mapping {name}>", "exec"), namespace)  # our own generated code
    return namespace["mapped"], writer.value_sites


class _Scope:
    """The source element code is being written for, and what has been read from it."""

    def __init__(self, element: str, memo: str) -> None:
        self.element, self.memo = element, memo
        self.reads: dict[str, str] = {}  # plain path → local holding its first value
        self.kids: str | None = None  # local holding the element's children by tag
        self.conditions: dict[str, str] = {}  # plain condition → local holding its truth


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "_Element": etree._Element, "_first_value": e._first_value,
            "_origin_first": _origin_first, "MappingError": e.MappingError,
            "_empty": e._is_empty, "_CONTAINERS": e._CONTAINERS, "_MISSING": _MISSING,
            "_children": _children, "_string_value": _string_value, "_ancestor": _ancestor,
            "_structure": _structure, "_groups": e.groups, "_with_xpath": e.with_xpath,
            "_bindings": e.bindings, "_item_key": e.item_key,
            "_Scope": e.Scope, "_run": e.run,
        }
        self._names = itertools.count()
        self._sites = itertools.count(1)
        self.value_sites: dict[int, str] = {}  # value site in a trace → its FHIR path
        self.present: set[str] = set()  # names known to hold a value
        self.none_or_value: set[str] = set()  # None or one value, never "", [] or {}
        self.lists: set[str] = set()  # lists holding no empty items, perhaps empty
        self.variables = "variables"  # the variables the code being written sees
        # Where the resource being written keeps its evidence; inside an Include's
        # values nothing is recorded: those values reach the output as Vars.
        self.trace, self.dynamic, self.silent = "tr0", "dy0", 0

    def new(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def ref(self, obj: Any, prefix: str) -> str:
        name = self.new(prefix)
        self.env[name] = obj
        return name

    def line(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def open_scope(self, indent: int, node: e._Node, element: str) -> _Scope:
        """Start writing for a new source element: read its plain paths up front."""
        scope = _Scope(element, self.new("mm"))
        self.line(indent, f"{scope.memo} = {{}}")
        reads, conditions = _plain_reads(node)
        if reads or conditions:
            _write_reads(self, indent, scope, reads, conditions)
        return scope

    def record_value(self, indent: int, value: str, fhir_path: str,
                     may_be_container: bool) -> None:
        """Evidence for a value that reaches the output (written where it is present)."""
        if self.silent:
            return
        site = next(self._sites)
        self.value_sites[site] = fhir_path
        self.line(indent, f"{self.trace}.append({site})")
        if may_be_container:
            self.line(indent, f"if type({value}) is dict or type({value}) is list:")
            self.line(indent + 1, f"{self.trace}.append(_structure({value}))")
        self.line(indent, f"{self.dynamic}.append({value})")

    def record_decision(self, indent: int) -> None:
        """A branch taken (a When's condition held, an Include found its element)."""
        if not self.silent:
            self.line(indent, f"{self.trace}.append({next(self._sites)})")

    def is_present(self, value: str) -> str:
        """A test that ``value`` is not empty (engine._is_empty), as cheap as is safe."""
        if value in self.present:
            return "True"
        if value in self.none_or_value:
            return f"{value} is not None"
        if value in self.lists:
            return value
        return f"({value} is not None and (type({value}) not in _CONTAINERS or {value}))"


_MISSING = object()


# --- reading the source ---------------------------------------------------------------

def _children(element: etree._Element) -> dict[str, list[etree._Element]]:
    """An element's child elements by tag, in document order: one pass over the children
    serves every plain path of a template, where each findall would walk them again."""
    found: dict = {}
    for child in element:
        tag = child.tag
        if tag in found:
            found[tag].append(child)
        else:
            found[tag] = [child]
    return found


def _string_value(element: etree._Element) -> str:
    """XPath's string-value of an element (all its descendant text)."""
    return element.text or "" if len(element) == 0 else element.xpath("string()")


def _ancestor(element: etree._Element, tag: str) -> etree._Element | None:
    parent = element.getparent()
    while parent is not None and parent.tag != tag:
        parent = parent.getparent()
    return parent


def _origin_first(paths: list[etree.XPath], element: etree._Element) -> str:
    """Where the first non-blank value of ``paths`` came from (built only for errors)."""
    for path in paths:
        found = e._first_value(path(element))
        if found is not None:
            return e._origin(found[1])
    return "an XPath expression"


def _plain(expression: str) -> bool:
    """A plain path: child steps and/or an attribute, an ancestor's attribute, or '.'."""
    expression = expression.strip()
    if expression == "." or _UP.fullmatch(expression):
        return True
    plain = _PLAIN.fullmatch(expression)
    return bool(plain and (plain["steps"] or plain["attr"]))


def _plain_condition(expression: str) -> re.Match | None:
    """``PATH = 'literal'`` or bare ``PATH`` with plain child steps."""
    expression = expression.strip()
    if expression.startswith("boolean(") and expression.endswith(")"):
        expression = expression[len("boolean("):-1].strip()
    equals = _EQUALS.fullmatch(expression)
    path = _PLAIN.fullmatch((equals["path"] if equals else expression).strip())
    return (equals or path) if path and path["steps"] else None


def _plain_reads(node: e._Node) -> tuple[list[str], list[str]]:
    """The plain paths and conditions evaluated at the element ``node`` starts at."""
    reads: dict[str, None] = {}
    conditions: dict[str, None] = {}

    def visit(node: e._Node) -> None:
        if isinstance(node, e._Path):
            reads.update((path.path, None) for path in node.paths if _plain(path.path))
        elif isinstance(node, e._When):
            if _plain_condition(node.condition.path):
                conditions[node.condition.path] = None
            visit(node.then)
            if node.otherwise is not None:
                visit(node.otherwise)
        elif isinstance(node, e._Object):
            for _, child, _ in node.fields:
                visit(child)
        elif isinstance(node, e._Array):
            for child in node.items:
                visit(child)
        elif isinstance(node, e._Required):
            visit(node.node)
        elif isinstance(node, e._Include):
            for child in node.values.values():
                visit(child)
            if node.at.path.strip() == ".":
                visit(node.fragment)
        # An Each's template, and an Include's fragment elsewhere, read other elements.

    visit(node)
    return list(reads), list(conditions)


def _write_reads(w: _Writer, indent: int, scope: _Scope, reads: list[str],
                 conditions: list[str]) -> None:
    element = scope.element
    kids = None
    if any(_steps(read) for read in reads) or conditions:
        kids = scope.kids = w.new("kd")
        w.line(indent, f"{kids} = _children({element})")
    ancestors: dict[str, str] = {}
    for read in reads:
        target = scope.reads[read] = w.new("s")
        w.none_or_value.add(target)
        _write_read(w, indent, read.strip(), element, kids, ancestors, target)
    for condition in conditions:
        target = scope.conditions[condition] = w.new("b")
        _write_condition(w, indent, condition, kids, target)


def _steps(expression: str) -> str | None:
    plain = _PLAIN.fullmatch(expression.strip())
    return plain["steps"] if plain else None


def _candidates(steps: str, kids: str) -> str:
    """The elements plain child steps select, in document order."""
    first, _, rest = steps.partition("/")
    found = f"{kids}.get({first!r}, ())"
    return f"[x for p in {found} for x in p.findall({rest!r})]" if rest else found


def _write_read(w: _Writer, indent: int, expression: str, element: str, kids: str | None,
                ancestors: dict[str, str], target: str) -> None:
    """``target`` = the first non-blank value (stripped) the plain path selects, or None."""
    up = _UP.fullmatch(expression)
    if up:
        tag = up["tag"]
        if tag not in ancestors:
            ancestors[tag] = w.new("up")
            w.line(indent, f"{ancestors[tag]} = _ancestor({element}, {tag!r})")
        candidates, attribute = f"(({ancestors[tag]},) if {ancestors[tag]} is not None else ())", \
            up["attr"]
    elif expression == ".":
        candidates, attribute = f"({element},)", None
    else:
        plain = _PLAIN.fullmatch(expression)
        candidates = _candidates(plain["steps"], kids) if plain["steps"] else f"({element},)"
        attribute = plain["attr"]
    node, text = w.new("n"), w.new("t")
    w.line(indent, f"{target} = None")
    w.line(indent, f"for {node} in {candidates}:")
    w.line(indent + 1, f"{text} = {node}.get({attribute!r})" if attribute
           else f"{text} = {node}.text")
    w.line(indent + 1, f"if {text} and ({text} := {text}.strip()):")
    w.line(indent + 2, f"{target} = {text}")
    w.line(indent + 2, "break")


def _write_condition(w: _Writer, indent: int, condition: str, kids: str, target: str) -> None:
    """XPath's meaning: true when any selected node exists / has the literal value."""
    match = _plain_condition(condition)
    equals = "literal" in match.groupdict()
    plain = _PLAIN.fullmatch(match["path"].strip()) if equals else match
    attribute, node = plain["attr"], w.new("n")
    if equals:
        value = f"{node}.get({attribute!r})" if attribute else f"_string_value({node})"
        test = f"{value} == {match['literal']!r}"
    else:
        test = f"{node}.get({attribute!r}) is not None" if attribute else "True"
    w.line(indent, f"{target} = False")
    w.line(indent, f"for {node} in {_candidates(plain['steps'], kids)}:")
    w.line(indent + 1, f"if {test}:")
    w.line(indent + 2, f"{target} = True")
    w.line(indent + 2, "break")


def _select(w: _Writer, indent: int, path: etree.XPath, scope: _Scope) -> str:
    """Code for an XPath result, remembered per element; returns the variable holding it."""
    xpath, result = w.ref(path, "xp"), w.new("r")
    # Only paths naming XPath variables ($key, $group...) are handed them (engine.run).
    call = (f"_run({xpath}, {scope.element}, {w.variables})" if "$" in path.path
            else f"{xpath}({scope.element})")
    w.line(indent, f"{result} = {scope.memo}.get({xpath}, _MISSING)")
    w.line(indent, f"if {result} is _MISSING:")
    w.line(indent + 1, f"{result} = {scope.memo}[{xpath}] = {call}")
    return result


def _first(w: _Writer, indent: int, path: etree.XPath, scope: _Scope) -> str:
    """The first non-blank value of a path at the scope's element, or None."""
    if path.path in scope.reads:
        return scope.reads[path.path]
    found, value = _select(w, indent, path, scope), w.new("s")
    w.line(indent, f"{value} = _first_value({found})")
    w.line(indent, f"{value} = {value}[0] if {value} is not None else None")
    w.none_or_value.add(value)
    return value


# --- writing the evaluation -------------------------------------------------------------

def _emit(w: _Writer, node: e._Node, indent: int, scope: _Scope) -> str:
    """Write code computing ``node``; return the variable (or constant) holding its value."""
    if isinstance(node, e._Required):
        return _emit(w, node.node, indent, scope)
    return _EMITTERS.get(type(node), _emit_evaluated)(w, node, indent, scope)


def _emit_const(w, node: e._Const, indent, scope) -> str:
    name = w.ref(node.value, "c")
    if not e._is_empty(node.value):
        w.present.add(name)  # known when written: no test needed where it is used
    return name


def _emit_var(w, node: e._Var, indent, scope) -> str:
    target = w.new("v")
    w.line(indent, f"{target} = {w.variables}.get({node.name!r})")
    w.line(indent, f"if {w.is_present(target)}:")
    w.record_value(indent + 1, target, node.fhir_path, may_be_container=True)
    w.line(indent + 1, "pass")
    return target


def _emit_path(w, node: e._Path, indent, scope) -> str:
    raw, depth = w.new("s"), indent
    for position, path in enumerate(node.paths):  # fallbacks, in order
        w.line(depth, f"{raw} = {_first(w, depth, path, scope)}")
        if position < len(node.paths) - 1:
            w.line(depth, f"if {raw} is None:")
            depth += 1
    default = w.ref(node.default, "d")
    plain_default = node.default is None or not e._is_empty(node.default)
    mapped = node.concept_map is not None or node.variable_map is not None
    if node.transform is None and not mapped and node.default is None:
        w.none_or_value.add(raw)
        target = raw
    else:
        target = w.new("p")
        w.line(indent, f"if {raw} is not None:")
        value = raw
        if node.transform is not None:
            transform, where = w.ref(node.transform, "tf"), w.ref(node.fhir_path, "fp")
            paths = w.ref(node.paths, "ps")
            w.line(indent + 1, "try:")
            w.line(indent + 2, f"{target} = {transform}({raw})")
            w.line(indent + 1, "except ValueError as error:")
            w.line(indent + 2, f"raise MappingError({where}, _origin_first({paths}, "
                               f"{scope.element}), str(error)) from None")
            value = target
        if mapped:
            table = w.ref(node.concept_map, "m") if node.variable_map is None else \
                f"({w.variables}.get({node.variable_map!r}) or {{}})"
            fallback = value if node.keep_unmapped else default
            w.line(indent + 1, f"{target} = {table}.get({value}, {fallback})")
        elif value == raw:
            w.line(indent + 1, f"{target} = {raw}")
        w.line(indent, "else:")
        w.line(indent + 1, f"{target} = {default}")
        if node.transform is None and not mapped and plain_default:
            w.none_or_value.add(target)
    w.line(indent, f"if {w.is_present(target)}:")
    # Values read from the source are text and transforms make primitives; only a
    # concept map (or a default) can supply a container.
    w.record_value(indent + 1, target, node.fhir_path,
                   may_be_container=mapped or
                   isinstance(node.default, dict | list))
    w.line(indent + 1, "pass")
    return target


def _emit_when(w, node: e._When, indent, scope) -> str:
    target = w.new("w")
    condition = scope.conditions.get(node.condition.path)
    if condition is None:
        condition = _select(w, indent, node.condition, scope)
    w.line(indent, f"if {condition}:")
    w.record_decision(indent + 1)
    then = _emit(w, node.then, indent + 1, scope)
    w.line(indent + 1, f"{target} = {then}")
    w.line(indent, "else:")
    if node.otherwise is not None:
        otherwise = _emit(w, node.otherwise, indent + 1, scope)
        w.line(indent + 1, f"{target} = {otherwise}")
    else:
        w.line(indent + 1, f"{target} = None")
    return target


def _emit_each(w, node: e._Each, indent, scope) -> str:
    target, item = w.new("l"), w.new("el")
    matches = _select(w, indent, node.path, scope)
    w.line(indent, f"{target} = []")
    outer = w.variables
    if node.key is None:
        w.line(indent, f"for {item} in {matches}:")
        w.line(indent + 1, f"if not isinstance({item}, _Element):")
        w.line(indent + 2, "continue")
        bound = None
    else:  # one value per key: at the last element holding it, $key and $group bound
        key, group, bound = w.ref(node.key, "xk"), w.new("gr"), w.new("bd")
        elements = f"[x for x in {matches} if isinstance(x, _Element)]"
        w.line(indent, f"for {bound}, {group} in _groups({elements}, {key}):")
        w.line(indent + 1, f"{item} = {group}[-1]")
        w.line(indent + 1, f"{bound} = {{'key': {bound}, 'group': {group}}}")
    if bound is not None:
        w.variables = w.new("vars")
        w.line(indent + 1, f"{w.variables} = _with_xpath({outer}, {bound})")
    if node.let:  # XPath variables from the element (as XSLT's), $key and $group bound
        let, within = w.ref(node.let, "lt"), w.variables
        w.variables = w.new("vars")
        w.line(indent + 1, f"{w.variables} = _with_xpath({within}, "
                           f"_bindings({item}, {let}, {within}))")
    inner = w.open_scope(indent + 1, node.template, item)
    value = _emit(w, node.template, indent + 1, inner)
    w.variables = outer
    _append(w, indent + 1, target, value)
    w.lists.add(target)
    return target


def _emit_id(w, node: e._Id, indent, scope) -> str:
    """An Id (or Ref): the key read as any path is, then the caller's id function."""
    w.silent += 1  # the key is not itself in the output: only the id made from it
    key = _emit(w, node.key, indent, scope)
    w.silent -= 1
    target, kind = w.new("x"), w.ref(node.resource_type, "rt")
    w.line(indent, f"if {key} is None:")
    w.line(indent + 1, f"{target} = None")
    w.line(indent, "else:")
    w.line(indent + 1, f"{target} = {w.variables}.get({e.ID_FUNCTION!r})")
    w.line(indent + 1, f"{target} = {target}({kind}, {key}) if {target} is not None "
                       f"else {key}")
    reference = isinstance(node, e._Ref)
    if reference:
        w.line(indent + 1, f"{target} = {{'reference': {kind} + '/' + {target}}}")
    w.line(indent, f"if {target} is not None:")
    w.record_value(indent + 1, target, node.fhir_path, may_be_container=reference)
    w.line(indent + 1, "pass")
    w.none_or_value.add(target)
    return target


def _emit_item_key(w, node: e._ItemKey, indent, scope) -> str:
    target = w.new("x")
    w.line(indent, f"{target} = _item_key({scope.element})")
    w.record_value(indent, target, node.fhir_path, may_be_container=False)
    w.present.add(target)
    return target


def _emit_evaluated(w, node: e._Node, indent, scope) -> str:
    """Any other node (Id, Ref): its own ``evaluate``, the single definition of its
    meaning, so that new vocabulary needs no emitter of its own."""
    target = w.new("x")
    w.line(indent, f"{target} = {w.ref(node, 'nd')}.evaluate("
                   f"_Scope({scope.element}, {w.variables}))")
    w.line(indent, f"if {w.is_present(target)}:")
    w.record_value(indent + 1, target, getattr(node, "fhir_path", ""), may_be_container=True)
    w.line(indent + 1, "pass")
    return target


def _emit_include(w, node: e._Include, indent, scope) -> str:
    target = w.new("i")
    if node.at.path.strip() == ".":  # the same element: what was read serves the fragment
        variables = _include_variables(w, node, indent, scope)
        outer, w.variables = w.variables, variables
        value = _emit(w, node.fragment, indent, scope)
        w.variables = outer
        w.line(indent, f"{target} = {value}")
        return target
    found = w.new("el")
    plain = _PLAIN.fullmatch(node.at.path.strip())
    if plain and plain["steps"] and not plain["attr"]:  # plain steps: the first element
        kids = scope.kids
        if kids is None:
            kids = w.new("kd")
            w.line(indent, f"{kids} = _children({scope.element})")
        w.line(indent, f"{found} = next(iter({_candidates(plain['steps'], kids)}), None)")
    else:
        matches = _select(w, indent, node.at, scope)
        w.line(indent, f"{found} = next((x for x in {matches} if isinstance(x, _Element)), "
                       "None)")
    w.line(indent, f"if {found} is None:")
    w.line(indent + 1, f"{target} = None")
    w.line(indent, "else:")
    w.record_decision(indent + 1)
    variables = _include_variables(w, node, indent + 1, scope)
    outer, w.variables = w.variables, variables
    inner = w.open_scope(indent + 1, node.fragment, found)
    value = _emit(w, node.fragment, indent + 1, inner)
    w.variables = outer
    w.line(indent + 1, f"{target} = {value}")
    return target


def _include_variables(w, node: e._Include, indent, scope) -> str:
    """The variables a fragment sees: the caller's, plus the Include's own values."""
    if not node.values:
        return w.variables
    inner = w.new("vars")
    w.silent += 1
    values = {name: _emit(w, value, indent, scope) for name, value in node.values.items()}
    w.silent -= 1
    pairs = ", ".join(f"{name!r}: {expression}" for name, expression in values.items())
    w.line(indent, f"{inner} = {{**{w.variables}, {pairs}}}")
    return inner


def _emit_object(w, node: e._Object, indent, scope) -> str:
    if not _is_resource(node):
        return _emit_fields(w, node, indent, scope)
    outer = w.trace, w.dynamic
    w.trace, w.dynamic = w.new("tr"), w.new("dy")
    w.line(indent, f"{w.trace}, {w.dynamic} = [], []")
    target = _emit_fields(w, node, indent, scope)
    w.line(indent, f"if {target} is not None and evidence is not None:")
    w.line(indent + 1, f"evidence.append(({target}, tuple({w.trace}), {w.dynamic}))")
    w.trace, w.dynamic = outer
    return target


def _is_resource(node: e._Object) -> bool:
    return any(key == "resourceType" and isinstance(child, e._Const)
               for key, child, _ in node.fields)


def _emit_fields(w, node: e._Object, indent, scope) -> str:
    target = w.new("o")
    w.line(indent, f"{target} = {{}}")
    has_required = any(required for _, _, required in node.fields)
    inner = indent
    if has_required:
        w.line(indent, "while True:  # a block that a missing Required value leaves early")
        inner = indent + 1
    surely_filled = False
    for key, child, required in node.fields:
        value = _emit(w, child, inner, scope)
        if value in w.present:
            w.line(inner, f"{target}[{key!r}] = {value}")
            surely_filled = True
            continue
        w.line(inner, f"if {w.is_present(value)}:")
        w.line(inner + 1, f"{target}[{key!r}] = {value}")
        if required:
            w.line(inner, "else:")
            w.line(inner + 1, f"{target} = None")
            w.line(inner + 1, "break")
    if has_required:
        w.line(inner, "break")
    if not surely_filled or has_required:
        w.line(indent, f"{target} = {target} or None")
    w.none_or_value.add(target)
    return target


def _emit_array(w, node: e._Array, indent, scope) -> str:
    target = w.new("a")
    w.line(indent, f"{target} = []")
    for item in node.items:
        value = _emit(w, item, indent, scope)
        _append(w, indent, target, value)
    w.lists.add(target)
    return target


def _append(w: _Writer, indent: int, target: str, value: str) -> None:
    """Flattening append, as engine._flatten does."""
    if value in w.present and not isinstance(w.env.get(value), list):
        w.line(indent, f"{target}.append({value})")
        return
    if value in w.none_or_value:
        w.line(indent, f"if {value} is not None:")
        w.line(indent + 1, f"{target}.append({value})")
        return
    if value in w.lists:
        w.line(indent, f"{target}.extend({value})")
        return
    w.line(indent, f"if type({value}) is list:")
    w.line(indent + 1, f"{target}.extend(x for x in {value} if not _empty(x))")
    w.line(indent, f"elif {w.is_present(value)}:")
    w.line(indent + 1, f"{target}.append({value})")


def _structure(value: Any) -> str:
    """A container value's structure without its primitive values, for a trace: a short
    string (traces are hashed for every resource; a string caches its hash).

    Containers come from concept maps and the caller's variables: the same few objects
    again and again, so structures are remembered by identity (holding the object, so
    that its identity cannot pass to another while remembered).
    """
    known = _STRUCTURES.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    structure = _STRUCTURE_NAMES.setdefault(_structure_of(value), f"s{len(_STRUCTURE_NAMES)}")
    if len(_STRUCTURES) > 10_000:
        _STRUCTURES.clear()
    _STRUCTURES[id(value)] = (value, structure)
    return structure


_STRUCTURES: dict[int, tuple[Any, str]] = {}
_STRUCTURE_NAMES: dict[Any, str] = {}


def _structure_of(value: Any) -> Any:
    if type(value) is dict:
        return tuple((key, _structure_of(item)) for key, item in value.items())
    if type(value) is list:
        return ("[", *(_structure_of(item) for item in value))
    return type(value)


_EMITTERS = {
    e._Const: _emit_const,
    e._Var: _emit_var,
    e._Path: _emit_path,
    e._When: _emit_when,
    e._Each: _emit_each,
    e._Include: _emit_include,
    e._Object: _emit_object,
    e._Array: _emit_array,
    e._Id: _emit_id,
    e._Ref: _emit_id,
    e._ItemKey: _emit_item_key,
}
