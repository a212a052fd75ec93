"""The whole program, run under mocks with Pulumi.dev.yaml and with variations of it."""

from __future__ import annotations

import json
import shlex

import pytest

from ahictl import mockrun
from ahictl.mockrun import ProgramRun
from components import InvalidInputError
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, PROJECT_DIR, dev_config, policy_of, run_program

DATASTORE = "aws-native:healthimaging:Datastore"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
KEY_ARN = f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DATA_RESOURCE_TYPES = (DATASTORE, BUCKET, KEY)


def _bucket_and_datastore_keys(run: ProgramRun) -> list[mockrun.PlannedResource]:
    """The keys of the bucket pair and the data store (the import alerts and the audit trail have keys of their own)."""
    return [r for r in run.by_type(KEY) if r.parent_name in ("import-buckets", "datastore")]


def test_both_providers_are_pinned_to_the_stacks_account_and_region(dev_run: ProgramRun) -> None:
    aws = dev_run.one("pulumi:providers:aws")
    native = dev_run.one("pulumi:providers:aws-native")
    for provider in (aws, native):
        assert provider.inputs["region"] == DEV_REGION
        assert json.loads(provider.inputs["allowedAccountIds"]) == [DEV_ACCOUNT]


def test_default_tags_reach_aws_resources_but_never_the_aws_native_provider(dev_run: ProgramRun) -> None:
    aws = dev_run.one("pulumi:providers:aws")
    assert json.loads(aws.inputs["defaultTags"]) == {
        "tags": {"project": "healthimaging-setup", "environment": "dev", "data-classification": "phi"}
    }
    assert "defaultTags" not in dev_run.one("pulumi:providers:aws-native").inputs


def test_every_resource_uses_an_explicit_provider(dev_run: ProgramRun) -> None:
    for resource in dev_run.resources:
        if resource.custom and not resource.type.startswith("pulumi:providers:"):
            expected = "aws-native" if resource.type.startswith("aws-native:") else "aws"
            assert resource.provider_name == expected, resource.name


def test_data_store_buckets_and_keys_are_protected_and_retained(dev_run: ProgramRun) -> None:
    protected = [r for r in dev_run.resources if r.type in DATA_RESOURCE_TYPES]
    # The data store; the input, output, log and audit buckets; the keys of the buckets, the data store, the
    # import alerts and the audit trail.
    assert len(protected) == 1 + 4 + 4
    for resource in protected:
        assert (resource.protect, resource.retain_on_delete) == (True, True), resource.name


def test_dev_stack_creates_what_the_guide_describes(dev_run: ProgramRun) -> None:
    assert len(dev_run.by_type(DATASTORE)) == 1
    assert {r.name for r in dev_run.by_type(BUCKET)} == {
        "import-buckets-input",
        "import-buckets-output",
        "import-buckets-logs",
        "audit-trail-bucket",
    }
    assert len(dev_run.by_type("aws:iam/role:Role")) >= 1
    assert dev_run.one(DATASTORE).inputs["datastoreName"] == "ahi-dev-datastore"
    assert dev_run.warnings == []


def test_import_role_trust_and_permissions_use_the_deployed_arns(dev_run: ProgramRun) -> None:
    role = dev_run.one("aws:iam/role:Role", "import-job-role")
    assert role.inputs["name"] == "ahi-dev-ImportJobDataAccessRole"
    trust = policy_of(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Condition"]["ArnEquals"] == {"aws:SourceArn": dev_run.outputs["datastoreArn"]}
    statements = policy_of(dev_run.one("aws:iam/rolePolicy:RolePolicy", "import-job-role-permissions"))["Statement"]
    assert statements[0]["Resource"] == [dev_run.outputs["inputBucketArn"], dev_run.outputs["outputBucketArn"]]
    assert statements[3]["Resource"] == dev_run.outputs["bucketKmsKeyArn"]
    assert statements[4]["Resource"] == dev_run.outputs["bucketKmsKeyArn"]


def test_outputs_and_the_ready_to_run_import_command(dev_run: ProgramRun) -> None:
    outputs = dev_run.outputs
    assert outputs["accountId"] == DEV_ACCOUNT
    assert outputs["inputBucketName"] == f"ahi-dev-input-{DEV_ACCOUNT}-{DEV_REGION}-an"
    assert outputs["datastoreArn"].endswith(f":datastore/{outputs['datastoreId']}")
    assert outputs["datastoreKmsKeyArn"] != outputs["bucketKmsKeyArn"]
    words = shlex.split(outputs["startImportJobCommand"])
    assert words[:3] == ["aws", "medical-imaging", "start-dicom-import-job"]
    options = dict(zip(words[3::2], words[4::2], strict=True))
    assert options == {
        "--region": DEV_REGION,
        "--datastore-id": outputs["datastoreId"],
        "--data-access-role-arn": outputs["importRoleArn"],
        "--input-s3-uri": f"s3://{outputs['inputBucketName']}/first-import/",
        "--output-s3-uri": f"s3://{outputs['outputBucketName']}/first-import/",
        "--input-owner-account-id": DEV_ACCOUNT,
        "--job-name": "first-import",
        "--client-token": "first-import",
    }


def test_disposable_stack_drops_protection_and_says_so_loudly() -> None:
    run = run_program(disposableStack=True)
    for resource in run.resources:
        if resource.type in DATA_RESOURCE_TYPES:
            assert (resource.protect, resource.retain_on_delete) == (False, False), resource.name
    assert any(w.startswith("DISPOSABLE STACK:") for w in run.warnings)


def test_sse_s3_and_an_aws_owned_data_store_key_create_no_keys() -> None:
    run = run_program(bucketEncryption="sse-s3", datastoreEncryption="aws-owned-key")
    assert _bucket_and_datastore_keys(run) == []
    assert run.outputs["bucketKmsKeyArn"] is None
    assert run.outputs["datastoreKmsKeyArn"] is None
    assert len(policy_of(run.one("aws:iam/rolePolicy:RolePolicy", "import-job-role-permissions"))["Statement"]) == 3
    assert len(run.warnings) == 2


def test_supplied_keys_are_used_everywhere() -> None:
    run = run_program(bucketKmsKeyArn=KEY_ARN, datastoreKmsKeyArn=KEY_ARN)
    assert _bucket_and_datastore_keys(run) == []
    assert run.one(DATASTORE).inputs["kmsKeyArn"] == KEY_ARN
    assert run.outputs["bucketKmsKeyArn"] == KEY_ARN
    assert (
        policy_of(run.one("aws:iam/rolePolicy:RolePolicy", "import-job-role-permissions"))["Statement"][3]["Resource"]
        == KEY_ARN
    )


def test_generated_names_without_logging() -> None:
    run = run_program(bucketNaming="generated", accessLogging=False)
    assert {r.name for r in run.by_type(BUCKET)} == {
        "import-buckets-input",
        "import-buckets-output",
        "audit-trail-bucket",
    }
    assert run.one(BUCKET, "import-buckets-input").inputs["bucketPrefix"] == "ahi-dev-input-"
    assert run.outputs["logBucketName"] is None


def test_explicit_names_role_name_and_boundary_from_config() -> None:
    boundary = f"arn:aws:iam::{DEV_ACCOUNT}:policy/Boundary"
    run = run_program(
        inputBucketName="hospital-dicom-in",
        outputBucketName="hospital-dicom-out",
        importRoleName="ImportJobDataAccessRole",
        iamPath="/imaging/",
        permissionsBoundaryArn=boundary,
    )
    assert run.outputs["inputBucketName"] == "hospital-dicom-in"
    role = run.one("aws:iam/role:Role", "import-job-role").inputs
    assert (role["name"], role["path"], role["permissionsBoundary"]) == (
        "ImportJobDataAccessRole",
        "/imaging/",
        boundary,
    )


def test_allowing_datastore_replacement_is_passed_through() -> None:
    run = run_program(allowDatastoreReplacement=True)
    assert run.one(DATASTORE).ignore_changes == []


def test_invalid_configuration_stops_the_program_before_any_resource() -> None:
    recorded: list[mockrun.PlannedResource] = []
    config = dev_config(region="eu-central-1", outputBucketName="Bad_Name", versioning="maybe")
    with pytest.raises(InvalidInputError) as raised:
        mockrun.run(
            PROJECT_DIR / "__main__.py", config=config, project="healthimaging-setup", stack="dev", recorded=recorded
        )
    assert str(raised.value).startswith("Configuration of stack 'dev':")
    assert "versioning = 'maybe': expected true or false." in str(raised.value)
    assert recorded == []


def test_a_misspelt_key_in_the_stack_stops_the_program() -> None:
    config = {**dev_config(), "healthimaging-setup:requireTLS": "false"}
    with pytest.raises(InvalidInputError, match="requireTLS is not a setting of this program") as raised:
        mockrun.run(PROJECT_DIR / "__main__.py", config=config, project="healthimaging-setup", stack="dev")
    assert "Did you mean 'requireTls'?" in str(raised.value)


def test_a_key_of_another_account_is_used_only_on_request_and_then_warns() -> None:
    foreign = f"arn:aws:kms:{DEV_REGION}:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(InvalidInputError, match="set allowCrossAccountKeys to true"):
        run_program(bucketKmsKeyArn=foreign)
    run = run_program(bucketKmsKeyArn=foreign, datastoreKmsKeyArn=foreign, allowCrossAccountKeys=True)
    foreign_warnings = [w for w in run.warnings if "is a key of account 999988887777" in w]
    assert len(foreign_warnings) == 2
