"""The application's edge (facade/edge.py): security headers, the Host header, and who may
see the operational endpoints — through Flask's test client, the WSGI environ as gunicorn
fills it."""

from __future__ import annotations

import pytest

from facade.app import create_app


@pytest.fixture
def make(tmp_path):
    def app(**settings):
        config = {"state_dir": tmp_path / "facade", "upstream": "127.0.0.1:9", **settings}
        return create_app(config).test_client()
    return app


def test_every_answer_carries_the_security_headers(make):
    client = make()
    for path in ("/healthz", "/fhir/metadata", "/nowhere", "/auth/jwks"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS means nothing


def test_hsts_over_https(make):
    headers = make().get("/fhir/metadata", base_url="https://localhost").headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080",
                                  "[::1]:8080", "LOCALHOST"])
def test_local_names_are_answered_without_a_public_base(make, host):
    response = make().get("/fhir/metadata", headers={"Host": host})
    assert response.status_code == 200
    assert response.json["implementation"]["url"].startswith(f"http://{host}/fhir")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "localhost.evil.example",
                                  "[::2]:8080", "localhost:99999", "localhost:0",
                                  "localhost:80:80", "local host", "localhost@evil.example"])
def test_a_forged_host_never_reaches_a_link(make, host):
    response = make().get("/fhir/metadata", headers={"Host": host})
    assert response.status_code == 421, host
    assert response.json["resourceType"] == "OperationOutcome"
    assert "evil" not in response.get_data(as_text=True)
    assert "FACADE_ALLOWED_HOSTS" in response.json["issue"][0]["diagnostics"]


def test_allowed_hosts_and_the_bound_host_are_answered(make):
    client = make(allowed_hosts="fhir.example.nhs.uk, Other.Example", bind="10.1.2.3:8080")
    for host in ("fhir.example.nhs.uk", "other.example:443", "10.1.2.3:8080"):
        assert client.get("/fhir/metadata", headers={"Host": host}).status_code == 200, host


def test_with_a_public_base_url_links_never_come_from_the_host(make):
    client = make(public_base_url="https://fhir.example.nhs.uk/fhir")
    response = client.get("/fhir/metadata", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert "evil" not in response.get_data(as_text=True)


def test_metrics_answer_this_machine_only_by_default(make):
    client = make()
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert remote.status_code == 403 and "127.0.0.1:9" not in remote.get_data(as_text=True)
    assert remote.json["resourceType"] == "OperationOutcome"
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 200


def test_readiness_is_public_but_its_detail_is_the_operators(make):
    client = make()
    local = client.get("/readyz")
    assert "127.0.0.1:9" in local.get_data(as_text=True)
    for remote in (client.get("/readyz", environ_base={"REMOTE_ADDR": "10.0.0.5"}),
                   client.get("/readyz", headers={"X-Forwarded-For": "203.0.113.9"})):
        assert remote.status_code == local.status_code
        assert remote.json == {"status": local.json["status"]}


def test_with_an_ops_listener_they_answer_there_and_only_there(make):
    client = make(ops_bind="0.0.0.0:9464", bind="0.0.0.0:8080")
    on_ops = {"base_url": "http://localhost:9464", "environ_base": {"REMOTE_ADDR": "10.0.0.5"}}
    assert client.get("/metrics", **on_ops).status_code == 200
    assert client.get("/healthz", **on_ops).status_code == 200
    assert client.get("/fhir/metadata", **on_ops).status_code == 404
    assert client.get("/metrics", base_url="http://localhost:8080").status_code == 403
    main_ready = client.get("/readyz", base_url="http://localhost:8080")
    assert list(main_ready.json) == ["status"]
    assert client.get("/fhir/metadata", base_url="http://localhost:8080").status_code == 200


@pytest.mark.parametrize("path", ["/", "/index.html", "/9990000018", "/auth/nowhere"])
def test_no_answer_is_html(make, path):
    response = make().get(path)
    assert response.status_code == 404 and response.mimetype == "application/fhir+json"
    assert response.json["issue"][0]["code"] == "not-found"
    assert "/fhir" in response.json["issue"][0]["diagnostics"]
    assert "9990000018" not in response.get_data(as_text=True)
    wrong_method = make().delete("/healthz")
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["Allow"]
    assert wrong_method.json["resourceType"] == "OperationOutcome"


def test_a_token_request_to_a_forged_host_gets_an_oauth_error(make):
    response = make().post("/auth/token", headers={"Host": "evil.example"},
                           data={"grant_type": "client_credentials"})
    assert response.status_code == 421 and response.json["error"] == "invalid_request"
