"""Deployment from the plan: the program's own resources created in the sandbox, the rest reported as skipped, the
stack's outputs naming what was created, the sandbox's account and region in place of the stack's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ahictl.stack_files import stack_config
from sandbox.deploy import DeployError, Deployment, deploy_stack, replay_deployment, sandbox_config
from sandbox.deploy_resources import CREATORS
from sandbox.moto_server import ObservedMotoServer
from testkit.fakes.environment import AwsEnv
from testkit.mock_runs import PROJECT_DIR, run_program

ACCOUNT, REGION = "123456789012", "us-east-1"


def write_stack(tmp_path: Path, config: str) -> Path:
    """A copy of the project with one extra stack file."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        (project / name).write_text((PROJECT_DIR / name).read_text())
    (project / "__main__.py").write_text((PROJECT_DIR / "__main__.py").read_text())
    (project / "Pulumi.custom.yaml").write_text(config)
    return project


def test_the_sandbox_config_takes_the_sandbox_account_and_region_and_says_so(tmp_path: Path) -> None:
    project = write_stack(
        tmp_path,
        "config:\n  healthimaging-setup:accountId: '111122223333'\n  healthimaging-setup:region: eu-west-1\n"
        "  aws:region: eu-west-1\n  aws:profile: imaging\n  aws:allowedAccountIds: ['111122223333']\n",
    )
    values, notes = sandbox_config(stack_config(project, "custom"), ACCOUNT, REGION)
    assert values["healthimaging-setup:accountId"] == ACCOUNT
    assert values["healthimaging-setup:region"] == values["aws:region"] == REGION
    assert json.loads(values["aws:allowedAccountIds"]) == [ACCOUNT]
    assert "aws:profile" not in values
    assert "healthimaging-setup:accountId: 111122223333 -> 123456789012 (the sandbox's account)" in notes
    assert "aws:profile: left out (the sandbox takes its own dummy credentials)" in notes
    assert len(notes) == 5


def deploy(aws_env: AwsEnv, stack: str = "dev", project: Path = PROJECT_DIR) -> Deployment:
    return deploy_stack(project, stack, aws_env.endpoints, aws_env.healthimaging, account_id=ACCOUNT, region=REGION)


def test_every_resource_the_plan_declares_is_created_or_reported_skipped(aws_env: AwsEnv) -> None:
    deployment = deploy(aws_env)
    plan = run_program()
    aws_resources = {(r.type, r.name) for r in plan.resources if r.custom and not r.type.startswith("pulumi:")}
    created = {(r.type, r.name) for r in deployment.created}
    skipped = {(s.type, s.name) for s in deployment.skipped}
    assert created | skipped == aws_resources
    assert not created & skipped
    assert {type_ for type_, _ in created} <= set(CREATORS)
    assert not {s.type for s in deployment.skipped} & set(CREATORS)
    assert ("aws:cloudtrail/trail:Trail", "audit-trail") in skipped


def test_the_outputs_are_the_programs_exports_naming_what_was_created(aws_env: AwsEnv) -> None:
    deployment = deploy(aws_env)
    assert sorted(deployment.outputs) == sorted(run_program().outputs)
    outputs = deployment.outputs
    assert (outputs["accountId"], outputs["region"]) == (ACCOUNT, REGION)
    s3, iam, kms = aws_env.client("s3"), aws_env.client("iam"), aws_env.client("kms")
    for name in (outputs["inputBucketName"], outputs["outputBucketName"], outputs["logBucketName"]):
        s3.head_bucket(Bucket=name)
    assert iam.get_role(RoleName=outputs["importRoleArn"].rsplit("/", 1)[1])["Role"]["Arn"] == outputs["importRoleArn"]
    assert kms.describe_key(KeyId=outputs["bucketKmsKeyArn"])["KeyMetadata"]["Arn"] == outputs["bucketKmsKeyArn"]
    datastore = aws_env.healthimaging.datastores[outputs["datastoreId"]]
    assert (datastore.arn, datastore.kms_key_arn) == (outputs["datastoreArn"], outputs["datastoreKmsKeyArn"])


def test_later_resources_reference_the_real_ids(aws_env: AwsEnv) -> None:
    outputs = deploy(aws_env).outputs
    role_name = outputs["importRoleArn"].rsplit("/", 1)[1]
    trust = aws_env.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == outputs["datastoreArn"]
    key_policy = aws_env.client("kms").get_key_policy(KeyId=outputs["datastoreKmsKeyArn"], PolicyName="default")
    assert outputs["datastoreId"] in key_policy["Policy"]
    (rule,) = aws_env.client("s3").get_bucket_encryption(Bucket=outputs["inputBucketName"])[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == outputs["bucketKmsKeyArn"]


def test_the_outputs_json_is_sorted_and_indented_as_pulumi_prints_it(aws_env: AwsEnv) -> None:
    text = deploy(aws_env).outputs_json()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_a_resource_that_cannot_be_created_fails_the_deployment_with_its_name(aws_env: AwsEnv) -> None:
    aws_env.client("iam").create_role(RoleName="ahi-dev-ImportJobDataAccessRole", AssumeRolePolicyDocument="{}")
    with pytest.raises(DeployError) as error:
        deploy(aws_env)
    message = str(error.value)
    assert "aws:iam/role:Role 'import-job-role" in message
    assert "EntityAlreadyExists" in message


def test_a_replay_creates_the_same_resources_with_this_deployments_ids(
    aws_env: AwsEnv, moto_server: ObservedMotoServer
) -> None:
    first = deploy(aws_env)
    moto_server.reset()
    emulator = aws_env.healthimaging
    again = replay_deployment(first, aws_env.endpoints, emulator, account_id=ACCOUNT, region=REGION)
    assert sorted((r.type, r.name) for r in again.created) == sorted((r.type, r.name) for r in first.created)
    assert again.created[-1].type == "aws:s3/bucketLogging:BucketLogging"  # after every policy it may wait for
    assert again.outputs["datastoreId"] != first.outputs["datastoreId"]
    assert again.outputs["datastoreId"] in again.outputs["startImportJobCommand"]
    assert first.outputs["datastoreId"] not in json.dumps(again.outputs)
    role_name = again.outputs["importRoleArn"].rsplit("/", 1)[1]
    trust = aws_env.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == again.outputs["datastoreArn"]
    kms = aws_env.client("kms")
    assert kms.describe_key(KeyId=again.outputs["bucketKmsKeyArn"])["KeyMetadata"]["Enabled"] is True
