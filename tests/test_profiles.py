"""The live profile refuses every unsafe configuration, naming each problem."""

from __future__ import annotations

import dataclasses
import os

import pytest

from facade import profiles
from facade.app import create_app
from facade.config import Settings


@pytest.fixture
def safe(tmp_path) -> Settings:
    """A live configuration with nothing to refuse."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate")
    key.write_text("key")
    os.chmod(key, 0o600)
    return Settings(env="live", api_key="tpp-issued-0001", state_dir=state,
                    public_base_url="https://facade.example.org/fhir", tls_cert=cert,
                    tls_key=key, upstream="gateway-1.example.nhs.uk:40700")


def test_a_safe_live_configuration_has_no_problems(safe):
    assert profiles.problems(safe, environ={}) == []


def test_the_demo_profile_refuses_nothing():
    assert profiles.problems(Settings(), environ={}) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"api_key": "fac4de0000000001"}, "FACADE_API_KEY is the built-in simulator's demo key"),
    ({"api_key": "  "}, "FACADE_API_KEY is empty"),
    ({"upstream": ""}, "FACADE_UPSTREAM names no SystmOne endpoint"),
    ({"debug": True}, "debugging is on"),
    ({"client_secret_auth": True}, "FACADE_CLIENT_SECRET_AUTH is on"),
    ({"public_base_url": None}, "FACADE_PUBLIC_BASE_URL is not set"),
    ({"public_base_url": "http://facade.example.org/fhir"}, "is not https"),
    ({"tls_cert": None, "tls_key": None}, "plain HTTP"),
    ({"tls_cert": None, "tls_key": None, "tls_proxy": True},
     "FACADE_TLS_PROXY is on but FACADE_TRUSTED_PROXIES names no proxy"),
    ({"audit_sink": "off"}, "FACADE_AUDIT_SINK is off"),
    ({"oauth_issuer": "https://idp", "oauth_jwks_url": "http://idp/jwks"},
     "FACADE_OAUTH_JWKS_URL is not https"),
])
def test_each_unsafe_setting_is_named(safe, change, expected):
    found = profiles.problems(dataclasses.replace(safe, **change), environ={})
    assert len(found) == 1 and expected in found[0], found


def test_a_declared_tls_proxy_is_enough(safe):
    behind_proxy = dataclasses.replace(safe, tls_cert=None, tls_key=None, tls_proxy=True,
                                       trusted_proxies="10.0.0.5")
    assert profiles.problems(behind_proxy, environ={}) == []


def test_a_state_dir_open_to_others_is_refused(safe):
    os.chmod(safe.state_dir, 0o755)
    [problem] = profiles.problems(safe, environ={})
    assert "open to other users (mode 755)" in problem


def test_a_key_file_open_to_others_and_missing_files_are_refused(safe, tmp_path):
    os.chmod(safe.tls_key, 0o644)
    assert any("readable by other users" in p for p in profiles.problems(safe, environ={}))
    gone = dataclasses.replace(safe, tls_cert=tmp_path / "missing.pem")
    assert any("is not a readable file" in p for p in profiles.problems(gone, environ={}))


def test_flask_debug_and_typos_in_the_environment_are_refused(safe):
    found = profiles.problems(safe, environ={"FLASK_DEBUG": "1", "FACADE_WORKERZ": "4"})
    assert any("debugging is on" in p for p in found)
    assert any("FACADE_WORKERZ is not a setting" in p for p in found)


def test_the_app_itself_refuses_to_start_unsafe(tmp_path):
    """gunicorn wsgi:app without facade serve is refused too."""
    with pytest.raises(profiles.UnsafeConfiguration) as refused:
        create_app({"env": "live", "state_dir": tmp_path / "state"})
    assert "FACADE_API_KEY" in str(refused.value) and len(refused.value.problems) >= 3
