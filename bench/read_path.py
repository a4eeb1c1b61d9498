"""Read path: a cached, authenticated read through ``facade serve`` against a bare Flask app.

In one run on one machine: the SystmOne simulator (in this process, a small
generated practice, no throttle of its own), ``facade serve`` (gunicorn from
FACADE_* settings; a client registered with ``facade clients add`` and tokens
from ``facade token``, as an operator would) and bench/bareapp.py, a bare Flask
app under gunicorn with the *same* worker class, workers, threads, keep-alive,
timeouts, max-requests (+ jitter) and access-log setting, answering the same
paths with the exact bytes and headers the facade gave (the framework's
ceiling). The facade's freshness windows are set longer than the run, so
every measured request is answered from its cache: the simulator's message
count is checked to stay unchanged while measuring.

Measured with wrk (``--latency``, 64 connections, 2 threads; a Lua ``done``
hook prints exact counts and percentiles) when it is on PATH, installed with
apt-get when running as root, else with a Python loopback generator (several
processes of keep-alive http.client connections, 64 in all). The Python
generator is slower than wrk and shares the 2 cores with the servers, so its
requests/s are lower for both sides: the facade/bare *ratio*, measured with
the same generator in the same run, is what the targets are about.

Cases, interleaved facade/bare then bare/facade, round after round (``--rounds``):

- ``Patient`` read, ``GET /fhir/Patient/{id}`` (cached), default serving settings
  (gthread, 2 workers x 8 threads) — target: facade >= 0.70 x bare requests/s;
- ``Observation`` search page of 50, ``GET /fhir/Observation?patient=..&_count=50``
  (cached record), same settings — ratio reported;
- ``Patient`` read under ``sync`` workers (2 workers), facade and bare alike — with
  the gthread pair above it says which worker class serves the facade best (the
  default's justification).

The soak (``--soak SECONDS``, 600 by default; ``--skip-soak``): a fresh ``facade
serve`` (default settings, but FACADE_MAX_REQUESTS=0: recycling workers would hide
a leak) under mixed load from 64 connections — cached Patient reads of every
patient, Observation pages (several patients, offsets, filters), and a few
uncached requests (``Cache-Control: no-cache`` Patient reads and family+birthdate
searches, which reach the simulator) — while each worker's RSS (VmRSS) is sampled
every 10 s. Target: <= 150 MB per worker, flat (slope over the second half
< 1 MB/min). Tokens are renewed between the soak's chunks (they live 300 s).

``--profile SECONDS`` (needs py-spy, ``--py-spy PATH`` or on PATH) samples one
facade worker during an extra Patient-read run and prints where its CPU time
goes, by component (token validation, audit, cache, id codec, response and
header building, Flask/werkzeug, gunicorn, logging, metrics).

    .venv/bin/python bench/read_path.py [--rounds 3] [--duration 10] [--soak 600 | --skip-soak]
        [--generator auto|wrk|python] [--access-log] [--profile 10] [--workdir DIR]

Prints tables and writes bench/results/read_path.json; exits 1 when a target fails.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field, fields
from pathlib import Path

from common import REPO, free_port, print_table, write_result
from joserfc.jwk import ECKey

from facade.config import Settings
from simulator import RunningSimulator, SimulatorConfig, create_server
from simulator.practice import generated_practice

TARGET_RATIO = 0.70
RSS_LIMIT_MB = 150.0
SLOPE_LIMIT_MB_PER_MIN = 1.0
RSS_EVERY_S = 10.0
CONNECTIONS = 64
PRACTICE_SIZE = 20
SEED = 7
AS_OF = dt.date(2026, 11, 1)
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CLIENT_ID = "read-path"
SCOPE = "system/Patient.rs system/Observation.rs"
PAGE = 50
TTL = 7200.0  # longer than any run: every measured request is a cache hit
TOKEN_RENEW_AFTER = 200.0  # tokens live 300 s
SOAK_CHUNK_S = 60.0
UNCACHED_CLIENTS = 2  # waiting for SystmOne while the cached reads are measured
#: Response headers that are the server's own, not the app's: the bare app adds them too.
SERVER_HEADERS = {"date", "server", "content-length", "connection", "keep-alive",
                  "transfer-encoding"}
_DEFAULTS = {f.name: f.default for f in fields(Settings)}


# --- serving settings ----------------------------------------------------------------

@dataclass(frozen=True)
class Serving:
    """gunicorn settings given to both servers of a pair: FACADE_* for the facade,
    the equivalent command-line flags for the bare app."""

    name: str
    worker_class: str
    workers: int
    threads: int
    max_requests: int
    max_requests_jitter: int
    access_log: bool
    keepalive: float = _DEFAULTS["keepalive"]
    timeout: float = _DEFAULTS["timeout"]
    graceful_timeout: float = _DEFAULTS["graceful_timeout"]

    def facade_env(self) -> dict[str, str]:
        return {"FACADE_WORKER_CLASS": self.worker_class, "FACADE_WORKERS": str(self.workers),
                "FACADE_THREADS": str(self.threads),
                "FACADE_MAX_REQUESTS": str(self.max_requests),
                "FACADE_MAX_REQUESTS_JITTER": str(self.max_requests_jitter),
                "FACADE_ACCESS_LOG": "true" if self.access_log else "false",
                "FACADE_KEEPALIVE": str(self.keepalive), "FACADE_TIMEOUT": str(self.timeout),
                "FACADE_GRACEFUL_TIMEOUT": str(self.graceful_timeout)}

    def gunicorn_flags(self) -> list[str]:
        """As facade/serving/gunicorn_conf.py turns the same settings into gunicorn's."""
        flags = ["-w", str(self.workers), "-k", self.worker_class,
                 "--threads", str(self.threads if self.worker_class == "gthread" else 1),
                 "--keep-alive", str(int(self.keepalive)), "--timeout", str(int(self.timeout)),
                 "--graceful-timeout", str(int(self.graceful_timeout)),
                 "--max-requests", str(self.max_requests),
                 "--max-requests-jitter", str(self.max_requests_jitter),
                 "--no-control-socket", "--error-logfile", "-"]
        if self.access_log:
            flags += ["--access-logfile", "-",
                      "--access-logformat", '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss']
        return flags

    def describe(self) -> str:
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"{self.worker_class}, {self.workers} workers{threads}"


# --- processes -----------------------------------------------------------------------

def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FACADE_", "BAREAPP_")) and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(extra)
    return env


class Server:
    """A gunicorn master in its own session: ``facade serve`` or the bare app."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], port: int,
                 log: Path, cwd: Path = REPO) -> None:
        self.label = label
        self.port = port
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out,
                                            start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                status, _, _ = http_get(self.port, "/healthz", {}, timeout=2)
                if status == 200 and len(self.workers()) >= 1:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} not ready in {timeout} s:\n" + self.log_tail())

    def workers(self) -> list[int]:
        """The master's children: its workers."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(part) for part in text.split()]

    def boots(self) -> int:
        """Workers booted so far (gunicorn logs each): the first ones and every replacement."""
        return self.log.read_text(errors="replace").count("Booting worker with pid")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn: quick shutdown
            self.process.wait(15)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Facade:
    """``facade serve`` with its own state dir, a registered client and its tokens."""

    #: The source tree ``facade serve`` runs from (set by main: a snapshot).
    tree: Path = REPO

    def __init__(self, label: str, serving: Serving, upstream: str, state: Path,
                 workdir: Path, jwks: Path, id_key: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.label = label
        self.serving = serving
        self.state = state
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        if id_key is not None:  # the same ids (and so the same bytes) as the first instance
            shutil.copy2(id_key, state / "id-key")
        self.port = free_port()
        self.env = clean_env({
            **serving.facade_env(),
            "FACADE_UPSTREAM": upstream, "FACADE_STATE_DIR": str(state),
            "FACADE_BIND": f"127.0.0.1:{self.port}",
            # The simulator has no throttle of its own here; these keep the facade's
            # (uncached) calls quick, and the windows outlast the run.
            "FACADE_REQUEST_INTERVAL": "0.01", "FACADE_RECORD_INTERVAL": "0.05",
            "FACADE_READ_TIMEOUT": "10",
            "FACADE_DEMOGRAPHICS_TTL": str(TTL), "FACADE_CLINICAL_TTL": str(TTL),
            "FACADE_TOP_UP_AFTER": str(TTL), **(extra_env or {})})
        cli(["clients", "add", CLIENT_ID, "--jwks", str(jwks), "--scope", SCOPE,
             "--replace", "--state-dir", str(state)], self.env, self.tree)
        self.server = Server(label, [sys.executable, "-m", "facade", "serve"], self.env,
                             self.port, workdir / f"{label}.log", cwd=self.tree)
        self._token = ""
        self._minted: float | None = None  # monotonic time starts near 0 on a fresh boot

    def token(self, fresh: bool = False) -> str:
        if fresh or self._minted is None or time.monotonic() - self._minted > TOKEN_RENEW_AFTER:
            self._token = cli(["token", "--client-id", CLIENT_ID, "--state-dir",
                               str(self.state)], self.env, self.tree).strip()
            self._minted = time.monotonic()
        return self._token

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        return http_get(self.port, path, {"Authorization": f"Bearer {self.token()}",
                                          **(headers or {})})

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> dict:
        status, _, body = self.get(path, headers)
        if status != 200:
            raise RuntimeError(f"{self.label}: GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)


def cli(args: list[str], env: dict[str, str], tree: Path = REPO) -> str:
    done = subprocess.run([sys.executable, "-m", "facade", *args], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"facade {args[0]} failed: {done.stderr.strip()}")
    return done.stdout


def snapshot(workdir: Path) -> Path:
    """A copy of what ``facade serve`` imports, taken once: a worker booted mid-run (gunicorn
    replaces workers after max_requests) then runs the code measured so far, whatever is
    being edited in the working tree meanwhile."""
    tree = workdir / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("facade", "mappings", "schemas", "simulator"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(REPO / "wsgi.py", tree / "wsgi.py")
    return tree


def bare_server(label: str, serving: Serving, captured: dict[str, Path], workdir: Path) -> Server:
    port = free_port()
    env = clean_env({"BAREAPP_PATIENT": str(captured["patient"]),
                     "BAREAPP_OBSERVATIONS": str(captured["observation"])})
    command = [sys.executable, "-m", "gunicorn", *serving.gunicorn_flags(),
               "-b", f"127.0.0.1:{port}", "--chdir", str(REPO / "bench"), "bareapp:app"]
    return Server(label, command, env, port, workdir / f"{label}.log")


def http_get(port: int, path: str, headers: dict[str, str],
             timeout: float = 30) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def client_jwks(path: Path) -> Path:
    key = ECKey.generate_key("P-384", parameters={"kid": "read-path-es384", "alg": "ES384"})
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return path


# --- the practice and the cache ------------------------------------------------------

@dataclass
class Practice:
    """What the facade told us about the generated practice: ids, names, Observation paths."""

    patients: list[dict] = field(default_factory=list)  # id, family, birthDate
    read_path: str = ""
    observation_path: str = ""
    observation_paths: list[str] = field(default_factory=list)  # for the soak's mix


def discover(facade: Facade, practice) -> Practice:
    """Every patient's id (identifier searches), then an Observation page of 50."""
    found = Practice()
    for summary in practice.index.summaries:
        if summary.identity.kind != "NHSNumber":
            continue
        bundle = facade.get_json(f"/fhir/Patient?identifier={NHS_SYSTEM}|"
                                 f"{summary.identity.value}")
        if bundle.get("total") != 1:
            continue
        resource = bundle["entry"][0]["resource"]
        found.patients.append({"id": resource["id"],
                               "family": resource["name"][0].get("family", ""),
                               "birthDate": resource.get("birthDate", "")})
    if not found.patients:
        raise RuntimeError("no patient with an NHS number found through the facade")
    found.read_path = f"/fhir/Patient/{found.patients[0]['id']}"
    for patient in found.patients:
        path = f"/fhir/Observation?patient=Patient/{patient['id']}&_count={PAGE}"
        bundle = facade.get_json(path)
        if len(bundle.get("entry", [])) == PAGE:
            if not found.observation_path:
                found.observation_path = path
            found.observation_paths.append(path)
            if len(found.observation_paths) >= 4:
                break
    if not found.observation_path:
        raise RuntimeError(f"no patient has {PAGE} Observations")
    return found


def warm(facade: Facade, found: Practice) -> None:
    """Bring what will be measured into the facade's cache."""
    for path in (found.read_path, found.observation_path):
        status, _, body = facade.get(path)
        if status != 200:
            raise RuntimeError(f"{facade.label}: GET {path} answered {status}: {body[:300]!r}")


def capture(facade: Facade, found: Practice, directory: Path) -> dict[str, Path]:
    """The facade's exact answers (body, and headers less the server's own) for the bare app."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, path in (("patient", found.read_path), ("observation", found.observation_path)):
        status, headers, body = facade.get(path)
        if status != 200:
            raise RuntimeError(f"{facade.label}: GET {path} answered {status}")
        target = directory / f"{name}.body"
        target.write_bytes(body)
        kept = {k: v for k, v in headers.items() if k.lower() not in SERVER_HEADERS}
        target.with_name(target.name + ".headers.json").write_text(json.dumps(kept, indent=1))
        files[name] = target
    return files


# --- load generators -----------------------------------------------------------------

WRK_DONE = """
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'READPATH_JSON {"requests": %d, "bytes": %d, "duration_us": %d, "connect": %d, '
    .. '"read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, '
    .. '"p99_us": %d, "p999_us": %d, "mean_us": %.1f, "max_us": %d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max))
end
"""

WRK_MIX = """
local targets = {%s}
local i = 0
function init(args)
  i = math.random(#targets) - 1
end
function request()
  i = i %% #targets + 1
  local target = targets[i]
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  if target[2] then headers["Cache-Control"] = "no-cache" end
  return wrk.format("GET", target[1], headers)
end
"""


@dataclass(frozen=True)
class Target:
    path: str
    no_cache: bool = False


def find_wrk(choice: str) -> str | None:
    """wrk's path; installed with apt-get when running as root and it is missing."""
    if choice == "python":
        return None
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is not installed: apt-get install -y wrk (running as root)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        found = shutil.which("wrk")
    if found is None:
        if choice == "wrk":
            raise SystemExit("wrk is not installed and could not be installed")
        print("wrk not available: using the Python loopback generator (the ratios are "
              "what count)", file=sys.stderr)
    return found


class Generator:
    def __init__(self, wrk: str | None, workdir: Path, threads: int) -> None:
        self.wrk = wrk
        self.workdir = workdir
        self.threads = threads
        self.name = "wrk" if wrk else "python loopback"
        self._scripts = 0

    def run(self, port: int, targets: list[Target], token: str, seconds: float) -> dict:
        if self.wrk:
            return self._wrk(port, targets, token, seconds)
        return python_load(port, targets, {"Authorization": f"Bearer {token}"}, seconds,
                           CONNECTIONS)

    def _wrk(self, port: int, targets: list[Target], token: str, seconds: float) -> dict:
        self._scripts += 1
        script = self.workdir / f"wrk{self._scripts}.lua"
        body = WRK_DONE
        if len(targets) > 1 or targets[0].no_cache:
            listed = ", ".join(f'{{"{t.path}", {"true" if t.no_cache else "false"}}}'
                               for t in targets)
            body = WRK_MIX % listed + body
        script.write_text(body)
        command = [self.wrk, f"-t{self.threads}", f"-c{CONNECTIONS}",
                   f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
                   "-s", str(script),
                   "-H", f"Authorization: Bearer {token}",
                   f"http://127.0.0.1:{port}{targets[0].path}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        script.unlink()
        line = next((x for x in done.stdout.splitlines() if x.startswith("READPATH_JSON ")),
                    None)
        if done.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        raw = json.loads(line.removeprefix("READPATH_JSON "))
        return _summary(raw["requests"], raw["bytes"], raw["duration_us"] / 1e6,
                        raw["status"], raw["connect"] + raw["read"] + raw["write"]
                        + raw["timeout"],
                        {q: raw[f"{q}_us"] / 1000 for q in ("p50", "p90", "p99", "p999")})


def _summary(requests: int, received: int, seconds: float, non_2xx: int, socket_errors: int,
             percentiles_ms: dict[str, float]) -> dict:
    return {"requests": requests, "rps": round(requests / seconds, 1) if seconds else 0.0,
            "bytes_per_request": round(received / requests, 1) if requests else 0.0,
            "non_2xx": non_2xx, "socket_errors": socket_errors, "seconds": round(seconds, 2),
            **{f"{q}_ms": round(v, 3) for q, v in percentiles_ms.items()}}


def python_load(port: int, targets: list[Target], headers: dict[str, str], seconds: float,
                connections: int) -> dict:
    """wrk's stand-in: keep-alive http.client connections in several processes, 64 in all,
    cycling through ``targets``; latencies of every request, exact percentiles."""
    processes = max(1, min(connections, (os.cpu_count() or 1) * 2))
    shares = [connections // processes + (1 if i < connections % processes else 0)
              for i in range(processes)]
    plain = [(t.path, t.no_cache) for t in targets]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.map(abs, range(processes * 4))  # every process up before the clock starts
        start_at = time.time() + 0.5
        parts = pool.starmap(_load_process, [(port, plain, headers, start_at, seconds, share, i)
                                             for i, share in enumerate(shares)])
    latencies = sorted(x for part in parts for x in part["latencies"])
    count = len(latencies)

    def at(q: float) -> float:
        return latencies[min(count - 1, int(count * q))] * 1000 if count else 0.0

    return _summary(count, sum(p["bytes"] for p in parts), seconds,
                    sum(p["non_2xx"] for p in parts), sum(p["errors"] for p in parts),
                    {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "p999": at(0.999)})


def _load_process(port: int, targets: list, headers: dict, start_at: float, seconds: float,
                  connections: int, offset: int) -> dict:
    results = []
    lock = threading.Lock()

    def connection_loop(index: int) -> None:
        latencies, received, non_2xx, errors = [], 0, 0, 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        position = (offset * 7919 + index * 104729) % len(targets)
        time.sleep(max(0.0, start_at - time.time()))
        end = start_at + seconds
        while time.time() < end:
            path, no_cache = targets[position]
            position = (position + 1) % len(targets)
            sent = dict(headers, **({"Cache-Control": "no-cache"} if no_cache else {}))
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=sent)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                connection.close()
                continue
            latencies.append(time.perf_counter() - began)
            received += len(body) + sum(len(k) + len(v) + 4 for k, v in response.getheaders())
            if not 200 <= response.status < 400:
                non_2xx += 1
        connection.close()
        with lock:
            results.append((latencies, received, non_2xx, errors))

    threads = [threading.Thread(target=connection_loop, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"latencies": [x for r in results for x in r[0]], "bytes": sum(r[1] for r in results),
            "non_2xx": sum(r[2] for r in results), "errors": sum(r[3] for r in results)}


# --- the comparison ------------------------------------------------------------------

@dataclass
class Case:
    name: str
    serving: str  # Serving.name
    target: Target
    facade: Facade
    bare: Server
    runs: dict[str, list[dict]] = field(default_factory=lambda: {"facade": [], "bare": []})


def measure(cases: list[Case], generator: Generator, args) -> None:
    """Warm-up for each server, then rounds: each case's pair, the order alternating."""
    for case in cases:
        for port in (case.facade.port, case.bare.port):
            generator.run(port, [case.target], case.facade.token(), min(3.0, args.duration))
    for number in range(args.rounds):
        order = ("facade", "bare") if number % 2 == 0 else ("bare", "facade")
        for case in cases if number % 2 == 0 else reversed(cases):
            for side in order:
                server = case.facade.server if side == "facade" else case.bare
                booted = server.boots()
                run = generator.run(server.port, [case.target], case.facade.token(),
                                    args.duration)
                if server.process.poll() is not None:
                    raise RuntimeError(f"{server.label} stopped:\n{server.log_tail()}")
                run["worker_boots"] = server.boots() - booted
                run["round"] = number + 1
                case.runs[side].append(run)
                print(f"  round {number + 1} {case.name:<28} {side:<6} {run['rps']:>9.1f} req/s "
                      f"p50 {run['p50_ms']:.2f} ms p99 {run['p99_ms']:.2f} ms"
                      + (f"  non-2xx {run['non_2xx']}" if run["non_2xx"] else "")
                      + (f"  socket errors {run['socket_errors']}" if run["socket_errors"]
                         else ""), file=sys.stderr)


def summarise(case: Case) -> dict:
    sides = {}
    for side, runs in case.runs.items():
        sides[side] = {
            "rps_median": round(statistics.median(r["rps"] for r in runs), 1),
            "p50_ms_median": round(statistics.median(r["p50_ms"] for r in runs), 3),
            "p99_ms_median": round(statistics.median(r["p99_ms"] for r in runs), 3),
            "bytes_per_request": round(statistics.median(r["bytes_per_request"] for r in runs)),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
            "worker_boots": sum(r["worker_boots"] for r in runs),
            "runs": runs}
    per_round = [f["rps"] / b["rps"] for f, b in zip(case.runs["facade"], case.runs["bare"],
                                                        strict=True) if b["rps"]]
    return {"case": case.name, "serving": case.serving, "path": _shown(case.target.path),
            "ratio": round(sides["facade"]["rps_median"] / sides["bare"]["rps_median"], 3),
            "ratio_per_round": [round(r, 3) for r in per_round], **sides}


def _shown(path: str) -> str:
    return re.sub(r"Patient/[A-Za-z0-9\-.]+", "Patient/{id}", path)


# --- worker classes while requests wait for SystmOne --------------------------------

class Uncached:
    """Clients asking for fresh Patients (``Cache-Control: no-cache``) back to back, each
    request waiting for its SystmOne slot: what holds a worker (sync) or a thread (gthread)."""

    def __init__(self, facade: Facade, found: Practice, clients: int) -> None:
        self.facade = facade
        self.paths = [f"/fhir/Patient/{p['id']}" for p in found.patients]
        self.results: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                         for i in range(clients)]

    def _loop(self, index: int) -> None:
        headers = {"Authorization": f"Bearer {self.facade.token()}",
                   "Cache-Control": "no-cache"}
        connection = http.client.HTTPConnection("127.0.0.1", self.facade.port, timeout=60)
        position = index
        while not self._stop.is_set():
            path = self.paths[position % len(self.paths)]
            position += len(self._threads)
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0
            self.results.append((status, time.perf_counter() - began))
        connection.close()

    def __enter__(self) -> Uncached:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(70)

    def summary(self) -> dict:
        latencies = [t for status, t in self.results if status == 200]
        return {"uncached_requests": len(self.results), "uncached_ok": len(latencies),
                "uncached_median_s": round(statistics.median(latencies), 3) if latencies
                else None}


def upstream_waits(args, generator: Generator, settings: list[Serving], upstream: str,
                   workdir: Path, jwks: Path, id_key: Path, found: Practice) -> dict:
    """Per worker class: cached Patient reads (64 connections) while ``UNCACHED_CLIENTS``
    clients ask for fresh Patients at SystmOne's own pace (FACADE_REQUEST_INTERVAL=1)."""
    facades: dict[str, Facade] = {}
    runs: dict[str, list[dict]] = {}
    try:
        for serving in settings:
            facade = Facade(f"facade-{serving.name}-upstream-waits", serving, upstream,
                            workdir / f"state-{serving.name}-upstream-waits", workdir, jwks,
                            id_key=id_key, extra_env={"FACADE_REQUEST_INTERVAL": "1.0"})
            facades[serving.name] = facade
            warm(facade, found)
            runs[serving.name] = []
            generator.run(facade.port, [Target(found.read_path)], facade.token(),
                          min(3.0, args.duration))
        for number in range(args.rounds):
            names = list(facades) if number % 2 == 0 else list(reversed(facades))
            for name in names:
                facade = facades[name]
                with Uncached(facade, found, UNCACHED_CLIENTS) as uncached:
                    run = generator.run(facade.port, [Target(found.read_path)],
                                        facade.token(), args.duration)
                run.update(uncached.summary())
                run["round"] = number + 1
                runs[name].append(run)
                print(f"  round {number + 1} Patient read + {UNCACHED_CLIENTS} waiting  "
                      f"{name:<8} {run['rps']:>9.1f} req/s p50 {run['p50_ms']:.2f} ms "
                      f"p99 {run['p99_ms']:.2f} ms; uncached {run['uncached_ok']}/"
                      f"{run['uncached_requests']} answered", file=sys.stderr)
    finally:
        for facade in facades.values():
            facade.server.stop()
    result = {}
    for name, measured in runs.items():
        result[name] = {
            "serving": facades[name].serving.describe(),
            "rps_median": round(statistics.median(r["rps"] for r in measured), 1),
            "p50_ms_median": round(statistics.median(r["p50_ms"] for r in measured), 3),
            "p99_ms_median": round(statistics.median(r["p99_ms"] for r in measured), 3),
            "non_2xx": sum(r["non_2xx"] for r in measured),
            "uncached_ok": sum(r["uncached_ok"] for r in measured),
            "uncached_requests": sum(r["uncached_requests"] for r in measured),
            "runs": measured}
    return result


# --- the soak ------------------------------------------------------------------------

def soak_targets(found: Practice) -> list[Target]:
    """Per 200 requests: 120 cached Patient reads (every patient), 74 cached Observation
    pages (several patients, offsets, a category filter), and 6 uncached: 4 no-cache
    Patient reads and 2 no-cache family+birthdate searches, which reach SystmOne."""
    reads = [Target(f"/fhir/Patient/{p['id']}") for p in found.patients]
    pages = []
    for path in found.observation_paths:
        pages += [Target(path), Target(path + f"&_offset={PAGE}"),
                  Target(path + "&category=vital-signs")]
    uncached = [Target(f"/fhir/Patient/{p['id']}", no_cache=True) for p in found.patients[:4]]
    searches = [Target("/fhir/Patient?" + urllib.parse.urlencode(
        {"family": p["family"], "birthdate": p["birthDate"]}), no_cache=True)
        for p in found.patients[:2] if p["family"] and p["birthDate"]]
    groups = [[reads[i % len(reads)] for i in range(120)],
              [pages[i % len(pages)] for i in range(74)], uncached + searches]
    # Each kind spread evenly through the cycle.
    placed = [((i + 0.5) / len(group), number, target) for number, group in enumerate(groups)
              for i, target in enumerate(group)]
    return [target for _, _, target in sorted(placed, key=lambda x: (x[0], x[1]))]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB), in MB per minute."""
    if len(samples) < 2:
        return None
    xs = [s for s, _ in samples]
    ys = [m for _, m in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread * 60


def soak(args, generator: Generator, upstream: str, workdir: Path, jwks: Path,
         id_key: Path, found: Practice, messages) -> dict:
    serving = Serving("soak", "gthread", _DEFAULTS["workers"], _DEFAULTS["threads"],
                      max_requests=0, max_requests_jitter=0, access_log=args.access_log)
    facade = Facade("facade-soak", serving, upstream, workdir / "state-soak", workdir, jwks,
                    id_key=id_key)
    try:
        for patient in found.patients:  # into this instance's cache
            facade.get(f"/fhir/Patient/{patient['id']}")
        for path in found.observation_paths:
            facade.get(path)
        targets = soak_targets(found)
        started = time.monotonic()
        samples: dict[int, list[tuple[float, float]]] = collections.defaultdict(list)
        stop = threading.Event()

        def sample() -> None:
            while True:
                now = time.monotonic() - started
                for pid in facade.server.workers():
                    value = rss_mb(pid)
                    if value is not None:
                        samples[pid].append((round(now, 1), round(value, 2)))
                if stop.wait(RSS_EVERY_S):
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        chunks = []
        messages_before = messages()
        remaining = args.soak
        try:
            while remaining > 0.5:
                seconds = min(SOAK_CHUNK_S, remaining)
                run = generator.run(facade.port, targets, facade.token(fresh=True), seconds)
                remaining -= seconds
                chunks.append(run)
                print(f"  soak {args.soak - remaining:>5.0f}/{args.soak:.0f} s: "
                      f"{run['rps']:.1f} req/s, p99 {run['p99_ms']:.2f} ms, non-2xx "
                      f"{run['non_2xx']}, workers "
                      + ", ".join(f"{rss_mb(p) or 0:.1f} MB" for p in facade.server.workers()),
                      file=sys.stderr)
        finally:
            stop.set()
            sampler.join()
        upstream_calls = messages() - messages_before
        elapsed = time.monotonic() - started
        workers = []
        for pid, points in samples.items():
            second_half = [p for p in points if p[0] >= elapsed / 2]
            slope = slope_mb_per_min(second_half)
            workers.append({"pid": pid, "start_mb": points[0][1], "end_mb": points[-1][1],
                            "max_mb": max(m for _, m in points),
                            "slope_mb_per_min_second_half": None if slope is None
                            else round(slope, 3),
                            "samples": points})
        alive = set(facade.server.workers())
        replaced = [w["pid"] for w in workers if w["pid"] not in alive]
        highest = max((w["max_mb"] for w in workers), default=None)
        slopes = [w["slope_mb_per_min_second_half"] for w in workers
                  if w["slope_mb_per_min_second_half"] is not None]
        steepest = max(slopes, default=None)
        ok = (highest is not None and highest <= RSS_LIMIT_MB and steepest is not None
              and steepest < SLOPE_LIMIT_MB_PER_MIN and not replaced)
        return {"seconds": round(elapsed, 1), "serving": serving.describe() + ", max_requests 0",
                "mix_per_200": {"cached Patient reads": 120, "cached Observation pages": 74,
                                "no-cache Patient reads": 4, "no-cache Patient searches": 2},
                "requests": sum(c["requests"] for c in chunks),
                "non_2xx": sum(c["non_2xx"] for c in chunks),
                "socket_errors": sum(c["socket_errors"] for c in chunks),
                "upstream_messages": upstream_calls,
                "chunks": chunks, "workers": workers, "workers_replaced": replaced,
                "max_rss_mb": highest, "steepest_slope_mb_per_min": steepest,
                "verdict": "PASS" if ok else "FAIL"}
    finally:
        facade.server.stop()


# --- profiling -----------------------------------------------------------------------

#: (component, file prefix): the innermost facade frame of a sample names its component;
#: a sample with none goes to the innermost framework frame's.
FACADE_PARTS = (
    ("audit record (trail + SQLite sink)", "facade/audit/"),
    ("token validation + scopes", "facade/auth/"),
    ("cache lookup (shared store)", "facade/stewardship/"),
    ("record service (planner)", "facade/records.py"),
    ("id codec (AES-SIV)", "facade/ids.py"),
    ("metrics (prometheus)", "facade/metrics.py"),
    ("URLs (request.url_root)", "facade/urls.py"),
    ("FHIR view: response, ETag, headers", "facade/fhir/"),
    ("facade: other", "facade/"),
)
FRAMEWORK_PARTS = (
    ("Flask + werkzeug", "flask/"),
    ("Flask + werkzeug", "werkzeug/"),
    ("gunicorn HTTP + sockets", "gunicorn/"),
)
SQLITE_HELPER = "facade/sqlitedb.py"


def _file(frame: str) -> str:
    """The file of a py-spy frame, ``function (path/file.py:LINE)``, as a relative path
    (site-packages and this repository taken off)."""
    match = re.search(r"\((.*?)(?::\d+)?\)$", frame)
    path = match.group(1) if match else frame
    return path.split("site-packages/")[-1].removeprefix(str(REPO) + "/")


def _line(frame: str) -> int | None:
    match = re.search(r":(\d+)\)$", frame)
    return int(match.group(1)) if match else None


def _part(frame: str, parts: tuple[tuple[str, str], ...]) -> str | None:
    path = _file(frame)
    return next((name for name, prefix in parts if path.startswith(prefix)), None)


def sqlite_lines() -> dict[int, str]:
    """Which lines of facade/sqlitedb.py begin and commit a transaction (found in its text,
    so an edit of the file does not mislabel them)."""
    labels = {}
    for number, text in enumerate((REPO / SQLITE_HELPER).read_text().splitlines(), 1):
        if "execute(begin)" in text:
            labels[number] = "waiting for the write lock (BEGIN IMMEDIATE)"
        elif 'execute("COMMIT")' in text:
            labels[number] = "COMMIT (WAL fsync)"
    return labels


def categorise(frames: list[str], sqlite_labels: dict[int, str]) -> str:
    """``frames`` root first, as py-spy's raw format lists them."""
    files = [_file(frame) for frame in frames]
    if any(path.startswith("logging/") for path in files):
        return "logging"
    if any(path.startswith("prometheus_client/") for path in files):
        return "metrics (prometheus)"
    for index in range(len(frames) - 1, -1, -1):
        if files[index] == SQLITE_HELPER:  # named by its caller, and by the statement
            caller = next((_part(f, FACADE_PARTS) for f in reversed(frames[:index])
                           if _file(f) != SQLITE_HELPER and _part(f, FACADE_PARTS)),
                          "facade: other")
            return f"{caller}: {sqlite_labels.get(_line(frames[index]), 'SQLite')}"
        found = _part(frames[index], FACADE_PARTS)
        if found is not None:
            return found
    for frame in reversed(frames):
        found = _part(frame, FRAMEWORK_PARTS)
        if found is not None:
            return found
    return "other (interpreter, threads, selectors)"


def profile(args, generator: Generator, case: Case, workdir: Path, gil: bool) -> dict | None:
    """py-spy on one facade worker during a run of ``case``: every thread's samples
    (running or blocked in a call: where a request's time goes), or with ``gil`` only
    the thread holding the GIL (where the interpreter's CPU goes)."""
    py_spy = args.py_spy or shutil.which("py-spy")
    if py_spy is None:
        print("profile: py-spy not found (pip install py-spy, or --py-spy PATH); skipped",
              file=sys.stderr)
        return None
    worker = case.facade.server.workers()[0]
    view = "gil" if gil else "threads"
    output = workdir / f"py-spy-{case.facade.label}-{view}.txt"
    spy = subprocess.Popen([py_spy, "record", "--pid", str(worker), "--duration",
                            str(int(args.profile)), "--rate", "200", "--format", "raw",
                            "--output", str(output), "--nonblocking", *(["--gil"] if gil
                                                                         else [])],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)
    run = generator.run(case.facade.port, [case.target], case.facade.token(),
                        args.profile + 1)
    _, error = spy.communicate(timeout=args.profile + 60)
    if not output.exists():
        print(f"profile: py-spy failed: {error.decode(errors='replace')[-500:]}",
              file=sys.stderr)
        return None
    labels = sqlite_lines()
    by_part: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    total = 0
    for line in output.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        frames = stack.split(";")
        number = int(count)
        total += number
        by_part[categorise(frames, labels)] += number
        inner = next((f for f in reversed(frames) if _file(f).startswith("facade/")
                      and _file(f) != SQLITE_HELPER), None)
        by_function[_frame_name(inner) if inner else _frame_name(frames[-1])] += number
    if not total:
        return None
    return {"case": case.name, "facade": case.facade.label, "view": view,
            "worker_pid": worker, "samples": total, "rate_hz": 200,
            "seconds": args.profile, "requests_per_s_during": run["rps"],
            "samples_per_request": round(total / (run["rps"] * args.profile /
                                                  case.facade.serving.workers), 3)
            if run["rps"] else None,
            "share_percent": {name: round(100 * n / total, 1)
                              for name, n in by_part.most_common()},
            "top_functions_percent": {name: round(100 * n / total, 1)
                                      for name, n in by_function.most_common(15)}}


def _frame_name(frame: str) -> str:
    """``function (path/to/file.py:LINE)`` -> ``function (path/to/file.py)``."""
    return f"{frame.rpartition(' (')[0]} ({_file(frame)})"


def report_profile(result: dict) -> None:
    what = ("the thread holding the GIL (CPU)" if result["view"] == "gil"
            else "every request thread, running or blocked")
    print(f"\nprofile: {result['case']} on {result['facade']}, one worker, py-spy "
          f"{result['samples']} samples of {what}, {result['requests_per_s_during']:.0f} "
          "req/s")
    print_table(["component", "% of samples"],
                [[k, v] for k, v in result["share_percent"].items()])
    print_table(["innermost facade function (or leaf)", "% of samples"],
                [[k, v] for k, v in list(result["top_functions_percent"].items())[:10]])


# --- main ----------------------------------------------------------------------------

def report(summaries: list[dict], generator: Generator) -> None:
    print(f"\nload generator: {generator.name}, {CONNECTIONS} connections")
    rows = []
    for s in summaries:
        for side in ("facade", "bare"):
            runs = s[side]["runs"]
            rows.append([f"{s['case']} / {side}", s["serving"],
                         " ".join(f"{r['rps']:.0f}" for r in runs), s[side]["rps_median"],
                         s[side]["p50_ms_median"], s[side]["p99_ms_median"],
                         s[side]["bytes_per_request"], s[side]["non_2xx"],
                         s[side]["worker_boots"]])
    print_table(["case / server", "serving", "req/s per round", "median req/s", "p50 ms",
                 "p99 ms", "bytes/req", "non-2xx", "worker boots"], rows)
    print()
    print_table(["case", "facade / bare (medians)", "per round"],
                [[s["case"], s["ratio"], " ".join(f"{r:.2f}" for r in s["ratio_per_round"])]
                 for s in summaries])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--soak", type=float, default=600.0, help="soak seconds")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-sync", action="store_true",
                        help="leave out the sync worker-class pair")
    parser.add_argument("--access-log", action="store_true",
                        help="gunicorn's access log on, for both servers (default off)")
    parser.add_argument("--max-requests", type=int, default=_DEFAULTS["max_requests"],
                        help="gunicorn max_requests for both servers (the facade's default)")
    parser.add_argument("--max-requests-jitter", type=int,
                        default=_DEFAULTS["max_requests_jitter"])
    parser.add_argument("--profile", type=float, default=0.0,
                        help="seconds of py-spy sampling of one facade worker (0: none)")
    parser.add_argument("--py-spy", help="py-spy's path (default: on PATH)")
    parser.add_argument("--diagnose", action="store_true",
                        help="also measure the facade with FACADE_AUDIT_SINK=off (demo-only "
                             "setting) and with FACADE_AUDIT_FSYNC=request against the same "
                             "bare app: what the audit costs")
    parser.add_argument("--workdir", type=Path, help="keep logs and captures here")
    parser.add_argument("--facade-tree", type=Path,
                        help="run facade serve from this source tree (default: a snapshot of "
                             "this repository taken at start)")
    args = parser.parse_args()

    def interrupted(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    generator_path = find_wrk(args.generator)
    scratch = None if args.workdir else tempfile.TemporaryDirectory(prefix="read-path-")
    workdir = args.workdir or Path(scratch.name)
    workdir.mkdir(parents=True, exist_ok=True)
    generator = Generator(generator_path, workdir, args.threads)
    Facade.tree = args.facade_tree or snapshot(workdir)
    practice = generated_practice(PRACTICE_SIZE, seed=SEED, as_of=AS_OF)
    running = RunningSimulator(create_server(
        SimulatorConfig(port=0, request_interval=0, record_interval=0,
                        state_dir=workdir / "simulator"), practice,
        today=lambda: AS_OF)).start()
    servers: list[Server] = []
    try:
        host, port = running.address
        upstream = f"{host}:{port}"

        def messages() -> int:
            return len(running.server.store.messages())

        jwks = client_jwks(workdir / "client.jwks.json")
        default = Serving("gthread", _DEFAULTS["worker_class"], _DEFAULTS["workers"],
                          _DEFAULTS["threads"], args.max_requests, args.max_requests_jitter,
                          args.access_log)
        settings = [default]
        if not args.skip_sync:
            settings.append(Serving("sync", "sync", _DEFAULTS["workers"], 1,
                                    args.max_requests, args.max_requests_jitter,
                                    args.access_log))
        print(f"starting: simulator ({PRACTICE_SIZE} patients), facade and bare app per "
              f"setting ({', '.join(s.describe() for s in settings)})", file=sys.stderr)
        facades, bares = {}, {}
        found = None
        id_key = None
        for serving in settings:
            facade = Facade(f"facade-{serving.name}", serving, upstream,
                            workdir / f"state-{serving.name}", workdir, jwks, id_key=id_key)
            servers.append(facade.server)
            if found is None:
                found = discover(facade, practice)
                id_key = facade.state / "id-key"
            warm(facade, found)
            captured = capture(facade, found, workdir / f"captured-{serving.name}")
            bare = bare_server(f"bare-{serving.name}", serving, captured, workdir)
            servers.append(bare)
            facades[serving.name], bares[serving.name] = facade, bare
        assert found is not None
        cases = [Case("Patient read", "gthread", Target(found.read_path), facades["gthread"],
                      bares["gthread"]),
                 Case(f"Observation page of {PAGE}", "gthread", Target(found.observation_path),
                      facades["gthread"], bares["gthread"])]
        if not args.skip_sync:
            cases.append(Case("Patient read (sync)", "sync", Target(found.read_path),
                              facades["sync"], bares["sync"]))
        if args.diagnose:  # the same facade with the access audit off, against the same bare
            for serving in settings:
                facade = Facade(f"facade-{serving.name}-audit-off", serving, upstream,
                                workdir / f"state-{serving.name}-audit-off", workdir, jwks,
                                id_key=id_key, extra_env={"FACADE_AUDIT_SINK": "off"})
                servers.append(facade.server)
                warm(facade, found)
                suffix = "" if serving.name == "gthread" else f" ({serving.name})"
                cases.append(Case(f"Patient read{suffix}, audit off (diagnostic)",
                                  serving.name, Target(found.read_path), facade,
                                  bares[serving.name]))
                if serving.name == "gthread":
                    cases.append(Case(f"Observation page of {PAGE}, audit off (diagnostic)",
                                      serving.name, Target(found.observation_path), facade,
                                      bares[serving.name]))
            # What an fsync before every answer (FACADE_AUDIT_FSYNC=request) costs.
            facade = Facade("facade-gthread-fsync-request", default, upstream,
                            workdir / "state-gthread-fsync-request", workdir, jwks,
                            id_key=id_key, extra_env={"FACADE_AUDIT_FSYNC": "request"})
            servers.append(facade.server)
            warm(facade, found)
            cases.append(Case("Patient read, audit fsync per request (diagnostic)", "gthread",
                              Target(found.read_path), facade, bares["gthread"]))
        print(f"measuring: {args.rounds} rounds x {len(cases)} cases x 2 servers x "
              f"{args.duration:g} s with {generator.name}", file=sys.stderr)
        messages_before = messages()
        measure(cases, generator, args)
        upstream_during = messages() - messages_before
        summaries = [summarise(case) for case in cases]
        profiled = []
        if args.profile:
            profiled.append(profile(args, generator, cases[0], workdir, gil=False))
            profiled.append(profile(args, generator, cases[0], workdir, gil=True))
            for case in cases:
                if case.name == "Patient read, audit off (diagnostic)":
                    profiled.append(profile(args, generator, case, workdir, gil=True))
            profiled = [p for p in profiled if p]
        for server in servers:
            server.stop()
        servers.clear()
        waits = None
        if not args.skip_sync:
            print("worker classes while requests wait for SystmOne (FACADE_REQUEST_INTERVAL=1)",
                  file=sys.stderr)
            waits = upstream_waits(args, generator, settings, upstream, workdir, jwks, id_key,
                                   found)
        soaked = None
        if not args.skip_soak:
            print(f"soak: {args.soak:g} s of mixed load", file=sys.stderr)
            soaked = soak(args, generator, upstream, workdir, jwks, id_key, found, messages)
    except KeyboardInterrupt:
        print("interrupted; every process stopped", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            server.stop()
        running.stop()
        if scratch is not None:
            scratch.cleanup()

    report(summaries, generator)
    patient = summaries[0]
    errors = sum(s[side]["non_2xx"] + s[side]["socket_errors"] for s in summaries
                 for side in ("facade", "bare"))
    print(f"\nSystmOne messages while measuring: {upstream_during} (0: every request was "
          f"answered from the cache); non-2xx or socket errors: {errors}")
    verdict_ratio = "PASS" if patient["ratio"] >= TARGET_RATIO and not upstream_during \
        and not errors else "FAIL"
    print(f"target: cached Patient read, facade >= {TARGET_RATIO:.2f} x bare req/s -> "
          f"{verdict_ratio} ({patient['ratio']:.2f}; p99 facade "
          f"{patient['facade']['p99_ms_median']:.2f} ms, bare "
          f"{patient['bare']['p99_ms_median']:.2f} ms)")
    observation = summaries[1]
    print(f"reported: cached Observation page of {PAGE}, facade / bare = "
          f"{observation['ratio']:.2f} (p99 facade {observation['facade']['p99_ms_median']:.2f}"
          f" ms, bare {observation['bare']['p99_ms_median']:.2f} ms)")
    worker_class = None
    if not args.skip_sync:
        gthread, sync = summaries[0], summaries[2]
        best = "gthread" if gthread["facade"]["rps_median"] >= sync["facade"]["rps_median"] \
            else "sync"
        margin = max(gthread["facade"]["rps_median"], sync["facade"]["rps_median"]) / \
            max(1.0, min(gthread["facade"]["rps_median"], sync["facade"]["rps_median"])) - 1
        worker_class = {
            "gthread": {"facade_rps": gthread["facade"]["rps_median"],
                        "bare_rps": gthread["bare"]["rps_median"], "ratio": gthread["ratio"],
                        "facade_p99_ms": gthread["facade"]["p99_ms_median"]},
            "sync": {"facade_rps": sync["facade"]["rps_median"],
                     "bare_rps": sync["bare"]["rps_median"], "ratio": sync["ratio"],
                     "facade_p99_ms": sync["facade"]["p99_ms_median"]},
            "faster_for_facade": best, "margin_percent": round(100 * margin, 1)}
        print(f"worker class: the facade serves more cached Patient reads with {best} "
              f"({100 * margin:.0f}% more; gthread {gthread['facade']['rps_median']:.0f} req/s "
              f"p99 {gthread['facade']['p99_ms_median']:.2f} ms, sync "
              f"{sync['facade']['rps_median']:.0f} req/s p99 "
              f"{sync['facade']['p99_ms_median']:.2f} ms)"
              + ("" if best == _DEFAULTS["worker_class"] else
                 f" -- the default is {_DEFAULTS['worker_class']}"))
    if waits is not None:
        print(f"\nworker classes while {UNCACHED_CLIENTS} clients ask for fresh Patients at "
              "SystmOne's pace (one request a second), cached Patient reads from 64 connections:")
        print_table(["serving", "req/s per round", "median req/s", "p50 ms", "p99 ms",
                     "non-2xx", "uncached answered"],
                    [[w["serving"], " ".join(f"{r['rps']:.0f}" for r in w["runs"]),
                      w["rps_median"], w["p50_ms_median"], w["p99_ms_median"], w["non_2xx"],
                      f"{w['uncached_ok']}/{w['uncached_requests']}"] for w in waits.values()])
        best = max(waits, key=lambda name: waits[name]["rps_median"])
        print(f"worker class with SystmOne waits in the mix: {best} serves more cached reads")
    for result in profiled:
        report_profile(result)
    verdict_soak = None
    if soaked is not None:
        print(f"\nsoak: {soaked['seconds']:.0f} s, {soaked['requests']} requests "
              f"({soaked['non_2xx']} non-2xx, {soaked['upstream_messages']} SystmOne messages), "
              f"{soaked['serving']}")
        print_table(["worker", "start MB", "end MB", "max MB", "slope MB/min (2nd half)"],
                    [[w["pid"], w["start_mb"], w["end_mb"], w["max_mb"],
                      "-" if w["slope_mb_per_min_second_half"] is None
                      else w["slope_mb_per_min_second_half"]] for w in soaked["workers"]])
        verdict_soak = soaked["verdict"]
        print(f"target: RSS per worker <= {RSS_LIMIT_MB:g} MB and flat (< "
              f"{SLOPE_LIMIT_MB_PER_MIN:g} MB/min) -> {verdict_soak} (max "
              f"{soaked['max_rss_mb']} MB, steepest {soaked['steepest_slope_mb_per_min']} "
              f"MB/min{', workers replaced' if soaked['workers_replaced'] else ''})")
    verdict = "PASS" if verdict_ratio == "PASS" and verdict_soak in (None, "PASS") else "FAIL"
    path = write_result("read_path", {
        "verdict": verdict, "verdict_ratio": verdict_ratio, "verdict_soak": verdict_soak,
        "target_ratio": TARGET_RATIO, "rss_limit_mb": RSS_LIMIT_MB,
        "slope_limit_mb_per_min": SLOPE_LIMIT_MB_PER_MIN,
        "generator": generator.name, "connections": CONNECTIONS, "wrk_threads": args.threads,
        "rounds": args.rounds, "duration_s": args.duration, "access_log": args.access_log,
        "max_requests": args.max_requests, "max_requests_jitter": args.max_requests_jitter,
        "serving": {s.name: s.describe() for s in settings},
        "upstream_messages_while_measuring": upstream_during,
        "cases": summaries, "worker_class": worker_class, "upstream_waits": waits,
        "profile": profiled,
        "soak": soaked})
    print(f"wrote {path.relative_to(REPO)}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
