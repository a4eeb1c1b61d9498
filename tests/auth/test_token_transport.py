"""A token request Authlib refuses for its transport is a JSON error, not an HTML 500."""

from __future__ import annotations

import pytest

from .forge import token_form


@pytest.mark.parametrize("host, status", [("localhost:99999", 421), ("localhost:x", 421),
                                          ("name.example", 400)])
def test_a_request_authlib_calls_insecure_is_invalid_request(make_app, host, status):
    """Plain HTTP to a name other than the loopback's is refused by Authlib before it reads
    the request; a Host Werkzeug cannot read (its URL would have no host) is refused
    before that, by the app's edge, as no host it answers for."""
    app = make_app(allowed_hosts="name.example")
    response = app.test_client().post("/auth/token", data=token_form("a.b.c"),
                                      headers={"Host": host})
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"
