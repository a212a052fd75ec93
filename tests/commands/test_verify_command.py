"""ahictl verify: the pure policy analysis, the check runner, and (against loopback fakes) every check."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pydicom
import pytest

from ahictl.cli import main
from ahictl.verify_command import render_results
from ahiops.canary import CanaryOptions, check_canary
from ahiops.checks_buckets import tls_deny_statement
from ahiops.checks_import_role import simulations, trust_policy_problems
from ahiops.errors import ServiceError
from ahiops.pacing import Backoff, FakeClock
from ahiops.stack_outputs import StackOutputs, load_outputs_file, outputs_from_mapping
from ahiops.verify import Check, CheckResult, all_passed, results_to_json, run_check
from ahiops.verify_context import FailedCheckError, VerifyContext, passed
from components import policies
from testkit.fakes.deployed_stack import DeployedStack
from testkit.mock_runs import PROJECT_DIR

ACCOUNT = "123456789012"
DATASTORE_ID = "0123456789abcdef0123456789abcdef"
DATASTORE_ARN = f"arn:aws:medical-imaging:us-east-1:{ACCOUNT}:datastore/{DATASTORE_ID}"
BUCKET_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def stack_outputs(**overrides: Any) -> StackOutputs:
    data = {
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "inputBucketName": "hi-input",
        "outputBucketName": "hi-output",
        "logBucketName": "hi-logs",
        "bucketKmsKeyArn": BUCKET_KEY,
        "datastoreId": DATASTORE_ID,
        "datastoreArn": DATASTORE_ARN,
        "importRoleArn": f"arn:aws:iam::{ACCOUNT}:role/hi-import",
        **overrides,
    }
    return outputs_from_mapping(data, "outputs file 'test.json'")


def offline_context(outputs: StackOutputs) -> VerifyContext:
    return VerifyContext(outputs, boto3.session.Session(region_name=outputs.region))


# --- the trust policy -------------------------------------------------------------------------------


def test_the_programs_trust_policy_passes() -> None:
    document = policies.import_role_trust_policy(ACCOUNT, DATASTORE_ARN)
    assert trust_policy_problems(document, ACCOUNT, DATASTORE_ARN) == []


def guide_trust_policy() -> dict[str, Any]:
    """The setup guide's trust policy, with its ForAllValues: operators."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "medical-imaging.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ForAllValues:StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ForAllValues:ArnEquals": {"aws:SourceArn": DATASTORE_ARN},
                },
            }
        ],
    }


def test_the_guides_forallvalues_form_fails_with_the_reason() -> None:
    problems = trust_policy_problems(guide_trust_policy(), ACCOUNT, DATASTORE_ARN)
    assert len(problems) == 2
    assert "ForAllValues:StringEquals on aws:SourceAccount (the setup guide's form)" in problems[0]
    assert "true when the key is absent" in problems[0]
    assert "use StringEquals" in problems[0]
    assert "ForAllValues:ArnEquals on aws:SourceArn" in problems[1]
    assert "use ArnEquals" in problems[1]


def test_trust_without_conditions_fails() -> None:
    document = guide_trust_policy()
    del document["Statement"][0]["Condition"]
    problems = trust_policy_problems(document, ACCOUNT, DATASTORE_ARN)
    assert any("no aws:SourceAccount condition" in p for p in problems)
    assert any("no aws:SourceArn condition" in p for p in problems)


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        ({"AWS": "*"}, "trusts {'AWS': '*'}"),
        ("*", "trusts '*'"),
        ({"Service": ["medical-imaging.amazonaws.com", "ec2.amazonaws.com"]}, "only 'medical-imaging.amazonaws.com'"),
        ({"Service": "medical-imaging.amazonaws.com", "AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "only 'medical-imaging"),
    ],
)
def test_trust_of_another_principal_fails(principal: Any, expected: str) -> None:
    document = policies.import_role_trust_policy(ACCOUNT, DATASTORE_ARN)
    document["Statement"][0]["Principal"] = principal
    problems = trust_policy_problems(document, ACCOUNT, DATASTORE_ARN)
    assert any(expected in p for p in problems), problems


def test_trust_of_another_datastore_or_account_fails() -> None:
    document = policies.import_role_trust_policy("999999999999", DATASTORE_ARN.replace(DATASTORE_ID, "f" * 32))
    problems = trust_policy_problems(document, ACCOUNT, DATASTORE_ARN)
    assert f"aws:SourceAccount is 999999999999, expected exactly {ACCOUNT}" in problems[0]
    assert f"expected exactly {DATASTORE_ARN}" in problems[1]


def test_trust_with_ifexists_or_wildcard_arn_fails() -> None:
    document = policies.import_role_trust_policy(ACCOUNT, DATASTORE_ARN)
    condition = document["Statement"][0]["Condition"]
    condition["StringEqualsIfExists"] = condition.pop("StringEquals")
    condition["ArnLike"] = {"aws:SourceArn": DATASTORE_ARN.replace(DATASTORE_ID, "*")}
    del condition["ArnEquals"]
    problems = trust_policy_problems(document, ACCOUNT, DATASTORE_ARN)
    assert "StringEqualsIfExists on aws:SourceAccount, which is true when the key is absent" in problems[0]
    assert "datastore/*, expected exactly" in problems[1]


def test_trust_with_extra_actions_fails() -> None:
    document = policies.import_role_trust_policy(ACCOUNT, DATASTORE_ARN)
    document["Statement"][0]["Action"] = ["sts:AssumeRole", "sts:TagSession"]
    assert trust_policy_problems(document, ACCOUNT, DATASTORE_ARN) == [
        "trust statement AllowHealthImagingImportJobsForThisDatastore allows sts:AssumeRole, sts:TagSession; "
        "only sts:AssumeRole is needed"
    ]


def test_trust_with_no_allow_fails() -> None:
    assert trust_policy_problems({"Statement": []}, ACCOUNT, DATASTORE_ARN) == [
        "the trust policy allows nobody to assume the role, so import jobs cannot use it"
    ]


# --- the TLS bucket policy ----------------------------------------------------------------------------


def test_the_programs_bucket_policy_denies_requests_without_tls() -> None:
    policy = policies.bucket_policy("arn:aws:s3:::hi-input", require_tls=True)
    assert policy is not None
    assert tls_deny_statement(policy, "hi-input") == "DenyInsecureTransport"


def test_a_policy_for_another_bucket_or_allowing_tls_does_not_count() -> None:
    policy = policies.bucket_policy("arn:aws:s3:::other", require_tls=True)
    assert policy is not None
    assert tls_deny_statement(policy, "hi-input") is None
    objects_only = policies.bucket_policy("arn:aws:s3:::hi-input", require_tls=True)
    assert objects_only is not None
    objects_only["Statement"][0]["Resource"] = ["arn:aws:s3:::hi-input/*"]
    assert tls_deny_statement(objects_only, "hi-input") is None
    true_condition = copy.deepcopy(policies.bucket_policy("arn:aws:s3:::hi-input", require_tls=True))
    assert true_condition is not None
    true_condition["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    assert tls_deny_statement(true_condition, "hi-input") is None


def test_a_policy_with_a_single_principal_does_not_count() -> None:
    policy = policies.bucket_policy("arn:aws:s3:::hi-input", require_tls=True)
    assert policy is not None
    policy["Statement"][0]["Principal"] = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert tls_deny_statement(policy, "hi-input") is None


def test_bool_false_and_star_forms_count() -> None:
    policy = {
        "Statement": {
            "Sid": "",
            "Effect": "Deny",
            "Principal": {"AWS": ["*"]},
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"AWS:SecureTransport": False}},
        }
    }
    assert tls_deny_statement(policy, "hi-input") == "unnamed"


# --- the simulator questions --------------------------------------------------------------------------


def test_simulations_ask_with_the_context_keys_the_policies_condition_on() -> None:
    questions = {s.check_id: s for s in simulations(offline_context(stack_outputs()))}
    assert list(questions) == [
        "import-role.may-list-buckets",
        "import-role.may-read-input",
        "import-role.may-write-output",
        "import-role.may-use-bucket-key",
        "import-role.may-not-delete",
        "import-role.may-not-write-input",
        "import-role.may-not-read-other-bucket",
        "import-role.may-not-read-other-account",
    ]
    assert questions["import-role.may-list-buckets"].resources == ("arn:aws:s3:::hi-input", "arn:aws:s3:::hi-output")
    assert questions["import-role.may-read-input"].context == {"s3:ResourceAccount": ACCOUNT}
    key = questions["import-role.may-use-bucket-key"]
    assert key.context == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert key.resources == (BUCKET_KEY,)
    assert key.allowed
    assert not questions["import-role.may-not-write-input"].allowed
    assert questions["import-role.may-not-write-input"].resources == ("arn:aws:s3:::hi-input/*",)
    other_account = questions["import-role.may-not-read-other-account"]
    assert other_account.context["s3:ResourceAccount"] != ACCOUNT
    assert not other_account.allowed


def test_no_key_question_for_sse_s3_buckets() -> None:
    ids = [s.check_id for s in simulations(offline_context(stack_outputs(bucketKmsKeyArn=None)))]
    assert "import-role.may-use-bucket-key" not in ids


# --- the runner and the report ------------------------------------------------------------------------


def test_a_failing_check_does_not_stop_the_others() -> None:
    ctx = offline_context(stack_outputs())

    def boom(_: VerifyContext) -> Any:
        raise RuntimeError("kaput")

    def service_error(_: VerifyContext) -> Any:
        raise ServiceError("GetDatastore failed: InternalServerException: try later")

    def not_as_meant(_: VerifyContext) -> Any:
        raise FailedCheckError("bucket is missing")

    results = [
        run_check(ctx, Check("a", boom)),
        run_check(ctx, Check("b", service_error)),
        run_check(ctx, Check("c", not_as_meant)),
        run_check(ctx, Check("d", lambda _: passed("fine"))),
    ]
    assert [(r.id, r.status) for r in results] == [("a", "error"), ("b", "error"), ("c", "fail"), ("d", "pass")]
    assert results[0].detail == "the check itself failed: RuntimeError: kaput"
    assert results[1].detail == "GetDatastore failed: InternalServerException: try later"
    assert not all_passed(results)
    assert all_passed(results[3:])
    assert not all_passed([])


def test_json_and_table_forms() -> None:
    results = [CheckResult("account", "pass", "account 1 is the stack's"), CheckResult("region", "fail", "wrong")]
    assert results_to_json(results) == {
        "checks": [
            {"id": "account", "status": "pass", "detail": "account 1 is the stack's"},
            {"id": "region", "status": "fail", "detail": "wrong"},
        ]
    }
    assert render_results(results) == (
        "STATUS  CHECK    DETAIL\n"
        "PASS    account  account 1 is the stack's\n"
        "FAIL    region   wrong\n"
        "\n"
        "2 checks: 1 passed, 1 failed, 0 errors\n"
    )


# --- against the deployed stack (moto, the IAM simulator stand-in, the HealthImaging stand-in) ---------------

ALL_CHECK_IDS = [
    "credentials",
    "account",
    "region",
    "healthimaging-api",
    "datastore.status",
    "datastore.kms-key",
    "datastore.lossless-storage-format",
    "datastore.authorizer",
    *[
        f"{role}-bucket.{name}"
        for role in ("input", "output", "log")
        for name in ("block-public-access", "ownership", "encryption", "versioning", "tls-policy")
    ],
    "import-role.trust-policy",
    "import-role.may-list-buckets",
    "import-role.may-read-input",
    "import-role.may-write-output",
    "import-role.may-use-bucket-key",
    "import-role.may-not-delete",
    "import-role.may-not-write-input",
    "import-role.may-not-read-other-bucket",
    "import-role.may-not-read-other-account",
]


def verify_json(capsys: pytest.CaptureFixture[str], outputs_path: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    code = main(["verify", "--outputs", str(outputs_path), "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {check["id"]: check["status"] for check in report["checks"]}


def details(report: dict[str, Any]) -> dict[str, str]:
    return {check["id"]: check["detail"] for check in report["checks"]}


def not_passing(report: dict[str, Any]) -> dict[str, str]:
    return {check["id"]: check["status"] for check in report["checks"] if check["status"] != "pass"}


def test_the_deployed_stack_passes_every_check(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    code, report, err = verify_json(capsys, stack.outputs_path)
    assert [check["id"] for check in report["checks"]] == ALL_CHECK_IDS
    assert not_passing(report) == {}
    assert code == 0
    assert err == ""
    assert all(set(check) == {"id", "status", "detail"} for check in report["checks"])
    found = details(report)
    assert f"signed in as arn:aws:sts::{stack.account_id}:user/moto" in found["credentials"]
    assert "credentials from env, region us-east-1" in found["healthimaging-api"]
    assert stack.env.healthimaging.endpoint_url in found["healthimaging-api"]
    assert found["datastore.status"] == f"data store {stack.datastore_id} (ahi-dev-datastore) is ACTIVE"
    assert stack.datastore_key_arn in found["datastore.kms-key"]
    assert "statement DenyInsecureTransport" in found["log-bucket.tls-policy"]
    assert found["log-bucket.encryption"].endswith("default encryption SSE-S3 (AES256)")
    assert "kms:ViaService=s3.us-east-1.amazonaws.com" in found["import-role.may-use-bucket-key"]
    # The simulator was asked with the context keys the policies condition on.
    contexts = [simulation.context for simulation in stack.env.iam_simulator.simulations]
    assert {"s3:ResourceAccount": [stack.account_id]} in contexts
    assert {"kms:ViaService": ["s3.us-east-1.amazonaws.com"]} in contexts


def test_the_table_form(deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", "--outputs", str(deployed_stack.outputs_path)])
    captured = capsys.readouterr()
    assert code == 0
    lines = captured.out.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "DETAIL"]
    assert [line.split()[:2] for line in lines[1 : len(ALL_CHECK_IDS) + 1]] == [["PASS", i] for i in ALL_CHECK_IDS]
    assert lines[-1] == f"{len(ALL_CHECK_IDS)} checks: {len(ALL_CHECK_IDS)} passed, 0 failed, 0 errors"
    assert captured.err.startswith("Verifying the stack in outputs file")


def test_buckets_without_the_tls_policy_fail(deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = deployed_stack
    for bucket in (stack.input_bucket, stack.output_bucket):
        stack.s3.delete_bucket_policy(Bucket=bucket)
    log_arn = policies.bucket_arn(stack.log_bucket)
    sources = [policies.bucket_arn(stack.input_bucket), policies.bucket_arn(stack.output_bucket)]
    delivery = [policies.access_log_delivery_statement(log_arn, sources, stack.account_id)]
    log_policy = policies.bucket_policy(log_arn, require_tls=False, extra_statements=delivery)
    stack.s3.put_bucket_policy(Bucket=stack.log_bucket, Policy=json.dumps(log_policy))
    code, report, _ = verify_json(capsys, deployed_stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {
        "input-bucket.tls-policy": "fail",
        "output-bucket.tls-policy": "fail",
        "log-bucket.tls-policy": "fail",
    }
    found = details(report)
    assert found["input-bucket.tls-policy"] == (
        f"{deployed_stack.input_bucket} has no bucket policy, so requests without TLS are not denied"
    )
    assert "no bucket policy statement denies requests without TLS" in found["log-bucket.tls-policy"]


def test_misconfigured_buckets_fail_with_what_is_wrong(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    s3 = stack.s3
    s3.put_public_access_block(
        Bucket=stack.input_bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    s3.delete_public_access_block(Bucket=stack.log_bucket)
    s3.put_bucket_ownership_controls(
        Bucket=stack.output_bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.put_bucket_encryption(
        Bucket=stack.output_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(Bucket=stack.input_bucket, VersioningConfiguration={"Status": "Suspended"})
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {
        "input-bucket.block-public-access": "fail",
        "input-bucket.versioning": "fail",
        "output-bucket.ownership": "fail",
        "output-bucket.encryption": "fail",
        "log-bucket.block-public-access": "fail",
    }
    found = details(report)
    assert (
        "Block Public Access is off for BlockPublicPolicy, RestrictPublicBuckets"
        in found["input-bucket.block-public-access"]
    )
    assert "versioning is Suspended, not Enabled" in found["input-bucket.versioning"]
    assert "object ownership is ObjectWriter, not BucketOwnerEnforced" in found["output-bucket.ownership"]
    assert f"default encryption is AES256, not SSE-KMS with {stack.bucket_key_arn}" in found["output-bucket.encryption"]
    assert "has no Block Public Access configuration" in found["log-bucket.block-public-access"]


def test_bucket_encrypted_with_another_key_fails(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    other_key = stack.env.client("kms").create_key()["KeyMetadata"]["Arn"]
    stack.s3.put_bucket_encryption(
        Bucket=stack.input_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": other_key}}]
        },
    )
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {"input-bucket.encryption": "fail"}
    assert f"uses key {other_key}, not the stack's {stack.bucket_key_arn}" in details(report)["input-bucket.encryption"]


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        ("CREATING", "creation is still running; wait a few minutes and run verify again"),
        ("CREATE_FAILED", "creation failed"),
        ("DELETED", "it was deleted"),
    ],
)
def test_a_datastore_that_is_not_active_fails_plainly(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str], status: str, advice: str
) -> None:
    stack = deployed_stack
    stack.healthimaging.set_datastore_status(stack.datastore_id, status)
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {"datastore.status": "fail"}
    assert details(report)["datastore.status"].startswith(
        f"data store {stack.datastore_id} (ahi-dev-datastore) is {status}, not ACTIVE: {advice}"
    )


def rewrite_outputs(stack: DeployedStack, **changes: Any) -> None:
    stack.outputs_path.write_text(json.dumps({**stack.outputs, **changes}))


def test_a_datastore_that_does_not_exist_fails(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    missing = "f" * 32
    outputs = json.loads(stack.outputs_path.read_text())
    rewrite_outputs(
        stack,
        datastoreId=missing,
        datastoreArn=stack.datastore_arn.replace(stack.datastore_id, missing),
        dicomwebUrl=outputs["dicomwebUrl"].replace(stack.datastore_id, missing),
    )
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    failing = not_passing(report)
    assert failing["datastore.status"] == "fail"
    assert failing["datastore.kms-key"] == "fail"
    assert details(report)["datastore.status"] == (
        f"there is no data store {missing} in account {stack.account_id} region us-east-1: it was deleted, "
        "or the credentials or region are not the stack's"
    )


def test_a_datastore_with_another_key_fails(deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = deployed_stack
    rewrite_outputs(stack, datastoreKmsKeyArn=stack.bucket_key_arn)
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {"datastore.kms-key": "fail"}
    assert details(report)["datastore.kms-key"] == (
        f"the data store uses key {stack.datastore_key_arn}, not the stack's key {stack.bucket_key_arn}"
    )


def test_the_guides_trust_policy_fails_with_the_reason(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    guide = guide_trust_policy()
    guide["Statement"][0]["Condition"] = {
        "ForAllValues:StringEquals": {"aws:SourceAccount": stack.account_id},
        "ForAllValues:ArnEquals": {"aws:SourceArn": stack.datastore_arn},
    }
    stack.env.client("iam").update_assume_role_policy(RoleName=stack.import_role_name, PolicyDocument=json.dumps(guide))
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {"import-role.trust-policy": "fail"}
    detail = details(report)["import-role.trust-policy"]
    assert "uses ForAllValues:StringEquals on aws:SourceAccount (the setup guide's form)" in detail
    assert "ForAllValues is true when the key is absent from the request" in detail
    assert "FORALLVALUES_WITH_SINGLE_VALUED_KEY" in detail


def test_a_missing_import_role_fails(deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = deployed_stack
    rewrite_outputs(stack, importRoleArn=f"arn:aws:iam::{stack.account_id}:role/not-there")
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    failing = not_passing(report)
    assert failing["import-role.trust-policy"] == "fail"
    assert details(report)["import-role.trust-policy"].startswith(
        f"the import role arn:aws:iam::{stack.account_id}:role/not-there does not exist"
    )
    assert {key for key in failing if not key.startswith("import-role.")} == set()


def test_a_role_allowed_too_much_or_too_little_fails_the_simulation(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    input_arn, output_arn = f"arn:aws:s3:::{stack.input_bucket}", f"arn:aws:s3:::{stack.output_bucket}"
    sloppy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [input_arn, output_arn]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": [f"{input_arn}/*"]},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": stack.bucket_key_arn},
        ],
    }
    iam = stack.env.client("iam")
    for name in iam.list_role_policies(RoleName=stack.import_role_name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=stack.import_role_name, PolicyName=name)
    iam.put_role_policy(RoleName=stack.import_role_name, PolicyName="sloppy", PolicyDocument=json.dumps(sloppy))
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {
        "import-role.may-write-output": "fail",
        "import-role.may-use-bucket-key": "fail",
        "import-role.may-not-write-input": "fail",
        "import-role.may-not-read-other-account": "fail",
    }
    found = details(report)
    assert found["import-role.may-write-output"].startswith(
        f"the import role must be allowed to write output objects, but the policy simulator says s3:PutObject on "
        f"{output_arn}/*: implicitDeny"
    )
    assert f"kms:GenerateDataKey on {stack.bucket_key_arn}: implicitDeny" in found["import-role.may-use-bucket-key"]
    assert f"s3:PutObject on {input_arn}/*: allowed" in found["import-role.may-not-write-input"]
    assert "[s3:ResourceAccount=000000000000]" in found["import-role.may-not-read-other-account"]


def test_the_older_per_resource_simulator_answer_is_read_too(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    stack.env.iam_simulator.result_form = "per-resource"
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert (code, not_passing(report)) == (0, {})
    assert "(2 action/resource pairs;" in details(report)["import-role.may-list-buckets"]


def test_one_failing_call_is_an_error_for_its_check_only(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    stack.healthimaging.inject_error("GetDatastore", "InternalServerException", message="try again", times=10)
    stack.env.iam_simulator.inject_error("SimulatePrincipalPolicy", "AccessDenied", message="not allowed to simulate")
    code, report, err = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert err == ""
    assert not_passing(report) == {
        "datastore.status": "error",
        "datastore.kms-key": "error",
        "datastore.lossless-storage-format": "error",
        "datastore.authorizer": "error",
        "import-role.may-list-buckets": "error",
    }
    found = details(report)
    assert found["datastore.status"] == (
        f"GetDatastore {stack.datastore_id} failed: InternalServerException: try again"
    )
    assert found["import-role.may-list-buckets"].startswith(
        "SimulatePrincipalPolicy for ahi-dev-ImportJobDataAccessRole: access denied (AccessDenied: not allowed to "
        "simulate)"
    )


def test_expired_credentials_for_healthimaging_say_how_to_sign_in(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    stack.healthimaging.inject_error("ListDatastores", "ExpiredTokenException", message="The security token is expired")
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert not_passing(report) == {"healthimaging-api": "error"}
    assert details(report)["healthimaging-api"] == (
        "ListDatastores in us-east-1: the AWS credentials are expired or not valid (ExpiredTokenException: The "
        "security token is expired); sign in with `aws sso login --profile <your-profile>` (or set AWS_PROFILE / "
        "pass --profile)."
    )


def test_missing_credentials_stop_every_check_with_sign_in_advice(
    deployed_stack: DeployedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, report, err = verify_json(capsys, deployed_stack.outputs_path)
    assert code == 1
    assert "Traceback" not in err
    found = details(report)
    assert statuses(report)["credentials"] == "fail"
    assert found["credentials"] == (
        "GetCallerIdentity: no AWS credentials were found; sign in with `aws sso login --profile <your-profile>` "
        "(or set AWS_PROFILE / pass --profile)."
    )
    assert statuses(report)["region"] == "pass"  # needs no AWS call for a listed region
    others = [check for check in report["checks"] if check["id"] not in ("credentials", "region")]
    assert {check["status"] for check in others} == {"error"}
    assert {check["detail"] for check in others} == {
        "not run: the AWS credentials do not work (see the 'credentials' check)"
    }


def test_the_wrong_account_fails_and_names_both(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    rewrite_outputs(
        stack, accountId="111122223333", datastoreArn=stack.datastore_arn.replace(stack.account_id, "111122223333")
    )
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1
    assert statuses(report)["account"] == "fail"
    assert details(report)["account"].startswith(
        f"the credentials are for account {stack.account_id}, but the stack (outputs file '{stack.outputs_path}') "
        "is in account 111122223333; sign in to 111122223333"
    )


def test_another_region_fails_and_says_what_to_do(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    code, report, _ = verify_json(capsys, stack.outputs_path, "--region", "eu-west-1")
    assert code == 1
    assert statuses(report)["region"] == "fail"
    assert details(report)["region"] == (
        "the commands use region eu-west-1, but the stack is in us-east-1; drop --region or pass --region us-east-1"
    )
    assert statuses(report)["datastore.status"] == "fail"  # the stand-in, like AWS, has no such data store there


def test_usage_errors_exit_2(deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = deployed_stack
    outputs = dict(stack.outputs)
    del outputs["importRoleArn"]
    stack.outputs_path.write_text(json.dumps(outputs))
    code, report, err = verify_json(capsys, stack.outputs_path)
    assert (code, report) == (2, {})
    assert err.startswith(f"error: outputs file '{stack.outputs_path}' has no key 'importRoleArn'")
    with pytest.raises(SystemExit) as caught:
        main(["verify", "--json"])
    assert caught.value.code == 2
    assert "one of the arguments --outputs --stack is required" in capsys.readouterr().err


# --- the canary ------------------------------------------------------------------------------------------


def test_the_canary_imports_one_synthetic_file_and_deletes_its_image_set(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    stack.healthimaging.polls_until_done = 0
    code, report, err = verify_json(capsys, stack.outputs_path, "--canary")
    assert report["checks"][-1]["id"] == "canary"
    assert statuses(report)["canary"] == "pass", details(report)["canary"]
    [job] = stack.healthimaging.jobs.values()
    assert job.status == "COMPLETED"
    [image_set] = stack.healthimaging.image_sets.values()
    assert image_set.deleted
    detail = details(report)["canary"]
    assert f"with job {job.job_id} into image set {image_set.image_set_id}; image set deleted" in detail
    [key] = [o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.input_bucket)["Contents"]]
    assert key.startswith("verify/")
    assert key.endswith("/canary.dcm")
    body = stack.s3.get_object(Bucket=stack.input_bucket, Key=key)["Body"].read()
    assert key == f"verify/{hashlib.sha256(body).hexdigest()}/canary.dcm"
    dataset = pydicom.dcmread(io.BytesIO(body))
    assert body[128:132] == b"DICM"
    assert dataset.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert dataset.PatientName == "AHICTL^CANARY"
    assert (dataset.Rows, dataset.Columns) == (8, 8)
    [(_, start)] = [r for r in stack.healthimaging.requests if r[0] == "StartDICOMImportJob"]
    assert start["inputOwnerAccountId"] == stack.account_id
    assert start["dataAccessRoleArn"] == stack.import_role_arn
    assert start["inputS3Uri"] == f"s3://{stack.input_bucket}/{key.rsplit('/', 1)[0]}/"
    # Everything else passed too, the TLS policies included (the sandbox's loopback stands in for TLS).
    assert not_passing(report) == {}
    assert code == 0
    assert err == ""


def canary_context(stack: DeployedStack) -> VerifyContext:
    outputs = load_outputs_file(stack.outputs_path)
    return VerifyContext(outputs, boto3.session.Session(region_name=outputs.region))


def quick_canary() -> CanaryOptions:
    return CanaryOptions(backoff=lambda: Backoff(initial=1.0), clock=FakeClock(), manifest_attempts=3)


def test_the_canary_waits_through_submitted_and_in_progress(deployed_stack: DeployedStack) -> None:
    deployed_stack.healthimaging.polls_until_done = 3
    messages: list[str] = []
    options = quick_canary()
    options.on_message = messages.append
    result = run_check(canary_context(deployed_stack), Check("canary", lambda ctx: check_canary(ctx, options)))
    assert result.status == "pass", result.detail
    [job_id] = deployed_stack.healthimaging.jobs
    assert [m for m in messages if " is " in m] == [
        f"canary: import job {job_id} is SUBMITTED",
        f"canary: import job {job_id} is IN_PROGRESS",
        f"canary: import job {job_id} is COMPLETED",
    ]


def test_a_failed_canary_job_fails_the_check(deployed_stack: DeployedStack) -> None:
    deployed_stack.healthimaging.fail_job_when(lambda job: "Unable to assume the data access role")
    result = run_check(canary_context(deployed_stack), Check("canary", lambda ctx: check_canary(ctx, quick_canary())))
    assert result.status == "fail"
    assert "ended FAILED: Unable to assume the data access role" in result.detail
    assert "The import role, the buckets or their key do not work for HealthImaging" in result.detail


def test_a_canary_file_that_failed_in_a_completed_job_fails_the_check(deployed_stack: DeployedStack) -> None:
    deployed_stack.healthimaging.fail_file_when(lambda key: "Could not decrypt the object")
    result = run_check(canary_context(deployed_stack), Check("canary", lambda ctx: check_canary(ctx, quick_canary())))
    assert result.status == "fail"
    assert "COMPLETED but did not import the file:" in result.detail
    assert "Could not decrypt the object" in result.detail


def test_a_canary_image_set_the_caller_may_not_delete_is_reported(deployed_stack: DeployedStack) -> None:
    deployed_stack.healthimaging.inject_error("DeleteImageSet", "AccessDeniedException", message="not authorized")
    result = run_check(canary_context(deployed_stack), Check("canary", lambda ctx: check_canary(ctx, quick_canary())))
    assert result.status == "pass"
    assert "image set kept: this identity may not delete it (not authorized)" in result.detail
    [image_set] = deployed_stack.healthimaging.image_sets.values()
    assert not image_set.deleted


def test_the_canary_does_not_run_when_the_datastore_is_not_active(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed_stack.healthimaging.set_datastore_status(deployed_stack.datastore_id, "CREATING")
    code, report, _ = verify_json(capsys, deployed_stack.outputs_path, "--canary")
    assert code == 1
    assert statuses(report)["canary"] == "error"
    assert details(report)["canary"] == (
        "not run: the canary writes, so it runs only when credentials, account, region, datastore.status pass "
        "(datastore.status did not)"
    )
    assert not deployed_stack.healthimaging.jobs
    assert "Contents" not in deployed_stack.s3.list_objects_v2(Bucket=deployed_stack.input_bucket)


def test_a_region_missing_from_the_list_passes_when_healthimaging_answers_there(
    deployed_stack: DeployedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = deployed_stack
    rewrite_outputs(stack, region="ca-central-1", datastoreArn=stack.datastore_arn.replace("us-east-1", "ca-central-1"))
    code, report, _ = verify_json(capsys, stack.outputs_path)
    assert code == 1  # the data store lives in us-east-1, so it is not found in ca-central-1
    assert statuses(report)["region"] == "pass"
    assert details(report)["region"] == (
        "ca-central-1 is not in this tool's list of HealthImaging regions, but HealthImaging answers there"
    )
    assert statuses(report)["datastore.status"] == "fail"


def test_ctrl_c_exits_130_with_a_message(
    deployed_stack: DeployedStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ahiops.verify

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(ahiops.verify, "verify_stack", interrupted)
    code = main(["verify", "--outputs", str(deployed_stack.outputs_path), "--json"])
    captured = capsys.readouterr()
    assert code == 130
    assert captured.out == ""
    assert "interrupted: verify stopped; it changes nothing" in captured.err
    assert "Run the same command again." in captured.err


def test_the_installed_entry_point_runs_verify(deployed_stack: DeployedStack) -> None:
    """`python -m ahictl verify` as users run it: endpoints only from the AWS_ENDPOINT_URL_* variables."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ahictl",
            "verify",
            "--outputs",
            str(deployed_stack.outputs_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_DIR,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert [check["id"] for check in report["checks"]] == ALL_CHECK_IDS
    assert not_passing(report) == {}
    assert completed.stderr == ""
