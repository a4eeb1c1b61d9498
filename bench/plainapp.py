"""The headline baseline of bench/read_path: a plain Flask app returning fixed bytes.

This is the app an outsider writes to see what Flask under gunicorn can do at
all: each route returns the body the facade gave for that path, as
``Response(body, content_type="application/fhir+json; charset=utf-8")``, and
nothing else: no other header, no token check, no audit, no cache. Run under
stock gunicorn (gthread, 2 workers x 8 threads, gunicorn's defaults otherwise)::

    cd bench && PLAINAPP_MANIFEST=manifest.json \\
        python -m gunicorn -w 2 -k gthread --threads 8 -b 127.0.0.1:8081 plainapp:app

``PLAINAPP_MANIFEST`` names a JSON file ``{"routes": [{"path": ..., "body": FILE}, ...]}``
(FILE relative to the manifest): one route per path, whatever the query string
(bench/read_path gives each measured case a path of its own). The
Authorization header is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response

FHIR_JSON = "application/fhir+json; charset=utf-8"

app = Flask(__name__)


def _add_route(path: str, body: bytes) -> None:
    def answer() -> Response:
        return Response(body, content_type=FHIR_JSON)

    app.add_url_rule(path, endpoint=path, view_func=answer, methods=["GET"])


def _load(manifest: Path) -> None:
    for route in json.loads(manifest.read_text())["routes"]:
        _add_route(route["path"], (manifest.parent / route["body"]).read_bytes())


_load(Path(os.environ["PLAINAPP_MANIFEST"]))
