"""The rules of the data store's creation-time options, as pure functions (no mocks)."""

from __future__ import annotations

from typing import Any

import pytest

from components.datastore import validate_datastore_args
from components.datastore_options import (
    creation_option_problems,
    default_jwks_uri,
    dicomweb_oidc_problems,
    lambda_authorizer_arn_problems,
    uses_created_datastore,
)
from components.dicomweb_authorizer import validate_dicomweb_authorizer_args

ACCOUNT = "111122223333"
REGION = "us-east-1"
AUTHORIZER_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-authorizer"
OIDC: dict[str, Any] = {
    "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    "audiences": ["viewer-client"],
    "personas": {"reader": ["radiology"], "admin": ["imaging-admins"]},
}


def args(**overrides: Any) -> dict[str, Any]:
    return {"account_id": ACCOUNT, "region": REGION, "datastore_name": "images", "name_prefix": "ahi-dev", **overrides}


def problems_of(**overrides: Any) -> list[str]:
    return validate_datastore_args(args(**overrides))


def test_the_valid_options_have_no_problem() -> None:
    assert problems_of(lossless_storage_format="JPEG_2000_LOSSLESS") == []
    assert problems_of(dicomweb_oidc=OIDC) == []
    assert problems_of(lambda_authorizer_arn=AUTHORIZER_ARN) == []
    assert problems_of(lambda_authorizer_arn=f"{AUTHORIZER_ARN}:live") == []
    assert (
        problems_of(dicomweb_oidc={**OIDC, "jwks_uri": "https://keys.example.org/jwks", "provisioned_concurrency": 0})
        == []
    )


def test_a_format_other_than_the_two_is_refused_naming_both() -> None:
    [problem] = problems_of(lossless_storage_format="JPEG2000")
    assert problem == "lossless_storage_format = 'JPEG2000' is not one of: 'HTJ2K', 'JPEG_2000_LOSSLESS'."


def test_an_issuer_without_https_is_refused() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "issuer": "http://login.example.org"})
    assert problem.startswith("dicomweb_oidc.issuer = 'http://login.example.org': the issuer must be an https URL")


def test_no_audience_is_refused() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "audiences": []})
    assert problem.startswith("dicomweb_oidc.audiences = []: give at least one audience (the app client IDs")


def test_an_unknown_persona_is_refused_naming_the_known_ones() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "personas": {"viewer": ["radiology"]}})
    assert problem == (
        "dicomweb_oidc.personas names the persona 'viewer', which does not exist; the personas are 'admin', "
        "'importer', 'reader'."
    )


def test_a_persona_without_groups_is_refused() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "personas": {"reader": []}})
    assert problem.startswith("dicomweb_oidc.personas.reader = []: give at least one group")


def test_an_unknown_field_is_refused() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "client_secret": "x"})
    assert problem.startswith("dicomweb_oidc.client_secret is not a field of dicomweb_oidc")


def test_a_provisioned_concurrency_out_of_range_is_refused() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "provisioned_concurrency": 11})
    assert problem == (
        "dicomweb_oidc.provisioned_concurrency = 11: expected a whole number from 0 to 10 (the authorizer's reserved "
        "concurrency: Lambda keeps no more copies ready than the function may run)."
    )


def test_both_authorizers_are_refused_naming_both() -> None:
    [problem] = problems_of(dicomweb_oidc=OIDC, lambda_authorizer_arn=AUTHORIZER_ARN)
    assert problem.startswith("dicomweb_oidc and lambda_authorizer_arn are both set: a data store has one authorizer")


def test_a_malformed_authorizer_arn_is_refused() -> None:
    [problem] = problems_of(lambda_authorizer_arn="my-authorizer")
    assert problem.startswith("lambda_authorizer_arn = 'my-authorizer' is not a Lambda function ARN")


def test_an_authorizer_of_another_account_or_region_is_refused() -> None:
    other = "arn:aws:lambda:eu-west-1:444455556666:function:theirs"
    problems = lambda_authorizer_arn_problems("lambdaAuthorizerArn", other, account_id=ACCOUNT, region=REGION)
    assert [p.split(":", 1)[0] for p in problems] == ["lambdaAuthorizerArn = 'arn", "lambdaAuthorizerArn = 'arn"]
    assert "is a function of account 444455556666, not of this account 111122223333" in problems[0]
    assert "is a function of region eu-west-1, not of the data store's region us-east-1" in problems[1]


def test_the_creator_needs_a_name_prefix() -> None:
    [problem] = validate_datastore_args(
        {
            "account_id": ACCOUNT,
            "region": REGION,
            "datastore_name": "images",
            "lossless_storage_format": "JPEG_2000_LOSSLESS",
        }
    )
    assert problem.startswith("name_prefix is not set: with lossless_storage_format = 'JPEG_2000_LOSSLESS'")


def test_every_problem_is_reported_in_one_run_with_the_names_a_person_set() -> None:
    names = {
        "lossless_storage_format": "datastoreLosslessStorageFormat",
        "dicomweb_oidc": "dicomwebOidc",
        "lambda_authorizer_arn": "datastoreLambdaAuthorizerArn",
        "dicomweb_oidc.jwks_uri": "dicomwebOidc.jwksUri",
    }
    problems = creation_option_problems(
        args(
            lossless_storage_format="PNG",
            dicomweb_oidc={"issuer": "ftp://x", "personas": {"viewer": []}, "jwks_uri": "http://k"},
            lambda_authorizer_arn="arn:aws:lambda:us-east-1:444455556666:function:x",
        ),
        lambda arg: names.get(arg, arg),
    )
    text = "\n".join(problems)
    for expected in (
        "datastoreLosslessStorageFormat = 'PNG'",
        "dicomwebOidc and datastoreLambdaAuthorizerArn are both set",
        "dicomwebOidc.issuer = 'ftp://x'",
        "dicomwebOidc.audiences = None",
        "dicomwebOidc.jwksUri = 'http://k'",
        "dicomwebOidc.personas names the persona 'viewer'",
        "dicomwebOidc.personas.viewer = []",
        "datastoreLambdaAuthorizerArn = 'arn:aws:lambda:us-east-1:444455556666:function:x' is a function of account",
    ):
        assert expected in text
    assert len(problems) == 8


@pytest.mark.parametrize(
    ("overrides", "created"),
    [
        ({}, False),
        ({"lossless_storage_format": "HTJ2K"}, False),
        ({"lossless_storage_format": "JPEG_2000_LOSSLESS"}, True),
        ({"lambda_authorizer_arn": AUTHORIZER_ARN}, True),
        ({"dicomweb_oidc": OIDC}, True),
        ({"dicomweb_oidc": {}, "lambda_authorizer_arn": ""}, False),
    ],
)
def test_only_an_option_beyond_the_aws_native_resource_uses_the_creator(
    overrides: dict[str, Any], created: bool
) -> None:
    assert uses_created_datastore(overrides) is created


def test_the_default_jwks_location_is_below_the_issuer() -> None:
    assert default_jwks_uri("https://login.example.org/") == "https://login.example.org/.well-known/jwks.json"


def test_a_mapping_is_required() -> None:
    [problem] = dicomweb_oidc_problems("dicomwebOidc", "https://login.example.org")
    assert problem.startswith("dicomwebOidc = 'https://login.example.org': expected a mapping with issuer")


@pytest.mark.parametrize(
    "field",
    [
        {"issuer": "http://login.example.org"},
        {"audiences": "viewer-client"},
        {"jwks_uri": "ftp://keys.example.org"},
        {"groups_claim": " "},
        {"personas": {"guest": ["g"], "reader": []}},
    ],
)
def test_dicomweb_oidc_follows_the_authorizers_own_rules_word_for_word(field: dict[str, Any]) -> None:
    # Provisioned concurrency differs on purpose: the data store leaves the reserved concurrency at its default.
    oidc = {**OIDC, **field}
    through_the_data_store = problems_of(dicomweb_oidc=oidc)
    names = {argument: f"dicomweb_oidc.{argument}" for argument in oidc}
    authorizer_args = {"account_id": ACCOUNT, "region": REGION, "name_prefix": "ahi-dev", **oidc}
    assert through_the_data_store
    assert through_the_data_store == validate_dicomweb_authorizer_args(authorizer_args, names)


def test_a_jwks_location_may_have_a_query_but_an_issuer_may_not() -> None:
    assert problems_of(dicomweb_oidc={**OIDC, "jwks_uri": "https://login.example.org/keys?client_id=viewer"}) == []
    [problem] = problems_of(dicomweb_oidc={**OIDC, "issuer": "https://login.example.org/?tenant=x"})
    assert problem == (
        "dicomweb_oidc.issuer = 'https://login.example.org/?tenant=x': the issuer must have no query, fragment, "
        "user name or password."
    )


def test_a_jwks_location_with_credentials_is_refused() -> None:
    [problem] = problems_of(dicomweb_oidc={**OIDC, "jwks_uri": "https://user:pw@login.example.org/keys"})
    assert problem.startswith("dicomweb_oidc.jwks_uri = 'https://user:pw@login.example.org/keys': the JWKS location")
    assert problem.endswith("must have no fragment, user name or password.")


def test_settings_too_long_for_the_authorizers_environment_are_refused_before_anything_is_built() -> None:
    many = {"reader": [f"group-with-a-rather-long-name-{i}" for i in range(150)]}
    names = {"dicomweb_oidc": "dicomwebOidc", "dicomweb_oidc.personas": "dicomwebOidc.personas"}
    problems = creation_option_problems(args(dicomweb_oidc={**OIDC, "personas": many}), lambda a: names.get(a, a))
    assert len(problems) == 1
    assert problems[0].startswith("dicomwebOidc.personas and dicomwebOidc.audiences make the function's settings")
    assert "more than the 4096 Lambda allows" in problems[0]
