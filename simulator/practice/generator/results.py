"""Results: pathology reports for the bloods a record shows, and cervical screening.

Reports are derived from the values already recorded (so a report always
matches its HbA1c, eGFR or cholesterol) and reach back REPORT_YEARS.
"""

from __future__ import annotations

import datetime as dt

from .dates import _add_years
from .items import ActivityItem, CodeItem, EventSpec, Item, NarrativeItem, RecallItem, ReportItem
from .timeline import Timeline

#: Electronic pathology reports reach back this many years (older results are values only).
REPORT_YEARS = 6


_LAB_BATTERY = {"hba1c": "HbA1c", "hba1c_dcct": "HbA1c", "egfr": "U&E", "creatinine": "U&E",
                "sodium": "U&E", "potassium": "U&E", "cholesterol": "Lipid profile",
                "cholesterol_hdl_ratio": "Lipid profile", "tsh": "TFT", "urine_acr": "Urine ACR",
                "haemoglobin": "FBC", "alt": "LFT"}
_LAB_LABEL = {"hba1c": "HbA1c", "hba1c_dcct": "HbA1c (DCCT)", "egfr": "eGFR",
              "creatinine": "Creatinine", "sodium": "Sodium", "potassium": "Potassium",
              "cholesterol": "Total cholesterol", "cholesterol_hdl_ratio": "Cholesterol/HDL ratio",
              "tsh": "TSH", "urine_acr": "Urine ACR", "haemoglobin": "Haemoglobin", "alt": "ALT"}
_SHOWN_COMPARATOR = {"6": "> ", "7": "< "}


def _pathology_reports(timeline: Timeline, existing: list[EventSpec]) -> None:
    """A lab report for every blood test of the last REPORT_YEARS years."""
    cutoff = _add_years(timeline.as_of, -REPORT_YEARS)
    for event in existing:
        day = event.when.date()
        if day < cutoff:
            continue
        labs = [item for item in event.items if isinstance(item, CodeItem)
                and item.concept.key in _LAB_LABEL and item.value is not None]
        if labs:
            _lab_report(timeline, day, labs)
        elif any(isinstance(item, NarrativeItem) and "loods requested" in " ".join(item.lines)
                 for item in event.items):
            _blood_screen_report(timeline, day)


def _lab_flag(timeline: Timeline, item: CodeItem) -> str:
    key, value = item.concept.key, float(item.value or 0)
    high_creatinine = 110 if timeline.person.sex == "M" else 90
    if (key == "hba1c" and value >= 48) or (key == "hba1c_dcct" and value >= 6.5) or (
            key == "creatinine" and value > high_creatinine) or (
            key == "cholesterol" and value > 6.5) or (key == "sodium" and value > 145) or (
            key == "potassium" and value > 5.3) or (key == "tsh" and value > 4.5) or (
            key == "urine_acr" and item.comparator is None and value >= 3):
        return " (H)"
    if (key == "egfr" and item.comparator is None and value < 60) or (
            key == "sodium" and value < 135) or (key == "potassium" and value < 3.5):
        return " (L)"
    return ""


def _lab_report(timeline: Timeline, collected: dt.date, labs: list[CodeItem]) -> None:
    rng = timeline.rng
    batteries = "; ".join(dict.fromkeys(_LAB_BATTERY[item.concept.key] for item in labs))
    parts, abnormal = [], False
    for item in labs:
        flag = _lab_flag(timeline, item)
        abnormal = abnormal or bool(flag)
        shown = _SHOWN_COMPARATOR.get(item.comparator or "", "") + (item.value or "")
        units = f" {item.concept.units}" if item.concept.units else ""
        parts.append(f"{_LAB_LABEL[item.concept.key]} {shown}{units}{flag}")
    issued = collected + dt.timedelta(days=rng.randint(1, 3))
    known = any(timeline.has(key, collected) for key in ("type2_diabetes", "ckd3"))
    if not abnormal:
        actions: tuple[str, ...] = ()
    elif known:
        actions = ("Discuss at next review",)
    else:
        actions = (rng.choice(("Make routine appointment", "Repeat test in 3 months")),)
    items: list[Item] = [ReportItem(batteries, issued, "Abnormal" if abnormal else "Normal",
                                    actions, "; ".join(parts), collected)]
    if abnormal and not known and rng.random() < 0.5:
        items.append(ActivityItem("Telephoned patient with results", "Patient", "Telephone",
                                  rng.choice((3, 5, 8))))
    timeline.add(issued, timeline.gp(), items)


_SCREEN_FINDINGS = ("Ferritin 9 ug/L (L) & Hb 108 g/L (L) - iron deficiency?",
                    "CRP 46 mg/L (H); FBC normal. Repeat in 2/52.",
                    "TSH 7.80 mU/L (H), free T4 normal - repeat in 3/12.")


def _blood_screen_report(timeline: Timeline, requested: dt.date) -> None:
    """A screen of bloods: the report, and the results filed as values with it."""
    rng = timeline.rng
    collected = requested + dt.timedelta(days=rng.randint(1, 7))
    issued = collected + dt.timedelta(days=rng.randint(1, 2))
    female = timeline.person.sex == "F"
    haemoglobin = str(round(rng.gauss(135 if female else 150, 9)))
    tsh = f"{rng.uniform(0.6, 3.9):.2f}"
    if rng.random() < 0.8:
        report = ReportItem("FBC; U&E; LFT; TFT; CRP", issued, "Normal", (),
                            "All results within reference ranges.", collected)
    else:
        finding = rng.choice(_SCREEN_FINDINGS)
        report = ReportItem("FBC; U&E; LFT; TFT; CRP; Ferritin", issued, "Abnormal",
                            ("Make routine appointment",), finding, collected)
        haemoglobin = "108" if finding.startswith("Ferritin") else haemoglobin
        tsh = "7.80" if finding.startswith("TSH") else tsh
    values = [timeline.measured("haemoglobin", haemoglobin), *timeline.electrolytes(),
              timeline.measured("alt", str(round(rng.uniform(9, 38)))),
              timeline.measured("tsh", tsh)]
    timeline.add(issued, timeline.gp(), [report, *values])


def _cervical_screening(timeline: Timeline) -> None:
    """Women of 25 to 64: three-yearly screening to 49, five-yearly after; most attend."""
    rng, person, profile = timeline.rng, timeline.person, timeline.profile
    if person.sex != "F":
        return
    attends = rng.random() < 0.75
    day = max(profile.history_start, _add_years(person.date_of_birth, 25))
    day += dt.timedelta(days=rng.randint(0, 300))
    while day <= timeline.as_of and timeline.age(day) < 65:
        if rng.random() >= (0.9 if attends else 0.25):
            day = _add_years(day, 1)
            continue
        hpv_primary = day >= dt.date(2019, 12, 1)
        positive = rng.random() < 0.1
        years = 1 if positive else 3 if timeline.age(day) < 50 else 5
        due = _add_years(day, years)
        timeline.add(day, timeline.nurse(), [
            timeline.narrative("Cervical screening: sample taken (LBC). Pt consented."),
            RecallItem(due, "Cervical screening", f"Next screening in {years} year(s).",
                       "Pending" if due > timeline.as_of else "Seen")])
        issued = day + dt.timedelta(days=rng.randint(10, 28))
        if hpv_primary:
            batteries = "Cervical screening (HPV primary)"
            comments = ("HPV detected; cytology negative. Recall in 12 months." if positive
                        else "HPV not detected. Routine recall.")
        else:
            batteries = "Cervical cytology (LBC)"
            comments = ("Borderline changes. HPV triage negative; recall in 12 months."
                        if positive else "Negative. Routine recall.")
        timeline.add(issued, timeline.gp(), [ReportItem(
            batteries, issued, "Abnormal" if positive else "Normal",
            ("Early recall",) if positive else (), comments, day)])
        day = due + dt.timedelta(days=rng.randint(0, 90))
