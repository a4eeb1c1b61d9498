"""``Authorization: Basic`` on POST /auth/token, read strictly (RFC 6749 2.3.1): whatever
the header holds, a malformed one is a 401 invalid_client in JSON, never an HTML 500."""

from __future__ import annotations

import base64

import pytest

from facade.auth.clients import new_client
from facade.auth.server import MalformedBasic, basic_credentials

from .forge import token_form

SECRET = "correct horse battery staple"


def encoded(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("Bearer abc", None), ("Digest x", None),
    (encoded(b"keeper:s3cret"), ("keeper", "s3cret")),
    (encoded(b"app%3A1%2Fx:a+b%25"), ("app:1/x", "a b%")),  # form-urlencoded, as 2.3.1 says
    (encoded(b"keeper:"), ("keeper", "")),
    ("basic " + base64.b64encode(b"k:s").decode(), ("k", "s")),  # the scheme is any case
])
def test_well_formed_or_not_basic(header, expected):
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(("header", "why"), [
    ("Basic !!!", "not base64"),
    ("Basic a", "not base64"),
    ("Basic", "no client_id:secret"),
    (encoded(b"nocolon"), "no client_id:secret"),
    (encoded(b":secret"), "no client_id:secret"),
    (encoded(b"\xff\xfe:x"), "not base64 of UTF-8"),
    (encoded(b"a%zz:b"), "broken percent-encoding"),
    (encoded(b"a:b%"), "broken percent-encoding"),
    (encoded(b"a:%ff"), "not UTF-8"),
])
def test_a_malformed_header_says_what_is_wrong(header, why):
    with pytest.raises(MalformedBasic, match=why) as refused:
        basic_credentials(header)
    assert refused.value.status_code == 401 and refused.value.error == "invalid_client"


MALFORMED = ["Basic !!!", "Basic", encoded(b"nocolon"), encoded(b"\xff\xfe:x"),
             encoded(b"\xc3(:\xa0\xa1"), encoded(b"a%zz:b"), encoded(b"keeper:%ff"),
             "Basic " + "A" * 10_000]


@pytest.mark.parametrize("enabled", [False, True])
@pytest.mark.parametrize("header", MALFORMED)
def test_the_token_endpoint_answers_invalid_client_in_json(make_app, enabled, header):
    """Non-UTF-8 credentials were an HTML 500 from Authlib's reader."""
    app = make_app(client_secret_auth=enabled)
    app.extensions["facade.auth"].registry.add(
        new_client("keeper", "system/Patient.rs", secret=SECRET), replace=True)
    response = app.test_client().post("/auth/token", data=token_form(None),
                                      headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.json["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_percent_encoded_secret_still_authenticates(make_app):
    app = make_app(client_secret_auth=True)
    app.extensions["facade.auth"].registry.add(
        new_client("keeper", "system/Patient.rs", secret="p@ss:word"))
    response = app.test_client().post("/auth/token", data=token_form(None),
                                      headers={"Authorization": encoded(b"keeper:p%40ss%3Aword")})
    assert response.status_code == 200, response.json
