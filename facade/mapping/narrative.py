"""Generated narrative (``text``) for mapped resources: a short human-readable summary.

Built from the mapped resource itself, so it always says what the data says, and
from FHIR's own element names rather than from a table per type: a person (an
element ``name`` holding HumanNames) is named with their birth date, gender and NHS
number; anything else is its concept in bold (``code``, ``vaccineCode``, the
medication's name), what was found or decided (a value, components, a status, a
dosage) and when. All text is escaped; the result is the XHTML FHIR requires.
"""

from __future__ import annotations

from html import escape
from typing import Any

XHTML = "http://www.w3.org/1999/xhtml"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

#: Where a resource names what it is about, in order of preference.
CONCEPTS = ("code", "vaccineCode", "medicationCodeableConcept")
#: What was found or decided, in order of preference.
FINDINGS = ("valueQuantity", "component", "valueCodeableConcept", "clinicalStatus",
            "dosageInstruction", "dosage", "protocolApplied", "valueString")
#: When, in order of preference.
TIMES = ("effectiveDateTime", "onsetDateTime", "occurrenceDateTime", "authoredOn",
         "recordedDate", "effectivePeriod", "dateAsserted", "period")


def add_narrative(resource: dict[str, Any]) -> None:
    summary = summary_of(resource)
    if summary:
        resource["text"] = {"status": "generated",
                            "div": f'<div xmlns="{XHTML}"><p>{summary}</p></div>'}


def summary_of(resource: dict[str, Any]) -> str | None:
    if isinstance(resource.get("name"), list) and resource["name"] and \
            isinstance(resource["name"][0], dict):
        return _person(resource)
    label = next((_concept(resource[name]) for name in CONCEPTS if name in resource), "")
    label = label or _reference_display(resource) or resource.get("resourceType", "")
    finding = next((_finding(name, resource[name]) for name in FINDINGS if name in resource),
                   "")
    when = next((_when(resource[name]) for name in TIMES if name in resource), "")
    text = f"<b>{escape(label)}</b>"
    if finding.strip():
        text += f": {escape(finding.strip())}"
    return f"{text} ({escape(when)})" if when else text


def _person(resource: dict) -> str | None:
    name = next((n for n in resource["name"] if n.get("use") == "official"), resource["name"][0])
    names = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    facts = [f"born {resource['birthDate']}" if "birthDate" in resource else "",
             resource.get("gender", "")]
    nhs = next((i["value"] for i in resource.get("identifier", [])
                if i.get("system") == NHS_NUMBER_SYSTEM), None)
    if nhs:
        facts.append(f"NHS number {nhs}")
    return escape(", ".join(part for part in [names, *facts] if part)) or None


def _concept(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    return concept.get("text") or next(
        (c.get("display") or c.get("code", "") for c in concept.get("coding", [])), "")


def _reference_display(resource: dict) -> str:
    reference = resource.get("medicationReference")
    return reference.get("display", "") if isinstance(reference, dict) else ""


def _finding(name: str, value: Any) -> str:
    if name == "valueQuantity":
        return _quantity(value)
    if name == "component":
        values = [_quantity(c.get("valueQuantity", {})) for c in value]
        units = {c.get("valueQuantity", {}).get("unit", "") for c in value}
        joined = "/".join(v.split(" ")[0] for v in values)
        return joined + (f" {units.pop()}" if len(units) == 1 else "")
    if name in ("dosageInstruction", "dosage"):
        return "; ".join(d.get("text", "") for d in value if isinstance(d, dict))
    if name == "protocolApplied":
        return "; ".join(p.get("doseNumberString", "") for p in value if isinstance(p, dict))
    if name == "valueString":  # free text (a comment note): as written
        return value
    return _concept(value)


def _quantity(quantity: dict) -> str:
    comparator = quantity.get("comparator", "")
    return f"{comparator}{quantity.get('value', '')} {quantity.get('unit', '')}".strip()


def _when(value: Any) -> str:
    if isinstance(value, dict):  # a Period
        value = value.get("start", "")
    return str(value)[:16].replace("T", " ") if isinstance(value, str) else ""
