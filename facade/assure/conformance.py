"""Each message of the run checked against the schemas: the project's, and TPP's own.

Requests are validated against the project's ``<Function>.request`` schema and,
when TPP's request XSDs are at hand (``request-schemas/<Function>-v1.0.xsd``
from TPP's published specification, kept beside a development checkout and
never copied into the product), against TPP's too. TPP's XSDs (v1.0, 2022) lag
the v33.4 specification; where they disagree the specification is followed, by
these deviations applied to an in-memory copy of each schema:

1. children of ``FunctionParameters`` and ``Identity`` are optional (TPP's own
   comments: "at least two of the above", "Either NHSNumber, PseudoNumber or
   ClientID is required, but only one");
2. ``OutputScheme`` is allowed after ``FunctionVersion`` (documented for every
   request, missing from the XSDs);
3. GetPatientRecord may carry the ``Filter`` the specification documents (its
   content is checked by the project's schema, which lists every filter);
4. ``FunctionVersion`` is fixed to "1.0", the text every TPP template sends
   (the XSDs fix the decimal 1, which libxml2 compares as text);
5. GetDocument takes ``WriteTo`` after ``DocumentUID`` (the specification and
   TPP's GetDocument template send it; the function cannot work without it).

Replies are validated against ``<Function>.response`` or, for an error reply,
``error.response``.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from ..protocol import schemas
from ..protocol.xmlsafe import MalformedDocument, parse_document

XS = "http://www.w3.org/2001/XMLSchema"
NS = {"xs": XS}
#: Where TPP's reference material sits beside a development checkout.
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tpp"
DEVIATIONS = (
    "children of FunctionParameters and Identity optional (TPP's own comments)",
    "OutputScheme allowed after FunctionVersion (specified for every request)",
    "GetPatientRecord's Filter allowed (specified; checked by the project's schema)",
    "FunctionVersion fixed to the text 1.0 (every TPP template sends it)",
    "GetDocument's WriteTo allowed after DocumentUID (specified; TPP's template sends it)",
)
_LOCK = threading.Lock()  # a compiled schema keeps its error log on itself


@dataclass(frozen=True)
class Check:
    """One message's verdict: each schema it was checked against, and the first problem."""

    schemas: tuple[str, ...]
    problem: str = ""

    @property
    def valid(self) -> bool:
        return not self.problem


def default_tpp_dir() -> Path | None:
    folder = REFERENCE / "request-schemas"
    return folder if folder.is_dir() else None


class Conformance:
    """Validates requests and replies; ``tpp_dir`` None: the project's schemas only."""

    def __init__(self, tpp_dir: Path | None) -> None:
        self.tpp_dir = tpp_dir

    def request(self, raw: bytes) -> Check:
        try:
            root = parse_document(raw)
        except MalformedDocument as error:
            return Check((), f"not well-formed XML: {error}")
        function = (root.findtext("Function") or "").strip()
        ours = f"{function}.request"
        if ours not in schemas.names():
            return Check((), f"no schema for function {function!r}")
        checked = [ours]
        try:
            schemas.validate(root, ours)
        except schemas.SchemaViolation as violation:
            return Check(tuple(checked), f"{ours}: {violation}")
        tpp = self.tpp_schema(function)
        if tpp is not None:
            name = f"TPP {function}-v1.0.xsd"
            checked.append(name)
            with _LOCK:
                if not tpp.validate(root):
                    error = tpp.error_log.last_error
                    return Check(tuple(checked), f"{name}: line {error.line}: {error.message}")
        return Check(tuple(checked))

    def reply(self, raw: bytes) -> Check:
        try:
            root = parse_document(raw)
        except MalformedDocument as error:
            return Check((), f"not well-formed XML: {error}")
        function = (root.findtext("Function") or "").strip()
        name = "error.response" if root.find("Response/ErrorMessage") is not None \
            else f"{function}.response"
        if name not in schemas.names():
            name = "envelope.response"
        try:
            schemas.validate(root, name)
        except schemas.SchemaViolation as violation:
            return Check((name,), f"{name}: {violation}")
        return Check((name,))

    def tpp_schema(self, function: str) -> etree.XMLSchema | None:
        if self.tpp_dir is None:
            return None
        return deviated_tpp_schema(self.tpp_dir / f"{function}-v1.0.xsd")

    def tpp_files(self) -> dict[str, str]:
        """TPP's XSD files used, by name, with their SHA-256: which edition was applied."""
        if self.tpp_dir is None:
            return {}
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
                for path in sorted(self.tpp_dir.glob("*-v1.0.xsd"))}


@functools.cache
def deviated_tpp_schema(path: Path) -> etree.XMLSchema | None:
    if not path.is_file():
        return None
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    tree = etree.parse(str(path), parser)
    for container in ("FunctionParameters", "Identity"):
        for element in tree.xpath(f"//xs:element[@name='{container}']/xs:complexType/"
                                  "xs:sequence/xs:element", namespaces=NS):
            element.set("minOccurs", "0")  # deviation 1
    version = tree.xpath("//xs:element[@name='FunctionVersion']", namespaces=NS)
    if version:
        version[0].set("fixed", "1.0")  # deviation 4
        version[0].addnext(etree.fromstring(  # deviation 2
            f'<xs:element xmlns:xs="{XS}" name="OutputScheme" minOccurs="0"><xs:complexType>'
            '<xs:sequence><xs:element name="Drugs" minOccurs="0" type="xs:string"/>'
            '<xs:element name="Codes" minOccurs="0" type="xs:string"/></xs:sequence>'
            "</xs:complexType></xs:element>"))
    leave_open = tree.xpath("//xs:element[@name='LeaveRecordOpen']", namespaces=NS)
    if path.name.startswith("GetPatientRecord-") and leave_open:
        leave_open[0].addnext(etree.fromstring(  # deviation 3
            f'<xs:element xmlns:xs="{XS}" name="Filter" minOccurs="0"><xs:complexType>'
            '<xs:sequence><xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>'
            "</xs:sequence></xs:complexType></xs:element>"))
    uid = tree.xpath("//xs:element[@name='DocumentUID']", namespaces=NS)
    if path.name.startswith("GetDocument-") and uid:
        uid[0].addnext(etree.fromstring(  # deviation 5
            f'<xs:element xmlns:xs="{XS}" name="WriteTo" type="xs:string"/>'))
    return etree.XMLSchema(tree)
