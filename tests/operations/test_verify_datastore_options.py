"""``ahictl verify``'s checks of the creation-time options and the authorizer: against moto (Lambda GetPolicy, IAM)
and the HealthImaging stand-in, and the resource-policy rules on recorded documents."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest

from ahiops import verify
from ahiops.checks_datastore_options import (
    authorizer_policy_problems,
    check_authorizer,
    check_authorizer_policy,
    check_lossless_storage_format,
    check_persona_role,
)
from ahiops.stack_outputs import StackOutputs, outputs_from_mapping
from ahiops.verify_context import FailedCheckError, VerifyContext
from components import policies
from sandbox.healthimaging import HealthImagingEmulator
from testkit.fakes import MOTO_ACCOUNT_ID
from testkit.fakes.authorizer_function import create_authorizer_function
from testkit.fakes.environment import AwsEnv

REGION = "us-east-1"
FUNCTION = "ahi-dev-dicomweb-authorizer"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{MOTO_ACCOUNT_ID}:function:{FUNCTION}"
DATASTORE_ARN = f"arn:aws:medical-imaging:{REGION}:{MOTO_ACCOUNT_ID}:datastore/{'a' * 32}"


def resource_policy(**condition_overrides: Any) -> dict[str, Any]:
    """A function policy as Lambda's GetPolicy returns it after AddPermission with SourceAccount and SourceArn."""
    condition: dict[str, Any] = {
        "StringEquals": {"AWS:SourceAccount": MOTO_ACCOUNT_ID},
        "ArnLike": {"AWS:SourceArn": DATASTORE_ARN},
    }
    condition.update(condition_overrides)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "HealthImagingOnly",
                "Effect": "Allow",
                "Principal": {"Service": f"medical-imaging.{REGION}.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": FUNCTION_ARN,
                "Condition": {k: v for k, v in condition.items() if v is not None},
            }
        ],
    }


def problems(document: dict[str, Any]) -> list[str]:
    return authorizer_policy_problems(document, account_id=MOTO_ACCOUNT_ID, region=REGION, datastore_arn=DATASTORE_ARN)


# --- the rules, on recorded answers ------------------------------------------------------------------------------


def test_healthimaging_for_this_account_and_data_store_only_passes() -> None:
    assert problems(resource_policy()) == []


def test_a_policy_without_the_data_store_condition_fails() -> None:
    [problem] = problems(resource_policy(ArnLike=None))
    assert "has no aws:SourceArn condition, so it does not limit which data store may invoke the function" in problem


def test_a_policy_for_another_data_store_fails() -> None:
    other = DATASTORE_ARN.replace("a" * 32, "b" * 32)
    [problem] = problems(resource_policy(ArnLike={"AWS:SourceArn": other}))
    assert f"aws:SourceArn is {other}, expected exactly {DATASTORE_ARN}" in problem


def test_a_wildcard_data_store_fails() -> None:
    [problem] = problems(resource_policy(ArnLike={"AWS:SourceArn": DATASTORE_ARN.replace("a" * 32, "*")}))
    assert "expected exactly" in problem


def test_a_policy_without_the_account_condition_fails() -> None:
    [problem] = problems(resource_policy(StringEquals=None))
    assert "has no aws:SourceAccount condition" in problem


def test_another_principal_fails() -> None:
    document = resource_policy()
    document["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "lambda:InvokeFunction", "Resource": FUNCTION_ARN}
    )
    [problem] = problems(document)
    assert (
        problem
        == "statement 2 lets {'AWS': '*'} invoke the function; only HealthImaging (medical-imaging.us-east-1.amazonaws.com) may"
    )


def test_a_policy_that_allows_nothing_fails() -> None:
    assert problems({"Statement": []}) == [
        "the function's resource policy lets nobody invoke it, so HealthImaging cannot ask it about a token"
    ]


# --- against moto and the stand-in -------------------------------------------------------------------------------


@pytest.fixture
def lambda_in_moto(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", aws_env.moto_endpoint)
    client = aws_env.client("lambda")
    create_authorizer_function(aws_env.client("iam"), client, FUNCTION)
    return client


def stack_outputs(datastore_id: str, datastore_arn: str, **extra: Any) -> StackOutputs:
    return outputs_from_mapping(
        {
            "accountId": MOTO_ACCOUNT_ID,
            "region": REGION,
            "inputBucketName": "in-bucket",
            "outputBucketName": "out-bucket",
            "datastoreId": datastore_id,
            "datastoreArn": datastore_arn,
            "importRoleArn": f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/import",
            **extra,
        },
        "test outputs",
    )


def context(outputs: StackOutputs) -> VerifyContext:
    return VerifyContext(outputs, boto3.session.Session(region_name=REGION))


def test_the_format_and_authorizer_checks_compare_getdatastore_with_the_outputs(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator
) -> None:
    datastore_id, arn = healthimaging.create_datastore(
        "ds", lossless_storage_format="JPEG_2000_LOSSLESS", lambda_authorizer_arn=FUNCTION_ARN
    )
    outputs = stack_outputs(
        datastore_id,
        arn,
        datastoreLosslessStorageFormat="JPEG_2000_LOSSLESS",
        datastoreLambdaAuthorizerArn=FUNCTION_ARN,
    )
    assert check_lossless_storage_format(context(outputs)).status == "pass"
    assert check_authorizer(context(outputs)).status == "pass"

    older = replace(outputs, datastore_lossless_storage_format="HTJ2K", datastore_lambda_authorizer_arn=None)
    fmt, authorizer = check_lossless_storage_format(context(older)), check_authorizer(context(older))
    assert (fmt.status, authorizer.status) == ("fail", "fail")
    assert fmt.detail.startswith(
        "the data store stores lossless frames as JPEG_2000_LOSSLESS, but the stack says HTJ2K"
    )
    assert authorizer.detail.startswith(f"the data store's authorizer is {FUNCTION_ARN}, but the stack says none")


def test_the_resource_policy_check_reads_lambdas_policy_from_moto(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, lambda_in_moto: Any
) -> None:
    datastore_id, arn = healthimaging.create_datastore("ds", lambda_authorizer_arn=FUNCTION_ARN)
    outputs = stack_outputs(datastore_id, arn, datastoreLambdaAuthorizerArn=FUNCTION_ARN)
    lambda_in_moto.add_permission(
        FunctionName=FUNCTION,
        StatementId="HealthImagingOnly",
        Action="lambda:InvokeFunction",
        Principal=f"medical-imaging.{REGION}.amazonaws.com",
        SourceArn=arn,
        SourceAccount=MOTO_ACCOUNT_ID,
    )
    outcome = check_authorizer_policy(context(outputs))
    assert (outcome.status, outcome.detail) == (
        "pass",
        f"only HealthImaging may invoke {FUNCTION_ARN}, for this account and data store",
    )
    # A second statement for anyone in the account: the check fails.
    lambda_in_moto.add_permission(
        FunctionName=FUNCTION, StatementId="Anyone", Action="lambda:InvokeFunction", Principal=MOTO_ACCOUNT_ID
    )
    outcome = check_authorizer_policy(context(outputs))
    assert outcome.status == "fail"
    assert "statement Anyone lets" in outcome.detail


def test_a_missing_authorizer_function_fails(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", aws_env.moto_endpoint)
    datastore_id, arn = healthimaging.create_datastore("ds", lambda_authorizer_arn=FUNCTION_ARN)
    outputs = stack_outputs(datastore_id, arn, datastoreLambdaAuthorizerArn=FUNCTION_ARN)
    with pytest.raises(
        FailedCheckError, match=f"the authorizer {FUNCTION_ARN} has no resource policy or does not exist"
    ):
        check_authorizer_policy(context(outputs))


def test_persona_roles_must_trust_healthimaging_for_this_data_store_only(
    aws_env: AwsEnv, healthimaging: HealthImagingEmulator
) -> None:
    datastore_id, arn = healthimaging.create_datastore("ds")
    iam = aws_env.client("iam")
    good = iam.create_role(
        RoleName="ahi-dev-dicomweb-reader",
        AssumeRolePolicyDocument=json.dumps(policies.import_role_trust_policy(MOTO_ACCOUNT_ID, arn)),
    )["Role"]["Arn"]
    loose_trust = policies.import_role_trust_policy(MOTO_ACCOUNT_ID, arn)
    del loose_trust["Statement"][0]["Condition"]["ArnEquals"]
    loose = iam.create_role(RoleName="ahi-dev-dicomweb-admin", AssumeRolePolicyDocument=json.dumps(loose_trust))[
        "Role"
    ]["Arn"]
    outputs = stack_outputs(datastore_id, arn, dicomwebPersonaRoleArns={"reader": good, "admin": loose})
    assert check_persona_role(context(outputs), "reader", good).status == "pass"
    outcome = check_persona_role(context(outputs), "admin", loose)
    assert outcome.status == "fail"
    assert "has no aws:SourceArn condition" in outcome.detail

    planned = [check.id for check in verify.planned_checks(context(outputs))]
    assert {"authorizer.reader-role.trust-policy", "authorizer.admin-role.trust-policy"} <= set(planned)
    assert "authorizer.resource-policy" not in planned  # no authorizer in these outputs


def test_outputs_without_the_new_keys_mean_the_defaults() -> None:
    outputs = stack_outputs("a" * 32, DATASTORE_ARN)
    assert (
        outputs.datastore_lossless_storage_format,
        outputs.datastore_lambda_authorizer_arn,
        dict(outputs.dicomweb_persona_role_arns),
    ) == ("HTJ2K", None, {})
