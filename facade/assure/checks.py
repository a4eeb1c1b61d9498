"""The run's checks beyond the wire: the configuration, the access audit, the logs.

- configuration: what ``facade check`` reports (the profile, what the live profile
  would refuse, unknown FACADE_* variables, the shared store, SystmOne answering),
  with every secret redacted;
- access audit: every FHIR request of the run is in the facade's access audit with
  the status it was answered with, and every SystmOne message the facade sent is
  named by the record of the request that caused it;
- logs: everything logged during the run, scanned for the NHS numbers, names and
  dates of birth of the patients used, and for credentials (the API key, bearer
  tokens). The audit is not a log: it names patients by their opaque ids.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, fields, replace

from .. import profiles
from ..audit.sink import AuditQuery, AuditSink
from ..config import Settings, unknown_variables
from ..upstream.client import DEMO_API_KEY
from .api import Answer
from .scenario import Verdict, check
from .scripted import Patient

#: Names shorter than this are too likely to be ordinary words (May, Amy).
MIN_NAME = 4
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")
BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}")
REDACTED = "[redacted]"
#: Loggers the run listens to besides the root (some do not propagate).
LOGGERS = ("facade", "simulator", "werkzeug", "gunicorn", "authlib", "flask")


# -- configuration ---------------------------------------------------------------------

def configuration(settings: Settings, store_ok: bool, systmone: str) -> Verdict:
    """``facade check``'s view of the settings the run used; SystmOne's probe is the
    scripted test's GetFunctions (``systmone``: "" when it answered)."""
    live = profiles.problems(replace(settings, env="live"))
    lines = [f"profile: {settings.env}"]
    lines += [f"{'refused' if settings.env == 'live' else 'live would refuse'}: {problem}"
              for problem in live]
    lines += [f"warning: {name} is not a setting (a typo?)" for name in unknown_variables()]
    lines.append(f"shared store: {'redis' if settings.redis_url else 'embedded'} "
                 f"{'OK' if store_ok else 'FAILED'}")
    lines.append(f"SystmOne: {'OK' if not systmone else 'FAILED (' + systmone + ')'}")
    ok = store_ok and not systmone and (settings.env != "live" or not live)
    return check("configuration", ok,
                 "the configuration loads, the shared store and SystmOne answer"
                 + (", and the live profile refuses nothing" if settings.env == "live"
                    else "; what the live profile would refuse is listed"),
                 "the live profile refuses this configuration" if store_ok and not systmone
                 else "the shared store or SystmOne does not answer",
                 check=lines, settings=redacted(settings))


def _values(settings: Settings) -> dict:
    return {f.name: getattr(settings, f.name) for f in fields(Settings)}


def redacted(settings: Settings) -> dict[str, str]:
    """Every setting as text, secrets replaced: the API key, a Redis URL's password."""
    shown = {}
    for name, value in sorted(_values(settings).items()):
        if name == "api_key":
            value = "the simulator's demo key" if value == DEMO_API_KEY else REDACTED
        elif name == "redis_url" and value:
            value = re.sub(r"//[^@/]*@", f"//{REDACTED}@", value)
        shown[name] = "" if value is None else str(value)
    return shown


# -- the access audit -------------------------------------------------------------------

def access_audit(sink: AuditSink, answers: list[Answer], client_id: str, since: str,
                 sent_uids: set[str]) -> Verdict:
    recorded = _audited(sink, client_id, since)
    missing = [a for a in answers if a.status and a.request_id not in recorded]
    wrong = [a for a in answers if a.status and a.request_id in recorded
             and recorded[a.request_id].status != a.status]
    named = {uid for entry in recorded.values() for uid in entry.request_uids}
    unnamed = sorted(sent_uids - named)
    ok = not missing and not wrong and not unnamed and bool(answers)
    why = (f"{len(missing)} FHIR request(s) missing from the audit" if missing else
           f"{len(wrong)} audit record(s) with another status than the answer" if wrong else
           f"{len(unnamed)} SystmOne message(s) named by no audit record" if unnamed else
           "no FHIR request was made")
    return check("access-audit", ok,
                 "every FHIR request is in the audit with its status, and every SystmOne "
                 "message the facade sent is named by the request that caused it", why,
                 fhir_requests=len([a for a in answers if a.status]),
                 audited=len(recorded), systmone_messages=len(sent_uids),
                 missing=[a.request_id for a in missing][:10], unnamed=unnamed[:10])


def _audited(sink: AuditSink, client_id: str, since: str) -> dict:
    found, offset = {}, 0
    while True:
        page, total = sink.search(AuditQuery(client_id=client_id, since=since, count=500,
                                             offset=offset))
        found.update((entry.request_id, entry) for _, entry in page)
        offset += len(page)
        if not page or offset >= total:
            return found


# -- the logs ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Logged:
    logger: str
    level: str
    text: str


class LogCapture(logging.Handler):
    """Every record logged while installed, at every level, from every logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.records: list[Logged] = []
        self._guard = threading.Lock()
        self._loggers = [logging.getLogger(), *map(logging.getLogger, LOGGERS)]
        self._levels: list[int] = []

    def handle(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_assure_logged", False):  # heard on several loggers
            return False
        record._assure_logged = True
        return super().handle(record)

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self.records.append(Logged(record.name, record.levelname, self.format(record)))

    def __enter__(self) -> LogCapture:
        self._levels = [logger.level for logger in self._loggers]
        for logger in self._loggers:
            logger.setLevel(logging.DEBUG)
            logger.addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        for logger, level in zip(self._loggers, self._levels, strict=True):
            logger.removeHandler(self)
            logger.setLevel(level)


def identifier_patterns(patients: list[Patient], api_key: str) -> dict[str, re.Pattern]:
    found: dict[str, set[str]] = {"NHS number": set(), "name": set(), "date of birth": set()}
    for patient in patients:
        number = patient.identity.value
        found["NHS number"] |= {_digits(re.escape(form)) for form in (
            number, f"{number[:3]} {number[3:6]} {number[6:]}",
            f"{number[:3]}-{number[3:6]}-{number[6:]}")}
        found["name"] |= {r"(?<!\w)" + re.escape(name) + r"(?!\w)"
                          for name in (patient.first_name, patient.surname)
                          if len(name) >= MIN_NAME}
        if patient.date_of_birth:
            year, month, day = patient.date_of_birth.split("-")
            found["date of birth"] |= {_digits(re.escape(patient.date_of_birth)),
                                       _digits(re.escape(f"{day}/{month}/{year}"))}
    patterns = {kind: re.compile("|".join(sorted(values)))
                for kind, values in found.items() if values}
    credentials = [JWT.pattern, BEARER.pattern]
    if api_key and api_key != DEMO_API_KEY:
        credentials.append(re.escape(api_key))
    patterns["credential"] = re.compile("|".join(credentials))
    return patterns


def logs_phi(records: list[Logged], patterns: dict[str, re.Pattern]) -> tuple[Verdict,
                                                                             list[str]]:
    """The verdict, and the log as text with every identifier found replaced by its kind."""
    offences, lines = [], []
    for record in records:
        text = record.text
        for kind, pattern in patterns.items():
            text, count = pattern.subn(f"[{kind}]", text)
            if count:
                offences.append(f"{kind} in a {record.level} line of {record.logger}")
        lines.append(f"{record.level} {record.logger}: {text}")
    verdict = check("logs-phi", not offences and bool(records),
                    "no identifier of the patients used and no credential in any line "
                    "logged", f"{len(offences)} identifier(s) or credential(s) logged"
                    if offences else "nothing was logged: the capture did not work",
                    lines=len(records), offences=offences[:20])
    return verdict, lines


def _digits(pattern: str) -> str:
    return r"(?<![0-9])" + pattern + r"(?![0-9])"
