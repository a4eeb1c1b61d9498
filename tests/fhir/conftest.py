"""Fixtures for the API tests: the app (Flask's test client) over a live simulator."""

from __future__ import annotations

import pytest

from facade.app import create_app

from ..tokens import authorized_client


@pytest.fixture
def api(start_simulator, tmp_path):
    apps = []

    def make(**settings):
        live = start_simulator(**{k: v for k, v in settings.items()
                                  if k in ("request_interval", "record_interval")})
        host, port = live.address
        config = {"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                  "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01,
                  "read_timeout": 5.0,
                  **settings}
        apps.append(create_app(config))
        return authorized_client(apps[-1])
    yield make
    for app in apps:
        app.extensions["facade.records"].close()


@pytest.fixture
def client(api):
    return api()


def patient_with_numerics(practice):
    return next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber"
                and practice.record(p).find("Clinical/Event/ClinicalCode[Value]") is not None)


@pytest.fixture
def watched(start_simulator, tmp_path):
    """A client of an app over a simulator whose message audit shows every upstream call."""
    live = start_simulator()
    host, port = live.address
    app = create_app({"upstream": f"{host}:{port}", "state_dir": tmp_path / "facade",
                      "request_interval": 0.0, "record_interval": 0.0, "send_margin": 0.01})
    yield authorized_client(app), live
    app.extensions["facade.records"].close()
