"""The secondary baseline of bench/read_path: a bare Flask app sending the facade's headers too.

Like bench/plainapp.py (the headline baseline), each route returns the body
the facade gave for that path, and nothing is computed per request; unlike
it, the answer also carries every header the facade sent with that body
(ETag, Last-Modified, security headers, ...; all but the server's own, which
gunicorn adds). The difference between the two bare apps is what sending the
facade's headers costs Flask and gunicorn. Run under the same stock gunicorn
flags as the plain app::

    cd bench && BAREAPP_MANIFEST=manifest.json \\
        python -m gunicorn -w 2 -k gthread --threads 8 -b 127.0.0.1:8082 bareapp:app

``BAREAPP_MANIFEST`` names a JSON file ``{"routes": [{"path": ..., "body": FILE,
"headers": {...}}, ...]}`` (FILE relative to the manifest; Content-Type among
the headers): one route per path, whatever the query string. The
Authorization header is ignored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)


def _add_route(path: str, body: bytes, headers: dict[str, str]) -> None:
    def answer() -> Response:
        return Response(body, headers=headers)

    app.add_url_rule(path, endpoint=path, view_func=answer, methods=["GET"])


def _load(manifest: Path) -> None:
    for route in json.loads(manifest.read_text())["routes"]:
        _add_route(route["path"], (manifest.parent / route["body"]).read_bytes(),
                   route["headers"])


_load(Path(os.environ["BAREAPP_MANIFEST"]))
