"""Patient identity as SystmOne's ``Identity`` element carries it.

A request names a patient by exactly one of ``NHSNumber``, ``PseudoNumber``
(an NHS-number-like id for records without one) or ``ClientID`` (e.g. a prison
number). Responses add ``StrategicReportingIdentifier``, which must never be
sent. TPP's own templates spell the first ``NhsNumber``; SystmOne accepts both,
so readers accept both and writers use the specification's ``NHSNumber``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

IdentityKind = Literal["NHSNumber", "PseudoNumber", "ClientID"]
IDENTITY_KINDS: tuple[IdentityKind, ...] = ("NHSNumber", "PseudoNumber", "ClientID")
# Spellings seen on the wire, mapped to the canonical element name.
_ALIASES = {"NHSNumber": "NHSNumber", "NhsNumber": "NHSNumber",
            "PseudoNumber": "PseudoNumber", "ClientID": "ClientID"}


class IdentityError(ValueError):
    """An ``Identity`` element that does not name exactly one patient."""


@dataclass(frozen=True, slots=True)
class Identity:
    kind: IdentityKind
    value: str

    def __post_init__(self) -> None:
        if self.kind not in IDENTITY_KINDS:
            raise IdentityError(f"unknown identity kind {self.kind!r}")
        if not self.value or self.value != self.value.strip():
            raise IdentityError(f"{self.kind} must be a non-empty value without spaces")

    @classmethod
    def nhs_number(cls, value: str) -> Identity:
        return cls("NHSNumber", value)

    def to_element(self) -> etree._Element:
        identity = etree.Element("Identity")
        etree.SubElement(identity, self.kind).text = self.value
        return identity

    @classmethod
    def from_element(cls, element: etree._Element) -> Identity:
        """Read the one identifying child; ``StrategicReportingIdentifier`` is ignored."""
        found = [(child.tag, (child.text or "").strip()) for child in element
                 if isinstance(child.tag, str) and child.tag in _ALIASES]
        if len(found) != 1:
            raise IdentityError(
                "Identity must contain exactly one of NHSNumber, PseudoNumber or ClientID")
        tag, value = found[0]
        return cls(_ALIASES[tag], value)  # type: ignore[arg-type]


def strategic_reporting_id(element: etree._Element) -> str | None:
    """The response-only StrategicReportingIdentifier of an ``Identity`` element."""
    value = element.findtext("StrategicReportingIdentifier")
    return value.strip() if value else None


def nhs_number_is_valid(value: str) -> bool:
    """Modulus 11 check of a ten-digit NHS number."""
    if len(value) != 10 or not value.isdigit():
        return False
    weights = range(10, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(value[:9], weights, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])
