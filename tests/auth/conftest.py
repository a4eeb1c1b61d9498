"""Fixtures for the auth tests: real apps over a live simulator, a local JWKS publisher."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask

from facade.app import create_app


@pytest.fixture
def make_app(start_simulator, tmp_path) -> Iterator[Callable[..., Flask]]:
    """``make_app(**settings)``: an app over one live simulator; by default every app made
    in a test shares one state dir (two apps on it are two workers of one deployment)."""
    apps: list[Flask] = []
    live = []

    def make(state_dir: Path | None = None, **settings) -> Flask:
        if not live:
            live.append(start_simulator())
        host, port = live[0].address
        config = {"upstream": f"{host}:{port}", "state_dir": state_dir or tmp_path / "facade",
                  "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                  "read_timeout": 5.0, **settings}
        apps.append(create_app(config))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["facade.records"].close()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


class JsonPublisher:
    """A tiny HTTP server publishing JSON documents by path (a client's or an IdP's JWKS)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = {}
        self.hits: dict[str, int] = {}
        publisher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                publisher.hits[self.path] = publisher.hits.get(self.path, 0) + 1
                document = publisher.documents.get(self.path)
                body = json.dumps(document if document is not None else {}).encode()
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for it, once per test.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def publish(self, path: str, document: dict) -> str:
        self.documents[path] = document
        return self.url(path)


@pytest.fixture
def publisher() -> Iterator[JsonPublisher]:
    published = JsonPublisher()
    published.thread.start()
    yield published
    published.server.shutdown()
    published.thread.join(5)
    published.server.server_close()
