"""Read path: cached, authenticated reads through ``facade serve`` against a plain Flask app.

What is compared (the headline). In one run on one machine:

- ``facade serve`` with its default serving settings (gthread worker, 2 workers
  x 8 threads, the access audit on with FACADE_AUDIT_FSYNC=interval) except
  FACADE_MAX_REQUESTS=0 and FACADE_ACCESS_LOG=false, against the SystmOne
  simulator (started in this process: 20 generated patients, seed 7, no
  throttle of its own). FACADE_PUBLIC_BASE_URL is the address measured, so
  token audiences match. A client is registered as an operator does
  (``python -m facade clients add read-path --jwks FILE --scope "system/*.rs"
  --state-dir DIR``) and its access token obtained as an integration partner
  does (``scripts/backend_client.py keygen``, then ``scripts/backend_client.py
  token``: an ES384 client assertion exchanged at /auth/token; renewed every
  200 s, tokens live 300 s). Every measured path is read once first, to bring
  it into the facade's cache; the freshness windows outlast the run, and the
  simulator's message count is checked to stay unchanged while measuring.
- the plain bare app, bench/plainapp.py: one Flask route per measured path
  returning the same body bytes the facade gave (captured after warming) as
  ``Response(body, content_type="application/fhir+json; charset=utf-8")``, no
  other header, under stock gunicorn: ``python -m gunicorn -w 2 -k gthread
  --threads 8 -b 127.0.0.1:PORT --no-control-socket plainapp:app`` (no access
  log, no max-requests, gunicorn's defaults otherwise). The one flag added,
  --no-control-socket, keeps gunicorn's master from opening its per-user
  control socket (a thread in the master, not on the request path, one path
  for every master of the user, which the facade disables as well).
- the load: ``wrk -t2 -c64 -d8s --latency -H "Authorization: Bearer TOKEN" URL``
  (only that header: no Accept; wrk's own output is parsed), the servers
  taking turns: per round, case after case, facade / plain bare / same-headers
  bare, the order reversed every other round (``--rounds``, 3 by default).

Target, for each case: facade requests/s >= 0.70 x the plain bare app's AND
facade p99 <= 2 x the plain bare app's p99 (medians over the rounds); the
figures of every round are printed too. Also informative: the ratio against
bench/bareapp.py, the same bytes with the *same headers* the facade sent,
under the same stock gunicorn flags (the only difference between the two bare
apps is the headers).

Cases (all answered from the cache), for one patient chosen as the first with a
full Observation page and entries in every preferred newer resource type:

- ``GET /fhir/Patient/{id}``;
- ``GET /fhir/Observation?patient={id}&_count=50`` (a page of 50);
- ``GET /fhir/{Type}?patient={id}`` for the first three of Condition,
  MedicationRequest, Encounter, AllergyIntolerance, Immunization,
  MedicationStatement that the CapabilityStatement (``GET /fhir/metadata``) lists
  and the patient has entries of (Encounter's default page is 50);
- ``GET /fhir/{Type}/{id}``: a read of the first of those types, its id taken
  from the search's first entry.

Separate sections, with no part in the headline target:

- the sync pair (``--skip-sync`` leaves it out): the Patient read with
  FACADE_WORKER_CLASS=sync (2 workers) against both bare apps under
  ``-w 2 -k sync``, and the two worker classes while two clients wait on
  SystmOne (uncached reads at one request a second);
- ``--diagnose``: the facade with FACADE_AUDIT_SINK=off (a demo-only setting)
  and with FACADE_AUDIT_FSYNC=request, against the same bare apps;
- ``--profile SECONDS`` (py-spy): where one facade worker's time goes;
- the soak (``--soak SECONDS``, 600 by default; ``--skip-soak``): a fresh facade
  under mixed load from 64 connections (cached reads of every patient,
  Observation pages, a few uncached requests that reach the simulator), each
  worker's RSS sampled every 10 s; target <= 150 MB per worker and flat
  (slope over the second half < 1 MB/min).

A "setup" block (machine, versions, the exact wrk and gunicorn command lines,
the facade's FACADE_* settings, the client's commands) is printed before the
tables and written to bench/results/read_path.json with every figure. Exits 1
when any case misses its target (or the soak its own).

Run time: rounds x cases x 3 servers x duration for the comparison (3 x 6 x 3
x 8 s = 7.2 min by default; ``--skip-same-headers``: 2 servers), plus about a
minute of start-up, the sync pair and its waits (about 2 min), the soak (10
min). Options: ``--rounds N``, ``--duration S``, ``--skip-sync``,
``--skip-soak`` or ``--soak S``, ``--skip-same-headers``, ``--diagnose``,
``--profile S`` (``--py-spy PATH``), ``--workdir DIR`` (keep logs, captures,
keys), ``--facade-tree DIR``. The headline comparison alone (about 8 minutes)::

    .venv/bin/python bench/read_path.py --skip-sync --skip-soak

Everything, as defaulted (about 20 minutes)::

    .venv/bin/python bench/read_path.py
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import http.client
import importlib.metadata
import json
import os
import platform
import re
import shlex
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

from facade.config import Settings
from simulator import RunningSimulator, SimulatorConfig, create_server
from simulator.practice import generated_practice

TARGET_RATIO = 0.70  # facade req/s >= this x the plain bare app's
TARGET_P99_FACTOR = 2.0  # facade p99 <= this x the plain bare app's
RSS_LIMIT_MB = 150.0
SLOPE_LIMIT_MB_PER_MIN = 1.0
RSS_EVERY_S = 10.0
CONNECTIONS = 64
WRK_THREADS = 2
PRACTICE_SIZE = 20
SEED = 7
AS_OF = dt.date(2026, 11, 1)
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CLIENT_ID = "read-path"
SCOPE = "system/*.rs"
BACKEND_CLIENT = "scripts/backend_client.py"  # run from the repository's root
PAGE = 50
#: Newer resource types read from a patient's record, in the order they are preferred.
NEWER_TYPES = ("Condition", "MedicationRequest", "Encounter", "AllergyIntolerance",
               "Immunization", "MedicationStatement")
NEWER_TYPE_SEARCHES = 3
TTL = 7200.0  # longer than any run: every measured request is a cache hit
TOKEN_RENEW_AFTER = 200.0  # tokens live 300 s
SOAK_CHUNK_S = 60.0
UNCACHED_CLIENTS = 2  # waiting for SystmOne while the cached reads are measured
#: Response headers that are the server's own, not the app's: gunicorn adds them to the
#: bare apps' answers too.
SERVER_HEADERS = {"date", "server", "content-length", "connection", "keep-alive",
                  "transfer-encoding"}
#: The servers of a case, in the order they take turns.
SIDES = ("facade", "plain", "headers")
SIDE_NAMES = {"facade": "facade", "plain": "plain bare", "headers": "same-headers bare"}
_DEFAULTS = {f.name: f.default for f in fields(Settings)}


# --- serving settings ----------------------------------------------------------------

@dataclass(frozen=True)
class Serving:
    """The worker model given to a facade and its bare apps: FACADE_* settings for the
    facade, the equivalent gunicorn flags for the bare apps."""

    name: str
    worker_class: str
    workers: int
    threads: int

    def facade_env(self) -> dict[str, str]:
        """Workers are never recycled and nothing is logged per request, as for the bare
        apps; the worker model is set only where it is not the facade's default."""
        env = {"FACADE_MAX_REQUESTS": "0", "FACADE_ACCESS_LOG": "false"}
        for name in ("worker_class", "workers", "threads"):
            if getattr(self, name) != _DEFAULTS[name]:
                env[f"FACADE_{name.upper()}"] = str(getattr(self, name))
        return env

    def gunicorn_flags(self) -> list[str]:
        flags = ["-w", str(self.workers), "-k", self.worker_class]
        if self.worker_class == "gthread":
            flags += ["--threads", str(self.threads)]
        return flags

    def describe(self) -> str:
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"{self.worker_class}, {self.workers} workers{threads}"


DEFAULT_SERVING = Serving("gthread", _DEFAULTS["worker_class"], _DEFAULTS["workers"],
                          _DEFAULTS["threads"])
# threads=1: gunicorn would turn sync workers with several threads into gthread ones.
SYNC_SERVING = Serving("sync", "sync", _DEFAULTS["workers"], 1)


# --- processes -----------------------------------------------------------------------

def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FACADE_", "BAREAPP_", "PLAINAPP_", "GUNICORN_"))
           and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(extra)
    return env


def http_get(port: int, path: str, headers: dict[str, str],
             timeout: float = 30) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class Server:
    """A gunicorn master in its own session: ``facade serve`` or a bare app; ready when
    ``ready_path`` answers 200."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], port: int,
                 log: Path, cwd: Path, ready_path: str) -> None:
        self.label = label
        self.command = command
        self.port = port
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out,
                                            start_new_session=True)
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            try:
                status, _, _ = http_get(self.port, path, {}, timeout=2)
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

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.label} stopped:\n{self.log_tail()}")

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


def run_python(args: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {done.stderr.strip()}")
    return done.stdout


class Partner:
    """An integration partner: a key pair made with scripts/backend_client.py keygen, and
    access tokens from its ``token`` command (a signed client assertion)."""

    def __init__(self, workdir: Path) -> None:
        self.private_key = workdir / "partner-key.json"
        self.jwks = workdir / "partner.jwks.json"
        # --force: a kept --workdir may hold the key pair of an earlier run.
        run_python([BACKEND_CLIENT, "keygen", str(self.private_key), str(self.jwks), "--force"])

    def token_command(self, fhir_base: str) -> list[str]:
        return [BACKEND_CLIENT, "token", "--key", str(self.private_key),
                "--client-id", CLIENT_ID, "--fhir-base", fhir_base, "--scope", SCOPE]

    def token(self, fhir_base: str) -> str:
        return run_python(self.token_command(fhir_base)).strip()


class Facade:
    """``facade serve`` with its own state dir, the partner registered and its tokens."""

    #: The source tree ``facade serve`` runs from (set by main: a snapshot).
    tree: Path = REPO

    def __init__(self, label: str, serving: Serving, upstream: str, state: Path,
                 workdir: Path, partner: Partner, id_key: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        self.label = label
        self.serving = serving
        self.state = state
        self.partner = partner
        registered_before = state.exists()  # a kept --workdir's: the client is there
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        if id_key is not None:  # the same ids (and so the same paths) as the first instance
            shutil.copy2(id_key, state / "id-key")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.settings = {
            **serving.facade_env(),
            "FACADE_UPSTREAM": upstream, "FACADE_STATE_DIR": str(state),
            "FACADE_BIND": f"127.0.0.1:{self.port}", "FACADE_PUBLIC_BASE_URL": self.base,
            # The simulator has no throttle of its own here; these keep the facade's
            # (uncached) calls quick, and the freshness windows outlast the run.
            "FACADE_REQUEST_INTERVAL": "0.01", "FACADE_RECORD_INTERVAL": "0.05",
            "FACADE_READ_TIMEOUT": "10",
            "FACADE_DEMOGRAPHICS_TTL": str(TTL), "FACADE_CLINICAL_TTL": str(TTL),
            "FACADE_TOP_UP_AFTER": str(TTL), **(extra_env or {})}
        self.env = clean_env(self.settings)
        self.register_command = ["-m", "facade", "clients", "add", CLIENT_ID, "--jwks",
                                 str(partner.jwks), "--scope", SCOPE, "--state-dir",
                                 str(state), *(["--replace"] if registered_before else [])]
        run_python(self.register_command, self.env, self.tree)
        self.server = Server(label, [sys.executable, "-m", "facade", "serve"], self.env,
                             self.port, workdir / f"{label}.log", self.tree, "/healthz")
        self._token = ""
        self._minted: float | None = None  # monotonic time starts near 0 on a fresh boot

    def token(self, fresh: bool = False) -> str:
        if fresh or self._minted is None or time.monotonic() - self._minted > TOKEN_RENEW_AFTER:
            self._token = self.partner.token(self.base)
            self._minted = time.monotonic()
        return self._token

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        return http_get(self.port, path, {"Authorization": f"Bearer {self.token()}",
                                          **(headers or {})})

    def get_ok(self, path: str) -> tuple[dict, bytes]:
        status, headers, body = self.get(path)
        if status != 200:
            raise RuntimeError(f"{self.label}: GET {path} answered {status}: {body[:300]!r}")
        return headers, body

    def get_json(self, path: str) -> dict:
        return json.loads(self.get_ok(path)[1])


def snapshot(workdir: Path) -> Path:
    """A copy of what ``facade serve`` imports, taken once: every facade started during the
    run runs the same code, whatever is being edited in the working tree meanwhile."""
    tree = workdir / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("facade", "mappings", "schemas", "simulator"):
        shutil.copytree(REPO / name, tree / name, ignore=ignore, dirs_exist_ok=True)
    shutil.copy2(REPO / "wsgi.py", tree / "wsgi.py")
    return tree


# --- the practice and the cases ------------------------------------------------------

@dataclass
class Practice:
    """What the facade told us about the generated practice."""

    patients: list[dict]  # id, family, birthDate; every patient with an NHS number
    patient_id: str = ""  # the one the cases read
    newer: dict[str, list[str]] = field(default_factory=dict)  # type -> its resource ids
    observation_paths: list[str] = field(default_factory=list)  # for the soak's mix

    @property
    def read_path(self) -> str:
        return f"/fhir/Patient/{self.patient_id}"


def find_patients(facade: Facade, practice) -> list[dict]:
    """Every patient with an NHS number, found by identifier search."""
    patients = []
    for summary in practice.index.summaries:
        if summary.identity.kind != "NHSNumber":
            continue
        bundle = facade.get_json(f"/fhir/Patient?identifier={NHS_SYSTEM}|"
                                 f"{summary.identity.value}")
        if bundle.get("total") != 1:
            continue
        resource = bundle["entry"][0]["resource"]
        patients.append({"id": resource["id"], "family": resource["name"][0].get("family", ""),
                         "birthDate": resource.get("birthDate", "")})
    if not patients:
        raise RuntimeError("no patient with an NHS number found through the facade")
    return patients


def observation_path(patient_id: str) -> str:
    return f"/fhir/Observation?patient={patient_id}&_count={PAGE}"


def served_newer_types(facade: Facade) -> list[str]:
    """The preferred newer types the CapabilityStatement lists, in preference order."""
    statement = facade.get_json("/fhir/metadata")
    served = {resource["type"] for resource in statement["rest"][0]["resource"]}
    return [name for name in NEWER_TYPES if name in served]


def resource_ids(facade: Facade, type_name: str, patient_id: str) -> list[str]:
    bundle = facade.get_json(f"/fhir/{type_name}?patient={patient_id}")
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])
            if entry.get("resource", {}).get("resourceType") == type_name]


def choose_patient(facade: Facade, patients: list[dict], types: list[str]) -> Practice:
    """The first patient with a full Observation page and entries of every type in
    ``types``; failing that, the one with entries of the most types."""
    best: Practice | None = None
    for patient in patients:
        page = facade.get_json(observation_path(patient["id"]))
        if len(page.get("entry", [])) < PAGE:
            continue
        newer = {name: ids for name in types
                 if (ids := resource_ids(facade, name, patient["id"]))}
        if best is None or len(newer) > len(best.newer):
            best = Practice(patients, patient["id"], newer)
        if len(newer) == len(types):
            break
    if best is None:
        raise RuntimeError(f"no patient has {PAGE} Observations")
    if len(best.newer) < NEWER_TYPE_SEARCHES:
        raise RuntimeError(f"no patient has entries of {NEWER_TYPE_SEARCHES} of {types}")
    return best


def soak_observation_paths(facade: Facade, patients: list[dict], wanted: int = 4) -> list[str]:
    paths = []
    for patient in patients:
        path = observation_path(patient["id"])
        if len(facade.get_json(path).get("entry", [])) == PAGE:
            paths.append(path)
            if len(paths) == wanted:
                break
    return paths


@dataclass(frozen=True)
class CasePath:
    name: str
    path: str
    shown: str  # the path with its ids as placeholders


def headline_paths(found: Practice) -> list[CasePath]:
    """Patient read, Observation page, searches of the first newer types found, and a
    read of the first of them."""
    patient = found.patient_id
    paths = [CasePath("Patient read", found.read_path, "/fhir/Patient/{id}"),
             CasePath(f"Observation page of {PAGE}", observation_path(patient),
                      f"/fhir/Observation?patient={{id}}&_count={PAGE}")]
    searched = list(found.newer)[:NEWER_TYPE_SEARCHES]
    for name in searched:
        paths.append(CasePath(f"{name} search ({len(found.newer[name])} entries)",
                              f"/fhir/{name}?patient={patient}",
                              f"/fhir/{name}?patient={{id}}"))
    read = searched[0]
    paths.append(CasePath(f"{read} read", f"/fhir/{read}/{found.newer[read][0]}",
                          f"/fhir/{read}/{{{read.lower()}-id}}"))
    return paths


@dataclass
class Case:
    name: str
    path: str
    shown: str
    serving: Serving
    facade: Facade
    bares: dict[str, Server]  # "plain", and "headers" unless left out
    headline: bool  # has a target
    runs: dict[str, list[dict]] = field(default_factory=dict)

    def servers(self) -> dict[str, Server]:
        return {"facade": self.facade.server, **self.bares}


def warm(facade: Facade, paths: list[str]) -> None:
    """Read each path once: into the facade's cache."""
    for path in paths:
        facade.get_ok(path)


# --- the bare apps -------------------------------------------------------------------

def capture(facade: Facade, paths: list[str], directory: Path) -> Path:
    """The facade's answers to ``paths`` (body, and headers less the server's own), as the
    manifest both bare apps read."""
    directory.mkdir(parents=True, exist_ok=True)
    routes = []
    for number, path in enumerate(paths):
        headers, body = facade.get_ok(path)
        route = urllib.parse.urlsplit(path).path
        if any(r["path"] == route for r in routes):
            raise RuntimeError(f"two measured paths share {route}: the bare apps route by path")
        name = f"body{number}.bin"
        (directory / name).write_bytes(body)
        routes.append({"path": route, "body": name,
                       "headers": {k: v for k, v in headers.items()
                                   if k.lower() not in SERVER_HEADERS}})
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"routes": routes}, indent=1))
    return manifest


def bare_command(app: str, serving: Serving, port: int | str) -> list[str]:
    """Stock gunicorn (no access log, no max-requests) but for --no-control-socket: see the
    module's docstring."""
    return ["-m", "gunicorn", *serving.gunicorn_flags(), "-b", f"127.0.0.1:{port}",
            "--no-control-socket", f"{app}:app"]


def start_bares(serving: Serving, manifest: Path, workdir: Path, ready_path: str,
                same_headers: bool) -> dict[str, Server]:
    apps = {"plain": ("plainapp", "PLAINAPP_MANIFEST")}
    if same_headers:
        apps["headers"] = ("bareapp", "BAREAPP_MANIFEST")
    bares = {}
    for side, (app, variable) in apps.items():
        port = free_port()
        label = f"{side}-bare-{serving.name}"
        bares[side] = Server(label, [sys.executable, *bare_command(app, serving, port)],
                             clean_env({variable: str(manifest)}), port,
                             workdir / f"{label}.log", REPO / "bench", ready_path)
    return bares


def check_bares(bares: dict[str, Server], manifest: Path, paths: list[str]) -> None:
    """Each bare app answers each measured path with the facade's bytes (and the
    same-headers one with its headers)."""
    routes = {r["path"]: r for r in json.loads(manifest.read_text())["routes"]}
    for path in paths:
        route = routes[urllib.parse.urlsplit(path).path]
        body = (manifest.parent / route["body"]).read_bytes()
        for side, bare in bares.items():
            status, headers, answered = http_get(bare.port, path, {})
            if status != 200 or answered != body:
                raise RuntimeError(f"{bare.label}: GET {path} answered {status}, "
                                   f"{len(answered)} bytes, not the facade's {len(body)}")
            if side == "headers":
                sent = {k.lower() for k in headers} - SERVER_HEADERS
                if sent != {k.lower() for k in route["headers"]}:
                    raise RuntimeError(f"{bare.label}: GET {path} sent headers {sorted(sent)}")


# --- the load generator: wrk ---------------------------------------------------------

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

TIME_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
BYTE_SCALE = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
_NUMBER_TIME = r"([\d.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class Target:
    path: str
    no_cache: bool = False


class Wrk:
    """wrk as an outsider runs it: its command line, its own text output parsed."""

    def __init__(self, workdir: Path) -> None:
        self.path = shutil.which("wrk")
        if self.path is None:
            raise SystemExit("wrk is not installed (apt-get install wrk): the comparison is "
                             "measured with wrk only")
        self.workdir = workdir
        self._scripts = 0

    def version(self) -> str:
        """``wrk -v``'s first line is ``wrk VERSION [epoll] Copyright ...``."""
        done = subprocess.run([self.path, "-v"], capture_output=True, text=True)
        words = (done.stdout or done.stderr).split()
        return words[1] if len(words) > 1 else "unknown"

    @staticmethod
    def flags(seconds: float) -> list[str]:
        return [f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
                "--latency"]

    def shown(self, seconds: float) -> str:
        return shlex.join(["wrk", *self.flags(seconds), "-H", "Authorization: Bearer $TOKEN",
                           "http://127.0.0.1:$PORT$PATH"])

    def run(self, port: int, targets: list[Target], token: str, seconds: float,
            timeout: str | None = None) -> dict:
        """One path: exactly the outsider's command. Several (the soak): a Lua script
        cycles through them."""
        command = [self.path, *self.flags(seconds)]
        if timeout:
            command += ["--timeout", timeout]
        script = None
        if len(targets) > 1 or targets[0].no_cache:
            self._scripts += 1
            script = self.workdir / f"wrk{self._scripts}.lua"
            listed = ", ".join(f'{{"{t.path}", {"true" if t.no_cache else "false"}}}'
                               for t in targets)
            script.write_text(WRK_MIX % listed)
            command += ["-s", str(script)]
        command += ["-H", f"Authorization: Bearer {token}",
                    f"http://127.0.0.1:{port}{targets[0].path}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        if script is not None:
            script.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse_wrk(done.stdout)


def parse_wrk(text: str) -> dict:
    """wrk's report: Requests/sec, the latency distribution, the requests line, errors."""
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, text, re.MULTILINE)
        if match is None:
            raise RuntimeError(f"wrk's output has no match for {pattern!r}:\n{text}")
        return match

    percentiles = {f"p{q}_ms": round(float(value) * TIME_MS[unit], 3)
                   for q, value, unit in re.findall(rf"^\s+(50|75|90|99)%\s+{_NUMBER_TIME}\s*$",
                                                    text, re.MULTILINE)}
    totals = find(rf"(\d+) requests in {_NUMBER_TIME}, ([\d.]+)([KMGT]?)B read")
    requests = int(totals.group(1))
    received = float(totals.group(4)) * BYTE_SCALE[totals.group(5)]
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                        r"timeout (\d+)", text)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": float(find(r"^Requests/sec:\s+([\d.]+)").group(1)), "requests": requests,
            "seconds": round(float(totals.group(2)) * TIME_MS[totals.group(3)] / 1000, 2),
            "bytes_per_request": round(received / requests) if requests else 0,
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": sum(int(x) for x in sockets.groups()) if sockets else 0,
            **percentiles}


# --- the comparison ------------------------------------------------------------------

def measure(cases: list[Case], wrk: Wrk, rounds: int, seconds: float) -> None:
    """Rounds: case after case, its servers taking turns; every other round the cases and
    the servers go in the reverse order, so neither side always runs first (or after the
    same neighbour)."""
    for case in cases:
        case.runs = {side: [] for side in case.servers()}
    for number in range(rounds):
        forward = number % 2 == 0
        for case in cases if forward else reversed(cases):
            servers = list(case.servers().items())
            for side, server in servers if forward else reversed(servers):
                booted = server.boots()
                run = wrk.run(server.port, [Target(case.path)], case.facade.token(), seconds)
                server.check_alive()
                run["worker_boots"] = server.boots() - booted
                run["round"] = number + 1
                case.runs[side].append(run)
                print(f"  round {number + 1} {case.name:<38} {SIDE_NAMES[side]:<17} "
                      f"{run['rps']:>9.1f} req/s p50 {run['p50_ms']:.2f} ms "
                      f"p99 {run['p99_ms']:.2f} ms"
                      + (f"  non-2xx {run['non_2xx']}" if run["non_2xx"] else "")
                      + (f"  socket errors {run['socket_errors']}" if run["socket_errors"]
                         else ""), file=sys.stderr)


def medians(runs: list[dict]) -> dict:
    return {"rps_median": round(statistics.median(r["rps"] for r in runs), 1),
            "p50_ms_median": round(statistics.median(r["p50_ms"] for r in runs), 3),
            "p99_ms_median": round(statistics.median(r["p99_ms"] for r in runs), 3),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
            "runs": runs}


def side_summary(runs: list[dict]) -> dict:
    """One server's runs of a case; worker boots should stay 0 (no max-requests)."""
    return {**medians(runs),
            "bytes_per_request": round(statistics.median(r["bytes_per_request"] for r in runs)),
            "worker_boots": sum(r["worker_boots"] for r in runs)}


def comparison(facade: dict, bare: dict) -> dict:
    """Facade against one bare app: the ratio of medians, and each round's."""
    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    return {"rps_ratio": ratio(facade["rps_median"], bare["rps_median"]),
            "p99_factor": ratio(facade["p99_ms_median"], bare["p99_ms_median"]),
            "rps_ratio_per_round": [ratio(f["rps"], b["rps"]) for f, b in
                                    zip(facade["runs"], bare["runs"], strict=True)],
            "p99_factor_per_round": [ratio(f["p99_ms"], b["p99_ms"]) for f, b in
                                     zip(facade["runs"], bare["runs"], strict=True)]}


def summarise(case: Case) -> dict:
    sides = {side: side_summary(runs) for side, runs in case.runs.items()}
    result = {"case": case.name, "path": case.shown, "serving": case.serving.describe(),
              "headline": case.headline, **sides,
              "vs_plain": comparison(sides["facade"], sides["plain"])}
    if "headers" in sides:
        result["vs_same_headers"] = comparison(sides["facade"], sides["headers"])
    if case.headline:
        errors = sum(s["non_2xx"] + s["socket_errors"] for s in sides.values())
        vs_plain = result["vs_plain"]
        met = (vs_plain["rps_ratio"] is not None and vs_plain["rps_ratio"] >= TARGET_RATIO
               and vs_plain["p99_factor"] is not None
               and vs_plain["p99_factor"] <= TARGET_P99_FACTOR and not errors)
        result["verdict"] = "PASS" if met else "FAIL"
    return result


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


def upstream_waits(args, wrk: Wrk, upstream: str, workdir: Path, partner: Partner,
                   id_key: Path, found: Practice) -> dict:
    """Per worker class: cached Patient reads (64 connections) while ``UNCACHED_CLIENTS``
    clients ask for fresh Patients at SystmOne's own pace (FACADE_REQUEST_INTERVAL=1)."""
    facades: dict[str, Facade] = {}
    runs: dict[str, list[dict]] = {}
    try:
        for serving in (DEFAULT_SERVING, SYNC_SERVING):
            facade = Facade(f"facade-{serving.name}-upstream-waits", serving, upstream,
                            workdir / f"state-{serving.name}-upstream-waits", workdir, partner,
                            id_key=id_key, extra_env={"FACADE_REQUEST_INTERVAL": "1.0"})
            facades[serving.name] = facade
            warm(facade, [found.read_path])
            runs[serving.name] = []
        for number in range(args.rounds):
            names = list(facades) if number % 2 == 0 else list(reversed(facades))
            for name in names:
                facade = facades[name]
                with Uncached(facade, found, UNCACHED_CLIENTS) as uncached:
                    run = wrk.run(facade.port, [Target(found.read_path)], facade.token(),
                                  args.duration)
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
    return {name: {"serving": facades[name].serving.describe(),
                   **medians(measured),
                   "uncached_ok": sum(r["uncached_ok"] for r in measured),
                   "uncached_requests": sum(r["uncached_requests"] for r in measured)}
            for name, measured in runs.items()}


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


class RssSampler:
    """Each worker's RSS every ``RSS_EVERY_S`` seconds, in a thread, while in the block."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.samples: dict[int, list[tuple[float, float]]] = collections.defaultdict(list)
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            now = time.monotonic() - self._started
            for pid in self.server.workers():
                value = rss_mb(pid)
                if value is not None:
                    self.samples[pid].append((round(now, 1), round(value, 2)))
            if self._stop.wait(RSS_EVERY_S):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def workers(self, elapsed: float) -> list[dict]:
        result = []
        for pid, points in self.samples.items():
            slope = slope_mb_per_min([p for p in points if p[0] >= elapsed / 2])
            result.append({"pid": pid, "start_mb": points[0][1], "end_mb": points[-1][1],
                           "max_mb": max(m for _, m in points),
                           "slope_mb_per_min_second_half": None if slope is None
                           else round(slope, 3),
                           "samples": points})
        return result


def soak(args, wrk: Wrk, upstream: str, workdir: Path, partner: Partner, id_key: Path,
         found: Practice, messages) -> dict:
    """A fresh facade (workers never recycled: that would hide a leak) under the mixed
    load, in chunks (a fresh token each)."""
    facade = Facade("facade-soak", DEFAULT_SERVING, upstream, workdir / "state-soak", workdir,
                    partner, id_key=id_key)
    try:
        warm(facade, [f"/fhir/Patient/{p['id']}" for p in found.patients]
             + found.observation_paths)
        targets = soak_targets(found)
        started = time.monotonic()
        chunks = []
        messages_before = messages()
        remaining = args.soak
        with RssSampler(facade.server) as sampler:
            while remaining > 0.5:
                seconds = min(SOAK_CHUNK_S, remaining)
                run = wrk.run(facade.port, targets, facade.token(fresh=True), seconds,
                              timeout="10s")
                remaining -= seconds
                chunks.append(run)
                print(f"  soak {args.soak - remaining:>5.0f}/{args.soak:.0f} s: "
                      f"{run['rps']:.1f} req/s, p99 {run['p99_ms']:.2f} ms, non-2xx "
                      f"{run['non_2xx']}, workers "
                      + ", ".join(f"{rss_mb(p) or 0:.1f} MB" for p in facade.server.workers()),
                      file=sys.stderr)
        elapsed = time.monotonic() - started
        workers = sampler.workers(elapsed)
        alive = set(facade.server.workers())
        replaced = [w["pid"] for w in workers if w["pid"] not in alive]
        highest = max((w["max_mb"] for w in workers), default=None)
        steepest = max((w["slope_mb_per_min_second_half"] for w in workers
                        if w["slope_mb_per_min_second_half"] is not None), default=None)
        ok = (highest is not None and highest <= RSS_LIMIT_MB and steepest is not None
              and steepest < SLOPE_LIMIT_MB_PER_MIN and not replaced)
        return {"seconds": round(elapsed, 1),
                "serving": DEFAULT_SERVING.describe() + ", max_requests 0",
                "mix_per_200": {"cached Patient reads": 120, "cached Observation pages": 74,
                                "no-cache Patient reads": 4, "no-cache Patient searches": 2},
                "requests": sum(c["requests"] for c in chunks),
                "non_2xx": sum(c["non_2xx"] for c in chunks),
                "socket_errors": sum(c["socket_errors"] for c in chunks),
                "upstream_messages": messages() - messages_before,
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
    (site-packages and the source trees taken off)."""
    match = re.search(r"\((.*?)(?::\d+)?\)$", frame)
    path = match.group(1) if match else frame
    path = path.split("site-packages/")[-1]
    for tree in (Facade.tree, REPO):
        path = path.removeprefix(str(tree) + "/")
    return path


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
    for number, text in enumerate((Facade.tree / SQLITE_HELPER).read_text().splitlines(), 1):
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


def profile(args, wrk: Wrk, case: Case, workdir: Path, gil: bool) -> dict | None:
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
    run = wrk.run(case.facade.port, [Target(case.path)], case.facade.token(), args.profile + 1)
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


# --- the setup an outsider checks ----------------------------------------------------

def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def setup(args, wrk: Wrk, facade: Facade) -> dict:
    """What was run, as an outsider would check it: machine, versions, command lines."""
    manifest = "manifest.json"
    return {
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(),
                    "platform": platform.platform(), "python": platform.python_version()},
        "versions": {name: importlib.metadata.version(name)
                     for name in ("gunicorn", "flask", "werkzeug")} | {"wrk": wrk.version()},
        "wrk": wrk.shown(args.duration),
        "rounds": args.rounds, "duration_s": args.duration,
        "order": "per round, case after case: facade, plain bare, same-headers bare; "
                 "every other round reversed",
        "plain_bare": "cd bench && " + shlex.join(
            [f"PLAINAPP_MANIFEST={manifest}", "python",
             *bare_command("plainapp", DEFAULT_SERVING, "$PORT")]),
        "same_headers_bare": None if args.skip_same_headers else "cd bench && " + shlex.join(
            [f"BAREAPP_MANIFEST={manifest}", "python",
             *bare_command("bareapp", DEFAULT_SERVING, "$PORT")]),
        "facade_settings": dict(sorted(facade.settings.items())),
        "facade": "python -m facade serve, with these FACADE_* settings (every other at its "
                  "default):",
        "client": [shlex.join(["python", BACKEND_CLIENT, "keygen",
                               str(facade.partner.private_key), str(facade.partner.jwks)]),
                   shlex.join(["python", *facade.register_command]),
                   shlex.join(["python", *facade.partner.token_command(facade.base)])],
        "warm_up": "each measured path read once through the facade before measuring"}


def print_setup(info: dict) -> None:
    machine, versions = info["machine"], info["versions"]
    print("setup")
    print(f"  machine: {machine['cpus']} CPUs, {machine['cpu_model']}, {machine['platform']}, "
          f"Python {machine['python']}")
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"  load: {info['wrk']}")
    print(f"  rounds: {info['rounds']} x {info['duration_s']:g} s per server and case; "
          f"{info['order']}")
    print(f"  plain bare: {info['plain_bare']}")
    if info["same_headers_bare"]:
        print(f"  same-headers bare: {info['same_headers_bare']}")
    print(f"  facade: {info['facade']}")
    for name, value in info["facade_settings"].items():
        print(f"    {name}={value}")
    print("  client and token:")
    for command in info["client"]:
        print(f"    {command}")
    print(f"  warm-up: {info['warm_up']}")


# --- the report ----------------------------------------------------------------------

def _rounds(runs: list[dict], key: str, form: str) -> str:
    return " ".join(format(r[key], form) for r in runs)


def _per_round(values: list[float | None]) -> str:
    return " ".join("-" if v is None else f"{v:.2f}" for v in values)


def _optional(value: float | None, form: str = ".2f") -> str:
    return "-" if value is None else format(value, form)


def report_runs(summaries: list[dict]) -> None:
    """Every server of every case: each round's figures and their medians."""
    rows = []
    for s in summaries:
        for side in SIDES:
            if side not in s:
                continue
            figures = s[side]
            rows.append([f"{s['case']} / {SIDE_NAMES[side]}",
                         _rounds(figures["runs"], "rps", ".0f"),
                         _rounds(figures["runs"], "p99_ms", ".2f"),
                         f"{figures['rps_median']:.0f}", f"{figures['p50_ms_median']:.2f}",
                         f"{figures['p99_ms_median']:.2f}", figures["bytes_per_request"],
                         figures["non_2xx"], figures["socket_errors"]])
    print_table(["case / server", "req/s per round", "p99 ms per round", "median req/s",
                 "p50 ms", "p99 ms", "bytes/resp", "non-2xx", "socket errors"], rows)


def report_comparison(summaries: list[dict]) -> None:
    """The headline: facade against the plain bare app (the target), and against the
    same-headers one (informative)."""
    rows = []
    for s in summaries:
        plain, headers = s["vs_plain"], s.get("vs_same_headers") or {}
        rows.append([s["case"], s["path"], f"{s['facade']['rps_median']:.0f}",
                     f"{s['plain']['rps_median']:.0f}", _optional(plain["rps_ratio"]),
                     _per_round(plain["rps_ratio_per_round"]),
                     f"{s['facade']['p99_ms_median']:.2f}",
                     f"{s['plain']['p99_ms_median']:.2f}", _optional(plain["p99_factor"]),
                     _per_round(plain["p99_factor_per_round"]),
                     _optional(headers.get("rps_ratio")), _optional(headers.get("p99_factor")),
                     s.get("verdict", "no target")])
    print_table(["case", "path", "facade req/s", "plain req/s",
                 f"ratio (>= {TARGET_RATIO:.2f})", "per round", "facade p99 ms", "plain p99 ms",
                 f"p99 x (<= {TARGET_P99_FACTOR:g})", "per round", "vs same-headers: ratio",
                 "p99 x", "verdict"], rows)
    print("(medians over the rounds; ratio = facade req/s / plain bare req/s, p99 x = facade "
          "p99 / plain bare p99; vs same-headers: the same against bench/bareapp.py)")


def report_worker_classes(summaries: list[dict]) -> dict | None:
    """The default worker class (gthread) against sync, on the cached Patient read."""
    by_name = {s["case"]: s for s in summaries}
    gthread, sync = by_name.get("Patient read"), by_name.get("Patient read (sync)")
    if gthread is None or sync is None:
        return None
    rates = {"gthread": gthread["facade"]["rps_median"], "sync": sync["facade"]["rps_median"]}
    best = max(rates, key=rates.get)
    margin = max(rates.values()) / max(1.0, min(rates.values())) - 1
    print(f"worker class: the facade serves more cached Patient reads with {best} "
          f"({100 * margin:.0f}% more; gthread {rates['gthread']:.0f} req/s p99 "
          f"{gthread['facade']['p99_ms_median']:.2f} ms, sync {rates['sync']:.0f} req/s p99 "
          f"{sync['facade']['p99_ms_median']:.2f} ms)"
          + ("" if best == _DEFAULTS["worker_class"]
             else f" -- the default is {_DEFAULTS['worker_class']}"))
    return {name: {"facade_rps": s["facade"]["rps_median"],
                   "plain_rps": s["plain"]["rps_median"], "ratio": s["vs_plain"]["rps_ratio"],
                   "facade_p99_ms": s["facade"]["p99_ms_median"]}
            for name, s in (("gthread", gthread), ("sync", sync))} | {
        "faster_for_facade": best, "margin_percent": round(100 * margin, 1)}


def report_waits(waits: dict) -> None:
    print(f"\nworker classes while {UNCACHED_CLIENTS} clients ask for fresh Patients at "
          "SystmOne's pace (one request a second), cached Patient reads from 64 connections:")
    print_table(["serving", "req/s per round", "median req/s", "p50 ms", "p99 ms",
                 "non-2xx", "uncached answered"],
                [[w["serving"], _rounds(w["runs"], "rps", ".0f"), f"{w['rps_median']:.0f}",
                  f"{w['p50_ms_median']:.2f}", f"{w['p99_ms_median']:.2f}", w["non_2xx"],
                  f"{w['uncached_ok']}/{w['uncached_requests']}"] for w in waits.values()])
    best = max(waits, key=lambda name: waits[name]["rps_median"])
    print(f"worker class with SystmOne waits in the mix: {best} serves more cached reads")


def report_soak(soaked: dict) -> None:
    print(f"\nsoak: {soaked['seconds']:.0f} s, {soaked['requests']} requests "
          f"({soaked['non_2xx']} non-2xx, {soaked['upstream_messages']} SystmOne messages), "
          f"{soaked['serving']}")
    print_table(["worker", "start MB", "end MB", "max MB", "slope MB/min (2nd half)"],
                [[w["pid"], w["start_mb"], w["end_mb"], w["max_mb"],
                  "-" if w["slope_mb_per_min_second_half"] is None
                  else w["slope_mb_per_min_second_half"]] for w in soaked["workers"]])
    print(f"target: RSS per worker <= {RSS_LIMIT_MB:g} MB and flat (< "
          f"{SLOPE_LIMIT_MB_PER_MIN:g} MB/min) -> {soaked['verdict']} (max "
          f"{soaked['max_rss_mb']} MB, steepest {soaked['steepest_slope_mb_per_min']} "
          f"MB/min{', workers replaced' if soaked['workers_replaced'] else ''})")


# --- main ----------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0,
                        help="seconds per wrk run (whole seconds)")
    parser.add_argument("--soak", type=float, default=600.0, help="soak seconds")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-sync", action="store_true",
                        help="leave out the sync worker-class pair and the SystmOne waits")
    parser.add_argument("--skip-same-headers", action="store_true",
                        help="leave out the same-headers bare app (a third fewer runs)")
    parser.add_argument("--profile", type=float, default=0.0,
                        help="seconds of py-spy sampling of one facade worker (0: none)")
    parser.add_argument("--py-spy", help="py-spy's path (default: on PATH)")
    parser.add_argument("--diagnose", action="store_true",
                        help="also measure the facade with FACADE_AUDIT_SINK=off (demo-only "
                             "setting) and with FACADE_AUDIT_FSYNC=request against the same "
                             "bare apps: what the audit costs")
    parser.add_argument("--workdir", type=Path, help="keep logs and captures here")
    parser.add_argument("--facade-tree", type=Path,
                        help="run facade serve from this source tree (default: a snapshot of "
                             "this repository taken at start)")
    return parser.parse_args()


@dataclass
class Bench:
    """What a run starts, so that everything it started is stopped."""

    args: argparse.Namespace
    workdir: Path
    wrk: Wrk
    upstream: str
    partner: Partner
    servers: list[Server] = field(default_factory=list)
    id_key: Path | None = None

    def facade(self, label: str, serving: Serving, **extra_env: str) -> Facade:
        facade = Facade(label, serving, self.upstream, self.workdir / f"state-{label}",
                        self.workdir, self.partner, id_key=self.id_key, extra_env=extra_env)
        self.servers.append(facade.server)
        if self.id_key is None:
            self.id_key = facade.state / "id-key"
        return facade

    def bares(self, facade: Facade, paths: list[str]) -> dict[str, Server]:
        """Both bare apps for ``facade``'s worker model, serving its captured answers."""
        manifest = capture(facade, paths, self.workdir / f"captured-{facade.serving.name}")
        bares = start_bares(facade.serving, manifest, self.workdir, paths[0],
                            not self.args.skip_same_headers)
        self.servers.extend(bares.values())
        check_bares(bares, manifest, paths)
        return bares

    def stop_servers(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()


def build_cases(bench: Bench, practice) -> tuple[list[Case], Practice, Facade]:
    """The headline facade and bare apps, the practice's ids and every case to measure."""
    facade = bench.facade("facade-gthread", DEFAULT_SERVING)
    found = choose_patient(facade, find_patients(facade, practice), served_newer_types(facade))
    if not bench.args.skip_soak:
        found.observation_paths = soak_observation_paths(facade, found.patients)
    paths = headline_paths(found)
    warm(facade, [p.path for p in paths])
    bares = bench.bares(facade, [p.path for p in paths])
    cases = [Case(p.name, p.path, p.shown, DEFAULT_SERVING, facade, bares, headline=True)
             for p in paths]
    if not bench.args.skip_sync:
        sync = bench.facade("facade-sync", SYNC_SERVING)
        warm(sync, [found.read_path])
        cases.append(Case("Patient read (sync)", found.read_path, paths[0].shown, SYNC_SERVING,
                          sync, bench.bares(sync, [found.read_path]), headline=False))
    if bench.args.diagnose:
        cases += diagnostic_cases(bench, paths[:2], bares)
    return cases, found, facade


def diagnostic_cases(bench: Bench, paths: list[CasePath], bares: dict[str, Server]) -> list[Case]:
    """The facade with the audit off, and with an fsync before every answer, against the
    headline bare apps (their bodies name the headline facade's port: the same length)."""
    cases = []
    variants = [("audit off", "audit-off", {"FACADE_AUDIT_SINK": "off"}, paths),
                ("audit fsync per request", "fsync-request", {"FACADE_AUDIT_FSYNC": "request"},
                 paths[:1])]
    for title, label, env, measured in variants:
        facade = bench.facade(f"facade-gthread-{label}", DEFAULT_SERVING, **env)
        warm(facade, [p.path for p in measured])
        cases += [Case(f"{p.name}, {title} (diagnostic)", p.path, p.shown, DEFAULT_SERVING,
                       facade, bares, headline=False) for p in measured]
    return cases


def profiles(bench: Bench, cases: list[Case]) -> list[dict]:
    if not bench.args.profile:
        return []
    chosen = [(cases[0], False), (cases[0], True)]
    chosen += [(case, True) for case in cases if case.name.startswith("Patient read, audit off")]
    found = [profile(bench.args, bench.wrk, case, bench.workdir, gil) for case, gil in chosen]
    return [p for p in found if p]


def cases_verdict(summaries: list[dict], upstream_during: int) -> tuple[str, list[str]]:
    """PASS when every headline case met its target and SystmOne heard nothing; and the
    cases that missed."""
    missed = [s["case"] for s in summaries if s["headline"] and s["verdict"] != "PASS"]
    return ("PASS" if not missed and not upstream_during else "FAIL"), missed


def main() -> int:
    args = parse_args()

    def interrupted(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    scratch = None if args.workdir else tempfile.TemporaryDirectory(prefix="read-path-")
    workdir = args.workdir or Path(scratch.name)
    workdir.mkdir(parents=True, exist_ok=True)
    wrk = Wrk(workdir)
    Facade.tree = args.facade_tree or snapshot(workdir)
    partner = Partner(workdir)
    practice = generated_practice(PRACTICE_SIZE, seed=SEED, as_of=AS_OF)
    running = RunningSimulator(create_server(
        SimulatorConfig(port=0, request_interval=0, record_interval=0,
                        state_dir=workdir / "simulator"), practice,
        today=lambda: AS_OF)).start()
    host, port = running.address
    bench = Bench(args, workdir, wrk, f"{host}:{port}", partner)

    def messages() -> int:
        return len(running.server.store.messages())

    waits = soaked = None
    try:
        print(f"starting: simulator ({PRACTICE_SIZE} patients), facade and bare apps",
              file=sys.stderr)
        cases, found, headline_facade = build_cases(bench, practice)
        info = setup(args, wrk, headline_facade)
        print(f"measuring: {args.rounds} rounds x {len(cases)} cases x "
              f"{len(cases[0].servers())} servers x {args.duration:g} s", file=sys.stderr)
        messages_before = messages()
        measure(cases, wrk, args.rounds, args.duration)
        upstream_during = messages() - messages_before
        summaries = [summarise(case) for case in cases]
        profiled = profiles(bench, cases)
        bench.stop_servers()
        if not args.skip_sync:
            print("worker classes while requests wait for SystmOne (FACADE_REQUEST_INTERVAL=1)",
                  file=sys.stderr)
            waits = upstream_waits(args, wrk, bench.upstream, workdir, bench.partner,
                                   bench.id_key, found)
        if not args.skip_soak:
            print(f"soak: {args.soak:g} s of mixed load", file=sys.stderr)
            soaked = soak(args, wrk, bench.upstream, workdir, bench.partner, bench.id_key,
                          found, messages)
    except KeyboardInterrupt:
        print("interrupted; every process stopped", file=sys.stderr)
        return 130
    finally:
        bench.stop_servers()
        running.stop()
        if scratch is not None:
            scratch.cleanup()

    return report(info, summaries, upstream_during, waits, profiled, soaked)


def report(info: dict, summaries: list[dict], upstream_during: int, waits: dict | None,
           profiled: list[dict], soaked: dict | None) -> int:
    """Print the setup and every table, write the result file; the exit status."""
    print_setup(info)
    print()
    report_runs(summaries)
    print()
    report_comparison(summaries)
    errors = sum(s[side]["non_2xx"] + s[side]["socket_errors"] for s in summaries
                 for side in SIDES if side in s)
    print(f"\nSystmOne messages while measuring: {upstream_during} (0: every request was "
          f"answered from the cache); non-2xx or socket errors: {errors}")
    verdict_cases, missed = cases_verdict(summaries, upstream_during)
    print(f"target: for each case, facade req/s >= {TARGET_RATIO:.2f} x the plain bare "
          f"app's and facade p99 <= {TARGET_P99_FACTOR:g} x its p99 (medians of rounds), no "
          f"errors, no SystmOne message -> {verdict_cases}"
          + (f" (missed: {', '.join(missed)})" if missed else ""))
    worker_class = report_worker_classes(summaries)
    if waits is not None:
        report_waits(waits)
    for result in profiled:
        report_profile(result)
    if soaked is not None:
        report_soak(soaked)
    verdict_soak = None if soaked is None else soaked["verdict"]
    verdict = "PASS" if verdict_cases == "PASS" and verdict_soak in (None, "PASS") else "FAIL"
    path = write_result("read_path", {
        "verdict": verdict, "verdict_cases": verdict_cases, "verdict_soak": verdict_soak,
        "target_ratio": TARGET_RATIO, "target_p99_factor": TARGET_P99_FACTOR,
        "rss_limit_mb": RSS_LIMIT_MB, "slope_limit_mb_per_min": SLOPE_LIMIT_MB_PER_MIN,
        "setup": info, "connections": CONNECTIONS, "wrk_threads": WRK_THREADS,
        "upstream_messages_while_measuring": upstream_during,
        "cases": summaries, "worker_class": worker_class, "upstream_waits": waits,
        "profile": profiled, "soak": soaked})
    print(f"wrote {path.relative_to(REPO)}")
    return 0 if verdict == "PASS" else 1

if __name__ == "__main__":
    sys.exit(main())
