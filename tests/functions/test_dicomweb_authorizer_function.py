"""The DICOMweb authorizer with real tokens: RS256 and ES256 tokens signed here by local keys, the issuer's key set
served on 127.0.0.1 (testkit/oidc.py), every refusal HealthImaging's contract names, and logs without the token."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from healthimaging_functions.dicomweb_authorizer import config, handler
from healthimaging_functions.dicomweb_authorizer.decision import Authorizer, groups_of
from healthimaging_functions.dicomweb_authorizer.jwks import JwksCache
from testkit.oidc import AUDIENCE, ISSUER, IssuerKeys, JwksServer, serving_jwks

pytestmark = pytest.mark.server  # a JWKS server on loopback

DATASTORE_ID = "0123456789abcdef0123456789abcdef"
ROLES = {
    "admin": "arn:aws:iam::111122223333:role/ahi-dev-dicomweb-admin",
    "importer": "arn:aws:iam::111122223333:role/ahi-dev-dicomweb-importer",
    "reader": "arn:aws:iam::111122223333:role/ahi-dev-dicomweb-reader",
}
GROUPS = {"admin": ["imaging-admins"], "importer": ["imaging-importers"], "reader": ["radiology", "cardiology"]}
REFUSED = {"isTokenValid": False}


@pytest.fixture(scope="module")
def keys() -> IssuerKeys:
    return IssuerKeys()


@pytest.fixture
def jwks(keys: IssuerKeys) -> Iterator[JwksServer]:
    with serving_jwks(keys.jwks()) as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def environment(jwks_uri: str, **overrides: str) -> dict[str, str]:
    env = {
        config.ISSUER: ISSUER,
        config.AUDIENCES: json.dumps([AUDIENCE, "other-client"]),
        config.JWKS_URI: jwks_uri,
        config.PERSONA_GROUPS: json.dumps(GROUPS),
        config.PERSONA_ROLE_ARNS: json.dumps(ROLES),
        config.DATASTORE_ID: DATASTORE_ID,
    }
    env.update(overrides)
    return env


def authorizer(jwks: JwksServer, clock: Clock | None = None, **overrides: str) -> Authorizer:
    settings = config.AuthorizerConfig.from_environment(environment(jwks.url, **overrides))
    cache = JwksCache(settings.jwks_uri, settings.jwks_timeout_seconds, clock=clock or Clock())
    return Authorizer(settings, cache)


def event(token: str, datastore_id: str = DATASTORE_ID) -> dict[str, Any]:
    return {"datastoreId": datastore_id, "operation": "SearchDICOMStudies", "bearerToken": token}


def decide(auth: Authorizer, token: str, **kwargs: Any) -> dict[str, Any]:
    return handler.handle(event(token, **kwargs), authorizer=auth)


# --- Valid tokens --------------------------------------------------------------------------------------------------


def test_an_rs256_access_token_of_a_reader_gets_the_reader_role(keys: IssuerKeys, jwks: JwksServer) -> None:
    assert decide(authorizer(jwks), keys.rs256()) == {"isTokenValid": True, "roleArn": ROLES["reader"]}


def test_an_es256_token_verifies_with_a_key_whose_jwk_names_no_algorithm(keys: IssuerKeys, jwks: JwksServer) -> None:
    token = keys.es256(**{"cognito:groups": ["imaging-importers"]})
    assert decide(authorizer(jwks), token) == {"isTokenValid": True, "roleArn": ROLES["importer"]}


def test_a_caller_in_several_groups_gets_the_most_privileged_persona(keys: IssuerKeys, jwks: JwksServer) -> None:
    token = keys.rs256(**{"cognito:groups": ["radiology", "imaging-admins", "imaging-importers"]})
    assert decide(authorizer(jwks), token) == {"isTokenValid": True, "roleArn": ROLES["admin"]}


def test_an_id_token_with_aud_is_accepted_when_id_tokens_are(keys: IssuerKeys, jwks: JwksServer) -> None:
    token = keys.rs256(aud=["other-client", "x"], client_id=None, token_use="id")
    assert decide(authorizer(jwks, **{config.TOKEN_USES: "access,id"}), token)["isTokenValid"] is True


def test_a_token_without_token_use_from_another_provider_is_accepted(keys: IssuerKeys, jwks: JwksServer) -> None:
    token = keys.rs256(aud=AUDIENCE, client_id=None, token_use=None, groups="radiology other")
    assert decide(authorizer(jwks, **{config.GROUPS_CLAIM: "groups"}), token)["roleArn"] == ROLES["reader"]


def test_groups_may_be_a_list_or_a_string_separated_by_spaces_or_commas() -> None:
    assert groups_of(["a", "b", 3, ""]) == {"a", "b"}
    assert groups_of("a, b c,,d") == {"a", "b", "c", "d"}
    assert groups_of({"a": 1}) == set()


def test_the_key_set_is_fetched_once_for_many_decisions(keys: IssuerKeys, jwks: JwksServer) -> None:
    auth = authorizer(jwks)
    for _ in range(5):
        assert decide(auth, keys.rs256())["isTokenValid"] is True
        assert decide(auth, keys.es256())["isTokenValid"] is True
    assert jwks.requests == 1


def test_the_handler_reads_its_settings_from_the_environment(
    keys: IssuerKeys, jwks: JwksServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment(jwks.url).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler, "_shared", None)
    assert handler.handle(event(keys.rs256())) == {"isTokenValid": True, "roleArn": ROLES["reader"]}
    assert handler.handle(event(keys.rs256())) == {"isTokenValid": True, "roleArn": ROLES["reader"]}
    assert jwks.requests == 1


# --- Refusals ------------------------------------------------------------------------------------------------------


def refusal(auth: Authorizer, token: str, caplog: pytest.LogCaptureFixture, **kwargs: Any) -> str:
    """Decide, assert the token is refused, and return the logged reason."""
    with caplog.at_level(logging.INFO, logger="dicomweb_authorizer"):
        assert decide(auth, token, **kwargs) == REFUSED
    records = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    decision = [r for r in records if "decision" in r][-1]
    assert decision["decision"] == "refused"
    return str(decision["reason"])


def test_a_bad_signature_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    forged = IssuerKeys().rs256()  # another key, the same kid
    assert "signature does not verify" in refusal(authorizer(jwks), forged, caplog)


def test_a_wrong_issuer_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    token = keys.rs256(iss="https://login.example.org/")
    assert "issuer is not the configured one" in refusal(authorizer(jwks), token, caplog)


def test_a_wrong_audience_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    token = keys.rs256(client_id="someone-else", aud=["also-not"])
    assert "none of the configured audiences" in refusal(authorizer(jwks), token, caplog)


def test_an_expired_token_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    claims = keys.claims()
    token = keys.rs256(iat=claims["iat"] - 7200, exp=claims["iat"] - 3600)
    assert "expired" in refusal(authorizer(jwks), token, caplog)


def test_a_token_not_valid_yet_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    token = keys.rs256(nbf=keys.claims()["iat"] + 600)
    assert "not valid yet" in refusal(authorizer(jwks), token, caplog)


def test_a_token_issued_more_than_12_hours_ago_is_refused(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    now = keys.claims()["iat"]
    token = keys.rs256(iat=now - 12 * 3600 - 120, exp=now + 3600)
    assert "more than 12 hours ago" in refusal(authorizer(jwks), token, caplog)


def test_a_token_without_iat_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    assert 'MissingRequiredClaimError: Token is missing the "iat" claim' in refusal(
        authorizer(jwks), keys.rs256(iat=None), caplog
    )


def test_alg_none_is_refused(keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture) -> None:
    assert "algorithm 'none' is not accepted" in refusal(authorizer(jwks), keys.unsigned(), caplog)
    assert jwks.requests == 0  # refused before any key is looked up


def test_hs256_signed_with_the_public_key_is_refused(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert "algorithm 'HS256' is not accepted" in refusal(authorizer(jwks), keys.hs256_with_public_key(), caplog)


def test_the_header_cannot_choose_an_algorithm_the_key_does_not_sign_with(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A valid RS256 signature, but presented under the EC key's kid; and PS256 for a key that declares RS256.
    import jwt

    under_ec_kid = jwt.encode(keys.claims(), keys.rsa_key, algorithm="RS256", headers={"kid": "ec-1"})
    assert "does not sign with RS256" in refusal(authorizer(jwks), under_ec_kid, caplog)
    ps256 = jwt.encode(keys.claims(), keys.rsa_key, algorithm="PS256", headers={"kid": "rsa-1"})
    assert "does not sign with PS256" in refusal(authorizer(jwks), ps256, caplog)


def test_an_unknown_kid_fetches_the_key_set_once_more_then_is_refused(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    import jwt

    clock = Clock()
    auth = authorizer(jwks, clock)
    assert decide(auth, keys.rs256())["isTokenValid"] is True
    assert jwks.requests == 1
    rotated = IssuerKeys()
    token = jwt.encode(keys.claims(), rotated.rsa_key, algorithm="RS256", headers={"kid": "rsa-2"})
    clock.now += 60
    assert "has no key 'rsa-2'" in refusal(auth, token, caplog)
    assert jwks.requests == 2
    # Right after that fetch, another unknown kid does not fetch again.
    assert "has no key 'rsa-2'" in refusal(auth, token, caplog)
    assert jwks.requests == 2


def test_a_key_the_issuer_adds_is_found_by_the_fetch_an_unknown_kid_makes(keys: IssuerKeys, jwks: JwksServer) -> None:
    import jwt
    from jwt.algorithms import RSAAlgorithm

    clock = Clock()
    auth = authorizer(jwks, clock)
    assert decide(auth, keys.rs256())["isTokenValid"] is True
    rotated = IssuerKeys()
    new_jwk = {**RSAAlgorithm.to_jwk(rotated.rsa_key.public_key(), as_dict=True), "kid": "rsa-2", "alg": "RS256"}
    jwks.document = {"keys": [*keys.jwks()["keys"], new_jwk]}
    clock.now += 60
    token = jwt.encode(keys.claims(), rotated.rsa_key, algorithm="RS256", headers={"kid": "rsa-2"})
    assert decide(auth, token) == {"isTokenValid": True, "roleArn": ROLES["reader"]}
    assert jwks.requests == 2


def test_a_caller_in_no_mapped_group_is_refused(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    token = keys.rs256(**{"cognito:groups": ["billing"]})
    assert "none of the caller's groups (claim 'cognito:groups') maps to a persona" in refusal(
        authorizer(jwks), token, caplog
    )


def test_a_request_for_another_data_store_is_refused(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    reason = refusal(authorizer(jwks), keys.rs256(), caplog, datastore_id="f" * 32)
    assert f"data store {'f' * 32!r}, not {DATASTORE_ID}" in reason


def test_an_id_token_is_refused_when_only_access_tokens_are_accepted(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    token = keys.rs256(aud=AUDIENCE, token_use="id")
    assert "token_use 'id' is not accepted" in refusal(authorizer(jwks), token, caplog)


def test_a_key_set_that_cannot_be_fetched_refuses(keys: IssuerKeys, caplog: pytest.LogCaptureFixture) -> None:
    with serving_jwks({}) as gone:
        url = gone.url
    settings = config.AuthorizerConfig.from_environment(environment(url))
    auth = Authorizer(settings, JwksCache(url, 0.2))
    assert "could not be fetched" in refusal(auth, keys.rs256(), caplog)


def test_a_misconfigured_function_refuses(keys: IssuerKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.ISSUER, raising=False)
    monkeypatch.setattr(handler, "_shared", None)
    assert handler.handle(event(keys.rs256())) == REFUSED


def test_the_logs_never_hold_the_token_nor_claims_beyond_sub_and_iss(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    auth = authorizer(jwks)
    tokens = [
        keys.rs256(),
        keys.es256(),
        IssuerKeys().rs256(),
        keys.rs256(iss="https://elsewhere.example.org"),
        keys.rs256(**{"cognito:groups": ["billing"]}),
        keys.unsigned(),
        keys.hs256_with_public_key(),
        "not-a-jwt",
    ]
    with caplog.at_level(logging.DEBUG):
        for token in tokens:
            decide(auth, token)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert len(caplog.records) >= len(tokens)
    for token in tokens:
        assert token not in logged
        assert token.split(".")[0] not in logged or token == "not-a-jwt"
    assert "patient.zero@example.org" not in logged
    assert "0f1e2d3c-user" in logged  # sub is logged for verified tokens


def test_an_oversized_token_is_refused_unread(
    keys: IssuerKeys, jwks: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert "longer than 16384 characters" in refusal(authorizer(jwks), "e" * 20_000, caplog)
    assert jwks.requests == 0


def test_a_key_set_redirected_to_another_scheme_is_not_followed(keys: IssuerKeys, jwks: JwksServer) -> None:
    from healthimaging_functions.dicomweb_authorizer.jwks import fetch_jwks

    with serving_jwks(keys.jwks()) as second:
        jwks.redirect = second.url  # same scheme: followed
        assert json.loads(fetch_jwks(jwks.url, 1.0)) == keys.jwks()
        jwks.redirect = second.url.replace("http://", "ftp://")
        with pytest.raises(OSError, match="redirect to another scheme refused"):
            fetch_jwks(jwks.url, 1.0)
        assert second.requests == 1
