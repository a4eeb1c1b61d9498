"""gunicorn's access log, without anything a client typed that may name a patient.

The log format (gunicorn_conf.py) has the path only, never the query string; but a path
holds what the client put there too: ``GET /fhir/Patient/<an NHS number>`` is a read of
an id this server never minted, and went into the log as given. The application says
which path may be logged (edge.py sets LOGGED_PATH: the path of a request that found
what it named, the id replaced by ``-`` otherwise); a request the application never saw
is logged with its first segments only.
"""

from __future__ import annotations

import re

from gunicorn import glogging

from ..edge import LOGGED_PATH

_WORD = re.compile(r"[a-z][a-z._-]{0,31}")


class AccessLogger(glogging.Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = environ.get(LOGGED_PATH) or masked(environ.get("PATH_INFO") or "/")
        atoms["r"] = atoms["q"] = "-"  # the raw request line and query: never
        return atoms


def masked(path: str) -> str:
    """The first segment when it is a plain word; ``/…`` stands for the rest."""
    first, _, rest = path.removeprefix("/").partition("/")
    if not _WORD.fullmatch(first):
        return "/…"
    return f"/{first}/…" if rest else f"/{first}"
