"""The baseline of bench/read_path: a bare Flask app serving fixed bytes (the framework's ceiling).

It answers the two paths bench/read_path measures with the exact bytes and
headers the facade gave for them, captured once, and does nothing else: no
token check, no audit, no cache, no header building. Run under gunicorn with
the same settings as ``facade serve``::

    BAREAPP_PATIENT=patient.json BAREAPP_OBSERVATIONS=observations.json \\
        python -m gunicorn -w 2 -k gthread --threads 8 -b 127.0.0.1:8081 --chdir bench bareapp:app

Each ``BAREAPP_*`` variable names a file of the body; ``FILE.headers.json``
beside it, when present, holds the response headers to send with it (a JSON
object; Content-Type among them). ``GET /fhir/Patient/<any id>`` answers with
``BAREAPP_PATIENT``, ``GET /fhir/Observation`` (any query) with
``BAREAPP_OBSERVATIONS``. The Authorization header is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response


def _load(variable: str) -> tuple[bytes, dict[str, str]]:
    name = os.environ.get(variable)
    if not name:
        return b"{}", {"Content-Type": "application/json"}
    path = Path(name)
    headers_file = path.with_name(path.name + ".headers.json")
    headers = json.loads(headers_file.read_text()) if headers_file.exists() else {}
    return path.read_bytes(), headers


app = Flask(__name__)
_PATIENT = _load("BAREAPP_PATIENT")
_OBSERVATIONS = _load("BAREAPP_OBSERVATIONS")


@app.get("/fhir/Patient/<resource_id>")
def patient(resource_id: str) -> Response:
    return Response(_PATIENT[0], headers=_PATIENT[1])


@app.get("/fhir/Observation")
def observations() -> Response:
    return Response(_OBSERVATIONS[0], headers=_OBSERVATIONS[1])


@app.get("/healthz")
def healthz() -> Response:
    return Response(b"ok", content_type="text/plain")
