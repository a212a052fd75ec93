"""``ahictl verify`` on a deployed stack whose data store has an authorizer and JPEG 2000 frames: every check passes,
and a loosened resource policy or a changed format fails its own check (moto for Lambda and IAM, the stand-in for
HealthImaging)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ahictl.cli import main
from components import policies
from testkit.fakes.authorizer_function import create_authorizer_function
from testkit.fakes.deployed_stack import DeployedStack

FUNCTION = "ahi-dev-dicomweb-authorizer"


def verify(capsys: pytest.CaptureFixture[str], stack: DeployedStack) -> tuple[int, dict[str, str], dict[str, str]]:
    code = main(["verify", "--outputs", str(stack.outputs_path), "--json"])
    report = json.loads(capsys.readouterr().out)
    return (
        code,
        {c["id"]: c["status"] for c in report["checks"] if c["status"] != "pass"},
        {c["id"]: c["detail"] for c in report["checks"]},
    )


@pytest.fixture
def stack_with_authorizer(deployed_stack: DeployedStack, monkeypatch: pytest.MonkeyPatch) -> tuple[DeployedStack, Any]:
    """The deployed dev stack, its data store created with JPEG 2000 and an authorizer whose resource policy and
    persona role are as the program builds them."""
    stack = deployed_stack
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", stack.env.moto_endpoint)
    iam, lam = stack.env.client("iam"), stack.env.client("lambda")
    function_arn = create_authorizer_function(iam, lam, FUNCTION)
    lam.add_permission(
        FunctionName=FUNCTION,
        StatementId="HealthImagingForThisDatastoreOnly",
        Action="lambda:InvokeFunction",
        Principal="medical-imaging.us-east-1.amazonaws.com",
        SourceArn=stack.datastore_arn,
        SourceAccount=stack.account_id,
    )
    reader = iam.create_role(
        RoleName="ahi-dev-dicomweb-reader",
        AssumeRolePolicyDocument=json.dumps(policies.import_role_trust_policy(stack.account_id, stack.datastore_arn)),
    )["Role"]["Arn"]
    datastore = stack.healthimaging.datastores[stack.datastore_id]
    datastore.lossless_storage_format = "JPEG_2000_LOSSLESS"
    datastore.lambda_authorizer_arn = function_arn
    stack.outputs_path.write_text(
        json.dumps(
            {
                **stack.outputs,
                "datastoreLosslessStorageFormat": "JPEG_2000_LOSSLESS",
                "datastoreLambdaAuthorizerArn": function_arn,
                "dicomwebPersonaRoleArns": {"reader": reader},
            }
        )
    )
    return stack, lam


def test_every_check_passes_and_the_authorizer_checks_run(
    stack_with_authorizer: tuple[DeployedStack, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, _ = stack_with_authorizer
    code, failing, found = verify(capsys, stack)
    assert (code, failing) == (0, {})
    assert found["datastore.lossless-storage-format"] == (
        "the data store stores lossless frames as JPEG_2000_LOSSLESS, as the stack says"
    )
    assert found["authorizer.resource-policy"].startswith("only HealthImaging may invoke")
    assert found["authorizer.reader-role.trust-policy"].endswith("trusts only HealthImaging, for this data store")


def test_a_resource_policy_open_to_the_account_fails_only_its_check(
    stack_with_authorizer: tuple[DeployedStack, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, lam = stack_with_authorizer
    lam.add_permission(
        FunctionName=FUNCTION, StatementId="Anyone", Action="lambda:InvokeFunction", Principal=stack.account_id
    )
    code, failing, found = verify(capsys, stack)
    assert (code, failing) == (1, {"authorizer.resource-policy": "fail"})
    assert "statement Anyone lets" in found["authorizer.resource-policy"]


def test_a_data_store_with_another_format_fails(
    stack_with_authorizer: tuple[DeployedStack, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, _ = stack_with_authorizer
    stack.healthimaging.datastores[stack.datastore_id].lossless_storage_format = "HTJ2K"
    code, failing, _ = verify(capsys, stack)
    assert (code, failing) == (1, {"datastore.lossless-storage-format": "fail"})
