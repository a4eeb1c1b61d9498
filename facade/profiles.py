"""The live profile: configurations that are unsafe with real patients are refused.

Moving from TPP's Demo environment to Live is not simply a configuration
change, so ``FACADE_ENV=live`` makes the unsafe ones impossible: ``facade
serve`` (and ``wsgi.py``) will not start while any problem below stands, and
says each one in a line naming the setting. ``facade check`` lists the same
problems (and probes SystmOne) without starting anything.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .config import Settings, unknown_variables
from .upstream.client import DEMO_API_KEY


class UnsafeConfiguration(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("the live profile refuses to start:\n" +
                         "\n".join(f"  - {problem}" for problem in problems))


def problems(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """What the live profile refuses in ``settings`` (empty for the demo profile)."""
    environ = os.environ if environ is None else environ
    if settings.env != "live":
        return []
    found = [f"{name} is not a setting (a typo?); see CONFIG.md"
             for name in unknown_variables(environ)]
    found += _upstream(settings) + _secrets(settings, environ) + _transport(settings)
    found += _audit(settings) + _state_dir(settings.state_dir)
    return found


def require_safe(settings: Settings, environ: dict[str, str] | None = None) -> None:
    found = problems(settings, environ)
    if found:
        raise UnsafeConfiguration(found)


def _upstream(settings: Settings) -> list[str]:
    found = []
    if not settings.upstreams:
        found.append("FACADE_UPSTREAM names no SystmOne endpoint")
    if settings.api_key == DEMO_API_KEY:
        found.append("FACADE_API_KEY is the built-in simulator's demo key: live needs the "
                     "API key TPP issued for this product (the simulator is demo only)")
    elif not settings.api_key.strip():
        found.append("FACADE_API_KEY is empty")
    return found


def _secrets(settings: Settings, environ: dict[str, str]) -> list[str]:
    found = []
    if settings.debug or environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes"):
        found.append("debugging is on (FACADE_DEBUG or FLASK_DEBUG): answers would carry "
                     "tracebacks")
    if settings.client_secret_auth:
        found.append("FACADE_CLIENT_SECRET_AUTH is on: live clients authenticate with signed "
                     "assertions (private_key_jwt) only")
    if settings.oauth_jwks_url and not settings.oauth_jwks_url.startswith("https://"):
        found.append("FACADE_OAUTH_JWKS_URL is not https: the provider's keys could be "
                     "swapped in transit")
    return found


def _transport(settings: Settings) -> list[str]:
    found = []
    base = settings.public_base_url
    if not base:
        found.append("FACADE_PUBLIC_BASE_URL is not set: token audiences and links need the "
                     "public https://.../fhir address")
    elif not base.startswith("https://"):
        found.append(f"FACADE_PUBLIC_BASE_URL {base} is not https")
    if settings.tls_cert is None and not settings.tls_proxy:
        found.append("plain HTTP: set FACADE_TLS_CERT and FACADE_TLS_KEY, or declare a "
                     "TLS-terminating proxy with FACADE_TLS_PROXY=true and "
                     "FACADE_TRUSTED_PROXIES")
    if settings.tls_proxy and not settings.proxies:
        found.append("FACADE_TLS_PROXY is on but FACADE_TRUSTED_PROXIES names no proxy")
    for name, path in (("FACADE_TLS_CERT", settings.tls_cert),
                       ("FACADE_TLS_KEY", settings.tls_key)):
        if path is not None and not Path(path).is_file():
            found.append(f"{name} {path} is not a readable file")
    if settings.tls_key is not None and Path(settings.tls_key).is_file() and \
            Path(settings.tls_key).stat().st_mode & 0o077:
        found.append(f"FACADE_TLS_KEY {settings.tls_key} is readable by other users")
    return found


def _audit(settings: Settings) -> list[str]:
    if settings.audit_sink == "off":
        return ["FACADE_AUDIT_SINK is off: live access must be audited"]
    return []


def _state_dir(state_dir: Path) -> list[str]:
    try:
        mode = Path(state_dir).stat().st_mode
    except FileNotFoundError:
        return []  # created private on first use
    if not stat.S_ISDIR(mode):
        return [f"FACADE_STATE_DIR {state_dir} is not a directory"]
    if mode & 0o077:
        return [f"FACADE_STATE_DIR {state_dir} is open to other users (mode "
                f"{stat.S_IMODE(mode):o}): chmod 700 it; it holds keys and patient data"]
    return []
