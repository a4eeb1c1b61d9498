"""Chained patient parameters, resolved before a search is parsed: every type that names
its patient (``Declaration.patient_params``) takes the patient's identifier instead of
its id.

FHIR R4 chaining (search.html#chaining): ``Observation?patient.identifier=
https://fhir.nhs.uk/Id/nhs-number|9990000018``, or with the reference's type named,
``subject:Patient.identifier=…``. A Patient id here is the SystmOne identity encrypted
(ids.py), so the identifier gives the id without asking SystmOne anything: the chain is
rewritten as ``patient=Patient/[id]`` and answered exactly as that search is — the
caller's patient confinement, the audit, the record fetch. The identifier is checked as
Patient's own ``identifier`` search checks it (identifiers.py): a bad NHS number, or a
system no Patient carries, is a 400.

Only the identifier chain is answered. Any other chain on a patient parameter
(``patient.name``, ``subject:Group.identifier``) is refused, naming it: ignored, it would
leave the search wider than asked. Chains on other parameters are not rewritten (the
search then says it does not know them, as for any unknown parameter).
"""

from __future__ import annotations

from ..ids import IdCodec
from ..mapping.declaration import Declaration
from .identifiers import NHS_NUMBER_SYSTEM, patient_identity
from .outcome import FhirError

#: The one chain answered: the Patient's identifier.
CHAINED = "identifier"


def resolved(declaration: Declaration, params: dict[str, list[str]],
             codec: IdCodec) -> dict[str, list[str]]:
    """``params`` with each patient chain replaced by its patient parameter naming the
    Patient (``Patient/[id]``), beside any values that parameter was given itself; the
    same dict when there is none."""
    targets = {name: _chained_param(declaration, name) for name in params}
    if not any(targets.values()):
        return params
    out: dict[str, list[str]] = {}
    for name, values in params.items():
        target = targets[name]
        if target is None:
            out.setdefault(name, []).extend(values)
        else:  # a value left empty stays empty: the search ignores it, and says so
            out.setdefault(target, []).extend(
                _patient_reference(name, value, codec) if value.strip() else ""
                for value in values)
    return out


def _chained_param(declaration: Declaration, name: str) -> str | None:
    """The patient parameter ``name`` chains through (``patient.identifier``,
    ``subject:Patient.identifier``); None when it is no chain on a patient parameter."""
    reference, dot, chain = name.partition(".")
    param, colon, target_type = reference.partition(":")
    if not dot or param not in declaration.patient_params:
        return None
    if colon and target_type != "Patient":
        raise FhirError(400, "invalid", f"{name}: {param} references a Patient; chain "
                                        f"through {param}:Patient.{CHAINED}")
    if chain != CHAINED:
        raise FhirError(400, "not-supported",
                        f"{name}: the only chain on {param} is {param}.{CHAINED} (the "
                        f"patient's NHS number, {NHS_NUMBER_SYSTEM}|[number]); search "
                        f"Patient first for anything else, then {param}=Patient/[id]")
    return param


def _patient_reference(name: str, value: str, codec: IdCodec) -> str:
    return f"Patient/{codec.patient_id(patient_identity(name, value))}"
