"""`facade serve` as an operator runs it: real gunicorn, real sockets, HTTPS, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest

from tests import processlogs

from .certs import self_signed

FACADE = [sys.executable, "-m", "facade"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """`facade serve` in its own process group; gunicorn's log kept for the test."""

    def __init__(self, environ: dict[str, str], tmp_path: Path) -> None:
        self.port = free_port()
        self.out = (tmp_path / f"serve-{self.port}.log").open("w+")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
        env.update({"FACADE_BIND": f"127.0.0.1:{self.port}", "FACADE_WORKERS": "2",
                    "FACADE_STATE_DIR": str(tmp_path / "state"), **environ})
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen([*FACADE, "serve"], env=env, stdout=self.out,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, scheme: str = "http", context=None) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/healthz",
                                            timeout=2, context=context):
                    return
            except (OSError, urllib.error.URLError):
                if self.process.poll() is not None:
                    break
                time.sleep(0.2)
        raise AssertionError(f"facade serve did not come up:\n{self.log()}")

    def log(self) -> str:
        if not self.out.closed:
            self.out.flush()
        return Path(self.out.name).read_text()

    def stop(self, timeout: float = 40) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if not self.out.closed:
            self.out.close()
            processlogs.keep("facade serve", self.log())  # the session's practice
        return self.process.returncode


@pytest.fixture
def serve(tmp_path, simulator):
    started: list[Served] = []
    upstream = "{}:{}".format(*simulator.address)

    def start(**environ: str) -> Served:
        started.append(Served({"FACADE_UPSTREAM": upstream, **environ}, tmp_path))
        return started[-1]
    yield start
    for served in started:
        served.stop()


def token(state: Path, base: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    subprocess.run([*FACADE, "clients", "add", "ops", "--with-secret", "--scope",
                    "system/*.rs", "--state-dir", str(state)], env=env, check=True,
                   capture_output=True)
    env["FACADE_PUBLIC_BASE_URL"] = base
    return subprocess.run([*FACADE, "token", "--client-id", "ops", "--state-dir", str(state)],
                          env=env, check=True, capture_output=True, text=True).stdout.strip()


def get(url: str, bearer: str | None = None, context=None, **headers: str):
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serves_fhir_with_tokens_and_logs_paths_only(serve, tmp_path, practice):
    served = serve()
    served.wait_ready()
    base = f"http://127.0.0.1:{served.port}/fhir"
    bearer = token(tmp_path / "state", base)
    number = next(p.identity.value for p in practice.index.summaries
                  if p.identity.kind == "NHSNumber")
    status, found = get(f"{base}/Patient?identifier={number}", bearer)
    assert status == 200 and found["total"] == 1
    assert get(f"{base}/Patient?identifier={number}")[0] == 401
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    recorded = subprocess.run([*FACADE, "token", "--client-id", "ops", "--state-dir",
                               str(tmp_path / "state")], env=env, capture_output=True,
                              text=True, check=True).stdout.strip()  # base recorded by serve
    assert get(f"{base}/Patient?identifier={number}", recorded)[0] == 200
    assert served.stop() == 0
    log = served.log()
    assert '"GET /fhir/Patient HTTP/1.1" 200' in log and number not in log
    assert "Using worker: facade.serving.worker.FacadeWorker" in log


def test_sigterm_lets_an_in_flight_request_finish(serve, tmp_path, practice):
    served = serve(FACADE_RECORD_INTERVAL="3", FACADE_REQUEST_INTERVAL="0.05",
                   FACADE_MAX_WAIT="10")
    served.wait_ready()
    base = f"http://127.0.0.1:{served.port}/fhir"
    bearer = token(tmp_path / "state", base)
    numbers = [p.identity.value for p in practice.index.summaries
               if p.identity.kind == "NHSNumber"][:2]
    ids = [get(f"{base}/Patient?identifier={n}", bearer)[1]["entry"][0]["resource"]["id"]
           for n in numbers]
    assert get(f"{base}/Observation?patient={ids[0]}", bearer)[0] == 200  # takes the slot
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(
        get(f"{base}/Observation?patient={ids[1]}", bearer)))  # waits ~3 s for its slot
    waiting.start()
    time.sleep(1.0)
    os.killpg(served.process.pid, signal.SIGTERM)
    waiting.join(30)
    assert answers and answers[0][0] == 200, served.log()
    assert served.process.wait(30) == 0


def test_https_directly_with_tls_1_2_or_newer_only(serve, tmp_path):
    cert, key = self_signed(tmp_path)
    served = serve(FACADE_TLS_CERT=str(cert), FACADE_TLS_KEY=str(key))
    trusting = ssl.create_default_context(cafile=str(cert))
    served.wait_ready("https", trusting)
    status, capability = get(f"https://127.0.0.1:{served.port}/fhir/metadata",
                             context=trusting)
    assert status == 200
    assert capability["implementation"]["url"] == f"https://127.0.0.1:{served.port}/fhir"
    tls12 = ssl.create_default_context(cafile=str(cert))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with urllib.request.urlopen(f"https://127.0.0.1:{served.port}/healthz", timeout=5,
                                context=tls12) as response:
        assert response.status == 200  # TLS 1.2 is still served
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(cafile=str(cert))
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"https://127.0.0.1:{served.port}/healthz", timeout=5,
                               context=old)


@pytest.mark.parametrize(("trusted", "expected_scheme"), [("", "http"), ("127.0.0.1", "https")])
def test_forwarded_headers_count_only_from_trusted_proxies(serve, trusted, expected_scheme):
    served = serve(FACADE_TRUSTED_PROXIES=trusted)
    served.wait_ready()
    status, capability = get(f"http://127.0.0.1:{served.port}/fhir/metadata",
                             **{"X-Forwarded-Proto": "https"})
    assert status == 200
    assert capability["implementation"]["url"].startswith(f"{expected_scheme}://")


def test_live_refuses_to_start_naming_each_problem(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    env.update({"FACADE_ENV": "live", "FACADE_STATE_DIR": str(tmp_path / "state")})
    done = subprocess.run([*FACADE, "serve"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "live profile refuses to start" in done.stderr
    for named in ("FACADE_API_KEY", "FACADE_PUBLIC_BASE_URL", "plain HTTP"):
        assert named in done.stderr
    assert "Starting gunicorn" not in done.stdout + done.stderr


def test_check_probes_systmone_and_reports(simulator, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    env.update({"FACADE_UPSTREAM": "{}:{}".format(*simulator.address),
                "FACADE_STATE_DIR": str(tmp_path / "state")})
    done = subprocess.run([*FACADE, "check"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout and "functions" in done.stdout
    env["FACADE_UPSTREAM"] = f"127.0.0.1:{free_port()}"
    down = subprocess.run([*FACADE, "check"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert down.returncode == 1 and "FAILED" in down.stdout


def test_check_books_its_request_in_the_shared_ledger(simulator, tmp_path):
    """Beside a serving facade, `facade check` takes its turn: with the next request slot
    beyond its wait it sends nothing and says why."""
    from facade.stewardship.ledger import SlotLedger
    from facade.stewardship.store import open_store

    endpoint = "{}:{}".format(*simulator.address)
    with open_store(tmp_path / "state", None) as store:
        SlotLedger(store, 30.0, 30.0, 0.02).reserve(endpoint, False, 1.0)  # a serving facade's
    before = len(simulator.store.messages())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    env.update({"FACADE_UPSTREAM": endpoint, "FACADE_STATE_DIR": str(tmp_path / "state"),
                "FACADE_REQUEST_INTERVAL": "30", "FACADE_MAX_WAIT": "1"})
    done = subprocess.run([*FACADE, "check"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "request budget is used up" in done.stdout, done.stdout
    assert len(simulator.store.messages()) == before


def test_behind_a_declared_tls_proxy_only_the_proxy_may_connect(serve):
    refused = serve(FACADE_TLS_PROXY="true", FACADE_TRUSTED_PROXIES="10.9.9.9")
    refused.wait_ready()  # /healthz from this machine is still answered
    status, outcome = get(f"http://127.0.0.1:{refused.port}/fhir/metadata")
    assert status == 403 and outcome["issue"][0]["code"] == "security"
    allowed = serve(FACADE_TLS_PROXY="true", FACADE_TRUSTED_PROXIES="127.0.0.1")
    allowed.wait_ready()
    status, capability = get(f"http://127.0.0.1:{allowed.port}/fhir/metadata",
                             **{"X-Forwarded-Proto": "https"})
    assert status == 200 and capability["implementation"]["url"].startswith("https://")


def test_the_master_loads_the_code_but_creates_no_app(tmp_path: Path) -> None:
    probe = ("import sys; from facade.serving import gunicorn_conf; "
             "gunicorn_conf._load_the_code(); print(all(name in sys.modules for name in "
             "('facade.app', 'facade.fhir.views', 'facade.auth.web', 'facade.ops')), "
             "'wsgi' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    env["FACADE_STATE_DIR"] = str(tmp_path / "state")
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.split() == ["True", "False"]
    state = tmp_path / "state"  # no store, keys or audit opened in the master (metrics aside)
    assert not state.exists() or {path.name for path in state.iterdir()} <= {"metrics"}
