"""Issue 5's acceptance, as a new user would try it: an integration partner registers its
public key, gets a token with a signed assertion, reads exactly what its scopes allow, and
every access shows up in the audit. Real processes: `facade demo`, the CLI, the partner's
script (scripts/backend_client.py), plain HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from .test_cli import Background, run

CLIENT_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "backend_client.py"


def get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def partner(*args: str) -> str:
    done = subprocess.run([sys.executable, str(CLIENT_SCRIPT), *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_partner_registers_gets_a_token_reads_what_it_may_and_is_audited(tmp_path):
    state = str(tmp_path / "state")
    demo = Background(["demo", "--patients", "5", "--port", "0", "--state-dir", state],
                      r"FHIR base URL: (http://127\.0\.0\.1:\d+/fhir)", stream="stdout")
    try:
        base = demo.match.group(1)
        while not demo.lines[-1].startswith("Ctrl-C stops"):
            demo.lines.append(demo.process.stdout.readline())
        identifier = re.search(r"Patient\?identifier=(\S+?)'", "".join(demo.lines)).group(1)

        key, jwks = tmp_path / "partner-key.json", tmp_path / "partner.jwks.json"
        partner("keygen", str(key), str(jwks))
        added = run("clients", "add", "partner-ltd", "--jwks", str(jwks), "--scope",
                    "system/Patient.rs", "--state-dir", state)
        assert added.returncode == 0, added.stderr
        token = partner("token", "--key", str(key), "--client-id", "partner-ltd",
                        "--fhir-base", base, "--scope", "system/Patient.read")

        status, found = get(f"{base}/Patient?identifier={identifier}", token)
        assert status == 200 and found["total"] == 1
        patient_id = found["entry"][0]["resource"]["id"]
        status, patient = get(f"{base}/Patient/{patient_id}", token)
        assert status == 200 and patient["id"] == patient_id
        status, refused = get(f"{base}/Observation?patient=Patient/{patient_id}", token)
        assert status == 403 and refused["issue"][0]["code"] == "forbidden"
        assert get(f"{base}/AuditEvent", token)[0] == 403

        admin = run("token", "--state-dir", state).stdout.strip()
        status, audit = get(f"{base}/AuditEvent?agent=partner-ltd&_count=50", admin)
        assert status == 200
        events = [entry["resource"] for entry in audit["entry"]]
        seen = [(e["subtype"][0]["code"], e["outcome"]) for e in events]
        assert seen.count(("search-type", "0")) == 1 and ("read", "0") in seen
        assert seen.count(("search-type", "4")) == 2  # Observation and AuditEvent refused
        read = next(e for e in events if e["subtype"][0]["code"] == "read")
        assert any(entity.get("what", {}).get("reference") == f"Patient/{patient_id}"
                   for entity in read["entity"])
        assert ("token", "0") in seen  # the token request, by the client it authenticated
    finally:
        assert demo.stop() == 0


def partner_fails(*args: str) -> str:
    """The partner's script refusing: exit 1 and one line on stderr, never a traceback."""
    done = subprocess.run([sys.executable, str(CLIENT_SCRIPT), *args], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    [line] = done.stderr.strip().splitlines()
    return line


def test_keygen_never_overwrites_a_key_pair_unless_forced(tmp_path):
    key, jwks = tmp_path / "partner-key.json", tmp_path / "partner.jwks.json"
    partner("keygen", str(key), str(jwks))
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_text(), jwks.read_text()
    line = partner_fails("keygen", str(key), str(jwks))
    assert str(key) in line and "already exists" in line and "--force" in line
    assert (key.read_text(), jwks.read_text()) == before
    key.unlink()  # a public JWKS alone is not overwritten either
    line = partner_fails("keygen", str(key), str(jwks))
    assert str(jwks) in line and not key.exists()
    partner("keygen", str(key), str(jwks), "--force")
    assert jwks.read_text() != before[1] and key.stat().st_mode & 0o777 == 0o600
    assert json.loads(jwks.read_text())["keys"][0]["kid"] in key.read_text()


def test_token_problems_are_one_line(tmp_path):
    key, jwks = tmp_path / "partner-key.json", tmp_path / "partner.jwks.json"
    common = ["--client-id", "p", "--scope", "system/Patient.rs"]
    line = partner_fails("token", "--key", str(key), "--fhir-base", "http://127.0.0.1:9/fhir",
                         *common)
    assert f"cannot read {key}" in line
    partner("keygen", str(key), str(jwks))
    line = partner_fails("token", "--key", str(key), "--fhir-base", "http://127.0.0.1:9/fhir",
                         *common)
    assert "cannot read http://127.0.0.1:9/fhir/.well-known/smart-configuration" in line
    line = partner_fails("token", "--key", str(jwks), "--fhir-base", "http://127.0.0.1:9/fhir",
                         *common)
    assert f"{jwks} is not a private key" in line
