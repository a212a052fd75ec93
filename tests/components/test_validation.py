"""The pure validators: every input that security-baseline.md says must be refused, with its message."""

from __future__ import annotations

from typing import Any

import pytest

from components import validation

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


# --- bucket names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["abc", "medical-imaging-dicom-input", "a" * 63, "my.bucket.name", "0-starts-with-digit"],
)
def test_valid_bucket_names_pass(name: str) -> None:
    assert validation.bucket_name_problems("inputBucketName", name) == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("ab", "must be 3 to 63 characters long (it has 2)"),
        ("a" * 64, "must be 3 to 63 characters long (it has 64)"),
        ("My_Bucket", "may contain only lowercase letters, digits, '.' and '-'"),
        ("-leading", "must begin with a lowercase letter or digit"),
        ("trailing-", "must end with a lowercase letter or digit"),
        ("double..dot", "must not contain two adjacent periods"),
        ("192.168.5.4", "must not be formatted as an IP address"),
        ("xn--bucket", "must not begin with the reserved prefix 'xn--'"),
        ("sthree-bucket", "must not begin with the reserved prefix 'sthree-'"),
        ("amzn-s3-demo-bucket", "must not begin with the reserved prefix 'amzn-s3-demo-'"),
        ("bucket-s3alias", "must not end with the reserved suffix '-s3alias'"),
        ("bucket--ol-s3", "must not end with the reserved suffix '--ol-s3'"),
        ("bucket.mrap", "must not end with the reserved suffix '.mrap'"),
        ("bucket--x-s3", "must not end with the reserved suffix '--x-s3'"),
        ("bucket--table-s3", "must not end with the reserved suffix '--table-s3'"),
    ],
)
def test_invalid_bucket_names_name_the_setting_value_and_rule(name: str, rule: str) -> None:
    problems = validation.bucket_name_problems("inputBucketName", name)
    assert len(problems) == 1
    assert problems[0].startswith(f"inputBucketName = {name!r} is not a valid S3 bucket name")
    assert rule in problems[0]
    assert "leave the setting empty to get a generated name" in problems[0]


@pytest.mark.parametrize(
    ("setting", "example"),
    [
        ("output_bucket_name", "hospital-a-dicom-output"),
        ("namePrefix (generated log bucket name)", "hospital-a-dicom-logs"),
        ("bucket_name", "hospital-a-dicom-bucket"),
    ],
)
def test_the_example_bucket_name_fits_the_bucket_the_setting_names(setting: str, example: str) -> None:
    (problem,) = validation.bucket_name_problems(setting, "Bad_Name")
    assert f"Choose a name such as {example!r}," in problem
    assert validation.bucket_name_problems("x", example) == []


def test_bucket_name_lists_every_broken_rule_at_once() -> None:
    (problem,) = validation.bucket_name_problems("outputBucketName", "-Bad..Name_")
    for rule in ("only lowercase letters", "must begin with", "must end with", "two adjacent periods"):
        assert rule in problem


def test_dotted_bucket_name_is_legal_but_warned() -> None:
    assert validation.bucket_name_problems("inputBucketName", "my.bucket") == []
    (warning,) = validation.bucket_name_warnings("inputBucketName", "my.bucket")
    assert "breaks TLS certificate validation" in warning
    assert validation.bucket_name_warnings("inputBucketName", "my-bucket") == []


def test_account_regional_names_must_fit_in_63_characters() -> None:
    assert (
        validation.account_regional_bucket_name("ahi-dev-input", ACCOUNT, REGION)
        == f"ahi-dev-input-{ACCOUNT}-{REGION}-an"
    )
    assert (
        validation.account_regional_prefix_problems("namePrefix", "ahi-dev", "output", ACCOUNT, "ap-southeast-2") == []
    )
    (problem,) = validation.account_regional_prefix_problems(
        "namePrefix", "x" * 30, "output", ACCOUNT, "ap-southeast-2"
    )
    assert problem.startswith(
        "namePrefix = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is too long for account-regional bucket names"
    )
    assert "(68 characters; S3 allows 63)" in problem
    assert "at most 25 characters in ap-southeast-2" in problem


# --- regions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", validation.HEALTHIMAGING_REGIONS)
def test_healthimaging_regions_pass(region: str) -> None:
    assert validation.region_problems("region", region) == []


def test_unsupported_region_is_refused_with_the_list_and_the_override() -> None:
    (problem,) = validation.region_problems("region", "eu-central-1")
    assert problem.startswith("region = 'eu-central-1' is not a region where AWS HealthImaging runs")
    assert "us-east-1, us-west-2, eu-west-1, eu-west-2, ap-southeast-2" in problem
    assert "allowUnlistedRegion" in problem


def test_unlisted_region_passes_with_the_override_but_must_look_like_a_region() -> None:
    assert validation.region_problems("region", "eu-central-1", allow_unlisted=True) == []
    (problem,) = validation.region_problems("region", "mars-1", allow_unlisted=True)
    assert "does not look like an AWS region name" in problem


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1", "us-isob-east-1"])
def test_other_partitions_are_refused_even_with_the_override(region: str) -> None:
    (problem,) = validation.region_problems("region", region, allow_unlisted=True)
    assert "outside the commercial 'aws' partition" in problem


def test_missing_region_is_refused() -> None:
    (problem,) = validation.region_problems("region", "")
    assert "a region is required" in problem


# --- account IDs -----------------------------------------------------------------------------------


def test_twelve_digit_string_account_id_passes() -> None:
    assert validation.account_id_problems("accountId", "012345678901") == []


def test_account_id_that_lost_its_leading_zero_asks_for_all_twelve_digits() -> None:
    (problem,) = validation.account_id_problems("accountId", "12345678901")
    assert problem.startswith("accountId = '12345678901' has 11 digits; an AWS account ID has exactly 12.")
    assert problem.endswith('If the real ID starts with 0, give all 12 digits, for example "012345678901".')


def test_integer_account_id_is_refused() -> None:
    (problem,) = validation.account_id_problems("accountId", 12345678901)
    assert "YAML read it as a number" in problem


@pytest.mark.parametrize("value", ["1234567890123", "12345678901a", "", "arn:aws:iam::111122223333:root"])
def test_malformed_account_ids_are_refused(value: str) -> None:
    (problem,) = validation.account_id_problems("accountId", value)
    assert f"accountId = {value!r}" in problem
    assert "12 digits" in problem


# --- data store names and tags ---------------------------------------------------------------------


def test_datastore_name_rules() -> None:
    assert validation.datastore_name_problems("datastoreName", "Hospital_A/ct#1.-") == []
    assert "non-empty" in validation.datastore_name_problems("datastoreName", "")[0]
    assert "the limit is 256" in validation.datastore_name_problems("datastoreName", "a" * 257)[0]
    (problem,) = validation.datastore_name_problems("datastoreName", "my datastore!")
    assert "contains characters HealthImaging does not accept (' ' '!')" in problem


def test_tag_rules() -> None:
    assert validation.tags_problems("tags", {"team": "imaging", "cost-center": "42"}) == []
    assert "reserved for AWS" in validation.tags_problems("tags", {"aws:owner": "x"})[0]
    assert "1 to 128 characters" in validation.tags_problems("tags", {"k" * 129: "x"})[0]
    assert "1 to 128 characters" in validation.tags_problems("tags", {"": "x"})[0]
    assert "at most 256" in validation.tags_problems("tags", {"k": "v" * 257})[0]
    assert "tag values must be strings" in validation.tags_problems("tags", {"k": 5})[0]
    assert "mapping of key to value" in validation.tags_problems("tags", ["team=imaging"])[0]
    assert "at most 50" in validation.tags_problems("tags", {f"k{i}": "v" for i in range(51)})[0]


# --- KMS key ARNs ----------------------------------------------------------------------------------


def _key_problems(arn: str, **kwargs: bool) -> list[str]:
    return validation.kms_key_arn_problems("bucketKmsKeyArn", arn, region=REGION, account_id=ACCOUNT, **kwargs)


def test_key_arn_of_this_account_and_region_passes() -> None:
    assert _key_problems(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}") == []
    assert _key_problems(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/mrk-{'a' * 32}") == []


def test_alias_is_refused_because_it_can_be_repointed() -> None:
    (problem,) = _key_problems(f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/imaging")
    assert "is a KMS alias" in problem
    assert "can be repointed" in problem
    assert "aws kms describe-key" in problem


@pytest.mark.parametrize(
    "arn",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid",
        "arn:aws:s3:::bucket",
    ],
)
def test_malformed_key_arn_is_refused(arn: str) -> None:
    (problem,) = _key_problems(arn)
    assert "is not a KMS key ARN of the form arn:aws:kms:<region>:<12-digit account>:key/<key-id>" in problem


def test_key_in_another_region_is_refused() -> None:
    (problem,) = _key_problems(f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/{KEY_ID}")
    assert "is in region eu-west-1, but the stack deploys to us-east-1" in problem


def test_key_of_another_account_needs_the_explicit_opt_in() -> None:
    arn = f"arn:aws:kms:{REGION}:444455556666:key/{KEY_ID}"
    (problem,) = _key_problems(arn)
    assert "belongs to account 444455556666, not the stack's account 111122223333" in problem
    assert "allowCrossAccountKeys" in problem
    assert _key_problems(arn, allow_cross_account=True) == []


def test_key_in_another_partition_is_refused() -> None:
    problems = _key_problems(f"arn:aws-cn:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}")
    assert any("partition 'aws-cn'" in p for p in problems)


# --- IAM names, paths, days, prefixes, choices -----------------------------------------------------


def test_iam_names() -> None:
    assert validation.iam_name_problems("importRoleName", "ImportJobDataAccessRole") == []
    assert "IAM allows at most 64" in validation.iam_name_problems("importRoleName", "r" * 65)[0]
    assert "characters IAM does not accept" in validation.iam_name_problems("importRoleName", "role name")[0]
    assert "non-empty" in validation.iam_name_problems("importRoleName", "")[0]


@pytest.mark.parametrize("path", ["/", "/healthimaging/", "/a/b/"])
def test_valid_iam_paths(path: str) -> None:
    assert validation.iam_path_problems("iamPath", path) == []


@pytest.mark.parametrize("path", ["", "healthimaging/", "/healthimaging", "//", "/a//b/"])
def test_invalid_iam_paths(path: str) -> None:
    (problem,) = validation.iam_path_problems("iamPath", path)
    assert f"iamPath = {path!r} is not an IAM path" in problem


def test_permissions_boundary_must_be_a_policy_arn() -> None:
    assert validation.iam_policy_arn_problems("permissionsBoundaryArn", f"arn:aws:iam::{ACCOUNT}:policy/Boundary") == []
    assert validation.iam_policy_arn_problems("permissionsBoundaryArn", "arn:aws:iam::aws:policy/ReadOnlyAccess") == []
    (problem,) = validation.iam_policy_arn_problems("permissionsBoundaryArn", f"arn:aws:iam::{ACCOUNT}:role/Boundary")
    assert "is not an IAM managed policy ARN" in problem


def test_iam_settings_are_clean_when_only_the_path_is_given() -> None:
    assert validation.iam_settings_problems({}, "/") == []
    good = {"permissions_boundary_arn": f"arn:aws:iam::{ACCOUNT}:policy/Boundary", "tags": {"team": "imaging"}}
    assert validation.iam_settings_problems(good, "/healthimaging/") == []


def test_iam_settings_report_path_boundary_and_tags_in_that_order_under_the_names_set() -> None:
    args = {"permissions_boundary_arn": f"arn:aws:iam::{ACCOUNT}:role/Boundary", "tags": {"aws:team": "imaging"}}
    names = {"path": "iamPath", "permissions_boundary_arn": "permissionsBoundaryArn", "tags": "tags"}
    path_problem, boundary_problem, tags_problem = validation.iam_settings_problems(args, "healthimaging/", names)
    assert path_problem.startswith("iamPath = 'healthimaging/' is not an IAM path")
    assert boundary_problem.startswith("permissionsBoundaryArn = ")
    assert "is not an IAM managed policy ARN" in boundary_problem
    assert tags_problem.startswith("tags")
    assert "aws:" in tags_problem


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "between 1 and"),
        (-5, "between 1 and"),
        (True, "whole number"),
        ("30", "whole number"),
        (1.5, "whole number"),
    ],
)
def test_lifecycle_days_must_be_positive_whole_numbers(value: object, message: str) -> None:
    (problem,) = validation.positive_days_problems("noncurrentVersionExpirationDays", value)
    assert problem.startswith("noncurrentVersionExpirationDays = ")
    assert message in problem


def test_name_prefix_rules() -> None:
    assert validation.name_prefix_problems("namePrefix", "ahi-dev") == []
    for bad in ("Ahi", "ahi_dev", "-ahi", "ahi-", "ahi--dev", ""):
        assert validation.name_prefix_problems("namePrefix", bad), bad
    assert "keep it to 24 or fewer" in validation.name_prefix_problems("namePrefix", "a" * 25)[0]


def test_choice_names_the_allowed_values() -> None:
    (problem,) = validation.choice_problems("bucketEncryption", "aes", ("kms", "sse-s3"))
    assert problem == "bucketEncryption = 'aes' is not one of: 'kms', 'sse-s3'."


def test_invalid_input_error_lists_every_problem_and_is_a_clean_pulumi_error() -> None:
    import pulumi

    error = validation.InvalidInputError("Configuration of stack 'dev'", ["first problem.", "second problem."])
    assert isinstance(error, pulumi.RunError)
    assert (
        str(error)
        == "Configuration of stack 'dev': 2 problems found; nothing was created.\n  - first problem.\n  - second problem."
    )
    validation.raise_if_problems("nothing", [])
    with pytest.raises(validation.InvalidInputError, match="1 problem found"):
        validation.raise_if_problems("subject", ["only one."])


# --- Full matches over ASCII classes: no Unicode letters, no trailing newline ---------------------


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (lambda v: validation.iam_name_problems("importRoleName", v), "ahi_rôle"),
        (lambda v: validation.iam_name_problems("accessAdminUserName", v), "médecin"),
        (lambda v: validation.iam_name_problems("importRoleName", v), "role\n"),
        (lambda v: validation.account_id_problems("accountId", v), "111122223333\n"),
        (lambda v: validation.account_id_problems("accountId", v), "١١١١٢٢٢٢٣٣٣٣"),
        (lambda v: validation.bucket_name_problems("inputBucketName", v), "dicom-input\n"),
        (lambda v: validation.datastore_name_problems("datastoreName", v), "store\n"),
        (lambda v: validation.datastore_name_problems("datastoreName", v), "störe"),
        (lambda v: validation.name_prefix_problems("namePrefix", v), "ahi-dev\n"),
        (lambda v: validation.iam_path_problems("iamPath", v), "/imaging/\n"),
        (lambda v: validation.permission_set_name_problems("accessNamePrefix", v), "lecteur-é"),
        (
            lambda v: validation.iam_principal_problems("accessRolePrincipals.reader", v),
            "arn:aws:iam::111122223333:user/zoë",
        ),
        (
            lambda v: validation.kms_key_arn_problems("bucketKmsKeyArn", v, region=REGION, account_id=ACCOUNT),
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
        ),
        (lambda v: validation.region_problems("region", v, allow_unlisted=True), "eu-south-3\n"),
        (lambda v: validation.tags_problems("tags", {"team": v}), "imaging\n"),
    ],
)
def test_unicode_letters_and_trailing_newlines_are_refused(check: Any, value: str) -> None:
    problems = check(value)
    assert len(problems) == 1
    assert repr(value) in problems[0]


def test_tags_keep_the_unicode_letters_aws_accepts() -> None:
    """The general AWS tag rule (buckets, keys, roles) accepts Unicode letters; the data store's does not."""
    assert validation.tags_problems("tags", {"équipe": "radiologie"}) == []


@pytest.mark.parametrize("key", ["équipe", "cost center", "owner@team", "Ärzte"])
def test_data_store_tag_keys_follow_healthimagings_narrower_rule(key: str) -> None:
    assert validation.tags_problems("tags", {key: "x"}) == []  # fine for the other resources
    (problem,) = validation.datastore_tags_problems("tags", {key: "x"})
    assert problem.startswith(f"tags key {key!r}: HealthImaging refuses it as a data store tag key")
    assert "use only ASCII letters, digits and _ . : / = + -" in problem


@pytest.mark.parametrize("key", ["team", "cost-center", "data.classification", "env:stage", "a/b", "k=v+1", "x_9"])
def test_data_store_tag_keys_healthimaging_accepts(key: str) -> None:
    assert validation.datastore_tags_problems("tags", {key: "valeur accentuée"}) == []


def test_a_data_store_tag_key_is_reported_once() -> None:
    """A key both rules refuse gets the general rule's message only."""
    (problem,) = validation.datastore_tags_problems("tags", {"bad#key": "x"})
    assert "contains characters AWS tags do not accept" in problem
    (problem,) = validation.datastore_tags_problems("tags", {"aws:team": "x"})
    assert "reserved for AWS" in problem


def test_the_data_store_tag_key_pattern_is_healthimagings() -> None:
    """The copy in components/validation/tags.py is the pattern of HealthImaging's API model (botocore)."""
    import botocore.loaders

    model = botocore.loaders.Loader().load_service_model("medical-imaging", "service-2")
    assert model["shapes"]["TagKey"]["pattern"] == validation.tags.HEALTHIMAGING_TAG_KEY_PATTERN
    assert (model["shapes"]["TagKey"]["min"], model["shapes"]["TagKey"]["max"]) == (1, 128)
    assert "pattern" not in model["shapes"]["TagValue"]
    assert model["shapes"]["TagValue"]["max"] == 256


@pytest.mark.parametrize("alias", ["", "aws/s3", "clé", "a" * 251, "key\n"])
def test_kms_alias_names_follow_kms_rules(alias: str) -> None:
    (problem,) = validation.kms_alias_name_problems("key_alias", alias)
    assert problem.startswith(f"key_alias = {alias!r}")


def test_a_supplied_key_alias_is_checked_by_the_data_store() -> None:
    from components.datastore import validate_datastore_args

    args = {"account_id": ACCOUNT, "region": REGION, "datastore_name": "d", "key_alias": "aws/imaging"}
    assert validate_datastore_args(args) == [
        "key_alias = 'aws/imaging': aliases beginning with 'aws/' are reserved for AWS managed keys."
    ]
    assert validate_datastore_args({**args, "key_alias": "ahi-dev-datastore-key"}) == []


def test_placement_problems_report_account_region_and_prefix_at_once_by_the_names_given() -> None:
    problems = validation.placement_problems(
        {"account_id": "12345", "region": "not a region", "name_prefix": "Bad Prefix"},
        {"account_id": "accountId", "region": "region", "name_prefix": "namePrefix"},
    )
    assert [problem.split(" ", 1)[0] for problem in problems] == ["accountId", "region", "namePrefix"]
    assert (
        validation.placement_problems({"account_id": "111122223333", "region": "ca-west-9", "name_prefix": "ahi"}) == []
    )
