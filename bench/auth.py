"""Auth cost: what bearer-token validation adds to a cached read (target: p50 <= 0.15 ms).

In one process: the simulator (intervals 0, a small generated practice) and
the facade app (``create_app``, intervals 0, a temp state dir), driven through
Flask's test client. One Patient is found by NHS number and read once, so every
measured read is answered from the cache (the simulator's message count is
checked to stay unchanged while measuring). Measured in rounds, interleaved:

(a) ``GET /fhir/Patient/{id}`` with a valid bearer token, the same token each
    time: the path a client's repeated requests take (the token is remembered,
    so a dictionary lookup and the audience check, no signature verification);
(b) the same request on the same app with the ``fhir`` blueprint's
    ``_authorized`` before_request hook swapped for a no-op (in this script
    only, never in the product). (a) and (b) alternate request by request, in
    alternating order, so drift and noise fall on both alike. Both write their
    audit record (a SQLite row per request), so that cost cancels out; the
    only other difference is that (b)'s record has no client id or scopes;
(c) first sight: ``TokenValidator.validate`` on a token never seen before (a
    freshly minted one each call: header, issuer, RS256 signature, claims,
    scope parsing), timed inside a request context. A validator built as the
    app builds its own (same keyring) is used, so these tokens do not crowd
    the app's remembered tokens;
(d) the guard alone: ``guard.authenticate`` + ``guard.authorize`` for a Patient
    read with the remembered token, each call in a fresh
    ``app.test_request_context`` with the Authorization header set (only the
    two calls are timed).

Added cost = p50(a) - p50(b), over all rounds' samples; the median of the
per-round differences is shown beside it as a check on noise.

    .venv/bin/python bench/auth.py [--rounds 15] [--requests 200] [--fresh 100]

Prints a table and writes bench/results/auth.json; exits 1 when the target fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import print_table, write_result
from joserfc.jwk import ECKey

from facade import urls
from facade.app import create_app
from facade.auth import guard
from facade.auth.clients import new_client
from facade.auth.tokens import TokenValidator
from facade.fhir import views
from simulator import RunningSimulator, SimulatorConfig, create_server
from simulator.practice import generated_practice

TARGET_ADDED_MS = 0.15
PRACTICE_SIZE = 10
SEED = 7
AS_OF = dt.date(2026, 11, 1)
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CLIENT_ID = "bench-auth"
SCOPE = "system/Patient.rs system/Observation.rs"
TEST_BASE = "http://localhost/fhir"  # where Flask's test client sends requests
CASES = {"a": "(a) cached read, remembered token",
         "b": "(b) cached read, no auth check",
         "c": "(c) first sight: validate a new token",
         "d": "(d) guard alone: authenticate + authorize"}


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_us": round(statistics.median(ordered) * 1e6, 1),
            "p90_us": round(percentile(ordered, 0.90) * 1e6, 1),
            "p99_us": round(percentile(ordered, 0.99) * 1e6, 1)}


def register(app) -> None:
    key = ECKey.generate_key("P-384", parameters={"kid": "bench-es384", "alg": "ES384"})
    app.extensions["facade.auth"].registry.add(
        new_client(CLIENT_ID, SCOPE, jwks={"keys": [key.as_dict(private=False)]}),
        replace=True)


def mint(app) -> str:
    return app.extensions["facade.auth"].mint_for(CLIENT_ID, TEST_BASE)["access_token"]


class AuthSwitch:
    """Swaps the fhir blueprint's ``_authorized`` hook for a no-op and back (bench only)."""

    def __init__(self, app) -> None:
        self.hooks = app.before_request_funcs["fhir"]
        self.index = self.hooks.index(views._authorized)

    def set(self, on: bool) -> None:
        self.hooks[self.index] = views._authorized if on else _no_check

    def restore(self) -> None:
        self.set(True)


def _no_check() -> None:
    return None


def warm(app, practice) -> tuple[object, str]:
    """A test client with the token, and the path of a Patient now in the cache."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + mint(app)
    patient = next(p for p in practice.index.summaries if p.identity.kind == "NHSNumber")
    found = client.get(f"/fhir/Patient?identifier={NHS_SYSTEM}|{patient.identity.value}")
    assert found.status_code == 200 and found.json["total"] == 1, found.json
    path = f"/fhir/Patient/{found.json['entry'][0]['resource']['id']}"
    for _ in range(20):  # the read itself, then code paths and the token's first sight
        response = client.get(path)
        assert response.status_code == 200, response.json
    return client, path


def timed_read(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}: {response.data[:300]!r}")
    return elapsed


def reads(client, path: str, switch: AuthSwitch, requests: int) -> tuple[list, list]:
    """(a) and (b) alternating request by request, in alternating order."""
    with_auth, without = [], []
    try:
        for i in range(requests):
            for on in ((True, False) if i % 2 == 0 else (False, True)):
                switch.set(on)
                (with_auth if on else without).append(timed_read(client, path))
    finally:
        switch.restore()
    return with_auth, without


def first_sight(app, validator: TokenValidator, path: str, count: int) -> list[float]:
    tokens = [mint(app) for _ in range(count)]  # minting (RS256 signing) is not timed
    samples = []
    for token in tokens:
        with app.test_request_context(path, headers={"Authorization": f"Bearer {token}"}):
            started = time.perf_counter()
            validator.validate(token, urls.fhir_base(), urls.issuer())
            samples.append(time.perf_counter() - started)
    return samples


def guard_alone(app, token: str, path: str, count: int) -> list[float]:
    samples = []
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(count):
        with app.test_request_context(path, headers=headers):
            started = time.perf_counter()
            access = guard.authenticate()
            guard.authorize(access, "Patient", "read")
            samples.append(time.perf_counter() - started)
    return samples


def measure(app, practice, upstream_messages, args) -> dict:
    register(app)
    client, path = warm(app, practice)
    token = client.environ_base["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    auth = app.extensions["facade.auth"]
    validator = TokenValidator(auth.keyring.verifying_keys, None, auth.skew)
    first_sight(app, validator, path, 5)  # warm-up: keys loaded, code paths
    guard_alone(app, token, path, 50)
    switch = AuthSwitch(app)
    samples: dict[str, list[float]] = {case: [] for case in CASES}
    per_round = []
    messages_before = upstream_messages()
    for _ in range(args.rounds):
        a, b = reads(client, path, switch, args.requests)
        c = first_sight(app, validator, path, args.fresh)
        d = guard_alone(app, token, path, args.requests)
        for case, found in zip("abcd", (a, b, c, d), strict=True):
            samples[case].extend(found)
        per_round.append({"a_p50_us": statistics.median(a) * 1e6,
                          "b_p50_us": statistics.median(b) * 1e6,
                          "added_us": (statistics.median(a) - statistics.median(b)) * 1e6})
    upstream_during = upstream_messages() - messages_before
    if upstream_during:
        raise RuntimeError(f"{upstream_during} SystmOne messages while measuring: "
                           "the reads were not all answered from the cache")
    rows = {case: summary(found) for case, found in samples.items()}
    added_rounds = sorted(r["added_us"] for r in per_round)
    return {"path": path.rsplit("/", 1)[0] + "/{id}", "rows": rows,
            "added_p50_us": round(rows["a"]["p50_us"] - rows["b"]["p50_us"], 1),
            "added_per_round_median_us": round(statistics.median(added_rounds), 1),
            "added_per_round_range_us": [round(added_rounds[0], 1),
                                         round(added_rounds[-1], 1)],
            "per_round": [{k: round(v, 1) for k, v in r.items()} for r in per_round]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=200,
                        help="per round, each of (a), (b) and (d)")
    parser.add_argument("--fresh", type=int, default=100,
                        help="new tokens per round for (c)")
    args = parser.parse_args()
    practice = generated_practice(PRACTICE_SIZE, seed=SEED, as_of=AS_OF)
    with tempfile.TemporaryDirectory() as scratch:
        config = SimulatorConfig(port=0, request_interval=0, record_interval=0,
                                 state_dir=Path(scratch) / "simulator")
        running = RunningSimulator(create_server(config, practice, today=lambda: AS_OF)).start()
        try:
            host, port = running.address
            app = create_app({"upstream": f"{host}:{port}", "state_dir": Path(scratch) / "facade",
                              "request_interval": 0.0, "record_interval": 0.0,
                              "send_margin": 0.001, "read_timeout": 5.0})
            try:
                result = measure(app, practice,
                                 lambda: len(running.server.store.messages()), args)
            finally:
                app.extensions["facade.records"].close()
        finally:
            running.stop()
    rows = result["rows"]
    print(f"{args.rounds} rounds; GET {result['path']} via Flask's test client, "
          f"scope {SCOPE!r}")
    print_table(["case", "n", "p50 us", "p90 us", "p99 us"],
                [[CASES[case], row["n"], row["p50_us"], row["p90_us"], row["p99_us"]]
                 for case, row in rows.items()])
    added_ms = result["added_p50_us"] / 1000
    low, high = result["added_per_round_range_us"]
    print(f"\nadded p50(a) - p50(b): {result['added_p50_us']:.1f} us "
          f"(per round: median {result['added_per_round_median_us']:.1f} us, "
          f"range {low:.1f} .. {high:.1f} us); guard alone p50: {rows['d']['p50_us']:.1f} us")
    print(f"first sight (signature verification) p50: {rows['c']['p50_us']:.1f} us, "
          "paid once per token")
    verdict = "PASS" if added_ms <= TARGET_ADDED_MS else "FAIL"
    print(f"token validation added to a cached read, p50: {added_ms:.3f} ms "
          f"(target <= {TARGET_ADDED_MS} ms) {verdict}")
    write_result("auth", {"target_added_ms": TARGET_ADDED_MS, "verdict": verdict,
                          "added_ms": round(added_ms, 4), "rounds": args.rounds,
                          "requests": args.requests, "fresh": args.fresh, "scope": SCOPE,
                          "cases": {CASES[case]: row for case, row in rows.items()},
                          **{k: v for k, v in result.items() if k != "rows"}})
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
