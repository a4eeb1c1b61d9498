"""Drug sensitivities: the allergies and intolerances a record holds, mostly penicillin.

A small table of sensitivities with their weights and reactions, kept apart
from the rest of the care records because it is self-contained.
"""

from __future__ import annotations

from ..concepts import BY_KEY, DRUG_BY_KEY, INGREDIENT_BY_KEY
from .dates import SNOMED_ERA, _between
from .items import CodeItem, SensitivityItem
from .timeline import Timeline

# Drug sensitivities: (weight, drug key or None for an ingredient-level entry,
# ingredient keys, reactions).
_SENSITIVITIES = (
    (45, None, ("penicillin",), ("Rash", "Urticaria", "Facial swelling",
                                 "Rash as a child, details unknown")),
    (22, "amoxicillin", ("amoxicillin",), ("Rash", "Urticarial rash", "Vomiting & diarrhoea")),
    (9, "ibuprofen", ("ibuprofen",), ("Indigestion", "Wheeze")),
    (5, None, ("nsaids",), ("Wheeze", "GI bleed on NSAID")),
    (4, None, ("aspirin",), ("Wheeze", "Angioedema")),
    (9, "codeine", ("codeine",), ("Nausea & vomiting", "Constipation & drowsiness")),
    (6, "trimethoprim", ("trimethoprim",), ("Rash",)),
    (3, None, ("latex",), ("Contact dermatitis",)),
)
_NSAID_ENTRIES = (2, 3, 4)


def _sensitivities(timeline: Timeline) -> None:
    """About one patient in ten has a drug allergy or intolerance, mostly penicillin.

    Of the others, about a third have "no known (drug) allergy" recorded as a plain
    code (in SNOMED CT: no CTV3 pair is held for it).
    """
    rng, profile = timeline.rng, timeline.profile
    asthma = "asthma" in profile.conditions
    if rng.random() >= (0.15 if asthma else 0.11):
        _no_known_allergy(timeline)
        return
    weights = [entry[0] * (3 if asthma and number in _NSAID_ENTRIES else 1)
               for number, entry in enumerate(_SENSITIVITIES)]
    count = 2 if rng.random() < 0.15 else 1
    chosen = sorted(set(rng.choices(range(len(_SENSITIVITIES)), weights=weights, k=count)))
    for number in chosen:
        _, drug_key, ingredient_keys, reactions = _SENSITIVITIES[number]
        registered = timeline.person.care_start
        if registered >= profile.history_start and rng.random() < 0.5:
            day = registered  # declared at registration
        else:
            day = _between(rng, profile.history_start, timeline.as_of)
        end, unknown = None, False
        if drug_key is None and ingredient_keys == ("penicillin",) and rng.random() < 0.08:
            end = _between(rng, day, timeline.as_of)  # de-labelled after testing
        elif rng.random() < 0.03:
            unknown = True
        item = SensitivityItem(DRUG_BY_KEY[drug_key] if drug_key else None,
                               tuple(INGREDIENT_BY_KEY[key] for key in ingredient_keys),
                               rng.choice(reactions), end, unknown)
        timeline.add(day, timeline.gp(), [item])


def _no_known_allergy(timeline: Timeline) -> None:
    rng = timeline.rng
    if rng.random() >= 0.3:
        return
    start = max(timeline.profile.history_start, SNOMED_ERA)  # held in SNOMED CT only
    if start > timeline.as_of:
        return
    registered = timeline.person.care_start
    if registered >= start and rng.random() < 0.6:
        day = registered  # asked at registration
    else:
        day = _between(rng, start, timeline.as_of)
    key = "no_known_drug_allergy" if rng.random() < 0.7 else "no_known_allergy"
    timeline.add(day, timeline.gp(), [CodeItem(BY_KEY[key])])
