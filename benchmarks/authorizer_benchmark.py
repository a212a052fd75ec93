"""How long the DICOMweb authorizer takes to decide, warm and cold, against HealthImaging's one-second limit.

Usage: ``venv/bin/python benchmarks/authorizer_benchmark.py [--decisions 2000] [--repeat 7]``

- Warm decisions: the handler (``dicomweb_authorizer.handler.handle``) deciding RS256 and ES256 tokens with the
  issuer's key set already cached (served on 127.0.0.1 by ``testkit/oidc.py``); p50 and p99 per algorithm. Baseline
  in the same run: PyJWT's ``jwt.decode`` alone on the same tokens with the key object ready (the signature check
  and claim parsing no authorizer can skip). Goal: p99 at most 50 ms.
- Cold start: in fresh interpreters (``python -I -B``), importing the handler module with its libraries from a
  directory laid out like the function's archive, without compiled bytecode (the archive ships none, so Lambda
  compiles it at every cold start), then the first decision (reading the settings, fetching the key set, the first
  signature check). Baseline in the same run: a fresh interpreter that imports only the standard library modules
  the handler uses. The archive's libraries are this machine's copies of the pinned versions (the archive's own
  wheels are built for Lambda's Linux and Python 3.12).

Not a timed test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a file (python benchmarks/authorizer_benchmark.py): the project's packages are one level up.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt

from components.lambda_package import FUNCTIONS_DIR, package_files
from healthimaging_functions.dicomweb_authorizer import config, handler
from healthimaging_functions.dicomweb_authorizer.decision import Authorizer
from healthimaging_functions.dicomweb_authorizer.jwks import JwksCache
from testkit.oidc import AUDIENCE, ISSUER, IssuerKeys, serving_jwks

DATASTORE_ID = "0123456789abcdef0123456789abcdef"
ROLE_ARN = "arn:aws:iam::111122223333:role/ahi-dev-dicomweb-reader"
#: Third-party packages the archive holds (top-level import names).
LIBRARIES = ("jwt", "cryptography", "cffi", "pycparser")
GOAL_P99_MS = 50.0

COLD_CODE = """
import json, os, sys, time
started = time.perf_counter()
import dicomweb_authorizer.handler as handler
imported = time.perf_counter()
answer = handler.handle({"datastoreId": os.environ["BENCH_DATASTORE"], "operation": "SearchDICOMStudies",
                         "bearerToken": os.environ["BENCH_TOKEN"]})
decided = time.perf_counter()
assert answer["isTokenValid"], answer
print(json.dumps({"import": imported - started, "first": decided - imported}))
"""
FLOOR_CODE = """
import json, time
started = time.perf_counter()
import logging, re, urllib.request, dataclasses, collections.abc
print(json.dumps({"import": time.perf_counter() - started}))
"""


def environment(jwks_uri: str) -> dict[str, str]:
    return {
        config.ISSUER: ISSUER,
        config.AUDIENCES: json.dumps([AUDIENCE]),
        config.JWKS_URI: jwks_uri,
        config.PERSONA_GROUPS: json.dumps({"reader": ["radiology"], "admin": ["imaging-admins"]}),
        config.PERSONA_ROLE_ARNS: json.dumps({"reader": ROLE_ARN, "admin": ROLE_ARN.replace("reader", "admin")}),
        config.DATASTORE_ID: DATASTORE_ID,
    }


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call: Callable[[], object], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def prepared(keys: IssuerKeys, jwks_uri: str) -> Authorizer:
    """An authorizer whose key set is fetched and cached (both tokens decided once)."""
    settings = config.AuthorizerConfig.from_environment(environment(jwks_uri))
    authorizer = Authorizer(settings, JwksCache(settings.jwks_uri, settings.jwks_timeout_seconds))
    for token in (keys.rs256(), keys.es256()):
        event = {"datastoreId": DATASTORE_ID, "operation": "SearchDICOMStudies", "bearerToken": token}
        assert handler.handle(event, authorizer=authorizer) == {"isTokenValid": True, "roleArn": ROLE_ARN}
    return authorizer


def warm(keys: IssuerKeys, authorizer: Authorizer, decisions: int) -> list[tuple[str, float, float, float, float]]:
    """p50 and p99 of the handler and of ``jwt.decode`` alone, per algorithm, with the key set server stopped (its
    thread would take the interpreter's lock in the middle of the timings)."""
    rows = []
    for name, token, kid in (("RS256", keys.rs256(), "rsa-1"), ("ES256", keys.es256(), "ec-1")):
        event = {"datastoreId": DATASTORE_ID, "operation": "SearchDICOMStudies", "bearerToken": token}
        key = authorizer.keys.key(kid, name)

        def baseline(token: str = token, key: jwt.PyJWK = key, name: str = name) -> object:
            return jwt.decode(token, key=key, algorithms=[name], issuer=ISSUER, options={"verify_aud": False})

        def decide(event: dict[str, str] = event) -> object:
            return handler.handle(event, authorizer=authorizer)

        timed(decide, 50)  # warm-up
        timed(baseline, 50)
        handler_ms = timed(decide, decisions)
        baseline_ms = timed(baseline, decisions)
        rows.append(
            (
                name,
                percentile(handler_ms, 0.5),
                percentile(handler_ms, 0.99),
                percentile(baseline_ms, 0.5),
                percentile(baseline_ms, 0.99),
            )
        )
    return rows


def archive_like(directory: Path) -> None:
    """The function's package and the libraries it imports, laid out like its archive, without bytecode."""
    for name, path in package_files(FUNCTIONS_DIR / "dicomweb_authorizer").items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, directory / name)
    for library in LIBRARIES:
        source = Path(__import__(library).__file__ or "").parent
        shutil.copytree(source, directory / library, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def cold(keys: IssuerKeys, jwks_uri: str, repeat: int) -> tuple[list[float], list[float], list[float]]:
    imports: list[float] = []
    firsts: list[float] = []
    floors: list[float] = []
    env = {**os.environ, **environment(jwks_uri), "BENCH_TOKEN": keys.rs256(), "BENCH_DATASTORE": DATASTORE_ID}
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        archive_like(root)
        for _ in range(repeat):
            # The archive copy is fresh each time: no bytecode compiled by an earlier run.
            for cache in root.rglob("__pycache__"):
                shutil.rmtree(cache)
            for code, sink in ((FLOOR_CODE, None), (COLD_CODE, imports)):
                done = subprocess.run(  # noqa: S603 - this interpreter, with code written here
                    [sys.executable, "-I", "-B", "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n{code}"],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=120,
                    check=True,
                )
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                if sink is None:
                    floors.append(figures["import"] * 1000)
                else:
                    imports.append(figures["import"] * 1000)
                    firsts.append(figures["first"] * 1000)
    return imports, firsts, floors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2000, help="warm decisions per algorithm (default 2000)")
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters for the cold start (default 7)")
    options = parser.parse_args(argv)

    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, load average {os.getloadavg()[0]:.2f}, "
          f"Python {platform.python_version()}, PyJWT {jwt.__version__}")  # fmt: skip
    keys = IssuerKeys()
    with serving_jwks(keys.jwks()) as server:
        authorizer = prepared(keys, server.url)
    rows = warm(keys, authorizer, options.decisions)
    with serving_jwks(keys.jwks()) as server:
        imports, firsts, floors = cold(keys, server.url, options.repeat)
    print(f"\nwarm decisions ({options.decisions} per algorithm, key set cached), milliseconds:")
    print("| token | handler p50 | handler p99 | jwt.decode alone p50 | p99 | ratio p50 |")
    print("|---|---|---|---|---|---|")
    for name, p50, p99, base50, base99 in rows:
        print(f"| {name} | {p50:.3f} | {p99:.3f} | {base50:.3f} | {base99:.3f} | {p50 / base50:.2f}x |")
    worst = max(row[2] for row in rows)
    print(f"goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if worst <= GOAL_P99_MS else 'MISSED'} (worst p99 {worst:.3f} ms)")
    print(f"\ncold start (fresh interpreters, no bytecode, {options.repeat} runs), milliseconds, median (min):")
    print("| measurement | median | min |")
    print("|---|---|---|")
    floor = statistics.median(floors)
    print(f"| floor: import the standard library modules the handler uses | {floor:.1f} | {min(floors):.1f} |")
    print(
        f"| import the handler with PyJWT and cryptography | {statistics.median(imports):.1f} "
        f"({statistics.median(imports) / floor:.1f}x the floor) | {min(imports):.1f} |"
    )
    print(f"| first decision (settings, key set fetch on loopback, first check) | {statistics.median(firsts):.1f} | "
          f"{min(firsts):.1f} |")  # fmt: skip
    return 0 if worst <= GOAL_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
