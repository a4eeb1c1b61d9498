"""The README and docs/ as a newcomer uses them: their commands run as written against
`facade demo` (real processes), and every NHS number they name is a patient of the
default practice (a search for anyone else fails, and a failed full record still spends
SystmOne's 30-second window)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import load_practice

from .test_cli import Background

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
PYTHON = shlex.quote(sys.executable)


def section(path: Path, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(f"\n{heading}\n")
    ends = [m.start() for m in re.finditer(r"\n(#+) ", text[start + 1:])
            if len(m.group(1)) <= len(level)]
    return text[start:start + 1 + ends[0]] if ends else text[start:]


def blocks(text: str, language: str = "sh") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def as_run_here(script: str, base: str, state: Path, endpoint: str | None = None) -> str:
    """The docs' commands, run from the checkout against the demo on 8080 with the state in
    .facade, pointed at this test's demo, state dir and interpreter instead."""
    script = script.replace(".venv/bin/python", "@PYTHON@").replace(".venv/bin/facade", "@FACADE@")
    script = script.replace("http://127.0.0.1:8080/fhir", base)
    script = script.replace(" scripts/", f" {REPO}/scripts/")
    script = script.replace("--state-dir .facade", f"--state-dir {state}")
    if endpoint is not None:  # the demo's simulator is on 40700 unless that port was taken
        script = script.replace("@FACADE@ upstream",
                                f"@FACADE@ upstream --upstream {endpoint} --state-dir {state}")
        for command in ("simulator audit", "clients add", "clients list", "clients remove"):
            script = script.replace(f"@FACADE@ {command}",
                                    f"@FACADE@ {command} --state-dir {state}")
    return script.replace("@FACADE@", f"{PYTHON} -m facade").replace("@PYTHON@", PYTHON)


def start_demo(state: Path, monkeypatch) -> Background:
    # A send more than half the 20 ms margin late is not sent but booked again, which on a
    # busy test machine can turn the tour's first full record into a 429: the tour shows
    # what a caller sees, so it is given a margin a loaded machine keeps.
    monkeypatch.setenv("FACADE_SEND_MARGIN", "0.25")
    demo = Background(["demo", "--port", "0", "--state-dir", str(state)],
                      r"FHIR base URL: (http://127\.0\.0\.1:\d+/fhir)", stream="stdout")
    while not demo.lines[-1].startswith("Ctrl-C stops"):
        demo.lines.append(demo.process.stdout.readline())
    return demo


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", "set -e\n" + script], capture_output=True, text=True,
                          timeout=180, cwd=cwd)


def test_every_nhs_number_the_docs_name_is_a_patient_of_the_default_practice():
    named = {number for doc in DOCS
             for number in re.findall(r"(?<!\d)999\d{7}(?!\d)", doc.read_text(encoding="utf-8"))}
    assert len(named) >= 3
    default = load_practice(None, None, None, None)  # facade demo's and facade simulator's
    assert len(default.index.summaries) == 100
    assert named <= {summary.identity.value for summary in default.index.summaries}


def test_the_readme_tour_works_as_written(tmp_path, monkeypatch):
    tour = section(README, "## A five-minute tour")
    script = "\n".join(blocks(tour))
    assert "sleep 25" in script and "429" in tour
    state = tmp_path / "state"
    demo = start_demo(state, monkeypatch)
    try:
        done = bash(as_run_here(script, demo.match.group(1), state), tmp_path)
    finally:
        assert demo.stop() == 0
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith('{"resourceType":"CapabilityStatement"')
    documents = []
    for line in lines[1:]:
        if line.startswith("{"):
            documents.append(json.loads(line))
    found, vitals, problems, plans, refused, retried, audit = documents
    assert found["total"] == 1
    assert vitals["entry"] and all(
        entry["resource"]["category"][0]["coding"][0]["code"] == "vital-signs"
        for entry in vitals["entry"])
    assert problems["resourceType"] == "Bundle" and problems["entry"]
    assert {entry["search"]["mode"] for entry in plans["entry"]} >= {"match", "include"}
    assert refused["issue"][0]["code"] == "throttled"
    status = next(line for line in lines if line.startswith("HTTP/"))
    assert " 429 " in status and any(line.startswith("Retry-After: ") for line in lines)
    patient_a = vitals["entry"][0]["resource"]["subject"]["reference"]
    assert retried["entry"] and retried["entry"][0]["resource"]["subject"]["reference"] != patient_a
    assert audit["entry"][0]["resource"]["resourceType"] == "AuditEvent"
    messages = [line for line in lines if re.match(r"\d{4}-\d\d-\d\dT", line)]
    assert len(messages) == 6 and all(" success " in line for line in messages)
    assert sum("GetPatientRecord" in line for line in messages) >= 3  # SystmOne never ignored one


@pytest.mark.parametrize("doc, heading", [
    ("operators.md", "## Talking to SystmOne with the client"),
    ("security.md", "### Getting a token"),
])
def test_the_docs_commands_work_against_the_demo(tmp_path, monkeypatch, doc, heading):
    text = section(REPO / "docs" / doc, heading)
    state = tmp_path / "state"
    demo = start_demo(state, monkeypatch)
    try:
        endpoint = next(line.split(" at ", 1)[1].strip() for line in demo.lines
                        if line.startswith("SystmOne simulator at "))
        script = as_run_here("\n".join(blocks(text)), demo.match.group(1), state, endpoint)
        done = bash(script, tmp_path)
        assert done.returncode == 0, done.stderr
        assert "Error" not in done.stderr and "Traceback" not in done.stderr
        for program in blocks(text, "python"):
            program = program.replace("40700", endpoint.rsplit(":", 1)[1])
            program = program.replace('".facade/', f'"{state}/')
            ran = subprocess.run([sys.executable, "-c", program], capture_output=True,
                                 text=True, timeout=120, cwd=tmp_path)
            assert ran.returncode == 0, ran.stderr
    finally:
        assert demo.stop() == 0
    if doc == "operators.md":
        records = [line for line in done.stdout.splitlines() if "NHSNumber>999" in line]
        assert len(records) >= 2  # both records found
        assert re.search(r"success +GetPatientRecord", done.stdout)
    else:
        [found] = [json.loads(line) for line in done.stdout.splitlines()
                   if line.startswith('{"resourceType"')]
        assert found["total"] == 1
        assert "other-co" in done.stdout and "removed other-co" in done.stdout


def test_the_fidelity_report_runs_as_documented(tmp_path):
    [script] = blocks(section(REPO / "docs" / "api.md", "## Nothing disappears silently"))
    done = bash(as_run_here(script, "", tmp_path).replace(" tests/", f" {REPO}/tests/"),
                tmp_path)
    assert done.returncode == 0, done.stderr
    assert "served" in done.stdout and "not served" in done.stdout


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_between_the_docs_resolves():
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]*)(#[^)\s]*)?\)", doc.read_text(encoding="utf-8")):
            file, anchor = target
            if file.startswith(("http://", "https://")):
                continue
            linked = (doc.parent / file).resolve() if file else doc
            if not linked.exists():
                broken.append(f"{doc.name}: {file}")
            elif anchor and anchor[1:] not in anchors(linked):
                broken.append(f"{doc.name}: {file}{anchor}")
    assert broken == []
