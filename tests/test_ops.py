"""facade.ops: /metrics, /healthz and /readyz on a bare Flask app with only the blueprint."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from facade import metrics
from facade.ops import READINESS_EXTENSION, bp

Readiness = Callable[[], tuple[bool, dict[str, Any]]]


def client_with(readiness: Readiness | None) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(bp)
    if readiness is not None:
        app.extensions[READINESS_EXTENSION] = readiness
    return app.test_client()


@pytest.fixture
def client() -> FlaskClient:
    return client_with(lambda: (True, {}))


def test_healthz_says_ok_in_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_data() == b'{"status":"ok"}'
    assert response.headers["Cache-Control"] == "no-store"


def test_metrics_serves_the_exposition(client):
    metrics.throttled()
    response = client.get("/metrics")
    assert response.status_code == 200
    _, content_type = metrics.render()
    assert response.content_type == content_type
    assert b"facade_throttled_responses_total" in response.get_data()
    assert b"facade_breaches_detected" in response.get_data()
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_ready_carries_the_detail():
    client = client_with(lambda: (True, {"endpoints": {"gw-a:40700": "available"}}))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_json() == {"status": "ready",
                                   "endpoints": {"gw-a:40700": "available"}}
    assert "Retry-After" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_unavailable_gives_503_with_retry_after_rounded_up():
    detail = {"endpoints": {"gw-a:40700": "taken out"}, "retry_after": 2.2}
    response = client_with(lambda: (False, detail)).get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", **detail}
    assert response.headers["Retry-After"] == "3"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("retry_after", [None, "soon", float("nan")])
def test_readyz_unavailable_without_a_usable_retry_after_has_no_header(retry_after):
    detail = {} if retry_after is None else {"retry_after": retry_after}
    response = client_with(lambda: (False, detail)).get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert "Retry-After" not in response.headers


def test_readyz_status_word_cannot_be_overridden_by_the_detail():
    response = client_with(lambda: (False, {"status": "ready"})).get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}


def test_readyz_without_a_readiness_check_is_unavailable_and_says_why():
    response = client_with(None).get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert READINESS_EXTENSION in body["reason"]
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_whose_check_fails_is_unavailable_and_logs_the_error(caplog):
    def broken() -> tuple[bool, dict[str, Any]]:
        raise ConnectionError("ledger unreachable")

    caplog.set_level(logging.ERROR)
    response = client_with(broken).get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "reason": "readiness check failed"}
    assert any(r.exc_info and isinstance(r.exc_info[1], ConnectionError)
               for r in caplog.records)


def test_readyz_asks_again_on_every_probe():
    answers = iter([(False, {"retry_after": 1}), (True, {})])
    client = client_with(lambda: next(answers))
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 200


def test_the_routes_are_read_only(client):
    for path in ("/metrics", "/healthz", "/readyz"):
        assert client.post(path).status_code == 405
