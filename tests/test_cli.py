"""The ``facade`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facade.protocol import functions as fn
from facade.upstream.client import DEMO_API_KEY, SystmOneClient
from facade.upstream.device import DeviceIdStore
from facade.upstream.transport import SocketTransport, Timeouts

from . import processlogs

FACADE = [sys.executable, "-m", "facade"]


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([*FACADE, *args], capture_output=True, text=True, timeout=120,
                          **kwargs)
    processlogs.keep(f"facade {' '.join(args[:1])}", done.stderr,
                     processlogs.spec_from_arguments(list(args)))
    return done


class Background:
    """A ``facade`` subcommand in the background; waits for a line matching ``ready``."""

    def __init__(self, args: list[str], ready: str, stream: str = "stderr") -> None:
        self.args, self.stream = args, stream
        self.process = subprocess.Popen([*FACADE, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        source = getattr(self.process, stream)
        self.lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = source.readline()
            if not line:
                break
            self.lines.append(line)
            if match := re.search(ready, line):
                self.match = match
                return
        self.process.kill()
        _, err = self.process.communicate()
        raise AssertionError(f"not ready: {self.lines} {err}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=20)  # also closes the pipes
        logged = ("".join(self.lines) if self.stream == "stderr" else "") + err
        processlogs.keep(f"facade {' '.join(self.args[:1])}", logged,
                         processlogs.spec_from_arguments(self.args))
        return self.process.returncode


@pytest.mark.parametrize("command", [[], ["simulator"], ["simulator", "audit"],
                                     ["simulator", "devices"], ["demo"], ["upstream"],
                                     ["upstream", "record"]])
def test_help(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_simulator_serves_the_client_and_its_audit_shows_the_messages(tmp_path):
    state = tmp_path / "state"
    simulator = Background(["simulator", "--port", "0", "--patients", "20", "--seed", "3",
                            "--request-interval", "0", "--state-dir", str(state)],
                           r"listening on 127\.0\.0\.1:(\d+) \(20 patients")
    try:
        port = int(simulator.match.group(1))
        client = SystmOneClient(SocketTransport("127.0.0.1", port, Timeouts(2, 10)),
                                api_key=DEMO_API_KEY, endpoint=f"127.0.0.1:{port}",
                                device_ids=DeviceIdStore(state / "upstream" / "ids.json"))
        assert "PatientSearch" in client.get_functions()
        client.patient_search(fn.PatientSearchCriteria(surname="A", gender="F"))
        client.close()
        # The shell client, keeping its DeviceID in the same state dir.
        shell = run("upstream", "--upstream", f"127.0.0.1:{port}", "--state-dir", str(state),
                    "search", "--surname", "B", "--gender", "M")
        assert shell.returncode == 0, shell.stderr
        assert shell.stdout.startswith("<Response")
        audit = run("simulator", "audit", "--state-dir", str(state), "--last", "2")
        assert audit.returncode == 0
        lines = audit.stdout.splitlines()
        assert len(lines) == 2 and all("PatientSearch" in line for line in lines)
        assert all("success" in line for line in lines)
        with_xml = run("simulator", "audit", "--state-dir", str(state), "--function",
                       "GetFunctions", "--xml")
        assert "<SupportedFunction>" in with_xml.stdout
    finally:
        assert simulator.stop() == 0


def test_bad_practice_folder_is_one_clear_line(tmp_path):
    (tmp_path / "broken.xml").write_text("<Response><Identity>")
    result = run("simulator", "--port", "0", "--practice", str(tmp_path))
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "broken.xml" in message[0] and "not well-formed" in message[0]


def test_practice_and_patients_cannot_be_combined(tmp_path):
    result = run("simulator", "--practice", str(tmp_path), "--patients", "3")
    assert result.returncode == 2 and "cannot be combined" in result.stderr


def test_audit_without_a_simulator_state_is_a_clear_error(tmp_path):
    result = run("simulator", "audit", "--state-dir", str(tmp_path))
    assert result.returncode == 1 and "no simulator audit" in result.stderr


def test_upstream_that_does_not_answer_is_a_clear_error(tmp_path):
    result = run("upstream", "--upstream", "127.0.0.1:9", "--state-dir", str(tmp_path),
                 "functions")
    assert result.returncode == 1 and "cannot connect" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_demo_serves_fhir_over_the_simulator_and_stops_cleanly(tmp_path, signum):
    import json
    import urllib.request

    demo = Background(["demo", "--patients", "5", "--port", "0", "--state-dir", str(tmp_path)],
                      r"FHIR base URL: (http://127\.0\.0\.1:\d+/fhir)", stream="stdout")
    try:
        base = demo.match.group(1)
        with urllib.request.urlopen(f"{base}/metadata", timeout=10) as response:
            assert response.status == 200
            assert json.load(response)["fhirVersion"] == "4.0.1"
        while not demo.lines[-1].startswith("Ctrl-C stops"):  # the example lines that follow
            demo.lines.append(demo.process.stdout.readline())
        token_line = next(line for line in demo.lines if "TOKEN=$(" in line)
        search = next(line for line in demo.lines if "Patient?identifier=" in line)
        audit = next(line for line in demo.lines if "AuditEvent?" in line)
        # As pasted into a shell: the token command, then the curl lines.
        script = "set -e\n" + "".join(line.strip() + "\n" for line in (token_line, search))
        found = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                               timeout=60)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["total"] == 1
        script = "set -e\n" + token_line.strip() + "\n" + audit.strip() + "\n"
        audited = json.loads(subprocess.run(["bash", "-c", script], capture_output=True,
                                            text=True, timeout=60).stdout)
        assert audited["resourceType"] == "Bundle" and audited["entry"]
        assert any(e["resource"]["subtype"][0]["code"] == "search-type"
                   for e in audited["entry"])
    finally:
        assert demo.stop(signum) == 0
    assert Path(tmp_path / "simulator" / "simulator.sqlite3").exists()
    # The embedded simulator writes GetDocument's files here; each read removes its own.
    assert (tmp_path / "documents").is_dir() and not any((tmp_path / "documents").iterdir())


def test_progress_bar_on_a_terminal(tmp_path):
    import os
    import pty

    main, terminal = pty.openpty()
    process = subprocess.Popen([*FACADE, "simulator", "--port", "0", "--patients", "300",
                                "--state-dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=terminal)
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"listening on" not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(main, 4096)
            except OSError:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        os.close(main)
    assert b"Loading practice [" in seen and b"300/300" in seen
    assert b"listening on" in seen


def test_no_progress_bar_when_not_a_terminal(tmp_path):
    simulator = Background(["simulator", "--port", "0", "--patients", "50", "--state-dir",
                            str(tmp_path)], r"listening on")
    assert simulator.stop() == 0
    assert not any("Loading practice" in line for line in simulator.lines)


def test_the_demo_simulator_listens_where_a_systmone_client_does_or_on_a_free_port(tmp_path):
    """`facade demo`'s simulator takes SystmOne's port (40700 by default, where `facade
    upstream` and the docs look) and falls back to a free loopback port when it is taken."""
    import socket

    from facade.cli import _start_simulator
    from simulator import SimulatorConfig
    from simulator.config import DEFAULT_PORT
    from simulator.practice import generated_practice

    assert SimulatorConfig().port == DEFAULT_PORT == 40700
    with socket.socket() as probe:  # a port free now, standing in for 40700
        probe.bind(("127.0.0.1", 0))
        wanted = probe.getsockname()[1]
    practice = generated_practice(2, 1)
    first = _start_simulator(SimulatorConfig(port=wanted, state_dir=tmp_path / "a"), practice)
    try:
        assert first.address == ("127.0.0.1", wanted)
        second = _start_simulator(SimulatorConfig(port=wanted, state_dir=tmp_path / "b"),
                                  practice)
        try:
            assert second.address[0] == "127.0.0.1" and second.address[1] not in (0, wanted)
        finally:
            second.stop()
    finally:
        first.stop()
