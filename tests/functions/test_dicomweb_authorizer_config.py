"""The DICOMweb authorizer's settings from its environment: defaults, and a clear error for each deployment mistake."""

from __future__ import annotations

import json

import pytest

from healthimaging_functions.dicomweb_authorizer.config import (
    AUDIENCES,
    DATASTORE_ID,
    ISSUER,
    JWKS_TIMEOUT_SECONDS,
    JWKS_URI,
    PERSONA_GROUPS,
    PERSONA_ROLE_ARNS,
    TOKEN_USES,
    AuthorizerConfig,
    ConfigurationError,
)

ISSUER_URL = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc/"
READER_ROLE = "arn:aws:iam::111122223333:role/imaging/ahi-dev-dicomweb-reader"


def env(**overrides: str | None) -> dict[str, str]:
    values: dict[str, str | None] = {
        ISSUER: ISSUER_URL,
        AUDIENCES: json.dumps(["client-a"]),
        PERSONA_GROUPS: json.dumps({"reader": ["radiology"]}),
        PERSONA_ROLE_ARNS: json.dumps({"reader": READER_ROLE}),
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def test_the_defaults() -> None:
    settings = AuthorizerConfig.from_environment(env())
    assert settings.jwks_uri == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc/.well-known/jwks.json"
    assert settings.groups_claim == "cognito:groups"
    assert settings.token_uses == ("access",)
    assert settings.datastore_id is None
    assert settings.jwks_timeout_seconds == 0.5
    assert settings.persona_groups == {"reader": ("radiology",)}
    assert settings.persona_role_arns == {"reader": READER_ROLE}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({ISSUER: None}, "lacks OIDC_ISSUER"),
        ({ISSUER: "http://idp.example.org"}, "OIDC_ISSUER = 'http://idp.example.org' is not an https URL"),
        ({AUDIENCES: "[]"}, "OIDC_AUDIENCES lists no audience"),
        ({AUDIENCES: "client-a"}, "OIDC_AUDIENCES is not JSON"),
        ({JWKS_URI: "http://idp.example.org/jwks"}, "OIDC_JWKS_URI = 'http://idp.example.org/jwks' is not an https"),
        ({PERSONA_GROUPS: json.dumps({"owner": ["x"]})}, "PERSONA_GROUPS = "),
        ({PERSONA_GROUPS: json.dumps({"reader": []})}, "to non-empty lists of group names"),
        ({PERSONA_ROLE_ARNS: json.dumps({})}, "PERSONA_ROLE_ARNS must name one role for each persona"),
        ({PERSONA_ROLE_ARNS: json.dumps({"reader": "reader"})}, "the reader role 'reader' is not an IAM role ARN"),
        ({TOKEN_USES: "refresh"}, "OIDC_TOKEN_USES = 'refresh': give 'access', 'id' or both"),
        ({DATASTORE_ID: "store"}, "DATASTORE_ID = 'store' is not a data store ID"),
        ({JWKS_TIMEOUT_SECONDS: "2"}, "JWKS_TIMEOUT_SECONDS = '2' is not a number of seconds above 0 and at most 0.9"),
    ],
)
def test_a_deployment_mistake_is_named(overrides: dict[str, str | None], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        AuthorizerConfig.from_environment(env(**overrides))
    assert message in str(raised.value)


def test_loopback_http_is_accepted_for_a_local_key_set() -> None:
    settings = AuthorizerConfig.from_environment(env(**{JWKS_URI: "http://127.0.0.1:8080/jwks.json"}))
    assert settings.jwks_uri == "http://127.0.0.1:8080/jwks.json"
