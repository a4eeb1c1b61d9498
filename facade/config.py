"""The facade's settings: defaults, then ``FACADE_*`` environment variables, then overrides.

Each setting is read from ``FACADE_`` + its name in capitals. Every setting is
described here, once, in its field's metadata; CONFIG.md is generated from
this module (``python -m facade.config``) and a test keeps the two equal.
What the live profile demands of each is in ``facade/profiles.py`` and shown
in CONFIG.md's last column.
"""

from __future__ import annotations

import os
import sys
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .protocol.envelope import CODE_SCHEMES, DRUG_SCHEMES
from .upstream.client import DEMO_API_KEY

PREFIX = "FACADE_"
PROFILES = ("demo", "live")


def setting(default: Any, doc: str, live: str = "", group: str = "") -> Any:
    """A field with its documentation: what it means and what live asks of it."""
    return field(default=default, metadata={"doc": doc, "live": live, "group": group})


@dataclass(frozen=True)
class Settings:
    # -- profile -------------------------------------------------------------------------
    env: str = setting("demo", "The profile: `demo` (defaults that run against the simulator) "
                       "or `live` (refuses to start with any unsafe setting).", group="Profile")
    debug: bool = setting(False, "Flask debugging (tracebacks in answers). Never in live.",
                          live="must be false", group="Profile")

    # -- SystmOne ------------------------------------------------------------------------
    upstream: str = setting("127.0.0.1:40700", "The SystmOne client's HOST:PORT, or several "
                            "comma-separated (gateway PCs of one organisation: a pool).",
                            group="SystmOne")
    api_key: str = setting(DEMO_API_KEY, "The TPP-issued API key for this product. The "
                           "default opens only the built-in simulator.",
                           live="required; not the demo key", group="SystmOne")
    request_interval: float = setting(1.0, "SystmOne's limit: seconds between requests to one "
                                      "endpoint.", group="SystmOne")
    record_interval: float = setting(30.0, "SystmOne's limit: seconds between non-exempt "
                                     "GetPatientRecord calls to one endpoint.",
                                     group="SystmOne")
    send_margin: float = setting(0.02, "Added to both intervals when booking slots, for the "
                                 "jitter of when a booked request leaves (breaches are still "
                                 "measured against the intervals themselves). Half of it is "
                                 "also the longest the slot store (Redis) may take to book a "
                                 "slot that is then used.",
                                 group="SystmOne")
    read_timeout: float = setting(40.0, "Seconds to wait for a reply (a throttled request "
                                  "gets none).", group="SystmOne")
    max_wait: float = setting(10.0, "Seconds a request may wait for its upstream slot before "
                              "it gets 429 with Retry-After.", group="SystmOne")
    code_scheme: str = setting("CTV3", "The OutputScheme asked for clinical codes: `CTV3` "
                               "(SystmOne's own; codes come as recorded and gain SNOMED CT "
                               "where the facade's concept map knows it) or `Snomed` "
                               "(SystmOne translates; CTV3 is added back where known).",
                               group="SystmOne")
    drug_scheme: str = setting("Dmd", "The OutputScheme asked for drugs: `Dmd` (dm+d, UK "
                               "Core's preferred) or `Multilex` (kept with its own system).",
                               group="SystmOne")
    document_dir: Path | None = setting(None, "The folder SystmOne writes documents to for "
                                        "GetDocument, as this machine reads it (a share of "
                                        "the SystmOne PC's folder, or a local one when the "
                                        "facade runs there). Unset: Binary reads answer 501 "
                                        "(docs/operators.md, Documents).", group="SystmOne")
    document_write_to: str | None = setting(None, "The same folder as the SystmOne PC names "
                                            "it in GetDocument's WriteTo (e.g. "
                                            "`D:\\facade-documents`). Unset: "
                                            "FACADE_DOCUMENT_DIR as it is.", group="SystmOne")

    # -- data ----------------------------------------------------------------------------
    state_dir: Path = setting(Path(".facade"), "Keys, device ids, the embedded shared store "
                              "and the default audit sink.",
                              live="readable by its owner only", group="Data")
    redis_url: str | None = setting(None, "Redis shared by several facade instances (slot "
                                    "ledger, cache, jti set, clients, signing keys); without "
                                    "it the workers of one machine share the state dir.",
                                    group="Data")
    demographics_ttl: float = setting(300.0, "Seconds Patients and Patient searches are served "
                                      "from cache.", group="Data")
    clinical_ttl: float = setting(300.0, "Seconds a clinical record is served before a full "
                                  "refresh.", group="Data")
    top_up_after: float = setting(60.0, "Within the clinical window, after how many seconds a "
                                  "cached record gets an exempt entered-today top-up.",
                                  group="Data")
    mappings_overlay: Path | None = setting(None, "A folder of site mapping modules (see "
                                            "MAPPINGS.md).", group="Data")
    audit_sink: str | None = setting(None, "Where the access audit goes: unset = SQLite in the "
                                     "state dir; `sqlite:PATH`; `jsonl:PATH`; `off` (demo "
                                     "only).", live="not off", group="Data")
    audit_fsync: str = setting("interval", "When a recorded entry reaches the disk (SQLite "
                               "sink): `interval` = written to the OS before the answer "
                               "(a killed process loses nothing) and fsynced every "
                               "FACADE_AUDIT_FSYNC_INTERVAL seconds (a power loss may lose "
                               "that long's entries); `request` = fsynced before each answer "
                               "(nothing answered is ever lost; each answer waits for the "
                               "disk).", group="Data")
    audit_fsync_interval: float = setting(0.2, "Seconds between fsyncs of the audit with "
                                          "FACADE_AUDIT_FSYNC=interval (0 < s <= 60).",
                                          group="Data")

    # -- searches ------------------------------------------------------------------------
    default_count: int = setting(50, "Entries per searchset page when a search gives no "
                                 "`_count` (named in the CapabilityStatement).",
                                 group="Searches")
    max_count: int = setting(500, "Most entries a searchset page holds: a larger `_count` is "
                             "capped (the next link gives the rest; AuditEvent pages hold at "
                             "most 500).", group="Searches")

    # -- OAuth ---------------------------------------------------------------------------
    public_base_url: str | None = setting(None, "The FHIR base URL callers use "
                                          "(https://host/fhir): token audience, links, "
                                          "discovery. Unset: the URL each request came to.",
                                          live="required, https", group="OAuth")
    token_lifetime: float = setting(300.0, "Seconds an access token lives (at most 300).",
                                    group="OAuth")
    clock_skew: float = setting(60.0, "Seconds token times may be off.", group="OAuth")
    client_secret_auth: bool = setting(False, "Also accept client_secret_basic for clients "
                                       "registered with a secret.", live="must be false",
                                       group="OAuth")
    oauth_issuer: str | None = setting(None, "An external identity provider whose access "
                                       "tokens are accepted too (with oauth_jwks_url).",
                                       group="OAuth")
    oauth_jwks_url: str | None = setting(None, "That provider's JWKS URL.",
                                         live="https when set", group="OAuth")

    # -- serving (facade serve) ------------------------------------------------------------
    bind: str = setting("127.0.0.1:8080", "HOST:PORT `facade serve` listens on.",
                        group="Serving")
    workers: int = setting(2, "gunicorn worker processes.", group="Serving")
    worker_class: str = setting("gthread", "`gthread` (threads share a worker's caches and "
                                "connections) or `sync`.", group="Serving")
    threads: int = setting(8, "Threads per gthread worker.", group="Serving")
    timeout: float = setting(90.0, "Seconds a request may take before its worker is "
                             "restarted: longer than max_wait + read_timeout.",
                             group="Serving")
    graceful_timeout: float = setting(30.0, "Seconds in-flight requests get to finish on "
                                      "SIGTERM.", group="Serving")
    keepalive: float = setting(5.0, "Seconds an idle keep-alive connection stays open.",
                               group="Serving")
    max_requests: int = setting(10000, "Requests after which a worker is replaced (0: never).",
                                group="Serving")
    max_requests_jitter: int = setting(1000, "Random extra requests, so workers are not "
                                       "replaced together.", group="Serving")
    tls_cert: Path | None = setting(None, "Certificate chain (PEM) for HTTPS served directly "
                                    "(TLS 1.2 or newer only).",
                                    live="required unless tls_proxy", group="Serving")
    tls_key: Path | None = setting(None, "The certificate's private key (PEM).",
                                   live="with tls_cert", group="Serving")
    tls_proxy: bool = setting(False, "TLS is terminated by a proxy in front (declared: plain "
                              "HTTP is then accepted from trusted_proxies only).",
                              live="or tls_cert", group="Serving")
    trusted_proxies: str = setting("", "Comma-separated IPs whose X-Forwarded-* headers are "
                                   "honoured (none by default).",
                                   live="required with tls_proxy", group="Serving")
    access_log: bool = setting(True, "gunicorn's access log on stdout (paths only, never "
                               "query strings).", group="Serving")
    client_timeout: float = setting(10.0, "Seconds a client has to deliver a whole request "
                                    "(head and body) once it connects or starts one; "
                                    "requests are buffered by the worker's event loop, so a "
                                    "slow client holds no thread, and a late one gets 408 and "
                                    "is closed.", group="Serving")
    max_request_line: int = setting(16384, "Longest request line (method, path and query) in "
                                    "bytes; longer gets 414 (POST [type]/_search takes "
                                    "longer searches).", group="Serving")
    max_header_bytes: int = setting(32768, "Most bytes of request header fields; more gets "
                                    "431.", group="Serving")
    max_header_fields: int = setting(100, "Most request header fields; more gets 431.",
                                     group="Serving")
    max_body: int = setting(1048576, "Largest request body in bytes (a token request or a "
                            "_search form); larger gets 413 from its Content-Length, unread.",
                            group="Serving")
    ops_bind: str | None = setting(None, "HOST:PORT of a second listener for /metrics and "
                                   "/readyz (e.g. a private interface for Prometheus and the "
                                   "orchestrator). Unset: they answer only callers on this "
                                   "machine (loopback). Set: only on that listener.",
                                   group="Serving")
    allowed_hosts: str = setting("", "Comma-separated host names (no port) accepted in the "
                                 "Host header when FACADE_PUBLIC_BASE_URL is unset, where "
                                 "links are built from it; localhost, the loopback "
                                 "addresses and FACADE_BIND's host always are. Others get "
                                 "421 (a forged Host never reaches a link).",
                                 group="Serving")

    def __post_init__(self) -> None:
        if not 1 <= self.default_count <= self.max_count:
            raise ValueError("FACADE_DEFAULT_COUNT must be at least 1 and at most "
                             "FACADE_MAX_COUNT")
        if self.env not in PROFILES:
            raise ValueError(f"FACADE_ENV must be demo or live, not {self.env!r}")
        if self.public_base_url is not None and (
                not self.public_base_url.startswith(("http://", "https://"))
                or not self.public_base_url.rstrip("/").endswith("/fhir")):
            raise ValueError(f"FACADE_PUBLIC_BASE_URL must be an http(s) URL ending in /fhir, "
                             f"not {self.public_base_url!r}")
        if not 0 < self.token_lifetime <= 300:
            raise ValueError("FACADE_TOKEN_LIFETIME must be more than 0 and at most 300 s")
        if (self.oauth_issuer is None) != (self.oauth_jwks_url is None):
            raise ValueError("FACADE_OAUTH_ISSUER and FACADE_OAUTH_JWKS_URL go together")
        if self.worker_class not in ("gthread", "sync"):
            raise ValueError(f"FACADE_WORKER_CLASS must be gthread or sync, not "
                             f"{self.worker_class!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("FACADE_TLS_CERT and FACADE_TLS_KEY go together")
        if self.code_scheme not in CODE_SCHEMES:
            raise ValueError(f"FACADE_CODE_SCHEME must be {' or '.join(CODE_SCHEMES)}, not "
                             f"{self.code_scheme!r}")
        if self.drug_scheme not in DRUG_SCHEMES:
            raise ValueError(f"FACADE_DRUG_SCHEME must be {' or '.join(DRUG_SCHEMES)}, not "
                             f"{self.drug_scheme!r}")
        if self.audit_fsync not in ("interval", "request"):
            raise ValueError(f"FACADE_AUDIT_FSYNC must be interval or request, not "
                             f"{self.audit_fsync!r}")
        for name in ("client_timeout", "max_request_line", "max_header_bytes",
                     "max_header_fields", "max_body"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FACADE_{name.upper()} must be more than 0")
        if not 0 < self.audit_fsync_interval <= 60:
            raise ValueError("FACADE_AUDIT_FSYNC_INTERVAL must be more than 0 and at most 60 s")

    @classmethod
    def load(cls, overrides: dict[str, Any] | None = None,
             environ: dict[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for setting_field in fields(cls):
            raw = environ.get(PREFIX + setting_field.name.upper())
            if raw is not None:
                values[setting_field.name] = _convert(setting_field, raw)
        return replace(cls(**values), **(overrides or {}))

    @property
    def upstreams(self) -> list[str]:
        """The SystmOne endpoints, in the order given."""
        return [part.strip() for part in self.upstream.split(",") if part.strip()]

    @property
    def hosts(self) -> list[str]:
        """Host names accepted in the Host header (FACADE_ALLOWED_HOSTS and the built-ins)."""
        bound = self.bind.rpartition(":")[0].strip("[]")
        named = [part.strip().lower() for part in self.allowed_hosts.split(",") if part.strip()]
        return ["localhost", "127.0.0.1", "::1", *([bound] if bound else []), *named]

    @property
    def proxies(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    """FACADE_* variables that name no setting: most likely typos."""
    environ = os.environ if environ is None else environ
    known = {PREFIX + f.name.upper() for f in fields(Settings)}
    return sorted(name for name in environ if name.startswith(PREFIX) and name not in known)


def _convert(setting_field: Field, raw: str) -> Any:
    name, default = setting_field.name, setting_field.default
    if isinstance(default, bool):
        return _flag(name, raw)
    try:
        if isinstance(default, Path) or "Path" in str(setting_field.type):
            return Path(raw) if raw else None
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        raise ValueError(f"FACADE_{name.upper()} must be a number, not {raw!r}") from None
    return raw if raw or default is None else default


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"FACADE_{name.upper()} must be true or false, not {raw!r}") from None


# -- the reference ---------------------------------------------------------------------------

def reference() -> str:
    """CONFIG.md: every setting, its default, meaning and what the live profile asks."""
    lines = ["# Configuration reference", "",
             "Generated from `facade/config.py` by `python -m facade.config > CONFIG.md`; a "
             "test keeps the two equal. Every setting is an environment variable; "
             "`FACADE_ENV=live` refuses to start (one message per problem, exit 2) when a "
             "setting breaks the live column. Unknown `FACADE_*` variables are reported "
             "(refused in live): they are usually typos.", ""]
    group = None
    for setting_field in fields(Settings):
        meta = setting_field.metadata
        if meta["group"] != group:
            group = meta["group"]
            lines += [f"## {group}", "", "| variable | default | meaning | live profile |",
                      "| --- | --- | --- | --- |"]
        lines.append(f"| `{PREFIX}{setting_field.name.upper()}` | {_shown(setting_field)} | "
                     f"{meta['doc']} | {meta['live'] or '—'} |")
        if _is_last_of_group(setting_field):
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _shown(setting_field: Field) -> str:
    default = setting_field.default
    if default is MISSING or default is None or default == "":
        return "unset"
    if setting_field.name == "api_key":
        return "the simulator's demo key"
    if isinstance(default, bool):
        return "true" if default else "false"
    return f"`{default}`"


def _is_last_of_group(setting_field: Field) -> bool:
    names = [f.name for f in fields(Settings)]
    position = names.index(setting_field.name)
    return position == len(names) - 1 or \
        fields(Settings)[position + 1].metadata["group"] != setting_field.metadata["group"]


if __name__ == "__main__":
    sys.stdout.write(reference())
