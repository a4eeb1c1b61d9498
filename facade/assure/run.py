"""One assurance run, phase by phase, into its evidence.

1. scripted: the interface test, straight to SystmOne (scripted.py);
2. throttle: more FHIR work than SystmOne allows, through the facade (throttle.py);
3. faults: SystmOne misbehaving behind a relay, through the facade (faults.py);
4. checks: message schemas, device id, the access audit, the logs, the configuration.

Every SystmOne message of every phase is recorded at the transport (recorder.py).
The run is bounded: each phase has a deadline derived from the intervals, and
every network wait a timeout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..config import Settings
from ..protocol.envelope import OutputScheme
from ..protocol.xmlsafe import MalformedDocument, parse_document
from ..stewardship.ledger import SlotLedger
from ..stewardship.store import open_store
from ..upstream.cli import make_client
from ..upstream.transport import Timeouts, Transport
from . import checks, faults, target, throttle
from .api import CLIENT_ID, FhirApi
from .conformance import DEVIATIONS, Conformance, default_tpp_dir
from .faults import FaultRelay, Faults
from .pacing import Pacer
from .progress import Progress
from .recorder import Message, Recorder, RecordingTransport
from .report import Evidence
from .rules import Sent, day_of, read_request
from .scenario import Verdict, check, complete, failed
from .scripted import Patient, Scripted

FAULT_PRACTICE = (10, 1)  # patients, seed: the fault phase's own practice beside an upstream


@dataclass(frozen=True)
class Options:
    state_dir: Path
    request_interval: float = 1.0
    record_interval: float = 30.0
    upstream: str | None = None
    api_key: str | None = None
    nhs_numbers: tuple[str, ...] = ()
    #: The built-in simulator's practice, and how to name it (no upstream given).
    practice: object = None
    practice_label: str = ""
    tpp_schemas: Path | None = None
    #: A layer put above the recording transport of every SystmOne client of the run
    #: (tests put a misbehaving one there, to see it caught).
    wrap_transport: Callable[[Transport], Transport] = lambda transport: transport
    progress: bool | None = None


class Run:
    def __init__(self, options: Options, settings: Settings) -> None:
        self.options = options
        self.settings = settings
        self.recorder = Recorder()
        self.wall_origin = time.time()
        self.verdicts: dict[str, Verdict] = {}
        self.phases: dict[str, tuple[float, float]] = {}
        self.answers = []
        self.patients = []
        self.audits: list[Verdict] = []
        self.functions_answered = ""
        self._sends: dict[int, Sent] = {}

    # -- the phases --------------------------------------------------------------------

    def execute(self) -> Evidence:
        options = self.options
        api_key = options.api_key or self.settings.api_key
        with checks.LogCapture() as logs:
            self.target = self._target(api_key)
            store = open_store(options.state_dir, self.settings.redis_url)
            ledger = SlotLedger(store, options.request_interval, options.record_interval,
                                self.settings.send_margin)
            upstream = self._booked(ledger)
            with Progress(self.recorder.count, upstream.next_free,
                          enabled=options.progress) as shown:
                try:
                    self._scripted(upstream, shown)
                    self._throttle(shown)
                    self._faults(shown)
                finally:
                    upstream.client.close()
                    self.target.close()
            store_ok = _store_answers(store)
            store.close()
        return self._evidence(logs, store_ok)

    def _target(self, api_key: str) -> target.Target:
        options = self.options
        if options.upstream:
            return target.given(options.upstream, api_key, self.settings.document_dir,
                                self.settings.document_write_to)
        return target.simulated(options.practice, options.practice_label, api_key,
                                options.state_dir, options.request_interval,
                                options.record_interval)

    def _booked(self, ledger: SlotLedger) -> Pacer:
        client = make_client(self.target.endpoint, self.target.api_key, self.options.state_dir,
                             Timeouts(5.0, self._read_timeout()),
                             OutputScheme(self.settings.code_scheme, self.settings.drug_scheme))
        client.transport = self._recording(client.transport, client.endpoint)
        return Pacer(client, ledger, self._max_wait_scripted())

    def _scripted(self, upstream: Pacer, shown) -> None:
        self._enter("scripted", shown)
        api = self._main_api()
        self.main_api = api
        try:
            scripted = Scripted(upstream, self.target, api.records.sections,
                                self.options.nhs_numbers, shown.announce,
                                sent_count=self.recorder.count).run()
        finally:
            self._leave("scripted")
        self.verdicts.update(scripted.verdicts)
        self.patients = list(scripted.patients)
        functions = scripted.verdicts.get("get-functions")
        # facade check's SystmOne probe is a GetFunctions: the scripted test made one.
        self.systmone_problem = "" if functions is not None and functions.passed \
            else (functions.reason if functions is not None else "not asked")

    def _throttle(self, shown) -> None:
        self._enter("throttle", shown)
        api = self.main_api
        try:
            shown.announce("finding the patients' FHIR ids")
            ids = [pid for pid in (api.patient_id(p.identity.value) for p in self.patients)
                   if pid]
            if not ids:
                raise RuntimeError("no patient could be found through the FHIR API")
            shown.announce("offering more work than SystmOne allows")
            throttle.Load(api, ids, self.options.request_interval, self.options.record_interval,
                          lambda: self._full_records("throttle")).run()
        except Exception as error:
            for id in ("throttle-retry-after", "throttle-record-spacing"):
                self.verdicts[id] = failed(id, f"the load could not run: {error}")
        finally:
            self._leave("throttle")
            self.audits.append(self._audit_check(api, "throttle"))
            self.answers += api.answers
            api.close()

    def _faults(self, shown) -> None:
        self._enter("faults", shown)
        practice = self.options.practice
        if practice is None:
            from simulator.practice import generated_practice

            practice = generated_practice(*FAULT_PRACTICE)
        with tempfile.TemporaryDirectory(prefix="facade-assure-") as scratch:
            simulated = target.simulated(practice, "faults", self.target.api_key,
                                         Path(scratch) / "simulator",
                                         self.options.request_interval,
                                         self.options.record_interval)
            # A quarter of the timeout: slow, yet leaving three quarters for the simulator's
            # own answer on a loaded machine (at half, one took 0.98 s of a 1 s timeout).
            relay = FaultRelay(simulated.running.address, delay=self._fault_timeout() / 4)
            api = None
            try:
                api = self._fault_api(relay, Path(scratch) / "facade")
                self.fault_api = api
                patient = next(p for p in practice.index.summaries
                               if p.identity.kind == "NHSNumber")
                self.patients.append(_patient_of(patient))
                patient_id = api.patient_id(patient.identity.value)
                if patient_id is None:
                    raise RuntimeError("the fault phase's patient was not found")
                for verdict in Faults(api, relay, patient_id, self._fault_timeout(),
                                      shown.announce).run():
                    self.verdicts[verdict.id] = verdict
            except Exception as error:
                for verdict in faults.not_run(f"the fault phase could not run: {error}"):
                    self.verdicts.setdefault(verdict.id, verdict)
            finally:
                if api is not None:
                    self.audits.append(self._audit_check(api, "faults"))
                    self.answers += api.answers
                    api.close()
                relay.close()
                simulated.close()
                self._leave("faults")

    # -- the facade under test -----------------------------------------------------------

    def _main_api(self) -> FhirApi:
        overrides = {**self._rig(), "upstream": self.target.endpoint,
                     "api_key": self.target.api_key, "state_dir": self.options.state_dir,
                     "read_timeout": self._read_timeout()}
        if self.target.simulated:
            overrides["document_dir"] = self.target.documents[0]
        return FhirApi(overrides, self.recorder, self.options.wrap_transport)

    def _fault_api(self, relay: FaultRelay, state_dir: Path) -> FhirApi:
        overrides = {**self._rig(), "upstream": relay.endpoint, "api_key": self.target.api_key,
                     "state_dir": state_dir, "read_timeout": self._fault_timeout(),
                     "audit_sink": None, "redis_url": None, "document_dir": None}
        return FhirApi(overrides, self.recorder, self.options.wrap_transport)

    def _rig(self) -> dict:
        """What the harness sets for the facade it serves on loopback; the rest is the
        operator's configuration (FACADE_*)."""
        return {"env": "demo", "public_base_url": None, "tls_cert": None, "tls_key": None,
                "tls_proxy": False, "request_interval": self.options.request_interval,
                "record_interval": self.options.record_interval,
                # SystmOne's 30 s against the default 10 s wait: a third of the interval.
                "max_wait": self.options.record_interval / 3}

    def _recording(self, transport: Transport, endpoint: str) -> Transport:
        return self.options.wrap_transport(RecordingTransport(transport, self.recorder,
                                                              endpoint))

    def _read_timeout(self) -> float:
        if self.target.simulated:
            return max(2.0, 10 * self.options.request_interval)
        return self.settings.read_timeout

    def _fault_timeout(self) -> float:
        return max(1.0, 2 * self.options.request_interval)

    def _max_wait_scripted(self) -> float:
        return self.options.record_interval + 10 * self.options.request_interval + 5

    # -- bookkeeping ---------------------------------------------------------------------

    def _enter(self, phase: str, shown) -> None:
        self.recorder.phase = phase
        self._phase_start = self.recorder.now()
        shown.enter(phase)

    def _leave(self, phase: str) -> None:
        self.phases[phase] = (self._phase_start, self.recorder.now())
        self.recorder.phase = "checks"

    def sent(self, message: Message) -> Sent:
        if message.seq not in self._sends:
            self._sends[message.seq] = read_request(
                message.seq, message.sent, message.request,
                day_of(self.wall_origin + message.sent))
        return self._sends[message.seq]

    def _full_records(self, phase: str) -> int:
        return sum(self.sent(m).full_record for m in self.recorder.messages
                   if m.phase == phase and m.endpoint == self.target.endpoint)

    # -- the checks ----------------------------------------------------------------------

    def _audit_check(self, api: FhirApi, phase: str) -> Verdict:
        endpoints = {endpoint.name for endpoint in api.records.pool.endpoints}
        sent = {self.sent(m).request_uid for m in self.recorder.messages
                if m.phase == phase and m.endpoint in endpoints}
        since = dt.datetime.fromtimestamp(self.wall_origin, dt.UTC).isoformat()
        return checks.access_audit(api.sink, api.answers, CLIENT_ID, since, sent)

    def _evidence(self, logs: checks.LogCapture, store_ok: bool) -> Evidence:
        options = self.options
        messages = self.recorder.messages
        sends = {m.seq: self.sent(m) for m in messages}
        conformance = Conformance(options.tpp_schemas or default_tpp_dir())
        checked = {m.seq: (conformance.request(m.request),
                           conformance.reply(m.reply) if m.reply is not None else None)
                   for m in messages}
        main = [m for m in messages if m.endpoint == self.target.endpoint]
        under_load = [sends[m.seq] for m in main if m.phase == "throttle"]
        found = dict(self.verdicts)
        by_endpoint: dict[str, list[Sent]] = {}
        for message in messages:
            by_endpoint.setdefault(message.endpoint, []).append(sends[message.seq])
        derived = [*throttle.spacing_verdicts(by_endpoint, under_load,
                                              options.request_interval,
                                              options.record_interval),
                   *throttle.answer_verdicts([a for a in self.answers if a.phase == "throttle"],
                                             under_load,
                                             sum(bool(m.failure) for m in main
                                                 if m.phase == "throttle")),
                   _schemas(checked, conformance.tpp_dir is not None),
                   _device(main, sends), _audit(self.audits),
                   checks.configuration(self.settings, store_ok,
                                        getattr(self, "systmone_problem", "not asked"))]
        for verdict in derived:
            found.setdefault(verdict.id, verdict)
        phi, lines = checks.logs_phi(logs.records, checks.identifier_patterns(
            self.patients, self.target.api_key))
        found["logs-phi"] = phi
        functions = sorted({sends[m.seq].function for m in messages} - {""})
        return Evidence(
            verdicts=complete(found, "not run: an earlier phase stopped the run"),
            endpoint=self.target.description,
            intervals={"request": options.request_interval, "record": options.record_interval},
            versions=_versions(), started=dt.datetime.fromtimestamp(
                self.wall_origin, dt.UTC).isoformat(timespec="seconds"),
            seconds=self.recorder.now(), phases=self.phases, messages=messages, sends=sends,
            conformance=checked, answers=self.answers, main_endpoint=self.target.endpoint,
            tpp_schemas={name: digest for name, digest in conformance.tpp_files().items()
                         if name.split("-v")[0] in functions},
            deviations=DEVIATIONS if conformance.tpp_dir is not None else (),
            log_lines=lines, keep_bodies=self.settings.env != "live")


def _schemas(checked: dict, tpp: bool) -> Verdict:
    requests = [seq for seq, (request, _) in checked.items() if not request.valid]
    replies = [seq for seq, (_, reply) in checked.items() if reply is not None and not reply.valid]
    first = checked[requests[0]][0].problem if requests else \
        checked[replies[0]][1].problem if replies else ""
    against = "the project's schemas and TPP's request XSDs (with the deviations listed)" \
        if tpp else "the project's schemas (TPP's XSDs were not at hand)"
    return check("message-schemas", bool(checked) and not requests and not replies,
                 f"every request valid against {against}, every reply against the project's",
                 f"message {(requests or replies)[0]}: {first}" if requests or replies
                 else "no message was sent", requests=len(checked),
                 invalid_requests=requests, invalid_replies=replies)


def _device(main: list[Message], sends: dict[int, Sent]) -> Verdict:
    ids = [sends[m.seq].device_id for m in main]
    empty = [index for index, device in enumerate(ids) if not device]
    issued = _reply_field(main[empty[0]].reply, "DeviceID") if empty else (ids or [""])[0]
    wrong_sent = [m.seq for m, device in zip(main, ids, strict=True)
                  if device and device != issued]
    wrong_echo = [m.seq for m in main if m.reply is not None
                  and _reply_field(m.reply, "DeviceID") not in ("", issued)]
    ok = bool(main) and bool(issued) and empty in ([], [0]) and not wrong_sent \
        and not wrong_echo
    return check("device-approval", ok,
                 "at most the first request went without a DeviceID; every other carried the "
                 "one SystmOne issued, and every reply echoed it",
                 "approval was asked more than once" if len(empty) > 1 else
                 "a request carried another DeviceID than the one issued" if wrong_sent else
                 "a reply echoed another DeviceID" if wrong_echo else
                 "no DeviceID was issued", approvals_asked=len(empty), device_id=issued,
                 requests=len(main), by_the_facade=sum(m.phase == "throttle" for m in main))


def _audit(audits: list[Verdict]) -> Verdict:
    if not audits:
        return failed("access-audit", "no FHIR request was made")
    failing = next((verdict for verdict in audits if not verdict.passed), None)
    evidence = {"facades": [verdict.evidence for verdict in audits]}
    if failing is not None:
        return dataclasses.replace(failing, evidence=evidence)
    return dataclasses.replace(audits[0], evidence=evidence)


def _reply_field(reply: bytes | None, tag: str) -> str:
    if reply is None:
        return ""
    try:
        return (parse_document(reply).findtext(tag) or "").strip()
    except MalformedDocument:
        return ""


def _store_answers(store) -> bool:
    try:
        store.get("facade:check")
    except Exception:  # any failure is the answer, as facade check reports it
        return False
    return True


def _patient_of(summary) -> Patient:
    born = summary.date_of_birth.isoformat() if summary.date_of_birth else ""
    return Patient(summary.identity, summary.first_name, summary.surname, born)


def _versions() -> dict[str, str]:
    found = {"facade": __version__, "python": platform.python_version(),
             "platform": platform.platform(terse=True)}
    for package in ("lxml", "flask", "werkzeug", "fhir.resources", "authlib", "gunicorn"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def assure(options: Options, settings: Settings) -> Evidence:
    return Run(options, settings).execute()
