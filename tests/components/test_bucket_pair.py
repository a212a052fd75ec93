"""ImagingBucketPair on its own, under mocks: every bucket's controls, the variations and the opt-outs."""

from __future__ import annotations

from typing import Any

import pytest

from ahictl.mockrun import PlannedResource, ProgramRun
from components import ImagingBucketPair, ImagingBucketPairArgs, InvalidInputError
from components.bucket_pair import BUCKET_PAIR_DEFAULTS, bucket_pair_warnings, validate_bucket_pair_args
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, policy_of, run_component

KEY_ARN = f"arn:aws:kms:{DEV_REGION}:{DEV_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "aws:s3/bucket:Bucket"


def pair(**overrides: Any) -> ProgramRun:
    args: ImagingBucketPairArgs = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-test"}
    args.update(overrides)  # type: ignore[typeddict-item]
    return run_component(lambda: ImagingBucketPair("buckets", args) and None)


def sub(run: ProgramRun, bucket_component: str, kind: str) -> PlannedResource:
    """A sub-resource (public-access-block, encryption, ...) of one SecureBucket."""
    return run.named(f"{bucket_component}-{kind}")


@pytest.fixture(scope="module")
def default_pair() -> ProgramRun:
    return pair()


BUCKETS = ("buckets-input", "buckets-output", "buckets-logs")


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_blocks_all_public_access(default_pair: ProgramRun, bucket: str) -> None:
    inputs = sub(default_pair, bucket, "public-access-block").inputs
    assert {
        k: inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    } == dict.fromkeys(("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"), True)


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_disables_acls(default_pair: ProgramRun, bucket: str) -> None:
    assert sub(default_pair, bucket, "ownership-controls").inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_is_versioned(default_pair: ProgramRun, bucket: str) -> None:
    assert sub(default_pair, bucket, "versioning").inputs["versioningConfiguration"] == {"status": "Enabled"}


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_has_the_tls_only_policy(default_pair: ProgramRun, bucket: str) -> None:
    document = policy_of(sub(default_pair, bucket, "policy"))
    arn = default_pair.one(BUCKET, bucket).outputs["arn"]
    deny_http, deny_old_tls = document["Statement"][:2]
    assert deny_http == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    assert deny_old_tls["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert deny_old_tls["Effect"] == "Deny"


@pytest.mark.parametrize("bucket", BUCKETS)
def test_every_bucket_aborts_stale_uploads_and_expires_only_noncurrent_versions(
    default_pair: ProgramRun, bucket: str
) -> None:
    rules = sub(default_pair, bucket, "lifecycle").inputs["rules"]
    assert rules == [
        {
            "id": "abort-incomplete-multipart-uploads",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        },
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrentVersionExpiration": {"noncurrentDays": 90},
        },
    ]


@pytest.mark.parametrize("bucket", BUCKETS)
def test_buckets_are_protected_retained_and_never_force_destroyed(default_pair: ProgramRun, bucket: str) -> None:
    resource = default_pair.one(BUCKET, bucket)
    assert resource.protect is True
    assert resource.retain_on_delete is True
    assert resource.inputs["forceDestroy"] is False


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_controls_are_retained_with_the_bucket(default_pair: ProgramRun, bucket: str) -> None:
    for kind in ("public-access-block", "ownership-controls", "encryption", "versioning", "lifecycle", "policy"):
        assert sub(default_pair, bucket, kind).retain_on_delete is True, kind


def test_input_and_output_use_sse_kms_with_the_created_key_and_bucket_keys(default_pair: ProgramRun) -> None:
    key = default_pair.one("aws:kms/key:Key")
    for bucket in ("buckets-input", "buckets-output"):
        (rule,) = sub(default_pair, bucket, "encryption").inputs["rules"]
        assert rule == {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]},
            "bucketKeyEnabled": True,
            "blockedEncryptionTypes": ["SSE-C"],
        }


def test_log_bucket_uses_sse_s3_because_s3_cannot_deliver_logs_to_sse_kms(default_pair: ProgramRun) -> None:
    (rule,) = sub(default_pair, "buckets-logs", "encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert rule["bucketKeyEnabled"] is False


def test_bucket_key_is_rotated_protected_and_has_a_30_day_window(default_pair: ProgramRun) -> None:
    key = default_pair.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.inputs["bypassPolicyLockoutSafetyCheck"] is False
    assert (key.protect, key.retain_on_delete) == (True, True)
    assert policy_of(key)["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{DEV_ACCOUNT}:root"}
    alias = default_pair.one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/ahi-test-import-buckets"


def test_default_names_are_in_the_account_regional_namespace(default_pair: ProgramRun) -> None:
    for role, bucket in (("input", "buckets-input"), ("output", "buckets-output"), ("log", "buckets-logs")):
        inputs = default_pair.one(BUCKET, bucket).inputs
        assert inputs["bucket"] == f"ahi-test-{role}-{DEV_ACCOUNT}-{DEV_REGION}-an"
        assert inputs["bucketNamespace"] == "account-regional"


def test_both_buckets_log_to_the_log_bucket_which_accepts_only_their_logs(default_pair: ProgramRun) -> None:
    log_name = default_pair.one(BUCKET, "buckets-logs").inputs["bucket"]
    for role in ("input", "output"):
        logging = default_pair.named(f"buckets-{role}-access-logging")
        assert logging.inputs["targetBucket"] == log_name
        assert logging.inputs["targetPrefix"] == f"{role}/"
        assert logging.retain_on_delete is True
    delivery = policy_of(sub(default_pair, "buckets-logs", "policy"))["Statement"][2]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": DEV_ACCOUNT}
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == sorted(
        default_pair.one(BUCKET, b).outputs["arn"] for b in ("buckets-input", "buckets-output")
    )


def test_default_pair_logs_no_warning(default_pair: ProgramRun) -> None:
    assert default_pair.warnings == []


def test_supplied_key_is_used_and_no_key_is_created() -> None:
    run = pair(kms_key_arn=KEY_ARN)
    assert run.by_type("aws:kms/key:Key") == []
    (rule,) = sub(run, "buckets-input", "encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == KEY_ARN


def test_sse_s3_opt_out_creates_no_key_and_warns() -> None:
    run = pair(encryption="sse-s3")
    assert run.by_type("aws:kms/key:Key") == []
    (rule,) = sub(run, "buckets-output", "encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert any("(S3.17) is OFF" in w for w in run.warnings)


def test_without_access_logging_there_is_no_log_bucket_and_a_warning() -> None:
    run = pair(access_logging=False)
    assert {r.name for r in run.by_type(BUCKET)} == {"buckets-input", "buckets-output"}
    assert run.by_type("aws:s3/bucketLogging:BucketLogging") == []
    assert any("Server access logging (S3.9) is OFF" in w for w in run.warnings)


def test_generated_names_use_a_prefix_in_the_global_namespace() -> None:
    run = pair(naming="generated")
    inputs = run.one(BUCKET, "buckets-input").inputs
    assert inputs["bucketPrefix"] == "ahi-test-input-"
    assert "bucket" not in inputs
    assert "bucketNamespace" not in inputs


def test_explicit_names_are_used_as_given() -> None:
    run = pair(input_bucket_name="hospital-dicom-input", output_bucket_name="hospital-dicom-output")
    assert run.one(BUCKET, "buckets-input").inputs["bucket"] == "hospital-dicom-input"
    assert "bucketNamespace" not in run.one(BUCKET, "buckets-input").inputs
    assert run.one(BUCKET, "buckets-output").inputs["bucket"] == "hospital-dicom-output"


@pytest.mark.parametrize(
    ("switch", "kind", "warning"),
    [
        ("block_public_access", "public-access-block", "Block Public Access (Security Hub S3.1/S3.8) is OFF"),
        ("enforce_bucket_owner", "ownership-controls", "BucketOwnerEnforced (S3.12) is OFF"),
    ],
)
def test_opting_out_of_a_control_removes_it_and_warns(switch: str, kind: str, warning: str) -> None:
    run = pair(**{switch: False})
    assert [r for r in run.resources if r.name.endswith(kind)] == []
    assert any(warning in w for w in run.warnings)


def test_opting_out_of_tls_drops_the_deny_statements_but_keeps_log_delivery() -> None:
    run = pair(require_tls=False)
    assert [r for r in run.resources if r.name in ("buckets-input-policy", "buckets-output-policy")] == []
    statements = policy_of(sub(run, "buckets-logs", "policy"))["Statement"]
    assert [s["Sid"] for s in statements] == ["AllowServerAccessLogDelivery"]
    assert any("TLS-only bucket policy (S3.5) is OFF" in w for w in run.warnings)


def test_opting_out_of_versioning_suspends_it_and_warns() -> None:
    run = pair(versioning=False)
    assert sub(run, "buckets-input", "versioning").inputs["versioningConfiguration"] == {"status": "Suspended"}
    assert any("Versioning (S3.14) is OFF" in w for w in run.warnings)


def test_current_version_expiration_is_added_only_when_asked_and_warns() -> None:
    run = pair(current_version_expiration_days=365, noncurrent_version_expiration_days=30)
    rules = sub(run, "buckets-input", "lifecycle").inputs["rules"]
    assert rules[1]["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rules[2] == {
        "id": "expire-current-versions",
        "status": "Enabled",
        "filter": {"prefix": ""},
        "expiration": {"days": 365},
    }
    assert any("Current object versions EXPIRE after 365 days" in w for w in run.warnings)


def test_unprotected_pair_is_neither_protected_nor_retained_and_warns() -> None:
    run = pair(protect_data=False, force_destroy=True)
    for resource in [*run.by_type(BUCKET), *run.by_type("aws:kms/key:Key")]:
        assert (resource.protect, resource.retain_on_delete) == (False, False), resource.name
    assert all(r.inputs["forceDestroy"] is True for r in run.by_type(BUCKET))
    assert any("Data protection is OFF" in w for w in run.warnings)
    assert any("force_destroy is ON" in w for w in run.warnings)


def test_invalid_arguments_raise_before_anything_is_registered() -> None:
    with pytest.raises(InvalidInputError) as raised:
        pair(input_bucket_name="same-name", output_bucket_name="same-name", naming="random")
    message = str(raised.value)
    assert message.startswith("ImagingBucketPair 'buckets': 2 problems found; nothing was created.")
    assert "naming = 'random' is not one of: 'account-regional', 'generated'." in message
    assert "input_bucket_name (set) and output_bucket_name (set) are both 'same-name'" in message


def test_validation_and_warnings_are_pure_functions() -> None:
    args: ImagingBucketPairArgs = {
        "account_id": "1234",
        "region": "us-east-1",
        "name_prefix": "ahi",
        "kms_key_arn": "alias/x",
    }
    problems = validate_bucket_pair_args(args)
    assert any(p.startswith("account_id = '1234'") for p in problems)
    assert bucket_pair_warnings({"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi"}) == []
    assert (
        len(
            bucket_pair_warnings(
                {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi", "versioning": False}
            )
        )
        == 1
    )


def test_an_unset_current_version_expiration_takes_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUCKET_PAIR_DEFAULTS, "current_version_expiration_days", 400)
    run = pair()
    assert sub(run, "buckets-input", "lifecycle").inputs["rules"][2]["expiration"] == {"days": 400}
    assert any("Current object versions EXPIRE after 400 days" in w for w in run.warnings)


def test_an_unset_current_version_expiration_is_checked_as_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUCKET_PAIR_DEFAULTS, "current_version_expiration_days", -5)
    args: ImagingBucketPairArgs = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-test"}
    assert any("current_version_expiration_days = -5" in p for p in validate_bucket_pair_args(args))


def test_current_version_expiration_none_means_never() -> None:
    args: ImagingBucketPairArgs = {"account_id": DEV_ACCOUNT, "region": DEV_REGION, "name_prefix": "ahi-test"}
    args["current_version_expiration_days"] = None
    assert validate_bucket_pair_args(args) == []
    run = pair(current_version_expiration_days=None)
    assert [rule["id"] for rule in sub(run, "buckets-input", "lifecycle").inputs["rules"]] == [
        "abort-incomplete-multipart-uploads",
        "expire-noncurrent-versions",
    ]
    assert not any("EXPIRE" in w for w in run.warnings)
