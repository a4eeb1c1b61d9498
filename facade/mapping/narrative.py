"""Generated narrative (``text``) for mapped resources: a short human-readable summary.

Built from the mapped resource itself, so it always says what the data says.
All text is escaped; the result is the XHTML FHIR requires.
"""

from __future__ import annotations

from html import escape
from typing import Any

XHTML = "http://www.w3.org/1999/xhtml"


def add_narrative(resource: dict[str, Any]) -> None:
    summary = _SUMMARIES.get(resource.get("resourceType"), lambda _: None)(resource)
    if summary:
        resource["text"] = {"status": "generated",
                            "div": f'<div xmlns="{XHTML}"><p>{summary}</p></div>'}


def _patient(patient: dict) -> str | None:
    name = next((n for n in patient.get("name", []) if n.get("use") == "official"),
                (patient.get("name") or [{}])[0])
    names = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    facts = [f"born {patient['birthDate']}" if "birthDate" in patient else "",
             patient.get("gender", "")]
    nhs = next((i["value"] for i in patient.get("identifier", [])
                if i.get("system") == "https://fhir.nhs.uk/Id/nhs-number"), None)
    if nhs:
        facts.append(f"NHS number {nhs}")
    return escape(", ".join(part for part in [names, *facts] if part)) or None


def _observation(observation: dict) -> str | None:
    label = observation.get("code", {}).get("text") or "Observation"
    if "component" in observation:
        values = [_quantity(c.get("valueQuantity", {})) for c in observation["component"]]
        units = {c.get("valueQuantity", {}).get("unit", "") for c in observation["component"]}
        value = "/".join(v.split(" ")[0] for v in values)
        value += f" {units.pop()}" if len(units) == 1 else ""
    elif "valueQuantity" in observation:
        value = _quantity(observation["valueQuantity"])
    else:
        value = observation.get("valueCodeableConcept", {}).get("text", "")
    when = observation.get("effectiveDateTime", "")[:16].replace("T", " ")
    text = f"<b>{escape(label)}</b>: {escape(value.strip())}"
    return f"{text} ({escape(when)})" if when else text


def _quantity(quantity: dict) -> str:
    comparator = quantity.get("comparator", "")
    return f"{comparator}{quantity.get('value', '')} {quantity.get('unit', '')}".strip()


_SUMMARIES = {"Patient": _patient, "Observation": _observation}
