"""Which patient a searched identifier names, checked before anything is asked of SystmOne.

``Patient?identifier=``, ``Patient/$everything?identifier=`` and the chained
``patient.identifier=`` of every record type read their value here. The Patients served
carry the NHS number (``https://fhir.nhs.uk/Id/nhs-number``) and, for a record without
one, SystmOne's pseudo-number or client id under the facade's own systems: a value
under one of these systems names that SystmOne identity; a bare value is an NHS number.

Two mistakes are refused as GP Connect refuses them (400, issue type ``value``, the Spine
error code in ``details``), rather than answered with an empty Bundle:

- an NHS number that is not ten digits or fails its modulus 11 check (INVALID_NHS_NUMBER):
  no patient can have it, and an empty answer would read as "not registered here";
- a system the Patients served never carry (INVALID_IDENTIFIER_SYSTEM). FHIR alone would
  answer a token of another system with an empty Bundle (nothing carries it); but every
  such system certainly matches nothing here, so the 400 loses no answer, and it turns a
  mistyped system (``http://`` for ``https://``, GP Connect 0.7's
  ``http://fhir.nhs.net/Id/nhs-number``) from a false "no such patient" into a mistake the
  caller sees. docs/api.md says so.

Diagnostics name the parameter and what is wrong, never the number itself (a mistyped
NHS number may be one digit from a real one).
"""

from __future__ import annotations

from mappings import systems

from ..protocol.identity import Identity, IdentityKind, nhs_number_is_valid
from ..protocol.xmlsafe import xml_can_hold
from .outcome import FhirError, spine_error

NHS_NUMBER_SYSTEM = systems.NHS_NUMBER
#: The identifier systems of the Patients served, and the SystmOne identity each names.
PATIENT_SYSTEMS: dict[str, IdentityKind] = {
    systems.NHS_NUMBER: "NHSNumber",
    systems.SYSTMONE_PSEUDO_NUMBER: "PseudoNumber",
    systems.SYSTMONE_CLIENT_ID: "ClientID",
}


def patient_identity(param: str, value: str) -> Identity:
    """The SystmOne identity ``system|value`` (or a bare NHS number) names; FhirError 400
    when it names nobody this server could ask for."""
    if "," in value.replace("\\,", ""):
        raise FhirError(400, "not-supported", f"{param}: give one identifier (an NHS "
                                              f"number: {NHS_NUMBER_SYSTEM}|[number])")
    system, bar, code = value.partition("|")
    if not bar:
        system, code = NHS_NUMBER_SYSTEM, value
    kind = PATIENT_SYSTEMS.get(system)
    if kind is None:
        raise FhirError(400, "value", _unknown_system(param, system),
                        details=spine_error("INVALID_IDENTIFIER_SYSTEM",
                                            "Invalid identifier system"))
    if kind == "NHSNumber":
        return Identity.nhs_number(nhs_number(param, code))
    if not code.strip() or not code.isprintable() or not xml_can_hold(code):
        raise FhirError(400, "value", f"{param}: the {system} value is empty or holds "
                                      "characters no SystmOne identifier has",
                        details=spine_error("INVALID_IDENTIFIER_VALUE",
                                            "Invalid identifier value"))
    return Identity(kind, code.strip())


def nhs_number(param: str, text: str) -> str:
    """The ten digits of an NHS number (spaces between groups allowed: ``999 000 0018``);
    FhirError 400 INVALID_NHS_NUMBER when it is not ten digits or fails modulus 11."""
    digits = text.replace(" ", "")
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        problem = "an NHS number is ten digits" + (
            f"; this has {len(digits)}" if digits.isascii() and digits.isdigit() else "")
    elif not nhs_number_is_valid(digits):
        problem = "its check digit is wrong (the modulus 11 check fails)"
    else:
        return digits
    raise FhirError(400, "value", f"{param}: not a valid NHS number: {problem}",
                    details=spine_error("INVALID_NHS_NUMBER", "NHS number invalid"))


def _unknown_system(param: str, system: str) -> str:
    said = "an empty system" if not system else f"the system {system!r}"
    return (f"{param}: {said} is not one this server's Patients carry; give "
            f"{NHS_NUMBER_SYSTEM}|[NHS number] (or {systems.SYSTMONE_PSEUDO_NUMBER}|… / "
            f"{systems.SYSTMONE_CLIENT_ID}|… for a record without one)")
