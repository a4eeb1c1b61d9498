"""The ``ClientIntegrationRequest`` / ``ClientIntegrationResponse`` envelopes.

Requests are built with lxml, never by string concatenation, so any value
(``O'Brien <&>]]>``) travels intact. Readers are lenient the way SystmOne is:
children in any order, ``FunctionParameters`` or ``OutputScheme`` missing.
Writers follow the specification's order exactly.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

from lxml import etree

from .xmlsafe import text_of, to_bytes, to_line

REQUEST_ROOT = "ClientIntegrationRequest"
RESPONSE_ROOT = "ClientIntegrationResponse"
FUNCTION_VERSION = "1.0"  # every current function is version 1.0

CODE_SCHEMES = ("CTV3", "Snomed")  # SystmOne's default first
DRUG_SCHEMES = ("Multilex", "Dmd")


@dataclass(frozen=True, slots=True)
class OutputScheme:
    """Which coding schemes the response should use; None leaves SystmOne's default."""

    codes: str | None = "Snomed"
    drugs: str | None = "Dmd"

    def __post_init__(self) -> None:
        if self.codes is not None and self.codes not in CODE_SCHEMES:
            raise ValueError(f"Codes must be one of {', '.join(CODE_SCHEMES)}, not {self.codes!r}")
        if self.drugs is not None and self.drugs not in DRUG_SCHEMES:
            raise ValueError(f"Drugs must be one of {', '.join(DRUG_SCHEMES)}, not {self.drugs!r}")

    @property
    def effective_codes(self) -> str:
        return self.codes or CODE_SCHEMES[0]

    @property
    def effective_drugs(self) -> str:
        return self.drugs or DRUG_SCHEMES[0]

    def to_element(self) -> etree._Element:
        element = etree.Element("OutputScheme")
        if self.drugs is not None:
            etree.SubElement(element, "Drugs").text = self.drugs
        if self.codes is not None:
            etree.SubElement(element, "Codes").text = self.codes
        return element

    @classmethod
    def from_element(cls, element: etree._Element | None) -> OutputScheme:
        """Read a request's OutputScheme; raises ValueError naming a bad scheme."""
        if element is None:
            return cls(codes=None, drugs=None)
        return cls(codes=text_of(element, "Codes") or None, drugs=text_of(element, "Drugs") or None)


SYSTMONE_DEFAULT_SCHEME = OutputScheme(codes=None, drugs=None)


@dataclass(frozen=True)
class Request:
    api_key: str
    device_id: str
    device_version: str
    request_uid: str
    function: str
    function_version: str = FUNCTION_VERSION
    output_scheme: OutputScheme | None = None
    #: The ``FunctionParameters`` element, or None when the request had none.
    parameters: etree._Element | None = field(default=None, compare=False)

    def to_element(self) -> etree._Element:
        root = _envelope(REQUEST_ROOT, _REQUEST_FIELDS, (
            self.api_key, self.device_id, self.device_version, self.request_uid, self.function,
            self.function_version))
        if self.output_scheme is not None:
            root.append(self.output_scheme.to_element())
        parameters = self.parameters
        root.append(parameters if parameters is not None else etree.Element("FunctionParameters"))
        return root

    def to_bytes(self) -> bytes:
        """On one line: a newline in a parameter's text is written ``&#10;``, so a peer
        that ends a document at its first newline still reads the whole request."""
        return to_line(self.to_element())

    @classmethod
    def from_element(cls, root: etree._Element) -> Request:
        """Read whatever envelope fields are present; missing ones read as ''.

        Raises ValueError for an OutputScheme naming an unknown scheme.
        """
        request, scheme_error = cls.read(root)
        if scheme_error:
            raise ValueError(scheme_error)
        return request

    @classmethod
    def read(cls, root: etree._Element) -> tuple[Request, str | None]:
        """Like ``from_element``, but a bad OutputScheme is returned, not raised.

        The simulator needs the rest of the envelope to answer such a request.
        """
        found = _children_by_tag(root)
        try:
            scheme, error = OutputScheme.from_element(found.get("OutputScheme")), None
        except ValueError as problem:
            scheme, error = None, str(problem)
        return cls(*_texts(found, _REQUEST_FIELDS), output_scheme=scheme,
                   parameters=found.get("FunctionParameters")), error


_REQUEST_FIELDS = ("APIKey", "DeviceID", "DeviceVersion", "RequestUID", "Function",
                   "FunctionVersion")


def _envelope(root_tag: str, tags: tuple[str, ...], values: tuple[str, ...]) -> etree._Element:
    root = etree.Element(root_tag)
    for tag, value in zip(tags, values, strict=True):
        etree.SubElement(root, tag).text = value
    return root


def _texts(found: dict[str, etree._Element], tags: tuple[str, ...]) -> list[str]:
    """Stripped text of each named child; '' when it is absent."""
    return [(found[tag].text or "").strip() if tag in found else "" for tag in tags]


def _children_by_tag(root: etree._Element) -> dict[str, etree._Element]:
    """First child of each name, found in one pass (children may come in any order)."""
    found: dict[str, etree._Element] = {}
    for child in root:
        if isinstance(child.tag, str):
            found.setdefault(child.tag, child)
    return found


@dataclass(frozen=True)
class ErrorReply:
    message: str
    permanent: bool


@dataclass(frozen=True)
class Response:
    device_id: str
    request_uid: str
    function: str
    function_version: str
    response_uid: str
    #: The ``Response`` element holding the function's results.
    body: etree._Element = field(compare=False)

    @property
    def error(self) -> ErrorReply | None:
        message = self.body.find("ErrorMessage")
        if message is None:
            return None
        permanent = (text_of(self.body, "PermanentError") or "true").lower() != "false"
        return ErrorReply((message.text or "").strip(), permanent)

    def to_element(self) -> etree._Element:
        root = _envelope(RESPONSE_ROOT, _RESPONSE_FIELDS, (
            self.device_id, self.request_uid, self.function, self.function_version,
            self.response_uid))
        root.append(self.body)
        return root

    def to_bytes(self) -> bytes:
        return to_bytes(self.to_element())

    @classmethod
    def from_element(cls, root: etree._Element) -> Response:
        """Read a response envelope; raises ValueError when it is not one."""
        if root.tag != RESPONSE_ROOT:
            raise ValueError(f"expected {RESPONSE_ROOT}, got root element {root.tag!r}")
        found = _children_by_tag(root)
        body = found.get("Response")
        if body is None:
            raise ValueError(f"{RESPONSE_ROOT} has no Response element")
        return cls(*_texts(found, _RESPONSE_FIELDS), body=body)


_RESPONSE_FIELDS = ("DeviceID", "RequestUID", "Function", "FunctionVersion", "ResponseUID")


def error_body(message: str, permanent: bool) -> etree._Element:
    body = etree.Element("Response")
    etree.SubElement(body, "ErrorMessage").text = message
    etree.SubElement(body, "PermanentError").text = "true" if permanent else "false"
    return body


def new_request_uid() -> str:
    """A GUID in the upper-case form TPP's examples use."""
    return str(uuid.uuid4()).upper()


def new_response_uid() -> str:
    """A time-based GUID like SystmOne's (``6F175F30-B338-11E3-9804-...``), random node."""
    return str(uuid.uuid1(node=secrets.randbits(48))).upper()
