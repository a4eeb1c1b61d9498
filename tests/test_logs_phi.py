"""Application logs never hold names, dates of birth, NHS numbers, addresses or tokens.

tests/conftest.py captures every log record of the test session (``session_log``:
root and the project's loggers at DEBUG, one JSON object a line). The scan runs
after every other test (``runs_last``) and looks for the test practice's
identifiers in everything the facade, the simulator and the servers and
libraries they run in logged; and a focused test sends NHS numbers, names and
dates of birth in query strings through the demo's own WSGI server.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from facade.cli import _serve_api
from facade.upstream.client import DEMO_API_KEY
from simulator.practice import Practice, generated_practice
from simulator.practice.organisation import ADDRESS_FIELDS

from . import processlogs
from .tokens import FULL_SCOPE, register

#: Loggers of the HTTP clients the tests use to play a partner (fhirclient, fhirpy,
#: requests): what a partner's own process logs about its requests (urllib3 logs every
#: URL it fetches, query string included) is not this application's log, so their lines
#: are left out of the scan. (The facade's own outgoing HTTP, fetching a client's JWKS,
#: goes through requests too and is left out with them: it carries no patient data.)
CLIENT_SIDE = ("urllib3", "requests", "fhirclient", "fhirpy", "aiohttp", "httpx", "httpcore")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.")
BEARER = re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{16,}")
#: Names shorter than this are too likely to be ordinary words (May, Amy, Sam).
MIN_NAME = 4
REPORTED = 10


@dataclass(frozen=True)
class Logged:
    logger: str
    level: str
    text: str
    test: str  # the test running when it was logged


def read_log(path: Path, start: int = 0) -> list[Logged]:
    with path.open("rb") as log:
        log.seek(start)
        data = log.read()
    return [Logged(**json.loads(line)) for line in data.splitlines() if line.strip()]


def application(records: list[Logged]) -> list[Logged]:
    return [r for r in records if r.logger.split(".")[0] not in CLIENT_SIDE]


# --- what counts as an identifier of the practice's patients -----------------------------

def _digits(value: str) -> str:
    return r"(?<![0-9])" + value + r"(?![0-9])"


def _words(value: str) -> str:
    return r"(?<!\w)" + re.escape(value) + r"(?!\w)"


def identifiers(practice: Practice) -> dict[str, re.Pattern]:
    """One pattern per kind, from every patient's Identity and Demographics."""
    found: dict[str, set[str]] = {kind: set() for kind in (
        "NHS number", "name", "date of birth", "address", "postcode", "telephone", "email")}
    for summary in practice.index.summaries:
        number = summary.identity.value
        found["NHS number"] |= {_digits(number),
                                _digits(re.escape(f"{number[:3]} {number[3:6]} {number[6:]}")),
                                _digits(re.escape(f"{number[:3]}-{number[3:6]}-{number[6:]}"))}
        demographics = practice.source.demographics(summary.index).find("Demographics")
        names = [summary.first_name, summary.surname,
                 *(demographics.findtext("MiddleNames") or "").split(),
                 *(demographics.findtext("KnownAs") or "").split()]
        found["name"] |= {_words(name) for name in names if len(name) >= MIN_NAME}
        if summary.date_of_birth is not None:
            born = summary.date_of_birth
            found["date of birth"] |= {_digits(re.escape(born.isoformat())),
                                       _digits(re.escape(born.strftime("%d/%m/%Y")))}
        address = demographics.find("Address")
        if address is not None:
            lines = {tag: (address.findtext(tag) or "").strip() for tag in ADDRESS_FIELDS}
            found["address"] |= {_words(lines[tag]) for tag in ADDRESS_FIELDS
                                 if tag != "Postcode" and len(lines[tag]) >= MIN_NAME}
        if summary.postcode:
            outward, _, inward = summary.postcode.partition(" ")
            found["postcode"] |= {_words(f"{outward}{sep}{inward}")
                                  for sep in (" ", "+", "%20", "")}
        for number in summary.raw_telephones:
            if number:
                found["telephone"] |= {_digits(re.escape(number)),
                                       _digits(re.sub(r"\D", "", number))}
        email = (demographics.findtext("EmailAddress") or "").strip()
        if email:
            found["email"] |= {re.escape(email), re.escape(quote(email, safe=""))}
    patterns = {kind: re.compile("|".join(sorted(values)))
                for kind, values in found.items() if values}
    patterns["token"] = re.compile(f"{JWT.pattern}|{BEARER.pattern}")
    return patterns


def offences(records: list[Logged], patterns: dict[str, re.Pattern]) -> Iterator[str]:
    for record in records:
        for line in record.text.splitlines():
            for kind, pattern in patterns.items():
                match = pattern.search(line)
                if match:
                    yield (f"[{record.logger} {record.level}] {kind} {match.group()!r} in "
                           f"{line.strip()[:300]!r} (during {record.test or 'no test'})")
                    break


def process_offences(practice: Practice) -> Iterator[str]:
    """The kept logs of the processes the tests started (tests/processlogs.py), each
    scanned for the identifiers of the practice it served."""
    patterns: dict = {None: identifiers(practice)}
    for kept in processlogs.KEPT:
        if kept.practice not in patterns:
            spec = kept.practice
            patterns[spec] = identifiers(generated_practice(spec.patients, spec.seed,
                                                            as_of=spec.as_of))
        records = [Logged(kept.name, "-", line, kept.test) for line in kept.text.splitlines()]
        yield from offences(records, patterns[kept.practice])


def report(found: list[str]) -> str:
    shown = "\n".join(f"  {line}" for line in found[:REPORTED])
    more = f"\n  ... and {len(found) - REPORTED} more" if len(found) > REPORTED else ""
    return f"{len(found)} log line(s) hold patient identifiers or tokens:\n{shown}{more}"


# --- the scan of the whole run -----------------------------------------------------------

@pytest.mark.runs_last
def test_the_logs_of_the_whole_run_hold_no_patient_identifiers_or_tokens(session_log,
                                                                         practice):
    canary = f"log scan canary {uuid.uuid4().hex}"
    logging.getLogger("facade.log_scan").debug(canary)  # the capture is live, at DEBUG
    records = read_log(session_log)
    assert any(canary in r.text for r in records), \
        f"the session log capture ({session_log}) is not receiving DEBUG records"
    found = list(offences(application(records), identifiers(practice)))
    assert not found, report(found) + f"\n(the whole log: {session_log})"


@pytest.mark.runs_last
def test_the_logs_of_the_processes_the_tests_started_hold_no_identifiers(practice):
    """`facade serve` (gunicorn's own log too), `facade demo`, simulators: what they wrote
    to stderr, scanned like the in-process log. Run alone, no process was started."""
    found = list(process_offences(practice))
    assert not found, report(found)


def test_the_scan_finds_what_it_looks_for(practice):
    """The patterns catch each kind of identifier, and spare ordinary words."""
    patterns = identifiers(practice)
    summary = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber")
    number = summary.identity.value
    leaked = [f"GET /fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{number}",
              f"NHS {number[:3]} {number[3:6]} {number[6:]} not found",
              f"search for {summary.surname}", f"born {summary.date_of_birth.isoformat()}",
              f"postcode={summary.postcode.replace(' ', '+')}",
              "Authorization: Bearer eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ4In0.c2ln"]
    records = [Logged("facade", "INFO", text, "") for text in leaked]
    assert len(list(offences(records, patterns))) == len(leaked)
    harmless = [f"clinical fidelity: mapped numeric=63; {number}1 bytes",
                f"sends 0.016 s apart; id {number[:-1]}",
                f"{summary.surname.lower()}s and {summary.surname}x",
                "127.0.0.1 - - [24/Nov/2026 12:15:05] \"GET /fhir/Patient HTTP/1.1\" 200 -"]
    records = [Logged("facade", "INFO", text, "") for text in harmless]
    assert list(offences(records, patterns)) == []


# --- the demo's own server, with identifiers in query strings ----------------------------

@pytest.fixture
def demo_api(start_simulator, tmp_path):
    """The FHIR API as ``facade demo`` serves it (facade.cli._serve_api), with a token."""
    live = start_simulator()
    server, app = _serve_api("127.0.0.1", 0, "{}:{}".format(*live.address), DEMO_API_KEY,
                             tmp_path / "demo", 0.0, 0.0)
    base = f"http://127.0.0.1:{server.server_port}/fhir"
    auth = app.extensions["facade.auth"]
    auth.remember_public_base(base)
    register(app, "log-scan", FULL_SCOPE)
    yield base, auth.mint_for("log-scan", base)["access_token"]
    server.shutdown()
    server.server_close()
    app.extensions["facade.records"].close()


def fetch(url: str, token: str | None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        error.close()
        return error.code


def raw_request(base: str, line: str) -> None:
    """Send a request line as given (one the server cannot parse) and wait for the answer."""
    host, port = base.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(line.encode() + b"\r\nHost: x\r\n\r\n")
        while connection.recv(65536):
            pass


def logged_since(path: Path, start: int, done, timeout: float = 2.0) -> list[Logged]:
    """The records after ``start`` once ``done(records)`` holds (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read_log(path, start)
        if done(records) or time.monotonic() > deadline:
            return records
        time.sleep(0.02)


def werkzeug_lines(records: list[Logged], level: str | None = None) -> list[str]:
    return [r.text for r in records if r.logger == "werkzeug"
            and (level is None or r.level == level)]


def test_the_demo_request_log_leaves_identifiers_in_query_strings_out(demo_api, practice,
                                                                       session_log):
    base, token = demo_api
    patients = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:3]
    numbers = [p.identity.value for p in patients]
    start = session_log.stat().st_size
    asked = [
        (f"{base}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number%7C{numbers[0]}", token),
        (f"{base}/Patient?identifier={numbers[1]}&_format=json", token),
        (f"{base}/Patient?" + urlencode({"family": patients[2].surname,
                                         "given": patients[2].first_name,
                                         "birthdate": patients[2].date_of_birth.isoformat()}),
         token),
        (f"{base}/Patient?identifier={numbers[2]}", None),  # 401
        (f"{base}/Observation?patient=Patient/x&code={numbers[0]}", token),  # 403/404/400
    ]
    statuses = [fetch(url, auth) for url, auth in asked]
    assert statuses[:4] == [200, 200, 200, 401]
    records = logged_since(session_log, start, lambda r: len(werkzeug_lines(r)) >= len(asked))
    request_log = werkzeug_lines(records)
    assert sum('"GET /fhir/Patient HTTP/1.1" 200' in line for line in request_log) == 3, \
        f"werkzeug's request log was not captured: {request_log}"  # so the scan sees it
    found = list(offences(application(records), identifiers(practice)))
    assert not found, report(found)
    assert token not in "\n".join(r.text for r in records)


def test_the_demo_logs_a_malformed_request_line_without_its_query(demo_api, practice,
                                                                   session_log):
    base, _ = demo_api
    number = next(p.identity.value for p in practice.index.summaries
                  if p.identity.kind == "NHSNumber")
    start = session_log.stat().st_size
    # Four words: http.server answers 400 "Bad request syntax ('<the whole line>')".
    raw_request(base, f"GET /fhir/Patient?identifier={number} extra HTTP/1.1")
    records = logged_since(session_log, start,
                           lambda r: bool(werkzeug_lines(r, "ERROR")) and len(r) >= 2, 1.0)
    assert not list(offences(application(records), identifiers(practice)))
    errors = werkzeug_lines(records, "ERROR")
    assert any("code 400" in line and "Bad request syntax" in line for line in errors), \
        f"the malformed request was not logged as an error: {werkzeug_lines(records)}"


def test_the_process_scan_finds_what_a_process_logged(practice, monkeypatch):
    """A positive control: identifiers in a kept process log, of the session's practice
    and of a generated one named by its command line, are found; nothing else is."""
    summary = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber")
    other = generated_practice(20, seed=3).index.summaries[0]
    kept = [processlogs.ProcessLog("facade serve", f"GET /fhir/Patient?family={summary.surname}"
                                   " HTTP/1.1", None, ""),
            processlogs.ProcessLog("facade simulator", f"searched {other.surname}",
                                   processlogs.spec_from_arguments(["simulator", "--patients",
                                                                    "20", "--seed", "3"]), ""),
            processlogs.ProcessLog("facade serve", "GET /fhir/metadata 200", None, "")]
    monkeypatch.setattr(processlogs, "KEPT", kept)
    found = list(process_offences(practice))
    assert len(found) == 2 and all("name" in line for line in found), found
