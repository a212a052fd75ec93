"""Authentication of the emulator's requests (sandbox/sigv4.py): SigV4 recomputed with botocore, bearer tokens."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox.rest_json import HttpRequest
from sandbox.sigv4 import AuthenticationError, bearer_token, verify_bearer, verify_sigv4

HOST = "127.0.0.1:8443"
PATH = "/datastore/" + "d" * 32 + "/studies"
QUERY = "includefield=00081030,00080060&limit=25"


def signed(
    *,
    service: str = "medical-imaging",
    secret: str = "testing",
    method: str = "GET",
    body: bytes = b"",
    at: dt.datetime | None = None,
) -> HttpRequest:
    """A request as botocore's SigV4Auth signs it, in the shape the emulator's HTTP server hands over."""
    request = AWSRequest(method=method, url=f"http://{HOST}{PATH}?{QUERY}", data=body, headers={"Accept": "*/*"})
    signer = SigV4Auth(Credentials("AKIDEXAMPLE", secret), service, "us-east-1")
    if at is None:
        signer.add_auth(request)
    else:
        request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
        signer._modify_request_before_signing(request)
        signer._inject_signature_to_request(
            request, signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        )
    headers = {name.lower(): str(value) for name, value in request.headers.items()}
    headers["host"] = HOST
    return HttpRequest(method, PATH, QUERY, headers, body)


def test_a_request_signed_by_botocore_is_accepted_with_its_key_and_region() -> None:
    caller = verify_sigv4(signed())
    assert (caller.method, caller.access_key_id, caller.region) == ("sigv4", "AKIDEXAMPLE", "us-east-1")


def test_a_signed_body_is_part_of_the_signature() -> None:
    request = signed(method="POST", body=b"--b\r\n\r\npayload\r\n--b--\r\n")
    assert verify_sigv4(request).method == "sigv4"
    tampered = HttpRequest(request.method, request.path, request.query, request.headers, request.body + b"x")
    with pytest.raises(AuthenticationError, match="signature we calculated does not match"):
        verify_sigv4(tampered)


def test_an_unsigned_request_is_refused() -> None:
    with pytest.raises(AuthenticationError) as raised:
        verify_sigv4(HttpRequest("GET", PATH, "", {"host": HOST}, b""))
    assert raised.value.code == "MissingAuthenticationTokenException"


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(AuthenticationError) as raised:
        verify_sigv4(signed(secret="not-the-sandbox-secret"))
    assert raised.value.code == "InvalidSignatureException"


def test_a_request_signed_for_another_service_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="scoped to correct service: 'medical-imaging', not 's3'"):
        verify_sigv4(signed(service="s3"))


def test_a_changed_query_breaks_the_signature() -> None:
    request = signed()
    changed = HttpRequest(request.method, request.path, "limit=1", request.headers, request.body)
    with pytest.raises(AuthenticationError, match="does not match"):
        verify_sigv4(changed)


def test_a_signature_older_than_15_minutes_is_refused() -> None:
    request = signed(at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20))
    with pytest.raises(AuthenticationError, match="Signature expired"):
        verify_sigv4(request)


def test_an_unknown_access_key_is_refused_when_secrets_are_configured() -> None:
    with pytest.raises(AuthenticationError) as raised:
        verify_sigv4(signed(), secrets={"OTHERKEY": "testing"})
    assert raised.value.code == "UnrecognizedClientException"
    assert verify_sigv4(signed(), secrets={"AKIDEXAMPLE": "testing"}).access_key_id == "AKIDEXAMPLE"


# --- bearer tokens -----------------------------------------------------------------------------------------


def jwt(**claims: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def fresh_token() -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    return jwt(sub="reader", iat=now - 60, nbf=now - 60, exp=now + 3600)


ROLE = "arn:aws:iam::123456789012:role/DicomwebReader"


def test_the_authorizer_gets_healthimagings_event_and_its_role_is_the_caller() -> None:
    events: list[dict[str, Any]] = []

    def authorizer(event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return {"isTokenValid": True, "roleArn": ROLE}

    token = fresh_token()
    caller = verify_bearer(token, "d" * 32, "SearchDICOMStudies", authorizer)
    assert events == [{"datastoreId": "d" * 32, "operation": "SearchDICOMStudies", "bearerToken": token}]
    assert (caller.method, caller.role_arn) == ("bearer", ROLE)


def test_a_token_the_authorizer_rejects_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="did not accept the bearer token"):
        verify_bearer(fresh_token(), "d" * 32, "SearchDICOMStudies", lambda event: {"isTokenValid": False})


def test_an_expired_token_is_refused_before_the_authorizer_runs() -> None:
    called: list[object] = []
    now = int(dt.datetime.now(dt.UTC).timestamp())
    token = jwt(iat=now - 7200, exp=now - 60)
    with pytest.raises(AuthenticationError, match=r"expired \(exp\)"):
        verify_bearer(token, "d" * 32, "SearchDICOMStudies", lambda event: called.append(event) or {})
    assert called == []


def test_a_token_issued_more_than_12_hours_ago_is_refused() -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    token = jwt(iat=now - 13 * 3600, exp=now + 3600)
    with pytest.raises(AuthenticationError, match=r"last 12 hours \(iat\)"):
        verify_bearer(token, "d" * 32, "SearchDICOMStudies", lambda event: {"isTokenValid": True, "roleArn": ROLE})


def test_a_bearer_token_without_an_authorizer_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="has no Lambda authorizer"):
        verify_bearer(fresh_token(), "d" * 32, "SearchDICOMStudies", None)


def test_an_authorizer_answer_without_a_role_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="no valid roleArn"):
        verify_bearer(fresh_token(), "d" * 32, "SearchDICOMStudies", lambda event: {"isTokenValid": True})


def test_the_bearer_token_is_read_from_the_authorization_header() -> None:
    assert bearer_token(HttpRequest("GET", PATH, "", {"authorization": "Bearer abc.def.ghi"}, b"")) == "abc.def.ghi"
    assert bearer_token(HttpRequest("GET", PATH, "", {"authorization": "AWS4-HMAC-SHA256 x"}, b"")) is None
