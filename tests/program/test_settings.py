"""Stack configuration: parsing, defaults and every rule, checked without Pulumi."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from program.settings import read_settings, unknown_key_problems
from program.settings_spec import SETTINGS_SPEC, StackSettings
from testkit.mock_runs import PROJECT_DIR

ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
VALID = {"accountId": ACCOUNT, "region": "us-east-1"}


def read(**values: Any) -> tuple[StackSettings, list[str]]:
    """Settings from raw string values, as the engine passes them (None: key not set)."""
    raw = {**VALID, **values}
    return read_settings("healthimaging-setup", "dev", lambda key: raw.get(key))


def problems_of(**values: Any) -> list[str]:
    return read(**values)[1]


def the_problem(**values: Any) -> str:
    problems = problems_of(**values)
    assert len(problems) == 1, problems
    return problems[0]


def test_pulumi_yaml_declares_every_setting_with_its_type_default_and_description() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    assert list(declared) == [s.key for s in SETTINGS_SPEC]
    for setting in SETTINGS_SPEC:
        declaration = declared[setting.key]
        assert declaration["type"] == setting.type, setting.key
        assert declaration["description"] == setting.description, setting.key
        if setting.default is None:
            assert "default" not in declaration, f"{setting.key} is required and must have no default"
        else:
            assert declaration["default"] == setting.default, setting.key
        if setting.type == "array":
            assert declaration["items"] == {"type": "string"}, setting.key


def test_pulumi_yaml_uses_the_pip_toolchain_and_the_venv() -> None:
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}


def test_minimal_configuration_gets_every_secure_default() -> None:
    settings, problems = read()
    assert problems == []
    assert settings.name_prefix == "ahi-dev"
    assert (settings.block_public_access, settings.enforce_bucket_owner, settings.versioning) == (True, True, True)
    assert (settings.require_tls, settings.access_logging) == (True, True)
    assert settings.bucket_encryption == "kms"
    assert settings.datastore_encryption == "customer-managed-key"
    assert settings.bucket_naming == "account-regional"
    assert settings.noncurrent_version_expiration_days == 90
    assert settings.current_version_expiration_days == 0
    assert settings.force_destroy_buckets is False
    assert settings.allow_datastore_replacement is False
    assert settings.protect_data is True


def test_code_defaults_match_the_declared_defaults() -> None:
    settings, _ = read()
    for setting in SETTINGS_SPEC:
        if setting.default is None or setting.key == "namePrefix":
            continue
        field = "".join(f"_{c.lower()}" if c.isupper() else c for c in setting.key)
        assert getattr(settings, field) == setting.default, setting.key


def test_required_keys_are_named_with_the_command_that_sets_them() -> None:
    problems = read_settings("healthimaging-setup", "dev", lambda key: None)[1]
    assert any(p.startswith("accountId is not set:") and "pulumi config set accountId <value>" in p for p in problems)
    assert any(p.startswith("region is not set:") for p in problems)


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("versioning", "yes", "versioning = 'yes': expected true or false."),
        (
            "noncurrentVersionExpirationDays",
            "ninety",
            "noncurrentVersionExpirationDays = 'ninety': expected a whole number.",
        ),
        ("tags", "team=imaging", "tags = 'team=imaging': expected a mapping of key: value"),
    ],
)
def test_values_of_the_wrong_type_are_refused(key: str, raw: str, message: str) -> None:
    assert the_problem(**{key: raw}).startswith(message)


def test_account_id_that_lost_its_zero() -> None:
    assert "give all 12 digits" in the_problem(accountId="12345678901")


def test_unsupported_region() -> None:
    assert "is not a region where AWS HealthImaging runs" in the_problem(region="eu-central-1")
    assert problems_of(region="eu-central-1", allowUnlistedRegion="true") == []


def test_input_and_output_bucket_must_differ() -> None:
    message = the_problem(inputBucketName="ahi-dicom", outputBucketName="ahi-dicom")
    assert message == (
        "inputBucketName (set) and outputBucketName (set) are both 'ahi-dicom': the input, output and log buckets "
        "must be different buckets. Choose another outputBucketName."
    )


def test_log_bucket_must_differ_from_the_output_bucket() -> None:
    assert "must be different buckets. Choose another logBucketName." in the_problem(
        outputBucketName="ahi-out", logBucketName="ahi-out"
    )


GENERATED_AUDIT_BUCKET = f"ahi-dev-audit-{ACCOUNT}-us-east-1-an"


@pytest.mark.parametrize("key", ["inputBucketName", "outputBucketName", "logBucketName"])
def test_a_bucket_name_set_to_the_generated_audit_bucket_name_asks_to_change_that_setting(key: str) -> None:
    assert the_problem(**{key: GENERATED_AUDIT_BUCKET}) == (
        f"auditBucketName (generated) and {key} (set) are both {GENERATED_AUDIT_BUCKET!r}: the audit trail needs "
        f"a bucket of its own. Choose another {key}."
    )


def test_an_audit_bucket_name_set_to_a_generated_bucket_name_asks_to_change_auditbucketname() -> None:
    generated_output = f"ahi-dev-output-{ACCOUNT}-us-east-1-an"
    assert the_problem(auditBucketName=generated_output) == (
        f"auditBucketName (set) and outputBucketName (generated) are both {generated_output!r}: the audit trail "
        "needs a bucket of its own. Choose another auditBucketName."
    )


@pytest.mark.parametrize(
    ("key", "example"),
    [
        ("inputBucketName", "hospital-a-dicom-input"),
        ("outputBucketName", "hospital-a-dicom-output"),
        ("logBucketName", "hospital-a-dicom-logs"),
        ("auditBucketName", "hospital-a-dicom-audit"),
    ],
)
def test_an_invalid_bucket_name_is_answered_with_an_example_for_that_bucket(key: str, example: str) -> None:
    assert the_problem(**{key: "Bad_Name"}).endswith(
        f"Choose a name such as {example!r}, or leave the setting empty to get a generated name."
    )


def test_invalid_explicit_bucket_name_names_its_key() -> None:
    assert the_problem(outputBucketName="Results_Bucket").startswith(
        "outputBucketName = 'Results_Bucket' is not a valid S3 bucket name"
    )


def test_unknown_choices_are_refused() -> None:
    assert (
        the_problem(bucketNaming="random") == "bucketNaming = 'random' is not one of: 'account-regional', 'generated'."
    )
    assert the_problem(bucketEncryption="aes").startswith("bucketEncryption = 'aes' is not one of")
    assert the_problem(datastoreEncryption="none").startswith("datastoreEncryption = 'none' is not one of")


def test_kms_key_arn_rules_apply_to_both_keys() -> None:
    alias = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/imaging"
    assert the_problem(bucketKmsKeyArn=alias).startswith(f"bucketKmsKeyArn = {alias!r} is a KMS alias")
    assert the_problem(datastoreKmsKeyArn=alias).startswith(f"datastoreKmsKeyArn = {alias!r} is a KMS alias")
    other_region = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}"
    assert "is in region eu-west-1" in the_problem(bucketKmsKeyArn=other_region)


def test_cross_account_key_needs_allow_cross_account_keys() -> None:
    arn = f"arn:aws:kms:us-east-1:444455556666:key/{KEY_ID}"
    assert "allowCrossAccountKeys" in the_problem(datastoreKmsKeyArn=arn)
    assert problems_of(datastoreKmsKeyArn=arn, allowCrossAccountKeys="true") == []


def test_conflicting_encryption_settings_are_refused() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
    assert the_problem(bucketEncryption="sse-s3", bucketKmsKeyArn=key).startswith(
        "bucketKmsKeyArn is set but bucketEncryption is 'sse-s3'"
    )
    assert the_problem(datastoreEncryption="aws-owned-key", datastoreKmsKeyArn=key).startswith(
        "datastoreKmsKeyArn is set but datastoreEncryption is 'aws-owned-key'"
    )


def test_force_destroy_needs_a_disposable_stack() -> None:
    assert the_problem(forceDestroyBuckets="true").startswith("forceDestroyBuckets = true needs disposableStack = true")
    assert problems_of(forceDestroyBuckets="true", disposableStack="true") == []


@pytest.mark.parametrize("days", ["0", "-1"])
def test_lifecycle_days_must_be_positive(days: str) -> None:
    assert "must be between 1 and" in the_problem(noncurrentVersionExpirationDays=days)


def test_current_version_expiration_zero_means_never_and_negative_is_refused() -> None:
    assert problems_of(currentVersionExpirationDays="0") == []
    assert problems_of(currentVersionExpirationDays="365") == []
    assert the_problem(currentVersionExpirationDays="-30").startswith("currentVersionExpirationDays = -30")


def test_datastore_name_tags_and_iam_settings() -> None:
    assert "HealthImaging does not accept" in the_problem(datastoreName="CT scans")
    assert "reserved for AWS" in the_problem(tags='{"aws:team": "x"}')
    assert "IAM allows at most 64" in the_problem(importRoleName="r" * 65)
    assert "is not an IAM path" in the_problem(iamPath="healthimaging")
    assert "is not an IAM managed policy ARN" in the_problem(permissionsBoundaryArn="Boundary")


def test_name_prefix_rules_apply_to_the_configured_prefix() -> None:
    assert the_problem(namePrefix="AHI").startswith(
        "namePrefix = 'AHI': a name prefix must start with a lowercase letter"
    )


def test_generated_name_prefix_comes_from_the_stack() -> None:
    settings, problems = read_settings("healthimaging-setup", "Prod", lambda key: VALID.get(key))
    assert problems == []
    assert settings.name_prefix == "ahi-prod"


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of(region="mars-1", inputBucketName="A", tags='{"aws:x": "y"}', namePrefix="X")
    assert len(problems) >= 4


def test_a_misspelt_key_is_refused_with_a_suggestion() -> None:
    (problem,) = unknown_key_problems(
        "healthimaging-setup", ["healthimaging-setup:versoning", "healthimaging-setup:region", "aws:region"]
    )
    assert problem == "versoning is not a setting of this program, so it would be ignored. Did you mean 'versioning'?"


def test_an_unknown_key_without_a_near_match_points_at_pulumi_yaml() -> None:
    (problem,) = unknown_key_problems("healthimaging-setup", ["healthimaging-setup:zzz"])
    assert problem.endswith("See Pulumi.yaml for the keys this program reads.")
