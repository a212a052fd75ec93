"""The viewer's documents (pure functions): the bucket policy statement for the distribution, the response headers
(a strict Content-Security-Policy and the other security headers) and the single-page routing function.

Single-page routing is a CloudFront Function on viewer requests, not custom error responses (403/404 ->
``/index.html`` 200): error responses would answer a missing bundle with ``index.html`` and status 200 (a browser
then reports a syntax error instead of a missing file), mask every 403 of the origin, and apply to the whole
distribution. The function rewrites only paths whose last segment has no file extension (``/viewer``,
``/callback``, ``/viewer/1.2.840.113619`` (a UID's dotted digits are no extension)) to ``/index.html``; a missing
file stays a 404 (S3 answers 403 without ``s3:ListBucket``, which CloudFront passes on).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from .policies import PolicyDocument, Statement

#: CloudFront's service principal, which reads the bucket through origin access control.
CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"
#: HSTS: two years, subdomains, and the preload list's requirements.
HSTS_MAX_AGE_SECONDS = 63072000
REFERRER_POLICY = "strict-origin-when-cross-origin"


def distribution_read_statement(bucket_arn: str, distribution_arn: str) -> Statement:
    """Only this distribution (``AWS:SourceArn``) may read the app's objects, through origin access control."""
    return {
        "Sid": "AllowThisDistributionOnly",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDFRONT_PRINCIPAL},
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
    }


def origin_of(url: str) -> str:
    """``https://host[:port]`` of a URL (what a CSP source names)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(*, connect_origins: Sequence[str], script_hashes: Sequence[str] = ()) -> str:
    """The viewer's Content-Security-Policy.

    Scripts and workers come from the viewer's own origin (plus the hashes of ``index.html``'s inline scripts, and
    ``'wasm-unsafe-eval'``, which lets the image codecs compile their WebAssembly and allows no JavaScript ``eval``);
    connections go to the viewer, the data store's DICOMweb host and the identity provider only; no plugin, no
    framing of the viewer by any page, forms and the base URL on the viewer itself. Styles allow inline ``style``
    attributes, which the app's components set; images and fonts also come from ``data:`` and ``blob:`` URLs the
    app makes itself.
    """
    connect = " ".join(["'self'", *dict.fromkeys(connect_origins)])
    scripts = " ".join(["'self'", *script_hashes, "'wasm-unsafe-eval'"])
    directives = [
        "default-src 'self'",
        f"script-src {scripts}",
        "worker-src 'self' blob:",
        f"connect-src {connect}",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "style-src 'self' 'unsafe-inline'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "frame-src 'self'",
        "upgrade-insecure-requests",
    ]
    return "; ".join(directives)


def security_headers_config(csp: str) -> dict[str, Any]:
    """``security_headers_config`` of the response headers policy: CSP, HSTS, nosniff, frames denied, referrer."""
    return {
        "content_security_policy": {"content_security_policy": csp, "override": True},
        "strict_transport_security": {
            "access_control_max_age_sec": HSTS_MAX_AGE_SECONDS,
            "include_subdomains": True,
            "preload": True,
            "override": True,
        },
        "content_type_options": {"override": True},
        "frame_options": {"frame_option": "DENY", "override": True},
        "referrer_policy": {"referrer_policy": REFERRER_POLICY, "override": True},
    }


#: The viewer-request function that routes the app's paths to ``index.html`` (cloudfront-js-2.0).
SPA_ROUTING_FUNCTION = """function handler(event) {
  var request = event.request;
  var last = request.uri.split("/").pop();
  // A file of the app has an extension that starts with a letter (app.bundle.js, logo.svg); a route has none
  // (/viewer, /callback) or ends in a UID's dotted digits (/viewer/1.2.840.113619).
  if (!/\\.[A-Za-z][A-Za-z0-9]*$/.test(last)) {
    request.uri = "/index.html";
  }
  return request;
}
"""


def routes_to_index(uri: str) -> bool:
    """What :data:`SPA_ROUTING_FUNCTION` decides, in Python (the tests compare both on the same paths)."""
    import re

    last = uri.split("/")[-1]
    return re.search(r"\.[A-Za-z][A-Za-z0-9]*$", last) is None


def bucket_policy_statements(bucket_arn: str, distribution_arn: str) -> list[Statement]:
    """The extra statements of the viewer bucket's policy (the TLS-only ones come from :mod:`components.policies`)."""
    return [distribution_read_statement(bucket_arn, distribution_arn)]


__all__ = [
    "CLOUDFRONT_PRINCIPAL",
    "SPA_ROUTING_FUNCTION",
    "PolicyDocument",
    "bucket_policy_statements",
    "content_security_policy",
    "distribution_read_statement",
    "origin_of",
    "routes_to_index",
    "security_headers_config",
]
