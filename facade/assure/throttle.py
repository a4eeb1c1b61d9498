"""The throttle phase: more FHIR work than SystmOne allows, offered through the facade.

Callers, all at once and over and over: a full record for each patient used
(``Observation`` searches asking for fresh data: each needs the scarce record
slot), and a burst of distinct Patient searches (each a PatientSearch: a request
slot) larger than the slots the facade may wait for. A caller answered 429 waits
the Retry-After it was given, as a well-behaved FHIR client does. The phase ends
once the facade has sent two full records in it and it has lasted two record
intervals, or at its deadline.

The verdicts are read from what was recorded: the spacing of every message to the
endpoint (the whole run's, the scripted test's included), the 429s and their
Retry-After, and whether anything went unanswered.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .api import Answer, FhirApi
from .rules import Sent, gaps, too_close
from .scenario import Verdict, check, failed

FULL_RECORD_TYPES = ("Observation", "Condition", "MedicationStatement", "AllergyIntolerance")
#: Patient search criteria that name no one: a surname initial and a gender.
INITIALS = "ABCDEFGHIJKLMNOPRSTW"


@dataclass
class Load:
    api: FhirApi
    patient_ids: list[str]
    request_interval: float
    record_interval: float
    #: Full records the facade sent in this phase so far (from the recorder).
    full_records_sent: callable

    def run(self) -> list[Answer]:
        """Offer the work; return the answers of this phase."""
        first = len(self.api.answers)
        self._stop = threading.Event()
        started = self.api.recorder.now()
        minimum = 2 * self.record_interval
        deadline = 4 * self.record_interval + 20 * self.request_interval + 10
        callers = [self._records_of(pid, kind) for pid in self.patient_ids
                   for kind in FULL_RECORD_TYPES[:2]]
        callers += [self._searches(index) for index in range(self._burst())]
        with ThreadPoolExecutor(len(callers), thread_name_prefix="assure-load") as pool:
            futures = [pool.submit(caller) for caller in callers]
            while not self._stop.wait(0.05):
                elapsed = self.api.recorder.now() - started
                enough = elapsed >= minimum and self.full_records_sent() >= 2
                if enough or elapsed >= deadline:
                    self._stop.set()
            for future in futures:
                future.result()
        return self.api.answers[first:]

    def _burst(self) -> int:
        """More searches at once than request slots fit in the facade's maximum wait."""
        slots = self.api.settings.max_wait / self.request_interval
        return max(4, min(len(INITIALS), math.ceil(slots) + 4))

    def _records_of(self, patient_id: str, resource_type: str):
        def call() -> None:
            while not self._stop.is_set():
                answer, _ = self.api.get(f"{resource_type}?patient=Patient/{patient_id}",
                                         f"{resource_type} search (a full record)")
                self._pause(answer)
        return call

    def _searches(self, index: int):
        def call() -> None:
            gender = ("female", "male")[index % 2]
            round = 0
            while not self._stop.is_set():
                initial = INITIALS[(index + round) % len(INITIALS)]
                answer, _ = self.api.get(f"Patient?family={initial}&gender={gender}",
                                         "Patient search (PatientSearch)")
                round += 1
                self._pause(answer)
        return call

    def _pause(self, answer: Answer) -> None:
        """Wait as told by a 429 or 503; otherwise go again after a request interval."""
        wait = self.request_interval
        if answer.retry_after.isdigit():
            wait = float(answer.retry_after)
        self._stop.wait(wait)


def spacing_verdicts(by_endpoint: dict[str, list[Sent]], phase_sends: list[Sent],
                     request_interval: float, record_interval: float) -> list[Verdict]:
    """Each endpoint's sends against both limits (SystmOne keeps them per client)."""
    close = [pair for sends in by_endpoint.values() for pair in too_close(sends,
                                                                          request_interval)]
    records = {name: [s for s in sends if s.full_record] for name, sends in by_endpoint.items()}
    close_records = [pair for sends in records.values()
                     for pair in too_close(sends, record_interval)]
    full = sum(len(sends) for sends in records.values())
    in_phase = sum(sent.full_record for sent in phase_sends)
    requests = check(
        "throttle-request-spacing", not close,
        f"every request left at least {request_interval:g} s after the one before to the "
        "same endpoint", _closest(close, request_interval, "request"),
        requests=sum(len(sends) for sends in by_endpoint.values()),
        closest={name: round(min(gaps(sends), default=0), 4)
                 for name, sends in sorted(by_endpoint.items())})
    if close_records:
        record = failed("throttle-record-spacing",
                        _closest(close_records, record_interval, "non-exempt GetPatientRecord"),
                        full_records=full)
    else:
        record = check("throttle-record-spacing", in_phase >= 2,
                       f"non-exempt GetPatientRecords at least {record_interval:g} s apart, "
                       "two or more of them under load",
                       "the load never brought two full records: the record limit was not "
                       "reached", full_records=full, under_load=in_phase,
                       closest={name: round(min(gaps(sends), default=0), 4)
                                for name, sends in sorted(records.items()) if sends})
    return [requests, record]


def answer_verdicts(answers: list[Answer], phase_sends: list[Sent],
                    unanswered_messages: int) -> list[Verdict]:
    throttled = [a for a in answers if a.status == 429]
    proper = [a for a in throttled if a.retry_after.isdigit() and int(a.retry_after) >= 1
              and a.issue == "throttled"]
    retry = check("throttle-retry-after", bool(throttled) and len(proper) == len(throttled),
                  "work beyond the budget was answered 429, each with Retry-After and an "
                  "OperationOutcome",
                  "no 429 came back: the load did not exceed the budget" if not throttled
                  else "a 429 came without Retry-After or its OperationOutcome",
                  answered_429=len(throttled), requests=len(answers))
    lost = [a for a in answers if a.status == 0]
    failed_5xx = [a for a in answers if a.status >= 500]
    ok = not lost and not failed_5xx and not unanswered_messages
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
    why = ("a FHIR request went unanswered" if lost else
           "a FHIR request was answered with a server error" if failed_5xx else
           "a SystmOne request got no reply")
    return [retry, check("throttle-all-answered", ok,
                         "every FHIR request was answered and every SystmOne request "
                         "replied to", why, statuses=dict(sorted(statuses.items())),
                         unanswered_messages=unanswered_messages,
                         systmone_requests=len(phase_sends))]


def _closest(close, interval: float, what: str) -> str:
    if not close:
        return ""
    worst = min(close, key=lambda pair: pair.gap)
    return (f"{len(close)} {what}(s) sent closer than {interval:g} s to the one before "
            f"(closest {worst.gap:.3f} s: {worst.first.function} then "
            f"{worst.second.function})")
