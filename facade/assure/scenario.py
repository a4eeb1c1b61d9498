"""The scenarios of an assurance run, in the order they are reported, and their verdicts.

The list is fixed: every run reports every scenario, so two runs (or two
releases) can be compared line by line. A scenario that could not run fails,
saying why; one that does not apply to the endpoint (GetDocument where the
SystmOne client has no document folder) is skipped, saying why, and does not
fail the run. Each scenario answers one item of the Demo → Live checklist in
docs/assurance.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The Demo → Live checklist (docs/assurance.md), item → what it asks.
CHECKLIST = {
    "messaging": "Messages conform to TPP's Client Integration specification and XSDs",
    "device": "Device approval handled; the DeviceID SystmOne issued stored and reused",
    "functions": "Every function the product uses, with valid and invalid parameters",
    "throttle": "SystmOne's throttling respected; FHIR callers told when to retry",
    "faults": "Errors, silences and delays of SystmOne handled gracefully",
    "audit": "Every access audited, with the SystmOne messages it caused",
    "safety": "Credentials and patient data kept safe: logs, configuration",
}

#: id → (title, checklist item), in report order.
SCENARIOS: dict[str, tuple[str, str]] = {
    "device-approval": ("Device approval: one approval asked, the issued DeviceID sent ever "
                        "after", "device"),
    "get-functions": ("GetFunctions lists every function the product uses, at version 1.0",
                      "functions"),
    "organisation-metadata": ("GetOrganisationMetaData: the practice's sites and users, and "
                              "the logged-on user alone", "functions"),
    "patient-search": ("PatientSearch with two criteria finds the patients used", "functions"),
    "patient-search-one-criterion": ("PatientSearch with one criterion: refused before "
                                     "sending, and by SystmOne", "functions"),
    "patient-search-no-match": ("PatientSearch matching nobody: an empty result, not an error",
                                "functions"),
    "record-full": ("GetPatientRecord, the full fetch: the sections the served types are made "
                    "from", "functions"),
    "record-demographics": ("GetPatientRecord, Demographics only: answered inside the record "
                            "interval (exempt)", "functions"),
    "record-entered-today": ("GetPatientRecord, the entered-today top-up: answered inside the "
                             "record interval (exempt)", "functions"),
    "record-unknown-patient": ("GetPatientRecord for an unknown patient: a permanent error",
                               "functions"),
    "is-patient-retrieved": ("IsPatientRetrieved answers", "functions"),
    "get-document": ("GetDocument writes a document of the record where the facade reads it",
                     "functions"),
    "get-document-unknown": ("GetDocument for an unknown DocumentUID: a permanent error",
                             "functions"),
    "message-schemas": ("Every request valid against the project's and TPP's XSDs, every reply "
                        "against the project's", "messaging"),
    "throttle-request-spacing": ("Requests to SystmOne at least the request interval apart",
                                 "throttle"),
    "throttle-record-spacing": ("Non-exempt GetPatientRecords at least the record interval "
                                "apart, under load", "throttle"),
    "throttle-retry-after": ("FHIR work beyond SystmOne's budget answered 429 with "
                             "Retry-After", "throttle"),
    "throttle-all-answered": ("Every FHIR request answered, every SystmOne request replied to",
                              "throttle"),
    "fault-delay": ("A slow reply within the timeout: answered", "faults"),
    "fault-temporary-error": ("A temporary error: 503 with Retry-After", "faults"),
    "fault-permanent-error": ("A permanent error: 502 saying SystmOne refused", "faults"),
    "fault-no-reply": ("No reply: 504 after the timeout, then 503 at once while the endpoint "
                       "rests", "faults"),
    "fault-connection-lost": ("The connection lost mid-request: 503 with Retry-After",
                              "faults"),
    "fault-recovery": ("SystmOne answering again: answered again", "faults"),
    "access-audit": ("Every FHIR request of the run in the access audit, with its SystmOne "
                     "messages", "audit"),
    "logs-phi": ("No NHS number, name or date of birth of the patients used, nor a credential, "
                 "in the run's logs", "safety"),
    "configuration": ("The configuration as `facade check` and the live profile see it",
                      "safety"),
}


@dataclass(frozen=True)
class Verdict:
    id: str
    passed: bool
    #: Why, in words that do not change from run to run (measurements go in evidence).
    reason: str
    skipped: bool = False
    #: What was measured or seen: run-specific, kept apart from the verdicts in the report.
    evidence: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.id not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.id!r}")

    @property
    def title(self) -> str:
        return SCENARIOS[self.id][0]

    @property
    def checklist(self) -> str:
        return SCENARIOS[self.id][1]

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else "passed" if self.passed else "failed"


def passed(id: str, reason: str, **evidence) -> Verdict:
    return Verdict(id, True, reason, evidence=evidence)


def failed(id: str, reason: str, **evidence) -> Verdict:
    return Verdict(id, False, reason, evidence=evidence)


def skipped(id: str, reason: str, **evidence) -> Verdict:
    return Verdict(id, True, f"skipped: {reason}", skipped=True, evidence=evidence)


def check(id: str, ok: bool, reason_ok: str, reason_not: str, **evidence) -> Verdict:
    return Verdict(id, ok, reason_ok if ok else reason_not, evidence=evidence)


def complete(verdicts: dict[str, Verdict], missing_reason: str) -> list[Verdict]:
    """Every scenario in report order; those without a verdict fail with the reason given."""
    return [verdicts.get(id) or failed(id, missing_reason) for id in SCENARIOS]
