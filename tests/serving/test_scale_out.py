"""Scale-out, proven: one Redis, the simulator and two `facade serve` instances, driven together.

One module-scoped cluster, all real processes:

- a private ``redis-server`` (skipped, saying why, when the binary is not on PATH);
- the simulator (``facade simulator``, its own process) on compressed intervals, serving a
  small generated practice;
- the counting proxy from ``bench/countingproxy.py`` in front of it, in its own process: the
  independent clock of when each message *arrived* (the simulator queues early requests
  rather than refusing them, and its own audit is written after each reply, so the
  request interval can only be checked at arrival);
- two ``python -m facade serve`` instances (real gunicorn, 2 workers each) with the same
  ``FACADE_REDIS_URL`` and the same ``FACADE_PUBLIC_BASE_URL``, as behind a load balancer;
  each has its own state dir (mode 700) and so its own audit sink. Nothing is copied between
  the state dirs: the id key comes from Redis (the tests read it there too). Requests go to
  each instance's own port.

A client is registered once (``facade clients add``: the registry is in Redis) and gets its
token from instance A's ``/auth/token`` with a signed assertion.

The test that SIGKILLs instance B runs last; any test needing B afterwards restarts it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import importlib.util
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from facade.audit.sink import AuditQuery, open_sink
from facade.ids import KEY_FILE, IdCodec
from facade.stewardship.redis_store import RedisStore
from simulator.config import SimulatorConfig
from simulator.practice import generated_practice
from simulator.store import SimulatorStore

from .. import processlogs
from ..fhir.test_clients import signed_assertion
from ..redisserver import private_redis

REPO = Path(__file__).resolve().parents[2]
FACADE = [sys.executable, "-m", "facade"]

#: The practice the simulator serves (generated in the simulator's process and here alike).
PATIENTS, SEED, AS_OF = 40, 7, dt.date(2026, 11, 1)
#: Compressed SystmOne limits, the same for the simulator and both instances.
REQUEST_INTERVAL, RECORD_INTERVAL = 0.1, 1.0
#: The proxy's clock jitter allowed before a gap counts as a breach.
TOLERANCE = 0.005
MAX_WAIT = 3.0
#: Both instances believe they are this host (a load balancer's name): token audiences and
#: links use it, whichever instance minted them.
PUBLIC_BASE = "http://facade.test/fhir"
TOKEN_URL = "http://facade.test/auth/token"
CLIENT_ID = "scale-out"
SCOPE = "system/*.rs"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _load_counting_proxy():
    """bench/countingproxy.py (not a package): the proxy process and its breach analysis."""
    path = REPO / "bench" / "countingproxy.py"
    spec = importlib.util.spec_from_file_location("scale_out_countingproxy", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


countingproxy = _load_counting_proxy()


# --- HTTP ------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def call(port: int, path: str, token: str | None = None, method: str = "GET",
         body: str | None = None, timeout: float = 30, **headers: str) -> Answer:
    """One request on a connection of its own; the whole body is read (a response cut short
    raises IncompleteRead or a connection error, never returns)."""
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def until_answered(port: int, path: str, token: str, deadline: float,
                   retry: tuple[int, ...] = (429,), **headers: str) -> tuple[Answer, int]:
    """GET, honouring Retry-After on the ``retry`` statuses until ``deadline``; the answer
    and how many refusals were retried."""
    refused = 0
    while True:
        answer = call(port, path, token, **headers)
        if answer.status not in retry or time.monotonic() > deadline:
            return answer, refused
        refused += 1
        time.sleep(min(float(answer.headers.get("Retry-After") or 1), 1.0)
                   + random.uniform(0, 0.1))


def fetch(port: int, path: str, token: str, **headers: str) -> Answer:
    """GET for a test about something other than the throttle: a 429 (budget spent) or a
    503 (the endpoint taken out after an earlier test's trouble) is waited out, within 15 s."""
    return until_answered(port, path, token, time.monotonic() + 15, (429, 503),
                          **headers)[0]


def token_request(port: int, assertion: str) -> Answer:
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPE,
                                   "client_assertion_type": ASSERTION_TYPE,
                                   "client_assertion": assertion})
    return call(port, "/auth/token", method="POST", body=form,
                **{"Content-Type": "application/x-www-form-urlencoded"})


def path_of(url: str) -> str:
    """A link's path and query, to send to whichever instance's own port."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


# --- processes -------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("FACADE_") and k != "PROMETHEUS_MULTIPROC_DIR"}


def stop_group(process: subprocess.Popen, signum: int = signal.SIGTERM,
               timeout: float = 10) -> None:
    """Stop a process started in a session of its own, then anything left in its group."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def group_members(pgid: int) -> list[int]:
    """Processes (zombies aside) still in process group ``pgid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rpartition(")")[2].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for_line(path: Path, pattern: str, process: subprocess.Popen,
                  timeout: float = 60) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, path.read_text(errors="replace")) if path.exists() else None
        if match:
            return match
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"no line matching {pattern!r} in {path.name}:\n{tail(path)}")


@dataclass
class Instance:
    """One `facade serve` (gunicorn master + 2 workers) in a process group of its own."""

    name: str
    state: Path
    environment: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    booted: int = 0  # workers booted (in the log) before this start

    @property
    def log(self) -> Path:
        return self.state.parent / f"serve-{self.name}.log"

    def start(self) -> Instance:
        env = {**self.environment, "FACADE_STATE_DIR": str(self.state),
               "FACADE_BIND": f"127.0.0.1:{self.port}"}
        self.booted = self._boots()
        with self.log.open("a") as out:
            self.process = subprocess.Popen([*FACADE, "serve"], cwd=REPO, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """/healthz answers and both workers have booted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                break
            try:
                healthy = call(self.port, "/healthz", timeout=2).status == 200
            except OSError:
                healthy = False
            if healthy and self._boots() >= self.booted + 2:
                return
            time.sleep(0.1)
        raise RuntimeError(f"instance {self.name} did not come up:\n{tail(self.log)}")

    def _boots(self) -> int:
        return self.log.read_text(errors="replace").count("Booting worker with pid") \
            if self.log.exists() else 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole group: the master and every worker, no chance to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process, signal.SIGINT)  # gunicorn's quick shutdown


def keep_logs(workdir: Path) -> None:
    """The simulator's and both instances' logs, for the PHI scan (tests/processlogs.py)."""
    spec = processlogs.GeneratedSpec(PATIENTS, SEED, AS_OF)
    for log in sorted(workdir.glob("*.log")):
        processlogs.keep(f"scale-out {log.stem}", log.read_text(errors="replace"), spec)


@dataclass
class Cluster:
    instances: dict[str, Instance]
    proxy: object  # countingproxy.ProxyProcess
    simulator_audit: SimulatorStore
    codec: IdCodec
    key: ECKey
    token: str
    numerics: list  # PatientSummary of patients with numeric results, handed out by take()
    readers: list  # PatientSummary of patients with NHS numbers
    environment: dict  # what both instances were started with

    def __post_init__(self) -> None:
        self._taken = 0

    def live(self, name: str) -> Instance:
        """The instance, restarted first if an earlier test killed it."""
        instance = self.instances[name]
        if not instance.alive:
            instance.start().wait_ready()
        return instance

    def take(self, count: int) -> list:
        """Patients no other test has asked about (so nothing of theirs is cached yet)."""
        chosen = self.numerics[self._taken:self._taken + count]
        self._taken += count
        assert len(chosen) == count, "the practice has run out of fresh patients"
        return chosen

    def patient_id(self, summary) -> str:
        return self.codec.patient_id(summary.identity)

    def settled(self, timeout: float = 10) -> tuple[list, list]:
        """The proxy's log (arrivals, oldest first) and the simulator's own audit, once the
        audit holds every message the proxy saw: each one answered, dropped or abandoned
        (the simulator writes its audit after it has dealt with a message)."""
        deadline = time.monotonic() + timeout
        while True:
            arrived = self.proxy.requests
            messages = self.simulator_audit.messages()
            if len(messages) >= len(arrived) or time.monotonic() > deadline:
                return arrived, messages
            time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("scale-out not tested: no redis-server on PATH "
                    "(e.g. apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("scale-out")
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(keep_logs, workdir)  # registered first: runs once all have stopped
        redis_url = cleanup.enter_context(private_redis(binary, workdir))

        simulator_state = workdir / "simulator"
        simulator_log = workdir / "simulator.log"
        with simulator_log.open("w") as out:
            simulator = subprocess.Popen(
                [*FACADE, "simulator", "--port", "0", "--patients", str(PATIENTS),
                 "--seed", str(SEED), "--as-of", AS_OF.isoformat(),
                 "--request-interval", str(REQUEST_INTERVAL),
                 "--record-interval", str(RECORD_INTERVAL), "--state-dir", str(simulator_state)],
                cwd=REPO, env=clean_environment(), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        cleanup.callback(stop_group, simulator)
        port = int(wait_for_line(simulator_log, r"listening on 127\.0\.0\.1:(\d+)",
                                 simulator).group(1))
        proxy = countingproxy.ProxyProcess(f"127.0.0.1:{port}", workdir / "proxy.jsonl",
                                           name="simulator").start()
        cleanup.callback(proxy.stop)

        environment = {**clean_environment(),
                       "FACADE_UPSTREAM": proxy.address,
                       "FACADE_REDIS_URL": redis_url,
                       "FACADE_PUBLIC_BASE_URL": PUBLIC_BASE,
                       "FACADE_WORKERS": "2",
                       "FACADE_REQUEST_INTERVAL": str(REQUEST_INTERVAL),
                       "FACADE_RECORD_INTERVAL": str(RECORD_INTERVAL),
                       "FACADE_MAX_WAIT": str(MAX_WAIT),
                       "FACADE_READ_TIMEOUT": "5",
                       "FACADE_GRACEFUL_TIMEOUT": "5"}
        states = {name: workdir / f"state-{name}" for name in ("a", "b")}
        for state in states.values():
            state.mkdir(mode=0o700)
        instances = {name: Instance(name, state, environment) for name, state in states.items()}
        for instance in instances.values():
            cleanup.callback(instance.stop)
            instance.start()

        # Meanwhile, the partner's client is registered once, in Redis, from A's state dir.
        key = ECKey.generate_key("P-384", parameters={"kid": "scale-out", "alg": "ES384"})
        jwks = workdir / "client.jwks.json"
        jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
        registered = subprocess.run(
            [*FACADE, "clients", "add", CLIENT_ID, "--jwks", str(jwks), "--scope", SCOPE,
             "--state-dir", str(states["a"])], cwd=REPO,
            env={**clean_environment(), "FACADE_REDIS_URL": redis_url},
            capture_output=True, text=True, timeout=60)
        assert registered.returncode == 0, registered.stderr
        for instance in instances.values():
            instance.wait_ready()
        shared = RedisStore.from_url(redis_url)  # the instances' namespace
        cleanup.callback(shared.close)
        codec = IdCodec.from_state_dir(workdir / "tests", shared)  # the instances' id key

        granted = token_request(instances["a"].port,
                                signed_assertion(key, CLIENT_ID, TOKEN_URL))
        assert granted.status == 200, granted.body
        practice = generated_practice(PATIENTS, seed=SEED, as_of=AS_OF)
        readers = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"]
        numerics = [p for p in readers
                    if practice.record(p).find("Clinical/Event/ClinicalCode[Value]") is not None]
        audit = SimulatorStore(SimulatorConfig(state_dir=simulator_state).database)
        cleanup.callback(audit.close)
        yield Cluster(instances, proxy, audit, codec, key, granted.json()["access_token"],
                      numerics, readers, environment)


# --- the tests -------------------------------------------------------------------------

def test_two_instances_driven_together_never_breach_the_throttle(cluster):
    """Patient reads (some with no-cache), identifier searches and Observation searches for
    every patient, from 12 threads over both instances at once; the same patient is asked of
    both."""
    a, b = cluster.live("a"), cluster.live("b")
    ports = (a.port, b.port)
    seen_before = len(cluster.settled()[0])
    observed = cluster.take(10)
    tasks: list[tuple[str, int, str]] = []
    for n, summary in enumerate(cluster.readers):
        pid = cluster.patient_id(summary)
        identifier = urllib.parse.quote(f"{NHS_SYSTEM}|{summary.identity.value}", safe="")
        tasks.append(("read", ports[n % 2], f"/fhir/Patient/{pid}"))
        tasks.append(("identifier", ports[(n + 1) % 2], f"/fhir/Patient?identifier={identifier}"))
        if n % 2:  # asks SystmOne again, within the throttle: request slots in demand
            tasks.append(("no-cache read", ports[n % 2], f"/fhir/Patient/{pid}"))
    for n, summary in enumerate(observed):
        pid = cluster.patient_id(summary)
        tasks.append(("observation", ports[n % 2], f"/fhir/Observation?patient={pid}"))
        tasks.append(("observation", ports[(n + 1) % 2],
                      f"/fhir/Observation?patient={pid}&category=vital-signs"))
    random.Random(SEED).shuffle(tasks)
    deadline = time.monotonic() + 30

    def run(task: tuple[str, int, str]) -> tuple[str, int, int]:
        kind, port, path = task
        headers = {"Cache-Control": "no-cache"} if kind == "no-cache read" else {}
        answer, throttled = until_answered(port, path, cluster.token, deadline, **headers)
        return kind, answer.status, throttled

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(run, tasks))

    upstream, messages = cluster.settled()
    window = upstream[seen_before:]
    found = countingproxy.breaches(window, REQUEST_INTERVAL, RECORD_INTERVAL, TOLERANCE)
    assert found == [], f"{len(found)} breaches, e.g. {found[:3]}"
    assert len(messages) == len(upstream)
    verdicts = {m.request_uid: m.outcome for m in messages}
    assert Counter(verdicts[r.request_uid] for r in window) == {"success": len(window)}
    assert all(r.replied_at is not None for r in window)
    statuses = Counter((kind, status) for kind, status, _ in outcomes)
    assert all(status == 200 for _, status in statuses), statuses
    # Shared cache and single-flight: one full record per patient, whichever instance asked.
    full = [r.identity for r in window if r.full_record]
    assert sorted(full) == sorted(f"NHSNumber:{s.identity.value}" for s in observed)
    throttled = sum(t for *_, t in outcomes)
    gaps = [after.at - before.at for before, after in itertools.pairwise(window)]
    print(f"\n{len(tasks)} requests over 2 instances, {throttled} 429s retried; "
          f"{len(window)} upstream messages, {len(full)} full records, closest two "
          f"{min(gaps) * 1000:.1f} ms apart")


@contextlib.contextmanager
def busy_cpus(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU: a machine too loaded to be quick."""
    spinning = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                 start_new_session=True) for _ in range(count)]
    try:
        yield
    finally:
        for process in spinning:
            stop_group(process, signal.SIGKILL)


def test_one_full_record_per_patient_however_loaded_the_machine(cluster):
    """The stress variant of bench/stewardship, on compressed intervals: 240 requests from
    16 threads over four fresh patients and both instances while more busy processes than
    cores spin. Every thread held up between its cache miss and the flight widens the
    window for a second fetch; there must be none: exactly one non-exempt GetPatientRecord
    per patient in the freshness window (which outlasts the test)."""
    a, b = cluster.live("a"), cluster.live("b")
    chosen = cluster.take(4)
    seen_before = len(cluster.settled()[0])
    year = AS_OF.year
    queries = ["", "&category=vital-signs", "&category=laboratory", f"&date=ge{year - 3}",
               "&_count=2", "&code=http://loinc.org|29463-7"]
    rng = random.Random(SEED)
    tasks = [(rng.choice((a.port, b.port)),
              f"/fhir/Observation?patient={cluster.patient_id(rng.choice(chosen))}"
              f"{rng.choice(queries)}") for _ in range(240)]
    deadline = time.monotonic() + 60

    def run(task: tuple[int, str]) -> int:
        answer, _ = until_answered(*task, cluster.token, deadline, (429, 503))
        return answer.status

    with busy_cpus((os.cpu_count() or 2) + 1), ThreadPoolExecutor(max_workers=16) as pool:
        statuses = Counter(pool.map(run, tasks))
    assert statuses == {200: len(tasks)}
    window = cluster.settled()[0][seen_before:]
    full = Counter(r.identity for r in window if r.full_record)
    assert full == Counter({f"NHSNumber:{s.identity.value}": 1 for s in chosen})
    assert countingproxy.breaches(window, REQUEST_INTERVAL, RECORD_INTERVAL, TOLERANCE) == []


def test_a_search_answered_by_one_instance_is_served_by_the_other_from_the_cache(cluster):
    a, b = cluster.live("a"), cluster.live("b")
    [summary] = cluster.take(1)
    path = f"/fhir/Observation?patient={cluster.patient_id(summary)}"
    first = fetch(a.port, path, cluster.token)
    assert first.status == 200, first.body
    arrived_before, audited_before = cluster.settled()
    second = fetch(b.port, path, cluster.token)
    assert second.status == 200, second.body
    # No waiting needed: the proxy logs a message before it can pass on the reply, and B
    # cannot answer before SystmOne's reply, so had B asked, the log would show it now.
    arrived, audited = cluster.settled()
    assert (len(arrived), len(audited)) == (len(arrived_before), len(audited_before))
    assert [e["resource"]["id"] for e in second.json()["entry"]] \
        == [e["resource"]["id"] for e in first.json()["entry"]]


def test_each_instance_serves_the_ids_the_other_minted(cluster):
    """No id key was copied between the state dirs: B decodes what A minted (and the
    reverse) because both took the key from Redis."""
    a, b = cluster.live("a"), cluster.live("b")
    summary = cluster.readers[-1]
    identifier = urllib.parse.quote(f"{NHS_SYSTEM}|{summary.identity.value}", safe="")
    minted = fetch(a.port, f"/fhir/Patient?identifier={identifier}", cluster.token)
    pid = minted.json()["entry"][0]["resource"]["id"]
    assert pid == cluster.patient_id(summary)
    assert fetch(b.port, f"/fhir/Patient/{pid}", cluster.token).status == 200
    assert (a.state / KEY_FILE).read_bytes() == (b.state / KEY_FILE).read_bytes()


def test_an_instance_with_another_id_key_refuses_to_start_naming_it(cluster, tmp_path):
    state = tmp_path / "state-c"
    state.mkdir(mode=0o700)
    IdCodec.from_state_dir(state)  # a key of its own, as a forgotten copy step left it
    stray = Instance("c", state, cluster.environment).start()
    try:
        assert stray.process.wait(60) == 2  # refused before gunicorn starts
    finally:
        stray.stop()
    log = stray.log.read_text(errors="replace")
    assert f"{state / KEY_FILE} holds an id key other than the one the instances sharing " \
           "FACADE_REDIS_URL use" in log
    assert "Traceback" not in log and "Starting gunicorn" not in log


def test_a_client_assertion_used_at_one_instance_is_refused_at_the_other(cluster):
    a, b = cluster.live("a"), cluster.live("b")
    assertion = signed_assertion(cluster.key, CLIENT_ID, TOKEN_URL)
    accepted = token_request(a.port, assertion)
    assert accepted.status == 200, accepted.body
    replayed = token_request(b.port, assertion)
    assert replayed.status in (400, 401), replayed.body
    assert replayed.json()["error"] == "invalid_client"
    # B refuses the replay, not the client: a fresh assertion is accepted there, and the
    # token B signs is good at A (one keyring).
    fresh = token_request(b.port, signed_assertion(cluster.key, CLIENT_ID, TOKEN_URL))
    assert fresh.status == 200, fresh.body
    assert call(a.port, "/fhir/metadata", fresh.json()["access_token"]).status == 200
    assert fetch(a.port, f"/fhir/Patient/{cluster.patient_id(cluster.readers[0])}",
                 fresh.json()["access_token"]).status == 200


def test_a_paging_link_minted_by_one_instance_works_on_the_other(cluster):
    a, b = cluster.live("a"), cluster.live("b")
    [summary] = cluster.take(1)
    pid = cluster.patient_id(summary)
    first = fetch(a.port, f"/fhir/Observation?patient={pid}&_count=2", cluster.token)
    assert first.status == 200, first.body
    links = {link["relation"]: link["url"] for link in first.json()["link"]}
    assert links["next"].startswith(PUBLIC_BASE + "/Observation?")
    second = fetch(b.port, path_of(links["next"]), cluster.token)
    assert second.status == 200, second.body
    whole = fetch(a.port, f"/fhir/Observation?patient={pid}", cluster.token).json()
    ids = [e["resource"]["id"] for e in whole["entry"]]
    assert [e["resource"]["id"] for e in first.json()["entry"]] == ids[:2]
    assert [e["resource"]["id"] for e in second.json()["entry"]] == ids[2:4]
    assert second.json()["total"] == whole["total"]
    # ... and B's own links carry on from there, on the shared base.
    onward = {link["relation"]: link["url"] for link in second.json()["link"]}
    assert onward["previous"].startswith(PUBLIC_BASE) and "_offset=4" in onward["next"]


def test_killing_an_instance_mid_load_loses_no_audit_record_of_a_completed_request(cluster):
    """Reads on B from 8 threads; B's master and workers SIGKILLed together partway; every
    request B answered in full has its record in B's audit sink, read independently."""
    a, b = cluster.live("a"), cluster.live("b")
    warm = [cluster.patient_id(s) for s in cluster.readers[:6]]
    for pid in warm:  # cached (if an earlier test has not already)
        assert fetch(b.port, f"/fhir/Patient/{pid}", cluster.token).status == 200
    cold = [cluster.patient_id(s) for s in cluster.take(6)]  # full records: slow, in flight
    plan: list[tuple[str, dict[str, str]]] = [(f"/fhir/Patient/{pid}", {}) for pid in warm]
    plan += [(f"/fhir/Patient/{pid}", {"Cache-Control": "no-cache"}) for pid in warm[:2]]
    plan += [(f"/fhir/Observation?patient={pid}", {}) for pid in cold]
    completed: dict[str, int] = {}  # X-Request-ID -> status, of every answer read in full
    cut: Counter = Counter()  # how requests that got no full answer ended
    lock = threading.Lock()

    def drive(offset: int) -> None:
        for path, headers in itertools.islice(itertools.cycle(plan), offset, None):
            try:
                answer = call(b.port, path, cluster.token, timeout=20, **headers)
                json.loads(answer.body)  # complete and well-formed
            except ConnectionRefusedError:
                return  # B is gone
            except (OSError, http.client.HTTPException, ValueError) as error:
                with lock:
                    cut[type(error).__name__] += 1
                return
            with lock:
                completed[answer.headers["X-Request-ID"]] = answer.status

    threads = [threading.Thread(target=drive, args=(n * 2,)) for n in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(completed) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    pgid = b.process.pid
    b.kill()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    assert len(completed) >= 60, f"B answered only {len(completed)} requests in 20 s"
    assert sum(cut.values()) >= 1, "no request was in flight when B was killed"
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group_members(pgid) == [], "a worker of B outlived the kill"

    sink = open_sink(None, b.state)  # B's own SQLite file, opened from here
    try:
        recorded: dict[str, int] = {}
        offset = 0
        while True:
            rows, total = sink.search(AuditQuery(count=500, offset=offset))
            recorded.update((entry.request_id, entry.status) for _, entry in rows)
            offset += len(rows)
            if not rows or offset >= total:
                break
    finally:
        sink.close()
    missing = completed.keys() - recorded.keys()
    assert not missing, f"{len(missing)} of {len(completed)} completed requests have no record"
    assert {rid: recorded[rid] for rid in completed} == completed
    print(f"\nB answered {len(completed)} requests in full ({Counter(completed.values())}); "
          f"{dict(cut)} cut off by the kill; {len(recorded)} records in B's audit")

    # The other instance carries on.
    assert fetch(a.port, f"/fhir/Patient/{warm[0]}", cluster.token).status == 200
