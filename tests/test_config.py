"""Settings: CONFIG.md is generated from the code and never drifts; every FACADE_* name the
code reads is a documented setting; values are parsed and checked with clear messages."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from facade.config import PREFIX, Settings, reference, unknown_variables

ROOT = Path(__file__).resolve().parents[1]


def test_config_md_is_the_generated_reference():
    assert (ROOT / "CONFIG.md").read_text() == reference(), \
        "CONFIG.md is stale: run `python -m facade.config > CONFIG.md`"


def test_every_setting_is_documented_with_a_group():
    for setting in fields(Settings):
        assert setting.metadata.get("doc"), setting.name
        assert setting.metadata.get("group"), setting.name
        assert f"`{PREFIX}{setting.name.upper()}`" in reference()


def test_every_facade_variable_named_in_the_code_is_a_setting():
    named = set()
    for path in [*ROOT.joinpath("facade").rglob("*.py"), ROOT / "wsgi.py",
                 *ROOT.joinpath("scripts").glob("*")]:
        if path.is_file():
            # As an environment variable: in quotes, or after $ / ${ in a shell script.
            named |= set(re.findall(r"""["'{$](FACADE_[A-Z_]+[A-Z])\b""", path.read_text()))
    settings = {PREFIX + s.name.upper() for s in fields(Settings)}
    test_harness = {name for name in named if name.startswith("FACADE_TEST_")}
    assert named - settings - test_harness == set(), "named in the code but not settings"


@pytest.mark.parametrize(("name", "raw", "expected"), [
    ("FACADE_WORKERS", "4", 4), ("FACADE_MAX_WAIT", "2.5", 2.5),
    ("FACADE_ACCESS_LOG", "off", False), ("FACADE_CLIENT_SECRET_AUTH", "yes", True),
    ("FACADE_TLS_CERT", "/etc/x.pem", Path("/etc/x.pem")), ("FACADE_REDIS_URL", "", ""),
    ("FACADE_ENV", "live", "live"),
])
def test_values_are_parsed_by_type(name, raw, expected):
    environ = {name: raw}
    if name == "FACADE_TLS_CERT":
        environ["FACADE_TLS_KEY"] = "/etc/x.key"
    value = getattr(Settings.load(environ=environ), name.removeprefix(PREFIX).lower())
    assert value == expected


@pytest.mark.parametrize(("environ", "message"), [
    ({"FACADE_WORKERS": "two"}, "FACADE_WORKERS must be a number"),
    ({"FACADE_ACCESS_LOG": "maybe"}, "FACADE_ACCESS_LOG must be true or false"),
    ({"FACADE_ENV": "prod"}, "FACADE_ENV must be demo or live"),
    ({"FACADE_WORKER_CLASS": "gevent"}, "FACADE_WORKER_CLASS must be gthread or sync"),
    ({"FACADE_AUDIT_FSYNC": "never"}, "FACADE_AUDIT_FSYNC must be interval or request"),
    ({"FACADE_AUDIT_FSYNC_INTERVAL": "0"}, "FACADE_AUDIT_FSYNC_INTERVAL must be more than 0"),
    ({"FACADE_TLS_CERT": "/x.pem"}, "FACADE_TLS_CERT and FACADE_TLS_KEY go together"),
    ({"FACADE_PUBLIC_BASE_URL": "https://x/api"}, "must be an http(s) URL ending in /fhir"),
    ({"FACADE_TOKEN_LIFETIME": "3600"}, "at most 300"),
])
def test_bad_values_are_refused_in_one_line(environ, message):
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        Settings.load(environ=environ)
    assert "\n" not in str(refused.value)


def test_unknown_facade_variables_are_found():
    assert unknown_variables({"FACADE_WORKERZ": "4", "FACADE_WORKERS": "4", "PATH": "/"}) \
        == ["FACADE_WORKERZ"]
