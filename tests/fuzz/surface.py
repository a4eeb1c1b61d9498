"""The HTTP surface under fuzzing: an in-process app over the built-in simulator, what it
declares (read from its own CapabilityStatement), and the properties every answer keeps.

Properties, for any request a client can send:

- no 5xx: bad input is the caller's problem (4xx). The simulator stays up, so a 502, 503
  or 504 would be the facade's failure too; 429 (the throttle) is fine.
- every 4xx under /fhir is an OperationOutcome (application/fhir+json, or +xml when XML
  was asked for), and every failed token request an RFC 6749 JSON error;
- every answer in bounded time, and a body that parses as the type it claims.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
from flask import Flask
from lxml import etree

from facade.app import create_app

from ..tokens import FULL_SCOPE, client_key, register, token_for

#: Cases per CI run, across the suite's tests (FACADE_FUZZ_EXAMPLES raises it: bench mode).
EXAMPLES = int(os.environ.get("FACADE_FUZZ_EXAMPLES", "2400"))
#: The longest any one answer may take, in-process against a local simulator.
TIME_LIMIT = float(os.environ.get("FACADE_FUZZ_TIME_LIMIT", "5.0"))
#: Tokens live 300 s at most; a bench run outlives one, so they are renewed before then.
TOKEN_RENEWAL = 200.0
FUZZ_CLIENT = "fuzz"


@dataclass
class Surface:
    """The app, the names it serves, and the real ids a valid case can use."""

    app: Flask
    resources: dict[str, dict]  # type -> its CapabilityStatement entry
    common_params: list[dict]
    patient_ids: list[str]
    resource_ids: dict[str, list[str]]
    nhs_numbers: list[str]
    names: list[str]
    client_key: object = None
    tally: Counter = field(default_factory=Counter)
    _token: tuple[float, str] = (0.0, "")

    def token(self) -> str:
        """A valid access token for everything, renewed before it expires."""
        minted, token = self._token
        if time.monotonic() - minted > TOKEN_RENEWAL:
            token = token_for(self.app, FULL_SCOPE, client_id="tests")
            self._token = (time.monotonic(), token)
        return token


def build(upstream: str, state_dir, practice) -> Surface:
    app = create_app({"upstream": upstream, "state_dir": state_dir, "request_interval": 0.0,
                      "record_interval": 0.0, "send_margin": 0.01, "read_timeout": 5.0,
                      "client_secret_auth": True})
    key = client_key("fuzz-es384")
    register(app, FUZZ_CLIENT, "system/Patient.rs system/Observation.rs", key=key)
    client = app.test_client()
    bearer = {"Authorization": "Bearer " + token_for(app)}
    statement = client.get("/fhir/metadata").json["rest"][0]
    patients = [p for p in practice.index.summaries if p.identity.kind == "NHSNumber"][:3]
    patient_ids = [client.get(f"/fhir/Patient?identifier={p.identity.value}", headers=bearer)
                   .json["entry"][0]["resource"]["id"] for p in patients]
    resource_ids = {kind: [entry["resource"]["id"] for entry in client.get(
        f"/fhir/{kind}?patient={patient_ids[0]}&_count=3", headers=bearer).json.get("entry", [])
        if entry["search"]["mode"] == "match"]
        for kind, resource in _by_type(statement).items()
        if any(p["name"] == "patient" for p in resource.get("searchParam", []))}
    return Surface(app, _by_type(statement), statement.get("searchParam", []), patient_ids,
                   resource_ids, [p.identity.value for p in patients],
                   [name for p in patients for name in (p.surname, p.first_name)], key)


def _by_type(rest: dict) -> dict[str, dict]:
    return {resource["type"]: resource for resource in rest["resource"]}


# -- the properties --------------------------------------------------------------------

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


def send(surface: Surface, method: str, url: str, *, headers: dict, data=None,
         label: str) -> None:
    """One request, and every property of its answer."""
    started = time.monotonic()
    response = surface.app.test_client().open(url, method=method, headers=headers, data=data)
    elapsed = time.monotonic() - started
    surface.tally[(label, response.status_code)] += 1
    described = f"{method} {url[:300]!r} headers={headers!r} -> {response.status_code} " \
                f"{response.get_data()[:300]!r}"
    assert elapsed < TIME_LIMIT, f"{elapsed:.1f} s: {described}"
    assert response.status_code < 500, described
    path = url.split("?", 1)[0]
    body = response.get_data()
    if path.startswith("/fhir") and 400 <= response.status_code < 500:
        assert is_operation_outcome(response.mimetype, body, method), described
    if path == "/auth/token" and method == "POST" and response.status_code >= 400 \
            and response.status_code != 421:  # the edge's: a Host not served, before OAuth
        assert response.mimetype == "application/json", described
        assert "error" in orjson.loads(body), described
    assert parses(response.mimetype, body), described


def is_operation_outcome(mimetype: str, body: bytes, method: str) -> bool:
    if mimetype not in (FHIR_JSON, FHIR_XML):
        return False
    if method == "HEAD":  # no body, but the type it would have had
        return True
    if mimetype == FHIR_JSON:
        return orjson.loads(body).get("resourceType") == "OperationOutcome"
    return etree.fromstring(body).tag == "{http://hl7.org/fhir}OperationOutcome"


def parses(mimetype: str, body: bytes) -> bool:
    """A body is what its Content-Type says (JSON or XML), or empty."""
    if not body:
        return True
    if mimetype.endswith("json"):
        orjson.loads(body)
    elif mimetype.endswith("xml"):
        etree.fromstring(body)
    return True
