"""Turns a compiled mapping's node tree into one Python function.

The interpreter in engine.py walks the tree for every item of every record;
most of its time goes on the walking, not on reading XML. This module writes
the same evaluation out as straight-line Python once per mapping, so a record
costs little more than its XPath lookups. The node tree stays the single
definition of meaning: every node kind below mirrors its ``evaluate`` method,
and the engine's tests run against both.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from lxml import etree

from . import engine as e


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, Any] = {
            "_Element": etree._Element, "_first_value": e._first_value, "_origin": e._origin,
            "MappingError": e.MappingError, "_empty": e._is_empty, "_flat": e._flatten,
            "_MISSING": _MISSING, "_CONTAINERS": e._CONTAINERS,
        }
        self._names = itertools.count()
        self.present: set[str] = set()  # names known to hold a value (non-empty constants)

    def new(self, prefix: str) -> str:
        return f"{prefix}{next(self._names)}"

    def ref(self, obj: Any, prefix: str) -> str:
        name = self.new(prefix)
        self.env[name] = obj
        return name

    def line(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)


_MISSING = object()


def generate(root: e._Node, name: str):
    """A function ``(element, variables) -> value`` equivalent to ``root.evaluate``."""
    writer = _Writer()
    writer.line(0, "def mapped(element, variables):")
    writer.line(1, "memo = {}")
    result = _emit(writer, root, 1, "element", "memo", "variables")
    writer.line(1, f"return {result}")
    source = "\n".join(writer.lines)
    namespace = dict(writer.env)
    exec(compile(source, f"<mapping {name}>", "exec"), namespace)  # our own generated code
    return namespace["mapped"]


def _select(w: _Writer, indent: int, path: etree.XPath, element: str, memo: str) -> str:
    """Code for a memoised XPath result; returns the variable holding it."""
    xpath = w.ref(path, "xp")
    result = w.new("r")
    w.line(indent, f"{result} = {memo}.get({xpath}, _MISSING)")
    w.line(indent, f"if {result} is _MISSING:")
    w.line(indent + 1, f"{result} = {memo}[{xpath}] = {xpath}({element})")
    return result


def _emit(w: _Writer, node: e._Node, indent: int, element: str, memo: str,
          variables: str) -> str:
    """Write code computing ``node``; return the expression (a variable) holding its value."""
    if isinstance(node, e._Const):
        name = w.ref(node.value, "c")
        if not e._is_empty(node.value):
            w.present.add(name)  # known at generation time: no test needed when it is used
        return name
    if isinstance(node, e._Var):
        target = w.new("v")
        w.line(indent, f"{target} = {variables}.get({node.name!r})")
        return target
    if isinstance(node, e._Required):
        return _emit(w, node.node, indent, element, memo, variables)
    emit = _EMITTERS[type(node)]
    return emit(w, node, indent, element, memo, variables)


_STEP = r"[A-Za-z_][\w\-]*"
_PLAIN = re.compile(rf"(?P<steps>{_STEP}(?:/{_STEP})*)?(?:(?<=.)/)?(?:@(?P<attr>{_STEP}))?")
_UP = re.compile(rf"ancestor::(?P<tag>{_STEP})\[1\]/@(?P<attr>{_STEP})")


def _quick_first(w: _Writer, indent: int, expression: str, element: str, memo: str) -> str | None:
    """Plain steps ("Value", "Code/@Code", "ancestor::Event[1]/@DateTime", ".") as direct
    lxml calls giving the same first non-blank value XPath would; None for anything else."""
    expression = expression.strip()
    up = _UP.fullmatch(expression)
    plain = _PLAIN.fullmatch(expression)
    if not up and expression != "." and not (plain and (plain["steps"] or plain["attr"])):
        return None
    found, node, text = w.new("q"), w.new("n"), w.new("tx")
    key = w.ref(f"quick:{expression}", "k")
    w.line(indent, f"{found} = {memo}.get({key}, _MISSING)")
    w.line(indent, f"if {found} is _MISSING:")
    w.line(indent + 1, f"{found} = None")
    if up:
        w.line(indent + 1, f"{node} = {element}.getparent()")
        w.line(indent + 1, f"while {node} is not None and {node}.tag != {up['tag']!r}:")
        w.line(indent + 2, f"{node} = {node}.getparent()")
        candidates, attribute = f"(({node},) if {node} is not None else ())", up["attr"]
    elif expression == ".":
        candidates, attribute = f"({element},)", None
    else:
        steps = plain["steps"]
        candidates = f"{element}.findall({steps!r})" if steps else f"({element},)"
        attribute = plain["attr"]
    w.line(indent + 1, f"for {node} in {candidates}:")
    read = f"{node}.get({attribute!r})" if attribute else f"{node}.text"
    w.line(indent + 2, f"{text} = {read}")
    origin = f"({node}, {attribute!r})" if attribute else node
    w.line(indent + 2, f"if {text} and {text}.strip():")
    w.line(indent + 3, f"{found} = ({text}.strip(), {origin})")
    w.line(indent + 3, "break")
    w.line(indent + 1, f"{memo}[{key}] = {found}")
    return found


def _emit_path(w, node: e._Path, indent, element, memo, variables) -> str:
    target = w.new("p")
    default = w.ref(node.default, "d")
    w.line(indent, f"{target} = {default}")
    depth = indent
    for path in node.paths:
        found = _quick_first(w, depth, path.path, element, memo)
        if found is None:
            found = w.new("f")
            result = _select(w, depth, path, element, memo)
            w.line(depth, f"{found} = _first_value({result})")
        w.line(depth, f"if {found} is not None:")
        inner = depth + 1
        if node.transform is not None:
            transform = w.ref(node.transform, "t")
            where = w.ref(node.fhir_path, "fp")
            w.line(inner, "try:")
            w.line(inner + 1, f"{target} = {transform}({found}[0])")
            w.line(inner, "except ValueError as error:")
            w.line(inner + 1, f"raise MappingError({where}, _origin({found}[1]), str(error)) "
                              "from None")
        else:
            w.line(inner, f"{target} = {found}[0]")
        if node.concept_map is not None:
            table = w.ref(node.concept_map, "m")
            fallback = target if node.keep_unmapped else default
            w.line(inner, f"{target} = {table}.get({target}, {fallback})")
        w.line(depth, "else:")
        depth += 1
    w.line(depth, "pass")
    return target


def _emit_when(w, node: e._When, indent, element, memo, variables) -> str:
    target = w.new("w")
    condition = _select(w, indent, node.condition, element, memo)
    w.line(indent, f"if {condition}:")
    then = _emit(w, node.then, indent + 1, element, memo, variables)
    w.line(indent + 1, f"{target} = {then}")
    w.line(indent, "else:")
    if node.otherwise is not None:
        otherwise = _emit(w, node.otherwise, indent + 1, element, memo, variables)
        w.line(indent + 1, f"{target} = {otherwise}")
    else:
        w.line(indent + 1, f"{target} = None")
    return target


def _emit_each(w, node: e._Each, indent, element, memo, variables) -> str:
    target, item, item_memo = w.new("l"), w.new("el"), w.new("mm")
    matches = _select(w, indent, node.path, element, memo)
    w.line(indent, f"{target} = []")
    w.line(indent, f"for {item} in {matches}:")
    w.line(indent + 1, f"if not isinstance({item}, _Element):")
    w.line(indent + 2, "continue")
    w.line(indent + 1, f"{item_memo} = {{}}")
    value = _emit(w, node.template, indent + 1, item, item_memo, variables)
    _append(w, indent + 1, target, value)
    return target


def _emit_include(w, node: e._Include, indent, element, memo, variables) -> str:
    target, found, inner_memo = w.new("i"), w.new("el"), w.new("mm")
    matches = _select(w, indent, node.at, element, memo)
    w.line(indent, f"{found} = next((x for x in {matches} if isinstance(x, _Element)), None)")
    w.line(indent, f"if {found} is None:")
    w.line(indent + 1, f"{target} = None")
    w.line(indent, "else:")
    inner_variables = variables
    if node.values:
        inner_variables = w.new("vars")
        values = {name: _emit(w, value, indent + 1, element, memo, variables)
                  for name, value in node.values.items()}
        pairs = ", ".join(f"{name!r}: {expression}" for name, expression in values.items())
        w.line(indent + 1, f"{inner_variables} = {{**{variables}, {pairs}}}")
    w.line(indent + 1, f"{inner_memo} = {{}}")
    value = _emit(w, node.fragment, indent + 1, found, inner_memo, inner_variables)
    w.line(indent + 1, f"{target} = {value}")
    return target


def _emit_object(w, node: e._Object, indent, element, memo, variables) -> str:
    target = w.new("o")
    w.line(indent, f"{target} = {{}}")
    w.line(indent, "while True:  # a block that a missing Required value leaves early")
    for key, child, required in node.fields:
        value = _emit(w, child, indent + 1, element, memo, variables)
        if value in w.present:
            w.line(indent + 1, f"{target}[{key!r}] = {value}")
            continue
        w.line(indent + 1, f"if {_present(value)}:")
        w.line(indent + 2, f"{target}[{key!r}] = {value}")
        if required:
            w.line(indent + 1, "else:")
            w.line(indent + 2, f"{target} = None")
            w.line(indent + 2, "break")
    w.line(indent + 1, "break")
    w.line(indent, f"{target} = {target} or None")
    return target


def _emit_array(w, node: e._Array, indent, element, memo, variables) -> str:
    target = w.new("a")
    w.line(indent, f"{target} = []")
    for item in node.items:
        value = _emit(w, item, indent, element, memo, variables)
        _append(w, indent, target, value)
    return target


def _append(w: _Writer, indent: int, target: str, value: str) -> None:
    """Flattening append, as engine._flatten does."""
    if value in w.present and not isinstance(w.env.get(value), list):
        w.line(indent, f"{target}.append({value})")
        return
    w.line(indent, f"if type({value}) is list:")
    w.line(indent + 1, f"{target}.extend(x for x in {value} if not _empty(x))")
    w.line(indent, f"elif {_present(value)}:")
    w.line(indent + 1, f"{target}.append({value})")


def _present(value: str) -> str:
    """engine._is_empty, inlined: None, "", [] and {} are absent; 0 and False are values."""
    return f"({value} is not None and (type({value}) not in _CONTAINERS or {value}))"


_EMITTERS = {
    e._Path: _emit_path,
    e._When: _emit_when,
    e._Each: _emit_each,
    e._Include: _emit_include,
    e._Object: _emit_object,
    e._Array: _emit_array,
}
