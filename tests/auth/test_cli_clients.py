"""`facade clients add/list/remove` and `facade token` on a state dir, as an operator uses them."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner
from joserfc.jwk import ECKey

from facade.cli import main

BASE = "https://facade.example.org/fhir"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.delenv("FACADE_REDIS_URL", raising=False)
    monkeypatch.delenv("FACADE_PUBLIC_BASE_URL", raising=False)

    def invoke(*args: str, env: dict | None = None):
        return CliRunner().invoke(main, [*args, "--state-dir", str(tmp_path / "state")],
                                  env=env, catch_exceptions=False)
    return invoke


@pytest.fixture
def jwks_file(tmp_path):
    key = ECKey.generate_key("P-384", parameters={"kid": "partner-1", "alg": "ES384"})
    path = tmp_path / "partner.jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return path


def claims_of(token: str) -> dict:
    """The payload, unverified: the CLI's output is checked for what it says."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_add_list_remove(run, jwks_file):
    added = run("clients", "add", "partner", "--jwks", str(jwks_file), "--scope",
                "system/Patient.rs system/Observation.rs")
    assert added.exit_code == 0, added.output
    assert "registered partner" in added.output
    [line] = run("clients", "list").output.splitlines()
    listed = json.loads(line)
    assert listed["client_id"] == "partner" and listed["auth_methods"] == ["private_key_jwt"]
    assert listed["scope"] == "system/Patient.rs system/Observation.rs"
    assert "x" not in line.replace("private_key_jwt", "")  # no key material listed
    again = run("clients", "add", "partner", "--jwks", str(jwks_file))
    assert again.exit_code == 1 and "already registered" in again.output
    assert run("clients", "add", "partner", "--jwks", str(jwks_file), "--replace").exit_code == 0
    assert run("clients", "remove", "partner").exit_code == 0
    assert run("clients", "list").output == ""
    missing = run("clients", "remove", "partner")
    assert missing.exit_code == 1 and "not registered" in missing.output


@pytest.mark.parametrize("args, message", [
    (["--jwks-uri", "ftp://keys.example.org/jwks"], "not an http(s) URL"),
    (["--scope", "system/Patient.sr"], "malformed scope"),
    (["--scope", "openid"], "at least one resource scope"),
])
def test_bad_registrations_are_refused_with_one_line(run, jwks_file, args, message):
    keys = [] if "--jwks-uri" in args else ["--jwks", str(jwks_file)]
    result = run("clients", "add", "partner", *keys, *args)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_private_key_is_never_registered(run, tmp_path):
    key = ECKey.generate_key("P-384", parameters={"kid": "oops"})
    path = tmp_path / "private.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=True)]}))
    result = run("clients", "add", "partner", "--jwks", str(path))
    assert result.exit_code == 1 and "private part" in result.output


def test_keys_need_exactly_one_source(run, jwks_file):
    both = run("clients", "add", "p", "--jwks", str(jwks_file), "--jwks-uri", "https://k/j")
    neither = run("clients", "add", "p")
    assert both.exit_code == neither.exit_code == 2
    assert "exactly one of --jwks FILE and --jwks-uri URL" in both.output


def test_token_prints_only_a_token_for_the_recorded_audience(run, jwks_file):
    run("clients", "add", "partner", "--jwks", str(jwks_file), "--scope", "system/*.rs")
    unknown_base = run("token", "--client-id", "partner")
    assert unknown_base.exit_code == 1 and "FACADE_PUBLIC_BASE_URL" in unknown_base.output
    result = run("token", "--client-id", "partner", "--scope", "system/Patient.read",
                 env={"FACADE_PUBLIC_BASE_URL": BASE})
    assert result.exit_code == 0
    [token] = result.output.split()
    claims = claims_of(token)
    assert claims["aud"] == BASE and claims["iss"] == BASE.removesuffix("/fhir") + "/auth"
    assert claims["scope"] == "system/Patient.read" and claims["client_id"] == "partner"
    assert claims["exp"] - claims["iat"] <= 300


def test_token_refuses_what_the_client_may_not_have(run, jwks_file):
    run("clients", "add", "partner", "--jwks", str(jwks_file), "--scope", "system/Patient.rs")
    env = {"FACADE_PUBLIC_BASE_URL": BASE}
    escalated = run("token", "--client-id", "partner", "--scope", "system/Observation.rs",
                    env=env)
    assert escalated.exit_code == 1 and "can be granted" in escalated.output
    nobody = run("token", "--client-id", "nobody", env=env)
    assert nobody.exit_code == 1 and "not registered" in nobody.output


def test_a_simple_client_may_have_a_secret_shown_once(run):
    result = run("clients", "add", "simple", "--with-secret", "--scope", "system/Patient.rs")
    assert result.exit_code == 0
    secret = result.output.splitlines()[-1].rsplit(" ", 1)[-1]
    assert len(secret) >= 40
    listed = json.loads(run("clients", "list").output)
    assert listed["auth_methods"] == ["client_secret_basic"] and secret not in str(listed)


def test_keys_rotate_publishes_a_second_key(run, tmp_path):
    (tmp_path / "state").mkdir()
    [first] = [json.loads(line) for line in run("keys", "list").output.splitlines()]
    rotated = run("keys", "rotate", "--publish-ahead", "60")
    assert rotated.exit_code == 0 and "signs in 60 s" in rotated.output
    published = [json.loads(line) for line in run("keys", "list").output.splitlines()]
    assert published[0]["kid"] == first["kid"] and len(published) == 2
    assert published[0]["retired_at"] == published[1]["signs_from"]


@pytest.mark.parametrize("command", [["token"], ["clients", "list"], ["clients", "remove", "x"],
                                     ["keys", "list"], ["keys", "rotate"]])
def test_commands_that_read_the_state_dir_never_make_one(tmp_path, monkeypatch, command):
    """Run where there is no state dir (another directory, no --state-dir): one line naming
    the directory looked for, and no stray `.facade` left behind."""
    monkeypatch.delenv("FACADE_REDIS_URL", raising=False)
    monkeypatch.delenv("FACADE_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert f"no state dir at {tmp_path / '.facade'}" in line and "--state-dir" in line
    assert list(tmp_path.iterdir()) == []


def test_registering_a_client_may_make_the_state_dir(run, jwks_file, tmp_path):
    """An operator registers partners before the first start: `clients add` makes it."""
    assert run("clients", "add", "partner", "--jwks", str(jwks_file)).exit_code == 0
    assert (tmp_path / "state").is_dir()
    assert json.loads(run("clients", "list").output)["client_id"] == "partner"
