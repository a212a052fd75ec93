"""Who sent a request to the emulator: a SigV4 signature verified with botocore, or a bearer token an authorizer accepts.

SigV4: the signature is recomputed with botocore's own signer (``SigV4Auth``: canonical request, string to sign,
signing key) from the request as received, the credential scope in its ``Authorization`` header and the secret of
its access key id, and compared in constant time. The sandbox has no IAM users of its own: every access key id is
accepted with the sandbox's dummy secret unless a ``secrets`` mapping says otherwise. A request must be signed for
service ``medical-imaging``, within 15 minutes of now (``X-Amz-Date``).

Bearer tokens (DICOMweb only, as HealthImaging's OIDC support): the token's ``exp``, ``nbf`` and ``iat`` claims are
checked first (``iat`` at most 12 hours old), then the configured authorizer is called in-process with
HealthImaging's event ``{"datastoreId", "operation", "bearerToken"}`` and must answer
``{"isTokenValid": true, "roleArn": "arn:aws:iam::<account>:role/..."}``. The JWT's signature is the authorizer's
business, as with HealthImaging.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from . import DUMMY_SECRET_ACCESS_KEY
from .rest_json import HttpRequest

SIGNING_NAME = "medical-imaging"
#: The most a request's X-Amz-Date may differ from now (AWS's rule).
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
#: A bearer token issued longer ago than this is refused (HealthImaging's rule for ``iat``).
MAX_TOKEN_AGE = dt.timedelta(hours=12)
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
    r",\s*SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_ROLE_ARN = re.compile(r"arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+")

#: ``authorizer(event) -> response``: HealthImaging's Lambda authorizer contract, called in-process.
Authorizer = Callable[[dict[str, Any]], Mapping[str, Any]]


class AuthenticationError(Exception):
    """A request refused before it reaches an operation: ``code`` is AWS's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who a request came from."""

    #: "sigv4" or "bearer".
    method: str
    access_key_id: str = ""
    region: str = ""
    #: The role the authorizer mapped a bearer token to.
    role_arn: str = ""


def verify_sigv4(
    request: HttpRequest, *, secrets: Mapping[str, str] | None = None, now: dt.datetime | None = None
) -> Caller:
    """The caller of a request signed with SigV4 for ``medical-imaging``; AuthenticationError otherwise."""
    authorization = request.headers.get("authorization", "")
    if not authorization:
        raise AuthenticationError("MissingAuthenticationTokenException", "Missing Authentication Token")
    found = _AUTHORIZATION.match(authorization.strip())
    if found is None:
        raise AuthenticationError(
            "IncompleteSignatureException",
            "Authorization header is not AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature",
        )
    if found["service"] != SIGNING_NAME:
        raise AuthenticationError(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SIGNING_NAME}', not '{found['service']}'",
        )
    secret = DUMMY_SECRET_ACCESS_KEY if secrets is None else secrets.get(found["key"])
    if secret is None:
        raise AuthenticationError(
            "UnrecognizedClientException", "The security token included in the request is invalid"
        )
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise AuthenticationError("IncompleteSignatureException", "X-Amz-Date is missing or malformed") from None
    if not amz_date.startswith(found["date"]):
        raise AuthenticationError("InvalidSignatureException", "Credential date does not match X-Amz-Date")
    if abs((now or dt.datetime.now(dt.UTC)) - signed_at) > MAX_CLOCK_SKEW:
        raise AuthenticationError("InvalidSignatureException", f"Signature expired: {amz_date} is too far from now")
    signed_headers = found["headers"].split(";")
    missing = [name for name in signed_headers if name not in request.headers]
    if missing or "host" not in signed_headers:
        raise AuthenticationError("IncompleteSignatureException", "SignedHeaders must include host and be present")
    host = request.headers["host"]
    url = f"http://{host}{request.path}" + (f"?{request.query}" if request.query else "")
    recomputed = AWSRequest(
        method=request.method,
        url=url,
        headers={name: request.headers[name] for name in signed_headers},
        data=request.body,
    )
    recomputed.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(found["key"], secret), found["service"], found["region"])
    canonical = signer.canonical_request(recomputed)
    expected = signer.signature(signer.string_to_sign(recomputed, canonical), recomputed)
    if not hmac.compare_digest(expected, found["signature"]):
        raise AuthenticationError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method.",
        )
    return Caller("sigv4", access_key_id=found["key"], region=found["region"])


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header (None when the request has none)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def verify_bearer(
    token: str, datastore_id: str, operation: str, authorizer: Authorizer | None, *, now: dt.datetime | None = None
) -> Caller:
    """The caller of a bearer-token request, after the token's times and the authorizer; AuthenticationError else."""
    if authorizer is None:
        raise AuthenticationError("AccessDeniedException", f"Datastore {datastore_id} has no Lambda authorizer")
    claims = _jwt_claims(token)
    moment = (now or dt.datetime.now(dt.UTC)).timestamp()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= moment:
        raise AuthenticationError("AccessDeniedException", "The bearer token has expired (exp)")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > moment:
        raise AuthenticationError("AccessDeniedException", "The bearer token is not valid yet (nbf)")
    issued = claims.get("iat")
    if not isinstance(issued, (int, float)) or not 0 <= moment - issued <= MAX_TOKEN_AGE.total_seconds():
        raise AuthenticationError("AccessDeniedException", "The bearer token was not issued in the last 12 hours (iat)")
    event = {"datastoreId": datastore_id, "operation": operation, "bearerToken": token}
    try:
        answer = authorizer(event)
    except Exception as error:  # the authorizer function failed: HealthImaging refuses the request
        raise AuthenticationError("AccessDeniedException", f"The authorizer failed: {type(error).__name__}") from None
    if not isinstance(answer, Mapping) or answer.get("isTokenValid") is not True:
        raise AuthenticationError("AccessDeniedException", "The authorizer did not accept the bearer token")
    role_arn = answer.get("roleArn")
    if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
        raise AuthenticationError("AccessDeniedException", "The authorizer answered no valid roleArn")
    return Caller("bearer", role_arn=role_arn)


def _jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthenticationError("AccessDeniedException", "The bearer token is not a JWT (header.payload.signature)")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise AuthenticationError("AccessDeniedException", "The bearer token's payload is not base64url JSON") from None
    if not isinstance(claims, dict):
        raise AuthenticationError("AccessDeniedException", "The bearer token's payload is not a JSON object")
    return claims
