"""The viewer's pure parts: its rules (each problem names the argument), the files' content types and cache
policies, the inline script hashes of the CSP, and the single-page routing function (run in Node.js beside its
Python twin)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from components.viewer_files import (
    IMMUTABLE,
    REVALIDATE,
    app_files,
    cache_control,
    content_type,
    inline_script_hashes,
)
from components.viewer_options import validate_viewer_args
from components.viewer_policies import SPA_ROUTING_FUNCTION, routes_to_index

ACCOUNT = "111122223333"
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d"


def problems(**overrides: object) -> list[str]:
    args = {"account_id": ACCOUNT, "region": "us-east-1", "name_prefix": "ahi-dev", **overrides}
    return validate_viewer_args(args)


def test_the_defaults_have_no_problem() -> None:
    assert problems() == []


def test_a_custom_domain_without_a_certificate_is_refused_naming_both() -> None:
    assert problems(custom_domain="viewer.example.org") == [
        "custom_domain = 'viewer.example.org' needs certificate_arn: the ARN of an ACM certificate in us-east-1 that "
        "covers viewer.example.org (CloudFront serves no custom domain without one)."
    ]


def test_a_certificate_outside_us_east_1_is_refused() -> None:
    arn = CERTIFICATE.replace("us-east-1", "eu-west-2")
    assert problems(custom_domain="viewer.example.org", certificate_arn=arn) == [
        f"certificate_arn = {arn!r} is a certificate of eu-west-2: CloudFront uses certificates of us-east-1 only. "
        "Request or import it in ACM in us-east-1."
    ]


def test_a_certificate_without_a_domain_is_refused() -> None:
    assert problems(certificate_arn=CERTIFICATE) == [
        "certificate_arn is set without custom_domain: set both, or neither."
    ]


def test_the_stack_keys_are_named_when_the_stack_maps_them() -> None:
    found = validate_viewer_args(
        {"account_id": ACCOUNT, "region": "us-east-1", "name_prefix": "ahi-dev", "custom_domain": "viewer.example.org"},
        {"custom_domain": "viewerCustomDomain", "certificate_arn": "viewerCertificateArn"},
    )
    assert found
    assert found[0].startswith("viewerCustomDomain = 'viewer.example.org' needs viewerCertificateArn")


def test_an_issuer_without_https_is_refused() -> None:
    assert problems(oidc_issuer="http://login.example.org", oidc_client_id="viewer") == [
        "oidc_issuer = 'http://login.example.org': the issuer must be an https URL (tokens and keys only over TLS)."
    ]


def test_an_issuer_without_a_client_id_says_what_to_register() -> None:
    assert problems(oidc_issuer="https://login.example.org") == [
        "oidc_issuer is set without oidc_client_id: register the viewer as a public client (authorization code with "
        "PKCE, no secret) in your provider and give its client ID."
    ]


def test_a_web_acl_that_is_not_a_cloudfront_one_is_refused() -> None:
    regional = f"arn:aws:wafv2:eu-west-2:{ACCOUNT}:regional/webacl/viewer/0e2b5a3c-1d4f-4b6a-9c8d-7e6f5a4b3c2d"
    assert problems(web_acl_arn=regional)[0].startswith(f"web_acl_arn = {regional!r}: give the ARN of a WAF web ACL")


def test_an_unknown_persona_and_a_bad_group_name_are_refused() -> None:
    assert problems(personas={"viewer": ["radiology"], "reader": ["has space"]}) == [
        "personas names the persona 'viewer', which does not exist; the personas are 'admin', 'importer', 'reader'.",
        "personas.reader = ['has space']: group names are 1 to 128 letters, digits or +=,.@_- (Cognito's rule).",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app.bundle.0f6159c501addfe9.js", IMMUTABLE),
        ("1180.bundle.762993518ea30ae3.js", IMMUTABLE),
        ("0ddf166f7a343eda.wasm", IMMUTABLE),
        ("a34f9d1faa5f3315.woff2", IMMUTABLE),
        ("index.html", REVALIDATE),
        ("app-config.js", REVALIDATE),
        ("sw.js", REVALIDATE),
        ("1602.css", REVALIDATE),
        ("ort/ort-wasm-simd.wasm", REVALIDATE),
    ],
)
def test_only_names_with_a_content_hash_are_cached_for_a_year(name: str, expected: str) -> None:
    assert cache_control(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.bundle.0f6159c501addfe9.js", "text/javascript; charset=utf-8"),
        ("x.wasm", "application/wasm"),
        ("customizations/tools/ctPresets.jsonc", "application/json"),
        ("assets/favicon.ico", "image/x-icon"),
        ("ohif-logo.svg", "image/svg+xml"),
        ("a34f9d1faa5f3315.woff2", "font/woff2"),
        ("assets/images/CT-Bone.png", "image/png"),
        ("unknown.blob", "application/octet-stream"),
    ],
)
def test_content_types(name: str, expected: str) -> None:
    assert content_type(name) == expected


def test_hosting_files_source_maps_and_the_packages_configuration_are_not_uploaded(tmp_path: Path) -> None:
    for name in ("index.html", "_redirects", "_headers", "serve.json", "app-config.js", "a.js.map", "sub/b.js"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [f.key for f in app_files(tmp_path)] == ["index.html", "sub/b.js"]


def test_the_inline_scripts_are_hashed_as_browsers_hash_them() -> None:
    page = '<script>window.PUBLIC_URL="/"</script><script src="/a.js"></script><SCRIPT type="x">b()</SCRIPT>'
    expected = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in ('window.PUBLIC_URL="/"', "b()")
    ]
    assert inline_script_hashes(page) == expected


PATHS = [
    "/",
    "/viewer",
    "/callback",
    "/viewer/dicomweb",
    "/viewer/1.2.840.113619.2.55",
    "/app.bundle.0f6159c501addfe9.js",
    "/assets/favicon.ico",
    "/customizations/tools/ctPresets.jsonc",
    "/index.html",
    "/0ddf166f7a343eda.wasm",
]


def test_the_routing_sends_routes_to_the_index_and_files_to_themselves() -> None:
    routed = [p for p in PATHS if routes_to_index(p)]
    assert routed == ["/", "/viewer", "/callback", "/viewer/dicomweb", "/viewer/1.2.840.113619.2.55"]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the CloudFront Function's JavaScript")
def test_the_cloudfront_function_decides_as_its_python_twin() -> None:
    script = SPA_ROUTING_FUNCTION + (
        f"\nconst paths = {json.dumps(PATHS)};\n"
        "console.log(JSON.stringify(paths.map(p => handler({request: {uri: p}}).uri)));\n"
    )
    completed = subprocess.run(
        [shutil.which("node") or "node", "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    assert json.loads(completed.stdout) == ["/index.html" if routes_to_index(p) else p for p in PATHS]
