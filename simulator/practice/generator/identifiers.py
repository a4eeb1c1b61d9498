"""Identifiers derived from ``(seed, index)``: NHS numbers, pseudo numbers, SRIs and UIDs.

They live apart because every other part of the generator needs them and they
must never draw from a patient's random streams: each is a seed-dependent
permutation of the index, so a patient keeps its numbers whatever the practice
size, and the kinds of UID (events, problems, letters...) are numbered here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

#: The NHS-number scheme below gives each index its own 5-digit block.
MAX_PATIENTS = 100_000


def _digest(*parts: object) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _permutation(seed: int, purpose: str, modulus: int) -> Callable[[int], int]:
    """A seed-dependent bijection on 0..modulus-1 (an affine map)."""
    multiplier = _digest(seed, purpose, "a") % modulus or 1
    while math.gcd(multiplier, modulus) != 1:
        multiplier += 1
    offset = _digest(seed, purpose, "c") % modulus
    return lambda index: (multiplier * index + offset) % modulus


def _nhs_check_digit(nine_digits: str) -> int | None:
    weights = range(10, 1, -1)
    total = sum(int(digit) * weight for digit, weight in zip(nine_digits, weights, strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def nhs_number(seed: int, index: int) -> str:
    """A valid test-range NHS number ("999..."), unique per index.

    Digits 4-8 are a permutation of the index; digit 9 is the first value that
    makes the modulus-11 check digit valid (changing it always finds one).
    """
    block = f"999{_permutation(seed, 'nhs', MAX_PATIENTS)(index):05d}"
    for filler in range(10):
        check = _nhs_check_digit(f"{block}{filler}")
        if check is not None:
            return f"{block}{filler}{check}"
    raise AssertionError("unreachable: a filler digit always gives a valid check digit")


def pseudo_number(seed: int, index: int) -> str:
    return f"9000{_permutation(seed, 'pseudo', 1_000_000)(index):06d}"


def strategic_reporting_id(seed: int, index: int) -> int:
    return 1_000_000 + _permutation(seed, "sri", 9_000_000)(index)


def _uid(sri: str, counter: int, kind: int) -> str:
    """16 lower-hex digits: the patient's SRI, a counter and the kind of item."""
    return f"{int(sri):08x}{counter:06x}{kind:02x}"


EVENT_UID, PROBLEM_UID, APPOINTMENT_UID, REFERRAL_UID, DOCUMENT_UID, VISIT_UID, TASK_UID = (
    0, 1, 2, 3, 4, 5, 6)
