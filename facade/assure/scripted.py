"""The scripted interface test: every function the product uses, with valid and invalid
parameters, sent directly to SystmOne in slots booked in the facade's ledger.

The record requests use exactly the filters the facade's planner emits: the full
fetch (the union of the sections the served types' declarations name), the
Demographics-only read and the entered-today top-up. The two exempt ones are sent
straight after the full fetch, inside the record interval, so an endpoint that
did not exempt them would drop them (and the scenario would fail).
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from lxml import etree

from ..protocol import functions as fn
from ..protocol.identity import Identity
from ..stewardship.planner import full_record_filter, top_up_filter
from ..upstream.errors import PermanentError, UpstreamError
from .pacing import Pacer
from .scenario import Verdict, check, failed, passed, skipped
from .target import Target

#: Functions the product calls; GetDocument only where documents are served.
REQUIRED_FUNCTIONS = (fn.GET_FUNCTIONS, fn.GET_ORGANISATION_METADATA, fn.PATIENT_SEARCH,
                      fn.GET_PATIENT_RECORD, fn.IS_PATIENT_RETRIEVED)
#: Surname initials tried, two criteria with a gender, until the practice yields patients.
INITIALS = "SBHMWCPTRGLAKDJFENOIVYUZQX"
MAX_PATIENTS = 3
#: A well-formed NHS number of the test range (valid check digit) no practice is expected
#: to hold.
UNKNOWN_NHS_NUMBER = "9999999999"
UNKNOWN_DOCUMENT = "0000000000000000"
NO_PATIENT = "no patient was found in the practice to run it with"


@dataclass(frozen=True)
class Patient:
    identity: Identity
    first_name: str
    surname: str
    date_of_birth: str


@dataclass
class Scripted:
    upstream: Pacer
    target: Target
    sections: frozenset[str]
    nhs_numbers: tuple[str, ...] = ()
    announce: Callable[[str], None] = lambda step: None
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    patients: list[Patient] = field(default_factory=list)
    functions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The DocumentUIDs of the first patient's record, from the full fetch.
    document_uids: list[str] = field(default_factory=list)
    sent_count: Callable[[], int] = lambda: 0

    def run(self) -> Scripted:
        for step in (self.get_functions, self.organisation, self.find_patients,
                     self.search_one_criterion, self.search_no_match, self.records,
                     self.unknown_patient, self.is_patient_retrieved, self.documents):
            self.announce(step.__name__.replace("_", " "))
            try:
                step()
            except Exception as error:  # a step that broke fails its scenarios, not the run
                self._unexpected(step.__name__, error)
        return self

    # -- steps ---------------------------------------------------------------------

    def get_functions(self) -> None:
        self.functions = self._call(lambda c: c.get_functions())
        missing = [name for name in REQUIRED_FUNCTIONS
                   if "1.0" not in self.functions.get(name, ())]
        self._add(check("get-functions", not missing,
                        "every function the product uses is listed at version 1.0",
                        f"not listed at version 1.0: {', '.join(missing)}",
                        listed={k: list(v) for k, v in sorted(self.functions.items())}))

    def organisation(self) -> None:
        everyone = self._call(lambda c: c.get_organisation_metadata())
        me = self._call(lambda c: c.get_organisation_metadata(True))
        sites, users = len(everyone.findall("Site")), len(everyone.findall("User"))
        ok = sites >= 1 and users >= 1 and len(me.findall("User")) == 1
        self._add(check("organisation-metadata", ok,
                        "the practice's sites and users are listed; with LoggedOnUserOnly, "
                        "one user",
                        "the reply lacks sites or users, or LoggedOnUserOnly did not give "
                        "one user", sites=sites, users=users,
                        logged_on_users=len(me.findall("User"))))

    def find_patients(self) -> None:
        if self.nhs_numbers:
            self.patients = [p for p in map(self._named_patient, self.nhs_numbers) if p]
        else:
            self.patients = self._patients_found()
        if not self.patients:
            self._add(failed("patient-search", NO_PATIENT))
            return
        first = self.patients[0]
        criteria = fn.PatientSearchCriteria(surname=first.surname,
                                            date_of_birth=_date(first.date_of_birth))
        results = self._call(lambda c: c.patient_search(criteria))
        found = any(_identity(result) == first.identity for result in results)
        self._add(check("patient-search", found,
                        "a search by surname and date of birth finds the patient",
                        "a search by surname and date of birth does not find the patient",
                        patients=len(self.patients), results=len(results)))

    def search_one_criterion(self) -> None:
        criteria = fn.PatientSearchCriteria(surname="A")
        before = self.sent_count()
        try:
            self.upstream.client.patient_search(criteria)
            refused_here = False
        except ValueError:
            refused_here = self.sent_count() == before
        try:
            self._call(lambda c: c.call(fn.PATIENT_SEARCH, criteria.to_parameters()))
            answer = "a result"
        except PermanentError as error:
            answer = f"permanent error: {error.message}"
        ok = refused_here and answer.startswith("permanent error")
        self._add(check("patient-search-one-criterion", ok,
                        "the client refuses it without sending; sent anyway, SystmOne "
                        "answers a permanent error",
                        "the client sent it, or SystmOne did not answer a permanent error",
                        refused_by_client=refused_here, systmone=answer))

    def search_no_match(self) -> None:
        criteria = fn.PatientSearchCriteria(surname="Qxzqy", date_of_birth=_date("1900-01-01"))
        results = self._call(lambda c: c.patient_search(criteria))
        self._add(check("patient-search-no-match", not results,
                        "an empty Response, not an error", "results came back",
                        results=len(results)))

    def records(self) -> None:
        if not self.patients:
            for id in ("record-full", "record-demographics", "record-entered-today"):
                self._add(failed(id, NO_PATIENT))
            return
        identity = self.patients[0].identity
        full = self._call(lambda c: c.get_patient_record(identity,
                                                         full_record_filter(self.sections)),
                          full_record=True)
        fetched_at = time.monotonic()
        self.document_uids = [uid.text.strip() for uid in full.iter("DocumentUID") if uid.text]
        events = len(full.findall("Clinical/Event"))
        self._add(check("record-full", full.find("Demographics") is not None,
                        "the record came back with its demographics and clinical events",
                        "the record came back without demographics", events=events,
                        sections=sorted(self.sections)))
        demographics = self._call(lambda c: c.get_patient_record(
            identity, fn.RecordFilter.demographics_only()))
        inside = time.monotonic() - fetched_at
        self._add(check("record-demographics",
                        demographics.find("Demographics") is not None
                        and demographics.find("Clinical") is None,
                        "answered with the demographics alone, inside the record interval "
                        "after a full fetch",
                        "the reply is not the demographics alone",
                        seconds_after_full=round(inside, 3)))
        today = self._call(lambda c: c.get_patient_record(
            identity, top_up_filter(time.time(), self.sections)))
        self._add(check("record-entered-today", today.find("Demographics") is not None,
                        "answered inside the record interval after a full fetch",
                        "the reply lacks the demographics the top-up asks for",
                        seconds_after_full=round(time.monotonic() - fetched_at, 3),
                        events=len(today.findall("Clinical/Event"))))

    def unknown_patient(self) -> None:
        identity = Identity.nhs_number(UNKNOWN_NHS_NUMBER)
        if any(p.identity == identity for p in self.patients):
            self._add(failed("record-unknown-patient", "the unknown number is a patient's"))
            return
        answer = self._expect_permanent(lambda c: c.get_patient_record(
            identity, fn.RecordFilter.demographics_only()))
        self._add(check("record-unknown-patient", answer.startswith("permanent error"),
                        "SystmOne answers a permanent error", f"SystmOne answered {answer}",
                        systmone=answer))

    def is_patient_retrieved(self) -> None:
        retrieved = self._call(lambda c: c.is_patient_retrieved())
        self._add(passed("is-patient-retrieved", "answered true or false",
                         retrieved=retrieved))

    def documents(self) -> None:
        reason = self._documents_unavailable()
        if reason:
            for id in ("get-document", "get-document-unknown"):
                self._add(skipped(id, reason))
            return
        local, write_to = self.target.documents
        identity = self.patients[0].identity
        if self.document_uids:
            self._add(self._get_document(identity, self.document_uids[0], local, write_to))
        else:
            self._add(skipped("get-document", "the patient's record holds no document"))
        answer = self._expect_permanent(
            lambda c: c.get_document(identity, UNKNOWN_DOCUMENT, write_to))
        self._add(check("get-document-unknown", answer.startswith("permanent error"),
                        "SystmOne answers a permanent error", f"SystmOne answered {answer}",
                        systmone=answer))

    # -- helpers -------------------------------------------------------------------

    def _call(self, action, full_record: bool = False):
        return self.upstream.call(action, full_record)

    def _expect_permanent(self, action) -> str:
        try:
            self._call(action)
        except PermanentError as error:
            return f"permanent error: {error.message}"
        except UpstreamError as error:
            return f"{type(error).__name__}: {error}"
        return "a result"

    def _add(self, verdict: Verdict) -> None:
        self.verdicts[verdict.id] = verdict

    def _unexpected(self, step: str, error: Exception) -> None:
        """Every scenario the step owns and did not decide fails with the error."""
        owned = {"get_functions": ["get-functions"],
                 "organisation": ["organisation-metadata"],
                 "find_patients": ["patient-search"],
                 "search_one_criterion": ["patient-search-one-criterion"],
                 "search_no_match": ["patient-search-no-match"],
                 "records": ["record-full", "record-demographics", "record-entered-today"],
                 "unknown_patient": ["record-unknown-patient"],
                 "is_patient_retrieved": ["is-patient-retrieved"],
                 "documents": ["get-document", "get-document-unknown"]}[step]
        for id in owned:
            if id not in self.verdicts:
                self._add(failed(id, f"{type(error).__name__}: {error}"))

    def _named_patient(self, number: str) -> Patient | None:
        identity = Identity.nhs_number(number)
        try:
            record = self._call(lambda c: c.get_patient_record(
                identity, fn.RecordFilter.demographics_only()))
        except PermanentError:
            return None
        return _patient(identity, record.find("Demographics"))

    def _patients_found(self) -> list[Patient]:
        """Patients of the practice, by searches of a surname initial and a gender."""
        for initial in INITIALS:
            found = {}
            for gender in ("F", "M"):
                criteria = fn.PatientSearchCriteria(surname=initial, gender=gender)
                for result in self._call(lambda c, q=criteria: c.patient_search(q)):
                    identity = _identity(result)
                    if identity is not None and identity.kind == "NHSNumber":
                        found[identity.value] = _patient(identity, result)
            if found:
                return [found[number] for number in sorted(found)][:MAX_PATIENTS]
        return []

    def _documents_unavailable(self) -> str:
        if fn.GET_DOCUMENT not in self.functions:
            return "SystmOne does not list GetDocument"
        if self.target.documents is None:
            return "no document folder is configured (FACADE_DOCUMENT_DIR)"
        if not self.patients:
            return NO_PATIENT
        return ""

    def _get_document(self, identity: Identity, uid: str, local: Path,
                      write_to: str) -> Verdict:
        folder = secrets.token_hex(8)
        target = local / folder
        target.mkdir(mode=0o700)
        try:
            separator = "\\" if "\\" in write_to else "/"
            named = self._call(lambda c: c.get_document(
                identity, uid, write_to.rstrip("\\/") + separator + folder))
            sizes = [(target / PureWindowsPath(path).name).stat().st_size for path in named]
        except OSError as error:
            return failed("get-document", f"a file SystmOne named cannot be read here: "
                                          f"{error.strerror}")
        finally:
            shutil.rmtree(target, ignore_errors=True)
        return check("get-document", bool(sizes) and all(sizes),
                     "the files SystmOne names are where the facade reads them, not empty",
                     "a file SystmOne named is empty", files=len(sizes), bytes=sum(sizes))


def _identity(element: etree._Element) -> Identity | None:
    found = element.find("Identity")
    if found is None:
        return None
    try:
        return Identity.from_element(found)
    except ValueError:
        return None


def _patient(identity: Identity, element: etree._Element | None) -> Patient:
    def text(tag: str) -> str:
        return (element.findtext(tag) or "").strip() if element is not None else ""
    return Patient(identity, text("FirstName"), text("Surname"), text("DateOfBirth"))


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None
