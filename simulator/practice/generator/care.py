"""The rest of the record: care beyond consultations and prescribing, in a fixed order.

It runs on its own random stream (so the consultations above do not shift) and
calls the modules for drug sensitivities, immunisations, results, letters and
ongoing care in the order that keeps every record byte-identical.
"""

from __future__ import annotations

from .correspondence import _attachments, _eye_screening, _hospital_letters, _referrals
from .immunisations import _immunisations
from .items import Pending
from .ongoing_care import _care_plans, _home_visits, _open_tasks, _relationship, _reminders
from .results import _cervical_screening, _pathology_reports
from .sensitivities import _sensitivities
from .timeline import Timeline


def _care_records(timeline: Timeline, history_scale: float, pending: Pending) -> None:
    """Everything a GP record holds beyond consultations, reviews and prescriptions."""
    existing = list(timeline.events)
    frail = _frail(timeline)
    housebound = frail and timeline.rng.random() < 0.5
    _sensitivities(timeline)
    _immunisations(timeline)
    _pathology_reports(timeline, existing)
    _cervical_screening(timeline)
    _referrals(timeline)
    _hospital_letters(timeline, frail, history_scale)
    _eye_screening(timeline)
    _attachments(timeline, existing)
    _relationship(timeline)
    _reminders(timeline, housebound)
    _care_plans(timeline, frail)
    _home_visits(timeline, frail, housebound, history_scale, pending)
    _open_tasks(timeline, pending)


def _frail(timeline: Timeline) -> bool:
    age = timeline.age(timeline.as_of)
    return age >= 88 or (age >= 78 and len(timeline.profile.conditions) >= 2)
