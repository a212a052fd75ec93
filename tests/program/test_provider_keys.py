"""Pulumi's own ``aws:`` / ``aws-native:`` stack keys: passed on to both explicit providers, or refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ahictl import mockrun
from components import InvalidInputError
from program.provider_keys import HONOURED_KEYS, REFUSED_KEYS, judge_provider_keys
from testkit.mock_runs import DEV_ACCOUNT, DEV_REGION, PROJECT, PROJECT_DIR, dev_config, documentation

ROLE = f"arn:aws:iam::{DEV_ACCOUNT}:role/deployer"


def judge_keys(values: dict[str, Any]) -> tuple[Any, list[str]]:
    raw = {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    return judge_provider_keys(raw, account_id=DEV_ACCOUNT, region=DEV_REGION)


def run_with(provider_keys: dict[str, Any]) -> mockrun.ProgramRun:
    config = dev_config()
    config.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in provider_keys.items()})
    return mockrun.run(
        PROJECT_DIR / "__main__.py",
        config=config,
        project=PROJECT,
        stack="dev",
        account_id=DEV_ACCOUNT,
        region=DEV_REGION,
    )


def providers(run: mockrun.ProgramRun) -> tuple[dict[str, Any], dict[str, Any]]:
    return run.one("pulumi:providers:aws").inputs, run.one("pulumi:providers:aws-native").inputs


# --- The account guard on both providers ---------------------------------------------------------


def test_the_aws_native_provider_validates_credentials_so_its_account_guard_runs(dev_run: mockrun.ProgramRun) -> None:
    aws, native = providers(dev_run)
    for inputs in (aws, native):
        assert json.loads(inputs["allowedAccountIds"]) == [DEV_ACCOUNT]
        assert inputs["skipCredentialsValidation"] in ("false", False)
        assert inputs["skipRequestingAccountId"] in ("false", False)


@pytest.mark.parametrize("encryption", [{"datastoreEncryption": "aws-owned-key"}, {}])
def test_the_guard_holds_whatever_key_protects_the_data_store(encryption: dict[str, str]) -> None:
    config = dev_config(**encryption)
    run = mockrun.run(
        PROJECT_DIR / "__main__.py",
        config=config,
        project=PROJECT,
        stack="dev",
        account_id=DEV_ACCOUNT,
        region=DEV_REGION,
    )
    datastore = run.one("aws-native:healthimaging:Datastore")
    assert datastore.provider_name == "aws-native"
    assert run.one("pulumi:providers:aws-native").inputs["skipCredentialsValidation"] in ("false", False)


# --- Honoured keys ---------------------------------------------------------------------------------


def test_a_profile_reaches_both_providers() -> None:
    aws, native = providers(run_with({"aws:profile": "imaging-dev"}))
    assert aws["profile"] == "imaging-dev"
    assert native["profile"] == "imaging-dev"


def test_one_role_to_assume_reaches_both_providers_in_each_spelling() -> None:
    run = run_with({"aws:assumeRoles": [{"roleArn": ROLE, "sessionName": "ci", "externalId": "x-1", "duration": "1h"}]})
    aws, native = providers(run)
    assert json.loads(aws["assumeRoles"]) == [
        {"roleArn": ROLE, "sessionName": "ci", "externalId": "x-1", "duration": "3600s"}
    ]
    assert json.loads(native["assumeRole"]) == {
        "roleArn": ROLE,
        "sessionName": "ci",
        "externalId": "x-1",
        "durationSeconds": 3600,
    }


def test_the_older_single_assume_role_key_is_honoured_too() -> None:
    keys, problems = judge_keys({"aws:assumeRole": {"roleArn": ROLE}})
    assert problems == []
    assert keys.assume_role.role_arn == ROLE


def test_the_cloud_control_role_reaches_only_aws_native() -> None:
    aws, native = providers(run_with({"aws-native:roleArn": ROLE}))
    assert native["roleArn"] == ROLE
    assert "roleArn" not in aws


def test_a_region_or_account_list_that_agrees_with_the_settings_is_accepted() -> None:
    keys, problems = judge_keys(
        {
            "aws:region": DEV_REGION,
            "aws-native:region": DEV_REGION,
            "aws:allowedAccountIds": [DEV_ACCOUNT],
            "aws-native:allowedAccountIds": [DEV_ACCOUNT],
            "aws:maxRetries": 10,
            "aws:forbiddenAccountIds": ["999988887777"],
        }
    )
    assert problems == []
    assert keys.max_retries == 10
    assert keys.forbidden_account_ids == ("999988887777",)


# --- Refused keys ----------------------------------------------------------------------------------


def test_a_region_that_disagrees_is_refused_naming_both_settings() -> None:
    _, problems = judge_keys({"aws:region": "eu-west-1"})
    assert problems == [
        "aws:region = 'eu-west-1' disagrees with region = 'us-east-1'; both providers use region. "
        "Remove aws:region, or set region to the region you mean."
    ]


def test_another_allowed_account_is_refused() -> None:
    _, problems = judge_keys({"aws-native:allowedAccountIds": ["444455556666"]})
    assert len(problems) == 1
    assert problems[0].startswith("aws-native:allowedAccountIds = ['444455556666']: both providers are pinned")


@pytest.mark.parametrize("key", ["aws:defaultTags", "aws-native:defaultTags"])
def test_default_tags_are_refused_in_favour_of_the_project_tags(key: str) -> None:
    _, problems = judge_keys({key: {"tags": {"team": "imaging"}}})
    assert len(problems) == 1
    assert problems[0].startswith(f"{key} is set, but this program does not use it. Set the project's `tags`")


def test_static_credentials_are_refused_without_echoing_them() -> None:
    _, problems = judge_keys({"aws:secretKey": "not-a-real-secret-value"})
    assert len(problems) == 1
    assert "not-a-real-secret-value" not in problems[0]
    assert "Credentials never belong in stack configuration" in problems[0]


def test_switching_off_credential_validation_is_refused() -> None:
    _, problems = judge_keys({"aws-native:skipCredentialsValidation": "true"})
    assert "switch off the check that stops both providers" in problems[0]


def test_a_chain_of_roles_is_refused_because_aws_native_takes_one() -> None:
    _, problems = judge_keys({"aws:assumeRoles": [{"roleArn": ROLE}, {"roleArn": ROLE + "2"}]})
    assert len(problems) == 1
    assert "aws-native, which creates the data store, can assume only one" in problems[0]


def test_disagreeing_profiles_are_refused() -> None:
    _, problems = judge_keys({"aws:profile": "a", "aws-native:profile": "b"})
    assert problems == [
        "aws:profile = 'a' and aws-native:profile = 'b' disagree; both providers get one value, so set only aws:profile."
    ]


def test_forbidding_the_stacks_own_account_is_refused() -> None:
    _, problems = judge_keys({"aws:forbiddenAccountIds": [DEV_ACCOUNT]})
    assert problems[0].startswith("aws:forbiddenAccountIds contains accountId")


def test_an_unknown_provider_key_is_refused_not_ignored() -> None:
    _, problems = judge_keys({"aws:s3UsePathStyle": "true"})
    assert len(problems) == 1
    assert problems[0].startswith("aws:s3UsePathStyle is set, but this program's explicit providers do not read it")


def test_every_key_is_either_honoured_or_refused_never_both() -> None:
    assert not set(HONOURED_KEYS) & set(REFUSED_KEYS)


def test_a_refused_key_stops_the_program_before_anything_is_created() -> None:
    recorded: list[mockrun.PlannedResource] = []
    config = dev_config()
    config["aws:region"] = "eu-west-2"
    with pytest.raises(InvalidInputError) as error:
        mockrun.run(
            PROJECT_DIR / "__main__.py",
            config=config,
            project=PROJECT,
            stack="dev",
            account_id=DEV_ACCOUNT,
            region=DEV_REGION,
            recorded=recorded,
        )
    assert "aws:region = 'eu-west-2' disagrees with region" in str(error.value)
    assert [r for r in recorded if r.custom] == []


def test_the_readme_lists_every_honoured_and_refused_key() -> None:
    readme = documentation()
    section = readme.split("### Pulumi's own provider keys", 1)[1].split("\n## ", 1)[0]
    for key in [*HONOURED_KEYS, *REFUSED_KEYS]:
        name = key.split(":", 1)[1]
        assert f"`{key}`" in section or f":{name}`" in section, key


# --- Values read as the engine gives them ----------------------------------------------------------


def test_a_numeric_profile_name_is_a_profile_name() -> None:
    keys, problems = judge_provider_keys({"aws:profile": "111122223333"}, account_id=DEV_ACCOUNT, region=DEV_REGION)
    assert problems == []
    assert keys.profile == "111122223333"


@pytest.mark.parametrize(
    ("member", "value", "message"),
    [
        ("tags", ["a", "b"], "tags = ['a', 'b']: expected a mapping of tag key to text"),
        (
            "policyArns",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "policyArns = 'arn:aws:iam::aws:policy/ReadOnlyAccess'",
        ),
        ("transitiveTagKeys", "team", "transitiveTagKeys = 'team': expected a list of tag keys"),
        ("externalId", 1234, "externalId = 1234: expected text"),
    ],
)
def test_a_badly_shaped_assume_role_member_is_refused(member: str, value: Any, message: str) -> None:
    keys, problems = judge_keys({"aws:assumeRoles": [{"roleArn": ROLE, member: value}]})
    assert keys.assume_role is None
    assert len(problems) == 1
    assert problems[0].startswith(f"aws:assumeRoles[0] {message}")


def test_a_session_policy_given_as_a_mapping_is_passed_as_json() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    keys, problems = judge_keys({"aws:assumeRoles": [{"roleArn": ROLE, "policy": policy}]})
    assert problems == []
    assert json.loads(keys.assume_role.policy) == policy


def test_a_role_of_another_account_is_refused() -> None:
    other = "arn:aws:iam::999988887777:role/deployer"
    _, problems = judge_keys({"aws:assumeRoles": [{"roleArn": other}], "aws-native:roleArn": other})
    assert len(problems) == 2
    assert all("999988887777" in p and DEV_ACCOUNT in p for p in problems)


def test_a_provider_region_without_the_region_setting_says_what_to_set() -> None:
    _, problems = judge_provider_keys({"aws:region": "eu-west-1"}, account_id=DEV_ACCOUNT, region="")
    assert problems == [
        "aws:region = 'eu-west-1' is set but region is not: both providers use region. "
        "Set region to 'eu-west-1' and remove aws:region."
    ]
