"""ahictl verify: the pure policy analysis, the check runner, and (against loopback fakes) every check."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from ahictl.verify_command import render_results
from ahiops.checks_buckets import tls_deny_statement
from ahiops.checks_import_role import simulations, trust_policy_problems
from ahiops.errors import ServiceError
from ahiops.stack_outputs import StackOutputs, outputs_from_mapping
from ahiops.verify import Check, CheckResult, all_passed, results_to_json, run_check
from ahiops.verify_context import FailedCheckError, VerifyContext, passed
from components import policies

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
