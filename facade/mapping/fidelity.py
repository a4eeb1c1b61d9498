"""Clinical fidelity: what a record held, and how much of it reached FHIR, by kind of item.

Every item of a record is counted: each child of every ``Clinical/Event`` and of
``NonClinical``, whatever its name, so a kind nobody has seen before shows up
rather than vanishing. A ClinicalCode is "numeric" with a Value, "problem" with a
ProblemUID, else "coded"; other items go by element name (Medication,
DrugSensitivity, Narrative...). An item counts as served, as a type, when a
resource of that type names it in an event-item identifier; an item several
types name (an issue is a MedicationRequest and a MedicationStatement) counts once
for each, and is served once. The report holds counts only, never record content,
so it can be logged, cached and shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from .engine import item_key

EVENT_ITEM_SYSTEM = "urn:systmone:id:event-item"
#: Event children that link an Event to something else rather than record anything.
LINKS = frozenset({"LinkedProblemUID", "LinkedReferralUID"})

#: Kinds left unserved on purpose, and why (said in the report instead of "not yet"). Every
#: kind TPP's spec names is served today; a kind added here says why it is not.
NOT_SERVED_BECAUSE: dict[str, str] = {}


@dataclass
class FidelityReport:
    items: Counter = field(default_factory=Counter)  # kind → items in the record
    unserved: Counter = field(default_factory=Counter)  # kind → items no resource names
    served_as: Counter = field(default_factory=Counter)  # (kind, FHIR type) → items

    def add(self, other: FidelityReport) -> None:
        self.items.update(other.items)
        self.unserved.update(other.unserved)
        self.served_as.update(other.served_as)

    @property
    def total(self) -> int:
        return sum(self.items.values())

    @property
    def served(self) -> int:
        return self.total - sum(self.unserved.values())

    def types_of(self, kind: str) -> dict[str, int]:
        return {t: n for (k, t), n in sorted(self.served_as.items()) if k == kind}

    def rows(self) -> list[dict]:
        """One row per kind: items, served, served as (types), not served and why."""
        return [{"kind": kind, "items": count, "served": count - self.unserved[kind],
                 "served_as": self.types_of(kind), "not_served": self.unserved[kind],
                 "why": self.why(kind) if self.unserved[kind] else ""}
                for kind, count in sorted(self.items.items())]

    def why(self, kind: str) -> str:
        if self.types_of(kind):
            return "some items of this kind could not be mapped (no code, or a shape " \
                   "the mapping does not read)"
        return NOT_SERVED_BECAUSE.get(kind, "no resource type is made from this kind of item yet")

    def log_line(self) -> str:
        """Counts on one line: ``62 of 70 items served; not served: Narrative=5 Letter=3``."""
        missing = " ".join(f"{kind}={count}" for kind, count in sorted(self.unserved.items())
                           if count) or "none"
        return f"{self.served} of {self.total} items served; not served: {missing}"

    def not_served_outcome(self) -> dict | None:
        """An OperationOutcome naming the kinds of item the facade did not serve (None when
        everything was served): made once per fetched record, said with every search."""
        missing = {kind: count for kind, count in sorted(self.unserved.items()) if count}
        if not missing:
            return None
        counts = ", ".join(f"{kind} {count}" for kind, count in missing.items())
        return {"resourceType": "OperationOutcome", "issue": [{
            "severity": "information", "code": "incomplete",
            "diagnostics": f"The patient's record holds {sum(missing.values())} item(s) this "
                           f"server does not serve as FHIR: {counts}. Served: {self.served} of "
                           f"{self.total} items.",
            "details": {"coding": [
                {"system": "urn:systmone:fidelity:kind", "code": kind,
                 "display": f"{count} not served"} for kind, count in missing.items()]}}]}

    def to_json(self) -> dict:
        return {"items": dict(self.items), "unserved": dict(+self.unserved),
                "served_as": [[k, t, n] for (k, t), n in sorted(self.served_as.items())]}

    @classmethod
    def from_json(cls, data: dict) -> FidelityReport:
        return cls(Counter(data.get("items", {})), Counter(data.get("unserved", {})),
                   Counter({(k, t): n for k, t, n in data.get("served_as", [])}))


def item_kind(item: etree._Element) -> str:
    if item.tag == "ClinicalCode":
        if item.find("Value") is not None:
            return "numeric"
        return "problem" if item.find("ProblemUID") is not None else "coded"
    return str(item.tag)


def fidelity(record: etree._Element, resources: Iterable[dict]) -> FidelityReport:
    named = _named_items(resources)
    report = FidelityReport()
    for event in record.iterfind("Clinical/Event"):
        for item in event:
            if isinstance(item.tag, str) and item.tag not in LINKS:
                _count(report, item_kind(item), named.get(item_key(item), ()))
    for item in record.iterfind("NonClinical/*"):
        if isinstance(item.tag, str):  # appointments, visits, tasks: keyed by their own UIDs
            _count(report, item_kind(item), named.get(item_key(item), ()))
    return report


def _count(report: FidelityReport, kind: str, types: Iterable[str]) -> None:
    report.items[kind] += 1
    served = False
    for resource_type in types:
        report.served_as[(kind, resource_type)] += 1
        served = True
    if not served:
        report.unserved[kind] += 1


def _named_items(resources: Iterable[dict]) -> dict[str, set[str]]:
    """Item key → the FHIR types of the resources naming it."""
    named: dict[str, set[str]] = {}
    for resource in resources:
        for identifier in resource.get("identifier", ()):
            if identifier.get("system") == EVENT_ITEM_SYSTEM:
                named.setdefault(identifier.get("value", ""), set()).add(
                    resource["resourceType"])
    return named
