"""Upstream stewardship: a Zipf-weighted mixed FHIR workload through the facade under
gunicorn, with SystmOne's traffic counted independently by a proxy.

Per configuration it starts the simulator on compressed intervals (default one
request per 0.1 s, one full GetPatientRecord per 1.0 s) serving a generated
practice (``--patients`` + ``--backlog`` patients with NHS numbers, fixed seed),
a counting proxy in front of each simulator (bench/countingproxy.py, in its own
process, so the load generator cannot delay its clock readings), and the
facade under gunicorn (gthread) with FACADE_UPSTREAM pointing at the proxies,
the simulator's intervals, FACADE_CLINICAL_TTL / FACADE_DEMOGRAPHICS_TTL long
enough for the whole run to be one freshness window, FACADE_MAX_WAIT, a short
FACADE_READ_TIMEOUT (a dropped request gets no reply) and PROMETHEUS_MULTIPROC_DIR:

- embedded: one gunicorn instance, 2 workers x 8 threads, the default
  (embedded) coordination in its state dir;
- redis: a private redis-server and two gunicorn instances x 2 workers, each
  with its own state dir (the first instance's id-key copied into the second's,
  so ids work on both) and the same FACADE_REDIS_URL; clients alternate.

``--endpoints N`` runs N simulators, each behind its own proxy, as one pool.

Phases, all counted at the proxy:

1. lookup (a warm-up, but measured: its calls count in the ratios):
   ``Patient?identifier=`` for every patient of the practice, to learn their ids;
2. main: ``--requests`` requests from 16 client threads (keep-alive), patients
   drawn Zipf-weighted (s = 1.1) from the first ``--patients`` patients: Patient
   reads, identifier searches, family+birthdate searches, Observation searches
   with code, category, date ge/le filters or ``_count`` paging (next links followed);
3. backlog: Observations for ``--backlog`` cold patients (never asked for
   clinical data), all at once, while one thread reads Patients with
   ``Cache-Control: no-cache``.

Clients honour Retry-After on 429 and 503 (clipped to ``--max-retry-after``;
how often is reported) and count any other non-200 as an error.

Targets, per configuration (the proxy's timing jitter tolerance, default 5 ms,
is taken off each interval before a gap counts as a breach):

- scarce-slot ratio: non-exempt GetPatientRecord / patients whose clinical data
  was asked for <= 1.02;
- total ratio: all upstream calls / (patients touched + distinct PatientSearch
  criteria) <= 2.0;
- breaches: 0 (two requests to one endpoint closer than the request interval,
  or two non-exempt GetPatientRecords closer than the record interval);
- utilisation while the backlog waits: (full records - 1) x record interval /
  (last - first) >= 0.95 (summed over endpoints);
- Patient reads during the backlog: p95 below the record interval (a read must
  not wait for a full-record slot).

The facade's own /metrics (upstream calls, breaches detected, 429s) are shown
beside the proxy's count, for comparison only.

    .venv/bin/python bench/stewardship.py [--config embedded|redis|both] [--requests 400]
        [--seed 1] [--request-interval 0.1] [--record-interval 1.0] [--endpoints 1]
        [--busy N] [--facade-tree DIR] [--workdir DIR]

``--busy N`` keeps N processes spinning on the CPU for the whole run (a loaded machine:
every wait of the facade's own threads and processes stretches; single-flight and the
cache must hold regardless). bench/stewardship_stress.py runs the workload that way.

``--facade-tree`` runs gunicorn from another source tree (e.g. ``git archive`` of an
older commit) to compare; ``--workdir`` keeps the logs: the proxies' JSON lines, each
client request's attempts (clients.jsonl, monotonic times as the proxy's) and gunicorn's.
Prints a table per configuration and writes bench/results/stewardship.json;
exits 1 when a target fails.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import itertools
import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO, free_port, print_table, start_facade, write_result
from common import stop as stop_process
from countingproxy import Logged, ProxyProcess, breaches

from facade.protocol import functions as fn
from simulator.practice.generator import GeneratedPractice

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
LOINC = "http://loinc.org"
TARGET_SCARCE = 1.02
TARGET_TOTAL = 2.0
TARGET_UTILISATION = 0.95
CLIENT_THREADS = 16

#: The workload's mix: kind and weight.
MIX = (("read", 25), ("identifier", 10), ("search", 15), ("observation", 50))


def observation_filters(year: int) -> list[str]:
    """What an Observation search adds to ``patient=``; "paging" follows next links."""
    return [
        f"code={LOINC}|29463-7",  # body weight
        f"code={LOINC}|85354-9",  # blood pressure panel
        "category=vital-signs",
        "category=laboratory",
        f"date=ge{year - 3}-01-01",
        f"date=ge{year - 6}-01-01&date=le{year - 1}-12-31",
        f"category=vital-signs&date=ge{year - 2}-01-01",
        "paging",
        "",
    ]


# --- the practice ------------------------------------------------------------------

@dataclass
class Patient:
    index: int
    nhs: str
    family: str
    birthdate: str
    id: str | None = None


def practice_patients(wanted: int, seed: int) -> tuple[int, list[Patient]]:
    """The first ``wanted`` patients with an NHS number in the practice the simulator
    generates with ``--patients SIZE --seed SEED`` (as_of today, as it does), and SIZE."""
    size = wanted
    while True:
        practice = GeneratedPractice(size, seed=seed)
        found = []
        for index in range(size):
            response = practice.demographics(index)
            nhs = response.findtext("Identity/NHSNumber")
            if nhs:
                found.append(Patient(index, nhs.strip(), response.findtext(
                    "Demographics/Surname").strip(), response.findtext(
                    "Demographics/DateOfBirth").strip()))
        if len(found) >= wanted:
            return size, found[:wanted]
        size += wanted - len(found)


# --- processes ---------------------------------------------------------------------

class Cluster:
    """Simulators, proxies, Redis and gunicorn instances for one configuration."""

    def __init__(self, config: str, args: argparse.Namespace, workdir: Path,
                 practice_size: int) -> None:
        self.config = config
        self.args = args
        self.workdir = workdir
        self.practice_size = practice_size
        self.simulators: list[subprocess.Popen] = []
        self.proxies: list[ProxyProcess] = []
        self.groups: list[tuple[str, subprocess.Popen]] = []  # own sessions: gunicorn, redis
        self.bases: list[str] = []
        self.redis_url: str | None = None

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        args = self.args
        for endpoint in range(args.endpoints):
            port = free_port()
            simulator, _ = start_facade(
                "simulator", "--port", str(port), "--patients", str(self.practice_size),
                "--seed", str(args.seed), "--request-interval", str(args.request_interval),
                "--record-interval", str(args.record_interval),
                "--state-dir", str(self.workdir / f"simulator{endpoint}"), port=port)
            self.simulators.append(simulator)
            proxy = ProxyProcess(f"127.0.0.1:{port}", self.workdir / f"proxy{endpoint}.jsonl",
                                 name=f"endpoint{endpoint}")
            self.proxies.append(proxy.start())
        if self.config == "redis":
            self.redis_url = self._start_redis()
        instances = args.instances if self.config == "redis" else 1
        for number in range(instances):
            state = self.workdir / f"state{number}"
            state.mkdir(parents=True, exist_ok=True)
            if number > 0:  # ids must decode on every instance: one key for all
                shutil.copy2(self.workdir / "state0" / "id-key", state / "id-key")
            self.bases.append(self._start_gunicorn(number, state))
        self.tokens = self._tokens()

    def _tokens(self) -> dict[str, str]:
        """A bearer token per instance (its base URL is the token's audience), for a client
        registered once in the shared store (the state dir, or Redis)."""
        env = self.environment(self.workdir / "state0", self.workdir / "metrics0")
        facade = [sys.executable, "-m", "facade"]
        state = ["--state-dir", str(self.workdir / "state0")]
        subprocess.run([*facade, "clients", "add", "bench", "--with-secret", "--replace",
                        "--scope", "system/*.rs", *state], env=env, cwd=self.args.facade_tree,
                       check=True, capture_output=True)
        tokens = {}
        for base in self.bases:
            minted = subprocess.run([*facade, "token", "--client-id", "bench", *state],
                                    env={**env, "FACADE_PUBLIC_BASE_URL": f"{base}/fhir"},
                                    cwd=self.args.facade_tree, check=True,
                                    capture_output=True, text=True)
            tokens[urllib.parse.urlsplit(base).netloc] = minted.stdout.strip()
        return tokens

    def environment(self, state: Path, metrics: Path) -> dict[str, str]:
        args = self.args
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("FACADE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update({
            "FACADE_UPSTREAM": ",".join(p.address for p in self.proxies),
            "FACADE_REQUEST_INTERVAL": str(args.request_interval),
            "FACADE_RECORD_INTERVAL": str(args.record_interval),
            "FACADE_STATE_DIR": str(state),
            "FACADE_CLINICAL_TTL": str(args.ttl),
            "FACADE_DEMOGRAPHICS_TTL": str(args.ttl),
            "FACADE_MAX_WAIT": str(args.max_wait),
            "FACADE_READ_TIMEOUT": str(args.read_timeout),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        })
        if self.redis_url:
            env["FACADE_REDIS_URL"] = self.redis_url
        for name in ("send_margin", "top_up_after"):
            if getattr(args, name) is not None:
                env[f"FACADE_{name.upper()}"] = str(getattr(args, name))
        return env

    def _start_gunicorn(self, number: int, state: Path) -> str:
        port = free_port()
        metrics = self.workdir / f"metrics{number}"
        metrics.mkdir(exist_ok=True)
        log = (self.workdir / f"gunicorn{number}.log").open("wb")
        local = Path(sys.executable).parent / "gunicorn"
        gunicorn = str(local) if local.exists() else shutil.which("gunicorn") or "gunicorn"
        process = subprocess.Popen(
            [gunicorn, "-w", str(self.args.workers), "-k", "gthread",
             "--threads", str(self.args.threads), "-b", f"127.0.0.1:{port}",
             "--graceful-timeout", "5", "--timeout", "120",
             *_no_control_socket(gunicorn), "wsgi:app"],
            cwd=self.args.facade_tree, env=self.environment(state, metrics), stdout=log,
            stderr=log,
            start_new_session=True)
        log.close()
        self.groups.append((f"gunicorn{number}", process))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn {number} exited with {process.returncode}:\n"
                                   + self.log_tail(number))
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/fhir/metadata")
                if connection.getresponse().status == 200:
                    connection.close()
                    return base
                connection.close()
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn {number} not ready in 60 s:\n" + self.log_tail(number))

    def log_tail(self, number: int, lines: int = 30) -> str:
        path = self.workdir / f"gunicorn{number}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _start_redis(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("the redis configuration needs redis-server on PATH")
        port = free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.groups.append(("redis", process))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return f"redis://127.0.0.1:{port}/0"
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING in 10 s")

    def requests(self) -> list[Logged]:
        return sorted((entry for proxy in self.proxies for entry in proxy.requests),
                      key=lambda e: (e.at, e.seq))

    def stop(self) -> None:
        for _, process in reversed(self.groups):
            _stop_group(process, signal.SIGINT)  # gunicorn: quick shutdown
        self.groups.clear()
        for proxy in self.proxies:
            proxy.stop()
        for simulator in self.simulators:
            if simulator.poll() is None:
                stop_process(simulator)
        self.simulators.clear()


def _stop_group(process: subprocess.Popen, signum: int) -> None:
    """Stop a process started in its own session, then anything left in its group."""
    try:
        os.killpg(process.pid, signum)
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@functools.cache
def _no_control_socket(gunicorn: str) -> tuple[str, ...]:
    """Newer gunicorns open a control socket in ~/.gunicorn, one path for every instance:
    turned off where the option exists."""
    try:
        shown = subprocess.run([gunicorn, "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return ("--no-control-socket",) if "--no-control-socket" in shown else ()


# --- clients -----------------------------------------------------------------------

@dataclass
class Outcome:
    kind: str
    status: int  # 0: no HTTP answer
    latency: float  # seconds, retries and their waits included
    attempts: int = 1
    throttled: int = 0  # 429s
    unavailable: int = 0  # 503s
    clipped: int = 0  # Retry-After values clipped to --max-retry-after
    detail: str = ""
    body: bytes = field(default=b"", repr=False)
    url: str = ""
    #: Each attempt: (monotonic start, monotonic end, status, Retry-After or None).
    tries: list[tuple[float, float, int, float | None]] = field(default_factory=list)


class Client:
    """HTTP GETs with keep-alive (one connection per thread and instance), honouring
    Retry-After on 429 and 503."""

    def __init__(self, max_retry_after: float, give_up: float) -> None:
        self.max_retry_after = max_retry_after
        self.give_up = give_up
        self.tokens: dict[str, str] = {}  # netloc -> bearer token
        self._local = threading.local()

    def get(self, kind: str, url: str, headers: dict[str, str] | None = None) -> Outcome:
        started = time.perf_counter()
        outcome = Outcome(kind, 0, 0.0, attempts=0, url=url)
        while True:
            outcome.attempts += 1
            begin = time.monotonic()
            status, retry_after, body, detail = self._once(url, headers or {})
            outcome.tries.append((begin, time.monotonic(), status, retry_after))
            if status in (429, 503):
                if status == 429:
                    outcome.throttled += 1
                else:
                    outcome.unavailable += 1
                wait = retry_after if retry_after is not None else 1.0
                if wait > self.max_retry_after:
                    outcome.clipped += 1
                    wait = self.max_retry_after
                if time.perf_counter() - started + wait <= self.give_up:
                    time.sleep(wait)
                    continue
                detail = f"gave up after {outcome.attempts} attempts: {detail}"
            outcome.status, outcome.body, outcome.detail = status, body, detail
            outcome.latency = time.perf_counter() - started
            return outcome

    def _once(self, url: str, headers: dict[str, str]) -> tuple[int, float | None, bytes, str]:
        parts = urllib.parse.urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):  # a keep-alive connection the server closed: reopen once
            connection = self._connection(parts.netloc)
            try:
                token = self.tokens.get(parts.netloc)
                auth = {"Authorization": f"Bearer {token}"} if token else {}
                connection.request("GET", path, headers={"Accept": "application/fhir+json",
                                                         **auth, **headers})
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._connections().pop(parts.netloc, None)
                if attempt == 2:
                    return 0, None, b"", f"{type(error).__name__}: {error}"
                continue
            retry_after = response.getheader("Retry-After")
            try:
                seconds = float(retry_after) if retry_after is not None else None
            except ValueError:
                seconds = None
            detail = "" if response.status == 200 else _diagnostics(body)
            return response.status, seconds, body, detail
        raise AssertionError("unreachable")

    def _connections(self) -> dict[str, http.client.HTTPConnection]:
        if not hasattr(self._local, "connections"):
            self._local.connections = {}
        return self._local.connections

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        connections = self._connections()
        if netloc not in connections:
            host, _, port = netloc.rpartition(":")
            connections[netloc] = http.client.HTTPConnection(host, int(port), timeout=120)
        return connections[netloc]


def _diagnostics(body: bytes) -> str:
    try:
        issue = json.loads(body)["issue"][0]
        return f"{issue.get('code')}: {issue.get('diagnostics', '')}"[:160]
    except (ValueError, KeyError, IndexError, TypeError):
        return body[:160].decode("utf-8", "replace")


def run_parallel(tasks: list, work, threads: int, deadline: float) -> tuple[list, int]:
    """Run ``work(task)`` over the tasks from ``threads`` daemon threads; tasks not
    started by ``deadline`` (monotonic) are skipped. Returns results and skipped count."""
    pending: queue.Queue = queue.Queue()
    for task in tasks:
        pending.put(task)
    results: list = []
    lock = threading.Lock()
    skipped = [0]

    def worker() -> None:
        while True:
            try:
                task = pending.get_nowait()
            except queue.Empty:
                return
            if time.monotonic() > deadline:
                with lock:
                    skipped[0] += 1
                continue
            result = work(task)
            with lock:
                results.extend(result if isinstance(result, list) else [result])

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        while thread.is_alive():
            thread.join(0.2)
    return results, skipped[0]


# --- one configuration -------------------------------------------------------------

@dataclass
class Workload:
    """What the clients asked, for the ratios' denominators."""

    touched: set[int] = field(default_factory=set)
    clinical: set[int] = field(default_factory=set)
    criteria: set[tuple[str, str]] = field(default_factory=set)
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def busy_processes(count: int):
    """``count`` processes spinning on the CPU until the block ends (a loaded machine)."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                 start_new_session=True) for _ in range(count)]
    try:
        yield spinning
    finally:
        for process in spinning:
            _stop_group(process, signal.SIGKILL)


def run_config(config: str, args: argparse.Namespace, practice_size: int,
               patients: list[Patient], workdir: Path) -> dict:
    workload = Workload()
    client = Client(args.max_retry_after, args.give_up)
    started = time.monotonic()
    with Cluster(config, args, workdir, practice_size) as cluster, busy_processes(args.busy):
        client.tokens = cluster.tokens
        bases = itertools.cycle(cluster.bases)
        base_lock = threading.Lock()

        def next_base() -> str:
            with base_lock:
                return next(bases)

        warm = patients[:args.patients]
        cold = patients[args.patients:]

        # 1. lookup: every patient's id from its NHS number
        def lookup(patient: Patient) -> Outcome:
            query = urllib.parse.quote(f"{NHS_SYSTEM}|{patient.nhs}", safe=":/")
            outcome = client.get("lookup", f"{next_base()}/fhir/Patient?identifier={query}")
            if outcome.status == 200:
                entries = json.loads(outcome.body).get("entry", [])
                if entries:
                    patient.id = entries[0]["resource"]["id"]
            return outcome

        phase(workload, "lookup", patients, lookup, args)
        workload.touched.update(p.index for p in patients if p.id)
        missing = [p.nhs for p in patients if p.id is None]
        if missing:
            print(f"  {len(missing)} patient(s) not found by identifier; left out of the "
                  "workload", file=sys.stderr)
        warm = [p for p in warm if p.id]
        cold = [p for p in cold if p.id]

        # 2. main: the Zipf-weighted mix
        tasks = main_tasks(warm, args)

        def main_work(task) -> list[Outcome]:
            kind, patient, extra = task
            base = next_base()
            # What was asked (tasks skipped at the phase deadline are left out); a search
            # counts by its criteria, not by the patient it was made up from.
            if kind == "search":
                workload.criteria.add((patient.family, patient.birthdate))
            else:
                workload.touched.add(patient.index)
            if kind == "observation":
                workload.clinical.add(patient.index)
            if kind == "read":
                return [client.get(kind, f"{base}/fhir/Patient/{patient.id}")]
            if kind == "identifier":
                query = urllib.parse.quote(f"{NHS_SYSTEM}|{patient.nhs}", safe=":/")
                return [client.get(kind, f"{base}/fhir/Patient?identifier={query}")]
            if kind == "search":
                query = urllib.parse.urlencode({"family": patient.family,
                                                "birthdate": patient.birthdate})
                return [client.get(kind, f"{base}/fhir/Patient?{query}")]
            url = f"{base}/fhir/Observation?patient=Patient/{patient.id}"
            if extra != "paging":
                return [client.get(kind, url + (f"&{extra}" if extra else ""))]
            outcomes = [client.get("observation", url + "&_count=10")]
            while len(outcomes) < args.pages and outcomes[-1].status == 200:
                links = json.loads(outcomes[-1].body).get("link", [])
                following = next((ln["url"] for ln in links if ln["relation"] == "next"), None)
                if following is None:
                    break
                outcomes.append(client.get("observation page", following))
            return outcomes

        phase(workload, "main", tasks, main_work, args)

        # 3. backlog: cold records all at once, Patient reads beside them
        reads = [("read", patient) for patient in warm[:args.backlog_reads]]

        def backlog_work(task) -> Outcome:
            kind, patient = task
            if kind == "observation":
                workload.clinical.add(patient.index)
            if kind == "read":
                time.sleep(args.record_interval * (1 + reads.index(task)) / 2)
                return client.get("read during backlog", f"{next_base()}/fhir/Patient/"
                                  f"{patient.id}", {"Cache-Control": "no-cache"})
            return client.get("backlog", f"{next_base()}/fhir/Observation?patient=Patient/"
                                         f"{patient.id}&category=vital-signs")

        backlog = [("observation", patient) for patient in cold] + reads
        phase(workload, "backlog", backlog, backlog_work, args, threads=len(backlog))
        time.sleep(0.2)  # the last replies reach the proxy log
        logged = cluster.requests()
        own_metrics = facade_metrics(cluster.bases)
        logs = {n: [line for line in cluster.log_tail(n, 200).splitlines()
                    if "[INFO]" not in line][-20:] for n in range(len(cluster.bases))}
    result = analyse(config, args, workload, logged)
    with (workdir / "clients.jsonl").open("w") as trace:  # kept with --workdir
        for name, outcomes in workload.outcomes.items():
            for o in outcomes:
                trace.write(json.dumps({"phase": name, "kind": o.kind, "url": o.url,
                                        "status": o.status, "tries": o.tries}) + "\n")
    result["facade_metrics"] = own_metrics
    result["seconds"] = round(time.monotonic() - started, 1)
    result["gunicorn_log"] = logs  # its last lines other than [INFO]
    return result


#: The facade's own counters (facade/metrics.py), summed over instances, for comparison.
OWN_METRICS = {"upstream_calls": "facade_upstream_calls_total",
               "breaches_detected": "facade_breaches_detected_total",
               "missed_slots": "facade_missed_slots_total",
               "throttled_429": "facade_throttled_responses_total",
               "single_flight_joins": "facade_single_flight_joins_total"}


def facade_metrics(bases: list[str]) -> dict[str, float] | None:
    """What the facade says about itself at /metrics; None when it has no metrics."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return None
    totals = dict.fromkeys(OWN_METRICS, 0.0)
    for base in bases:
        try:
            parts = urllib.parse.urlsplit(base)
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            connection.close()
        except (OSError, http.client.HTTPException):
            return None
        if response.status != 200:
            return None
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                for key, name in OWN_METRICS.items():
                    if sample.name == name:
                        totals[key] += sample.value
    return totals


def phase(workload: Workload, name: str, tasks: list, work, args: argparse.Namespace,
          threads: int = CLIENT_THREADS) -> None:
    begin = time.monotonic()
    outcomes, skipped = run_parallel(tasks, work, threads, begin + args.phase_timeout)
    workload.phases[name] = (begin, time.monotonic())
    workload.outcomes[name] = outcomes
    workload.skipped[name] = skipped
    print(f"  {name}: {len(outcomes)} requests in {time.monotonic() - begin:.1f} s"
          + (f", {skipped} skipped at the phase deadline" if skipped else ""), file=sys.stderr)


def main_tasks(patients: list[Patient], args: argparse.Namespace) -> list[tuple]:
    rng = random.Random(args.seed)
    ranked = patients[:]
    rng.shuffle(ranked)
    weights = [1 / (rank ** args.zipf) for rank in range(1, len(ranked) + 1)]
    kinds, kind_weights = zip(*MIX, strict=True)
    filters = observation_filters(time.localtime().tm_year)
    tasks = []
    for _ in range(args.requests):
        kind = rng.choices(kinds, kind_weights)[0]
        patient = rng.choices(ranked, weights)[0]
        tasks.append((kind, patient, rng.choice(filters) if kind == "observation" else None))
    return tasks


# --- analysis ----------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def analyse(config: str, args: argparse.Namespace, workload: Workload,
            logged: list[Logged]) -> dict:
    by_function: Counter[str] = Counter()
    by_phase: dict[str, Counter[str]] = {}
    for entry in logged:
        label = entry.function
        if entry.function == fn.GET_PATIENT_RECORD:
            label += " (exempt)" if entry.exempt else " (non-exempt)"
        by_function[label] += 1
        name = next((n for n, (a, b) in workload.phases.items() if a <= entry.at <= b),
                    "between")
        by_phase.setdefault(label, Counter())[name] += 1
    full = [e for e in logged if e.full_record]
    found = breaches(logged, args.request_interval, args.record_interval, args.tolerance)
    twice = Counter(e.identity for e in full)
    unanswered = sum(1 for e in logged if e.replied_at is None)

    begin, end = workload.phases["backlog"]
    spans, counts, per_endpoint = 0.0, 0, {}
    for endpoint in sorted({e.endpoint for e in logged}):
        during = [e.at for e in full if e.endpoint == endpoint and begin <= e.at <= end]
        if len(during) >= 2:
            span = during[-1] - during[0]
            spans += span
            counts += len(during) - 1
            per_endpoint[endpoint] = {"full_records": len(during), "span_s": round(span, 3)}
    utilisation = counts * args.record_interval / spans if spans > 0 else None

    scarce = len(full) / len(workload.clinical) if workload.clinical else None
    denominator = len(workload.touched) + len(workload.criteria)
    total = len(logged) / denominator if denominator else None

    phases = {}
    for name, outcomes in workload.outcomes.items():
        latencies = [o.latency for o in outcomes if o.status == 200]
        phases[name] = {
            "requests": len(outcomes),
            "ok": sum(1 for o in outcomes if o.status == 200),
            "429": sum(o.throttled for o in outcomes),
            "503": sum(o.unavailable for o in outcomes),
            "retry_after_clipped": sum(o.clipped for o in outcomes),
            "errors": sum(1 for o in outcomes if o.status != 200),
            "skipped": workload.skipped.get(name, 0),
            "p50_s": _round(percentile(latencies, 0.5)),
            "p95_s": _round(percentile(latencies, 0.95)),
            "seconds": round(workload.phases[name][1] - workload.phases[name][0], 1),
        }
    errors = Counter(f"{o.kind}: {o.status} {o.detail}" for outcomes in
                     workload.outcomes.values() for o in outcomes if o.status != 200)
    reads = [o.latency for o in workload.outcomes["backlog"]
             if o.kind == "read during backlog" and o.status == 200]
    read_p95 = percentile(reads, 0.95)
    failed_reads = sum(1 for o in workload.outcomes["backlog"]
                       if o.kind == "read during backlog" and o.status != 200)

    verdicts = {
        "scarce_slot_ratio": _verdict(scarce is not None and scarce <= TARGET_SCARCE),
        "total_ratio": _verdict(total is not None and total <= TARGET_TOTAL),
        "breaches": _verdict(not found),
        "utilisation": _verdict(utilisation is not None and utilisation >= TARGET_UTILISATION),
        "reads_during_backlog": _verdict(read_p95 is not None and failed_reads == 0
                                         and read_p95 < args.record_interval),
    }
    return {
        "config": config,
        "upstream_calls": dict(sorted(by_function.items())),
        "upstream_calls_by_phase": {k: dict(v) for k, v in sorted(by_phase.items())},
        "upstream_total": len(logged),
        "unanswered_upstream": unanswered,
        "same_full_record_again": sum(n - 1 for n in twice.values() if n > 1),
        "patients_touched": len(workload.touched),
        "patients_clinical": len(workload.clinical),
        "distinct_search_criteria": len(workload.criteria),
        "scarce_slot_ratio": _round(scarce),
        "total_ratio": _round(total),
        "breaches": len(found),
        "breaches_by_kind": dict(Counter(b.kind for b in found)),
        "breach_examples": [{"kind": b.kind, "endpoint": b.endpoint, "gap_s": round(b.gap, 4),
                             "first": b.first, "second": b.second} for b in found[:10]],
        "utilisation": _round(utilisation),
        "utilisation_by_endpoint": per_endpoint,
        "reads_during_backlog": {"n": len(reads), "failed": failed_reads,
                                 "p95_s": _round(read_p95)},
        "phases": phases,
        "errors": dict(errors.most_common()),
        "verdicts": verdicts,
        "verdict": "PASS" if all(v == "PASS" for v in verdicts.values()) else "FAIL",
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def report(result: dict, args: argparse.Namespace) -> None:
    print(f"\n== {result['config']} ({result.get('seconds', '?')} s) ==")
    if "crashed" in result:
        print(f"crashed: {result['crashed']}")
        return
    phases = list(result["phases"])
    rows = [[label, *(counts.get(p, 0) for p in phases), counts.get("between", 0),
             sum(counts.values())]
            for label, counts in result["upstream_calls_by_phase"].items()]
    rows.append(["all upstream calls",
                 *(sum(c.get(p, 0) for c in result["upstream_calls_by_phase"].values())
                   for p in phases),
                 sum(c.get("between", 0) for c in result["upstream_calls_by_phase"].values()),
                 result["upstream_total"]])
    print_table(["upstream calls (proxy)", *phases, "between", "total"], rows)
    print(f"unanswered upstream requests: {result['unanswered_upstream']}; "
          f"same full record fetched again: {result['same_full_record_again']}")
    print()
    print_table(["client phase", "requests", "ok", "429", "503", "errors", "skipped",
                 "p50 s", "p95 s", "seconds"],
                [[name, p["requests"], p["ok"], p["429"], p["503"], p["errors"], p["skipped"],
                  _show(p["p50_s"]), _show(p["p95_s"]), p["seconds"]]
                 for name, p in result["phases"].items()])
    clipped = sum(p["retry_after_clipped"] for p in result["phases"].values())
    if clipped:
        print(f"Retry-After above {args.max_retry_after:g} s clipped {clipped} time(s)")
    print()
    verdicts = result["verdicts"]
    reads = result["reads_during_backlog"]
    print_table(["target", "value", "goal", "verdict"], [
        ["scarce-slot ratio", _show(result["scarce_slot_ratio"]), f"<= {TARGET_SCARCE}",
         verdicts["scarce_slot_ratio"]],
        ["total ratio", _show(result["total_ratio"]), f"<= {TARGET_TOTAL}",
         verdicts["total_ratio"]],
        ["breaches", f"{result['breaches']} {result['breaches_by_kind'] or ''}".strip(), "0",
         verdicts["breaches"]],
        ["backlog utilisation", _show(result["utilisation"]), f">= {TARGET_UTILISATION}",
         verdicts["utilisation"]],
        ["reads during backlog p95 s", f"{_show(reads['p95_s'])} ({reads['failed']} failed)",
         f"< {args.record_interval:g}", verdicts["reads_during_backlog"]],
    ])
    print(f"  scarce: {result['upstream_calls'].get('GetPatientRecord (non-exempt)', 0)} "
          f"non-exempt records / {result['patients_clinical']} patients asked for clinical "
          f"data; total: {result['upstream_total']} calls / ({result['patients_touched']} "
          f"patients + {result['distinct_search_criteria']} search criteria)")
    own = result.get("facade_metrics")
    if own is not None:
        print(f"  the facade's own /metrics: {own['upstream_calls']:g} upstream calls, "
              f"{own['breaches_detected']:g} breaches detected, {own['missed_slots']:g} slots "
              f"missed (booked again), {own['throttled_429']:g} 429s, "
              f"{own['single_flight_joins']:g} single-flight joins")
    for example in result["breach_examples"][:5]:
        print(f"  breach: {example['kind']} on {example['endpoint']}: {example['first']} then "
              f"{example['second']} {example['gap_s'] * 1000:.1f} ms apart")
    if result["errors"]:
        print("errors (other than 429/503 retried):")
        for text, count in list(result["errors"].items())[:12]:
            print(f"  {count:4d} x {text}")


def _show(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=("embedded", "redis", "both"), default="both")
    parser.add_argument("--requests", type=int, default=400, help="main-phase requests")
    parser.add_argument("--seed", type=int, default=1, help="practice and workload seed")
    parser.add_argument("--patients", type=int, default=60,
                        help="patients the main phase draws from (Zipf)")
    parser.add_argument("--backlog", type=int, default=20,
                        help="further cold patients asked for at once in the backlog phase")
    parser.add_argument("--backlog-reads", type=int, default=8,
                        help="Patient reads (no-cache) during the backlog")
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent s")
    parser.add_argument("--pages", type=int, default=3, help="pages followed when paging")
    parser.add_argument("--request-interval", type=float, default=0.1)
    parser.add_argument("--record-interval", type=float, default=1.0)
    parser.add_argument("--tolerance", type=float, default=0.005,
                        help="proxy timing jitter allowed before a gap is a breach (s)")
    parser.add_argument("--ttl", type=float, default=600.0,
                        help="freshness windows (clinical, demographics), s")
    parser.add_argument("--max-wait", type=float, default=10.0, help="FACADE_MAX_WAIT")
    parser.add_argument("--send-margin", type=float,
                        help="FACADE_SEND_MARGIN (default: the facade's own)")
    parser.add_argument("--top-up-after", type=float,
                        help="FACADE_TOP_UP_AFTER (default: the facade's own)")
    parser.add_argument("--read-timeout", type=float, default=5.0,
                        help="FACADE_READ_TIMEOUT (a dropped request gets no reply)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker")
    parser.add_argument("--instances", type=int, default=2, help="instances (redis config)")
    parser.add_argument("--endpoints", type=int, default=1,
                        help="SystmOne endpoints (simulator + proxy each; FACADE_UPSTREAM "
                             "lists them all)")
    parser.add_argument("--max-retry-after", type=float, default=30.0,
                        help="longest Retry-After a client sleeps (longer ones are clipped)")
    parser.add_argument("--give-up", type=float, default=60.0,
                        help="a request still refused after this many seconds is an error")
    parser.add_argument("--phase-timeout", type=float, default=60.0,
                        help="tasks not started within this many seconds of a phase are "
                             "skipped")
    parser.add_argument("--busy", type=int, default=0,
                        help="processes kept spinning on the CPU during the run")
    parser.add_argument("--result-name", default="stewardship",
                        help="the result file's name under bench/results")
    parser.add_argument("--facade-tree", type=Path, default=REPO,
                        help="run gunicorn wsgi:app from this source tree (e.g. an export of "
                             "an older commit, to compare); default: this repository")
    parser.add_argument("--workdir", type=Path,
                        help="keep logs here (default: a temporary dir, removed)")
    args = parser.parse_args(argv)

    def interrupted(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with it ignored
    configs = ["embedded", "redis"] if args.config == "both" else [args.config]
    size, patients = practice_patients(args.patients + args.backlog, args.seed)
    print(f"practice: {size} generated patients (seed {args.seed}); {args.patients} in the "
          f"Zipf workload, {args.backlog} cold for the backlog; intervals "
          f"{args.request_interval:g} s / {args.record_interval:g} s", file=sys.stderr)
    results = {}
    scratch = None if args.workdir else tempfile.TemporaryDirectory(prefix="stewardship-")
    root = args.workdir or Path(scratch.name)
    try:
        for config in configs:
            print(f"{config}:", file=sys.stderr)
            workdir = root / config
            if workdir.exists():
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
            for patient in patients:
                patient.id = None
            try:
                results[config] = run_config(config, args, size, patients, workdir)
            except Exception as error:  # report it, clean up, go on to the next one
                results[config] = {"config": config, "crashed": f"{type(error).__name__}: "
                                                                f"{error}", "verdict": "FAIL"}
            report(results[config], args)
    except KeyboardInterrupt:
        print("interrupted; every process stopped", file=sys.stderr)
        return 130
    finally:
        if scratch is not None:
            scratch.cleanup()
    verdict = "PASS" if results and all(r["verdict"] == "PASS"
                                        for r in results.values()) else "FAIL"
    print(f"\nstewardship: {verdict} "
          + ", ".join(f"{name} {r['verdict']}" for name, r in results.items()))
    path = write_result(args.result_name, {
        "verdict": verdict,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "practice_size": size,
        "targets": {"scarce_slot_ratio_max": TARGET_SCARCE, "total_ratio_max": TARGET_TOTAL,
                    "breaches": 0, "utilisation_min": TARGET_UTILISATION,
                    "read_during_backlog_p95_below_s": args.record_interval},
        "configs": results,
    })
    print(f"wrote {path.relative_to(REPO)}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
