"""Clinical fidelity: what a record held, and how much of it reached FHIR.

Every Event item in a record is counted by kind (a ClinicalCode with a Value
is "numeric", one without is "coded"; other items by element name, whatever
the name — so a kind nobody has seen before shows up rather than vanishing).
An item counts as mapped when a resource names it in an event-item
identifier (a blood-pressure Observation names both its readings). The report holds counts only,
never record content, so it can be logged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

EVENT_ITEM_SYSTEM = "urn:systmone:id:event-item"


@dataclass
class FidelityReport:
    mapped: Counter = field(default_factory=Counter)
    unmapped: Counter = field(default_factory=Counter)

    def add(self, other: FidelityReport) -> None:
        self.mapped.update(other.mapped)
        self.unmapped.update(other.unmapped)

    def log_line(self) -> str:
        """Counts by kind on one line: ``mapped numeric=41; unmapped coded=12 Medication=9``."""
        def counts(counter: Counter) -> str:
            return " ".join(f"{kind}={count}" for kind, count in sorted(counter.items())) or "-"
        return f"mapped {counts(self.mapped)}; unmapped {counts(self.unmapped)}"


def item_kind(item: etree._Element) -> str:
    if item.tag == "ClinicalCode":
        return "numeric" if item.find("Value") is not None else "coded"
    return str(item.tag)


def item_key(event: etree._Element, position: int) -> str:
    """The key the mappings use for an item: EventUID, '-', position in the Event."""
    return f"{event.get('EventUID', '')}-{position}"


def fidelity(record: etree._Element, resources: Iterable[dict]) -> FidelityReport:
    mapped_keys = _mapped_keys(resources)
    report = FidelityReport()
    for event in record.iterfind("Clinical/Event"):
        position = 0
        for item in event:
            if not isinstance(item.tag, str):
                continue
            if item.tag != "LinkedProblemUID":
                mapped = item_key(event, position) in mapped_keys
                counter = report.mapped if mapped else report.unmapped
                counter[item_kind(item)] += 1
            position += 1
    return report


def _mapped_keys(resources: Iterable[dict]) -> set[str]:
    keys = set()
    for resource in resources:
        for identifier in resource.get("identifier", []):
            if identifier.get("system") == EVENT_ITEM_SYSTEM:
                keys.add(identifier.get("value", ""))
    return keys
