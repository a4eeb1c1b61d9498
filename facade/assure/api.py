"""The facade's FHIR API as the run exercises it: the real app, served over HTTP on
loopback, with every SystmOne transport recorded, and a caller holding a real token.

The app is ``create_app`` with the operator's FACADE_* configuration, the endpoint,
key, state dir and intervals of the run laid over it. It is served the way
``facade demo`` serves it (the path-only request log), on a port of its own; the
deployment's TLS and public URL are the deployment's business and are reported by
the configuration check instead. The harness's client is registered for the run
and removed after it.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey

from ..upstream.transport import Transport
from .recorder import Recorder, RecordingTransport

CLIENT_ID = "facade-assure"
SCOPE = "system/*.rs"
#: Seconds an HTTP request of the run may take before it counts as unanswered: beyond
#: the facade's longest wait for a slot and SystmOne's reply.
ANSWER_GRACE = 10.0


@dataclass(frozen=True)
class Answer:
    """One FHIR request of the run and how it was answered (status 0: not at all)."""

    phase: str
    label: str  # what was asked, without identifiers: "Observation search"
    started: float
    ended: float
    status: int
    retry_after: str = ""
    request_id: str = ""
    issue: str = ""  # the OperationOutcome's first issue code, for an error
    problem: str = ""  # why there was no answer

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class FhirApi:
    def __init__(self, overrides: dict[str, Any], recorder: Recorder,
                 wrap: Callable[[Transport], Transport] = lambda transport: transport) -> None:
        from werkzeug.serving import make_server

        from ..app import create_app
        from ..cli import path_only_request_handler

        self.recorder = recorder
        self.app = create_app(overrides)
        self.settings = self.app.config["FACADE"]
        self.records = self.app.extensions["facade.records"]
        for endpoint in self.records.pool.endpoints:
            endpoint.client.transport = wrap(RecordingTransport(
                endpoint.client.transport, recorder, endpoint.name))
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True,
                                  request_handler=path_only_request_handler())
        self.base = f"http://127.0.0.1:{self.server.server_port}/fhir"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        name="assure-fhir-api", daemon=True)
        self._thread.start()
        self.auth = self.app.extensions["facade.auth"]
        self._register()
        self._token, self._minted = "", 0.0
        self.answers: list[Answer] = []
        self._lock = threading.Lock()

    @property
    def sink(self):
        return self.app.extensions["facade.audit"]

    @property
    def timeout(self) -> float:
        return self.settings.max_wait + self.settings.read_timeout + ANSWER_GRACE

    def get(self, path: str, label: str, fresh: bool = True) -> tuple[Answer, dict | None]:
        """GET ``path`` under the FHIR base (fresh: ``Cache-Control: no-cache``)."""
        headers = {"Authorization": f"Bearer {self._current_token()}",
                   "Accept": "application/fhir+json", "Connection": "close"}
        if fresh:
            headers["Cache-Control"] = "no-cache"
        started = self.recorder.now()
        connection = http.client.HTTPConnection("127.0.0.1", self.server.server_port,
                                                timeout=self.timeout)
        try:
            connection.request("GET", "/fhir/" + path, headers=headers)
            response = connection.getresponse()
            body = _json(response.read())
            answer = Answer(self.recorder.phase, label, started, self.recorder.now(),
                            response.status, response.getheader("Retry-After") or "",
                            response.getheader("X-Request-ID") or "", _issue(body))
        except (OSError, http.client.HTTPException) as error:
            body = None
            answer = Answer(self.recorder.phase, label, started, self.recorder.now(), 0,
                            problem=type(error).__name__)
        finally:
            connection.close()
        with self._lock:
            self.answers.append(answer)
        return answer, body

    def patient_id(self, nhs_number: str) -> str | None:
        """The Patient's FHIR id, by an identifier search (as a partner finds it)."""
        answer, bundle = self.get(
            f"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs_number}",
            "Patient search by NHS number", fresh=False)
        entries = (bundle or {}).get("entry", []) if answer.status == 200 else []
        return entries[0]["resource"]["id"] if entries else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
        self.auth.registry.remove(CLIENT_ID)
        self.records.close()
        self.sink.close()

    def _register(self) -> None:
        from ..auth.clients import new_client

        key = ECKey.generate_key("P-384", parameters={"alg": "ES384", "kid": CLIENT_ID})
        self.auth.registry.add(new_client(CLIENT_ID, SCOPE,
                                          jwks={"keys": [key.as_dict(private=False)]}),
                               replace=True)

    def _current_token(self) -> str:
        """A token for the harness's client, renewed well before it expires."""
        with self._lock:
            if time.monotonic() - self._minted > self.settings.token_lifetime / 2:
                self._token = self.auth.mint_for(CLIENT_ID, self.base)["access_token"]
                self._minted = time.monotonic()
            return self._token


def _json(data: bytes) -> dict | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _issue(body: dict | None) -> str:
    if body is None or body.get("resourceType") != "OperationOutcome":
        return ""
    issues = body.get("issue") or [{}]
    return str(issues[0].get("code", ""))
