"""Correspondence: referrals with their letters and replies, hospital letters, attachments.

Everything here is a document exchanged with another provider or scanned into
the record, each with its own document UID.
"""

from __future__ import annotations

import datetime as dt

from .. import people
from ..concepts import BY_KEY
from ..organisation import User
from .dates import _add_years, _between, _datetime
from .identifiers import DOCUMENT_UID, REFERRAL_UID
from .items import (
    AttachmentItem,
    CodeItem,
    EventSpec,
    Item,
    LetterItem,
    NarrativeItem,
    ReferralItem,
)
from .profile import _band
from .timeline import Timeline


def _name_of(user: User) -> tuple[str, str, str]:
    return user.title, user.first_name, user.surname


# Referrals that follow a diagnosis: condition -> (chance, service, provider,
# clinicians' specialty, reason, kind of the reply letter).
_CONDITION_REFERRALS = {
    "atrial_fibrillation": (0.7, "Cardiology", people.AIRE_VALLEY_HOSPITAL, "Cardiology",
                            "New AF; rate control & anticoagulation started. ?Echo.",
                            "Outpatient letter"),
    "osteoarthritis": (0.45, "Physiotherapy", people.COMMUNITY_MSK, "Physiotherapy",
                       "Knee & hip pain with OA. For exercise programme.", "Discharge letter"),
    "depression": (0.5, "Talking therapies", people.TALKING_THERAPIES, "Talking Therapies",
                   "Low mood & anxiety. Pt keen on CBT.", "Assessment letter"),
    "type2_diabetes": (0.4, "Diabetes structured education", people.DIABETES_SERVICE,
                       "Diabetes", "Newly diagnosed type 2 diabetes, for education course.",
                       "Attendance letter"),
    "copd": (0.3, "Pulmonary rehabilitation", people.RESPIRATORY_SERVICE, "Respiratory",
             "COPD with MRC dyspnoea scale 3. For pulmonary rehab.", "Discharge letter"),
}


def _referrals(timeline: Timeline) -> None:
    rng, profile = timeline.rng, timeline.profile
    for key, diagnosed in sorted(profile.conditions.items(), key=lambda pair: pair[1]):
        plan = _CONDITION_REFERRALS.get(key)
        if plan is not None and rng.random() < plan[0]:
            day = diagnosed + dt.timedelta(days=rng.randint(7, 90))
            _refer(timeline, day, *plan[1:5], "Routine", plan[5])
    age = timeline.age(timeline.as_of)
    start, end = profile.history_start, timeline.as_of
    oa = profile.conditions.get("osteoarthritis")
    if oa is not None and timeline.age(oa) >= 60 and rng.random() < 0.25:
        _refer(timeline, oa + dt.timedelta(days=rng.randint(200, 900)), "Orthopaedics",
               people.AIRE_VALLEY_HOSPITAL, "Orthopaedics",
               "Severe hip OA despite analgesia & physio; for consideration of THR.",
               "Routine", "Outpatient letter")
    if age >= 18 and rng.random() < 0.04:
        _refer(timeline, _between(rng, max(start, _add_years(timeline.person.date_of_birth, 18)),
                                  end), "Physiotherapy", people.COMMUNITY_MSK, "Physiotherapy",
               "Mechanical low back pain > 6/52, no red flags.", "Routine", "Discharge letter")
    if age >= 30 and rng.random() < 0.02:
        _refer(timeline, _between(rng, max(start, _add_years(timeline.person.date_of_birth, 30)),
                                  end), "Dermatology", people.AIRE_VALLEY_HOSPITAL, "Dermatology",
               "Changing pigmented lesion on back, ?melanoma.", "Two week wait",
               "Outpatient letter")


def _refer(timeline: Timeline, day: dt.date, service: str, provider: people.Provider,
           specialty: str, reason: str, urgency: str, reply_kind: str) -> None:
    """An outgoing referral with its letter and, once seen, the service's reply."""
    rng = timeline.rng
    referred = timeline.in_range(day)
    if referred is None:
        return
    uid = timeline.uid(REFERRAL_UID)
    wait = rng.randint(7, 14) if urgency == "Two week wait" else rng.randint(28, 120)
    replied = timeline.in_range(referred + dt.timedelta(days=wait))
    if replied is not None and replied <= referred:
        replied = None
    gp, clinician = timeline.gp(), rng.choice(people.CLINICIANS[specialty])
    practice = timeline.staff.sites[0]
    practice_address = tuple((tag, value) for tag, value in practice.address.items() if value)
    referral = ReferralItem(uid, "Outgoing", service, provider.name, reason, urgency,
                            "Closed" if replied else "Awaiting appointment", replied)
    letter = LetterItem((clinician.title, clinician.first_name, clinician.surname),
                        provider.name, _name_of(gp), practice.name, practice_address,
                        timeline.uid(DOCUMENT_UID), "Referral letter", "Outgoing",
                        _datetime(rng, referred))
    timeline.add(referred, gp, [referral, letter])
    if replied is not None:
        usual = timeline.person.usual_gp
        reply = LetterItem(_name_of(usual), practice.name,
                           (clinician.title, clinician.first_name, clinician.surname),
                           provider.name, provider.address, timeline.uid(DOCUMENT_UID),
                           reply_kind, "Incoming", _datetime(rng, replied))
        timeline.add(replied, timeline.gp(), [reply], linked_referral=uid)


def _incoming_letter(timeline: Timeline, day: dt.date, provider: people.Provider,
                     specialty: str, kind: str) -> LetterItem:
    rng, practice = timeline.rng, timeline.staff.sites[0]
    clinician = rng.choice(people.CLINICIANS[specialty])
    return LetterItem(_name_of(timeline.person.usual_gp), practice.name,
                      (clinician.title, clinician.first_name, clinician.surname),
                      provider.name, provider.address, timeline.uid(DOCUMENT_UID), kind,
                      "Incoming", _datetime(rng, day))


_ED_REASONS = ("Fall at home, laceration to scalp closed with glue.",
               "Chest pain; ECG & troponin normal. Discharged.",
               "Sprained L ankle, X-ray NAD. Advice given.",
               "Wrist injury, X-ray showed distal radius fracture; fracture clinic.")
_ADMISSION_REASONS = ("Admitted with community-acquired pneumonia; IV then oral antibiotics.",
                      "Admitted with urinary tract infection & delirium; resolved.",
                      "Admitted with exacerbation of breathlessness; improved with treatment.")


def _hospital_letters(timeline: Timeline, frail: bool, history_scale: float) -> None:
    """Emergency department attendances and admissions, commoner with age and frailty."""
    rng = timeline.rng
    day = timeline.profile.history_start
    while history_scale > 0:
        rate = _band(timeline.age(day), ((16, 0.06), (65, 0.05), (80, 0.12), (200, 0.25)))
        rate *= (1.6 if frail else 1.0) * history_scale
        day += dt.timedelta(days=max(1, int(rng.expovariate(rate) * 365.25)))
        if day > timeline.as_of:
            return
        received = day + dt.timedelta(days=rng.randint(1, 5))
        if rng.random() < 0.6:
            letter = _incoming_letter(timeline, received, people.AIRE_VALLEY_HOSPITAL,
                                      "Emergency Medicine", "A&E attendance")
            note = rng.choice(_ED_REASONS)
        else:
            letter = _incoming_letter(timeline, received, people.AIRE_VALLEY_HOSPITAL,
                                      "Acute Medicine", "Discharge summary")
            note = rng.choice(_ADMISSION_REASONS)
        timeline.add(received, timeline.gp(), [letter, timeline.narrative(note)])


def _eye_screening(timeline: Timeline) -> None:
    """Diabetic eye screening every year after diagnosis; the result comes as a letter."""
    rng = timeline.rng
    diagnosed = timeline.profile.conditions.get("type2_diabetes")
    if diagnosed is None:
        return
    day = diagnosed + dt.timedelta(days=rng.randint(60, 200))
    while day <= timeline.as_of:
        if rng.random() < 0.85:
            received = day + dt.timedelta(days=rng.randint(10, 30))
            timeline.add(received, timeline.hca(), [_incoming_letter(
                timeline, received, people.EYE_SCREENING, "Eye Screening", "Screening result")])
        day += dt.timedelta(days=rng.randint(330, 420))


def _attach(timeline: Timeline, day: dt.date, user: User, file_name: str, comments: str,
            size: tuple[int, int] = (40_000, 600_000), code: str | None = None) -> None:
    """An attachment, with the procedure's code (``code``, a concept key) if it has one."""
    rng = timeline.rng
    held = code is not None and (BY_KEY[code].ctv3 is not None or timeline.snomed_era(day))
    items: list[Item] = [CodeItem(BY_KEY[code])] if held and code is not None else []
    items.append(AttachmentItem(file_name, rng.randint(*size), timeline.uid(DOCUMENT_UID),
                                comments))
    timeline.add(day, user, items)


def _attachments(timeline: Timeline, existing: list[EventSpec]) -> None:
    """Scanned and clinical documents that are not letters."""
    rng, profile = timeline.rng, timeline.profile
    af = profile.conditions.get("atrial_fibrillation")
    if af is not None and rng.random() < 0.6:
        _attach(timeline, af, timeline.gp(), "ECG.pdf",
                f"12-lead ECG: atrial fibrillation, ventricular rate {rng.randint(88, 130)}.",
                code="ecg")
    copd = profile.conditions.get("copd")
    if copd is not None and rng.random() < 0.6:
        _attach(timeline, copd, timeline.nurse(), "Spirometry report.pdf",
                f"Post-bronchodilator FEV1/FVC {rng.randint(52, 68) / 100:.2f}.",
                code="spirometry")
    registered = timeline.person.care_start
    if (registered >= profile.history_start and timeline.age(registered) >= 16
            and rng.random() < 0.25):
        _attach(timeline, registered + dt.timedelta(days=rng.randint(14, 60)),
                rng.choice(timeline.staff.admins or timeline.staff.gps),
                "Previous GP record summary.pdf", "Scanned summary from previous practice.",
                (300_000, 2_500_000))
    for event in existing:
        text = " ".join(line for item in event.items if isinstance(item, NarrativeItem)
                        for line in item.lines)
        if "Fit note issued" in text and rng.random() < 0.15:
            _attach(timeline, event.when.date(), event.user, "Fit note.pdf",
                    "Copy of fit note issued.", (20_000, 90_000))
        elif "Rash on forearm" in text and rng.random() < 0.1:
            _attach(timeline, event.when.date(), event.user, "Rash photo.jpg",
                    "Photo of rash, taken with pt's consent.", (800_000, 2_500_000))
