"""A SMART Backend Services client in one file: what an integration partner does.

    python scripts/backend_client.py keygen partner-key.json partner.jwks.json
    # the facade's operator: facade clients add partner --jwks partner.jwks.json --scope ...
    python scripts/backend_client.py token --key partner-key.json --client-id partner \\
        --fhir-base http://127.0.0.1:8080/fhir --scope "system/Patient.rs"

``keygen`` writes an ES384 private key (keep it) and its public JWKS (give it
to the facade's operator). ``token`` finds the token endpoint in the server's
SMART discovery document, signs a client assertion (iss = sub = client id,
aud = token URL, five minutes, a fresh jti), posts it with
grant_type=client_credentials and prints the access token. Needs only joserfc
(installed with the facade) and the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def keygen(private_path: str, public_path: str, force: bool = False) -> None:
    """Write a new key pair; files already there are kept unless ``force`` (a private key
    overwritten by mistake is a partner locked out until the operator registers anew)."""
    if not force:
        for path in (private_path, public_path):
            if os.path.lexists(path):
                raise SystemExit(f"{path} already exists: not overwritten "
                                 "(give --force to replace it)")
    key = ECKey.generate_key("P-384", parameters={"kid": uuid.uuid4().hex[:12],
                                                  "alg": "ES384", "use": "sig"})
    try:
        _write(private_path, json.dumps(key.as_dict(private=True)), 0o600)
        _write(public_path, json.dumps({"keys": [key.as_dict(private=False)]}, indent=2), 0o644)
    except OSError as error:
        raise SystemExit(f"cannot write {error.filename}: {error.strerror}") from None
    print(f"private key: {private_path} (keep it); public JWKS: {public_path}")


def _write(path: str, text: str, mode: int) -> None:
    """Replace ``path`` with ``text``, readable as ``mode`` from the first byte on."""
    if os.path.lexists(path):
        os.unlink(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


def token(key_path: str, client_id: str, fhir_base: str, scope: str) -> str:
    try:
        with open(key_path) as source:
            key = ECKey.import_key(json.load(source))
    except OSError as error:
        raise SystemExit(f"cannot read {key_path}: {error.strerror}") from None
    except (ValueError, JoseError) as error:
        raise SystemExit(f"{key_path} is not a private key made by keygen: {error}") from None
    if not key.is_private:
        raise SystemExit(f"{key_path} is not a private key made by keygen: it holds no "
                         "private part")
    discovery_url = fhir_base.rstrip("/") + "/.well-known/smart-configuration"
    token_url = _get_json(discovery_url).get("token_endpoint")
    if not token_url:
        raise SystemExit(f"{discovery_url} names no token_endpoint")
    now = int(time.time())
    assertion = jwt.encode({"alg": "ES384", "kid": key.kid, "typ": "JWT"},
                           {"iss": client_id, "sub": client_id, "aud": token_url,
                            "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex},
                           key, algorithms=["ES384"])
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope,
                                   "client_assertion_type": ASSERTION_TYPE,
                                   "client_assertion": assertion}).encode()
    request = urllib.request.Request(token_url, data=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access_token"]
    except urllib.error.HTTPError as error:
        try:
            body = json.loads(error.read() or b"{}")
        except ValueError:
            body = {}
        raise SystemExit(f"token refused ({error.code}): {body.get('error')}: "
                         f"{body.get('error_description')}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
        raise SystemExit(f"no token from {token_url}: {_reason(error)}") from None


def _get_json(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SystemExit(f"cannot read {url}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("keygen", help="make an ES384 key pair")
    generate.add_argument("private_key")
    generate.add_argument("public_jwks")
    generate.add_argument("--force", action="store_true",
                          help="replace the files if they exist (a new key: register it again)")
    get = commands.add_parser("token", help="get an access token with a signed assertion")
    get.add_argument("--key", required=True)
    get.add_argument("--client-id", required=True)
    get.add_argument("--fhir-base", required=True)
    get.add_argument("--scope", required=True)
    args = parser.parse_args()
    if args.command == "keygen":
        keygen(args.private_key, args.public_jwks, args.force)
    else:
        print(token(args.key, args.client_id, args.fhir_base, args.scope))


if __name__ == "__main__":
    sys.exit(main())
