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
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def keygen(private_path: str, public_path: str) -> None:
    key = ECKey.generate_key("P-384", parameters={"kid": uuid.uuid4().hex[:12],
                                                  "alg": "ES384", "use": "sig"})
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(key.as_dict(private=True), out)
    with open(public_path, "w") as out:
        json.dump({"keys": [key.as_dict(private=False)]}, out, indent=2)
    print(f"private key: {private_path} (keep it); public JWKS: {public_path}")


def token(key_path: str, client_id: str, fhir_base: str, scope: str) -> str:
    with open(key_path) as source:
        key = ECKey.import_key(json.load(source))
    discovery = _get_json(fhir_base.rstrip("/") + "/.well-known/smart-configuration")
    token_url = discovery["token_endpoint"]
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
        body = json.loads(error.read() or b"{}")
        raise SystemExit(f"token refused ({error.code}): {body.get('error')}: "
                         f"{body.get('error_description')}") from None


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("keygen", help="make an ES384 key pair")
    generate.add_argument("private_key")
    generate.add_argument("public_jwks")
    get = commands.add_parser("token", help="get an access token with a signed assertion")
    get.add_argument("--key", required=True)
    get.add_argument("--client-id", required=True)
    get.add_argument("--fhir-base", required=True)
    get.add_argument("--scope", required=True)
    args = parser.parse_args()
    if args.command == "keygen":
        keygen(args.private_key, args.public_jwks)
    else:
        print(token(args.key, args.client_id, args.fhir_base, args.scope))


if __name__ == "__main__":
    sys.exit(main())
