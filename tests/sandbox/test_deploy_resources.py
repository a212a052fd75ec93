"""How the sandbox creates each resource type: Pulumi's inputs in, the resource in moto or the HealthImaging
emulator out, with the outputs AWS answers with."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from components import policies
from sandbox import deploy_resources as dr
from sandbox.deploy import sandbox_clients
from sandbox.deploy_resources import Target, aws_api
from testkit.fakes.environment import AwsEnv

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def target(aws_env: AwsEnv) -> Target:
    return Target(sandbox_clients(aws_env.endpoints, REGION), aws_env.healthimaging, ACCOUNT, REGION)


def bucket(target: Target, name: str = "sbx-bucket") -> str:
    bucket_id, _ = dr.create_bucket(target, "logical", {"bucket": name})
    return bucket_id


# --- pure -------------------------------------------------------------------------------------------------------


def test_aws_api_spells_pulumi_inputs_as_the_s3_api_does() -> None:
    rule = {"id": "expire", "status": "Enabled", "noncurrentVersionExpiration": {"noncurrentDays": 90.0}}
    assert aws_api([rule]) == [
        {"ID": "expire", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 90}}
    ]


def test_aws_api_keeps_fractional_numbers() -> None:
    assert aws_api({"ratio": 0.5}) == {"Ratio": 0.5}


# --- S3 ---------------------------------------------------------------------------------------------------------


def test_a_bucket_is_created_with_its_tags_and_answers_its_arn(target: Target) -> None:
    bucket_id, outputs = dr.create_bucket(target, "logical", {"bucket": "sbx-tagged", "tags": {"role": "input"}})
    s3 = target.client("s3")
    assert bucket_id == "sbx-tagged"
    assert outputs["arn"] == "arn:aws:s3:::sbx-tagged"
    assert s3.get_bucket_tagging(Bucket="sbx-tagged")["TagSet"] == [{"Key": "role", "Value": "input"}]


def test_a_public_access_block_sets_each_flag(target: Target) -> None:
    name = bucket(target)
    inputs = {"bucket": name, "blockPublicAcls": True, "ignorePublicAcls": True, "blockPublicPolicy": False}
    dr.put_public_access_block(target, "pab", {**inputs, "restrictPublicBuckets": True})
    block = target.client("s3").get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }


def test_ownership_controls_set_the_rule(target: Target) -> None:
    name = bucket(target)
    dr.put_ownership_controls(target, "own", {"bucket": name, "rule": {"objectOwnership": "BucketOwnerEnforced"}})
    rules = target.client("s3").get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_encryption_sets_the_key_the_bucket_key_and_the_blocked_types(target: Target) -> None:
    name = bucket(target)
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    default = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    rule = {
        "applyServerSideEncryptionByDefault": default,
        "bucketKeyEnabled": True,
        "blockedEncryptionTypes": ["SSE-C"],
    }
    dr.put_encryption(target, "enc", {"bucket": name, "rules": [rule]})
    (written,) = target.client("s3").get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert written["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    assert written["BucketKeyEnabled"] is True


def test_versioning_sets_the_status(target: Target) -> None:
    name = bucket(target)
    dr.put_versioning(target, "ver", {"bucket": name, "versioningConfiguration": {"status": "Enabled"}})
    assert target.client("s3").get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


def test_the_programs_tls_only_policy_is_put_and_lets_the_owner_write(target: Target) -> None:
    name = bucket(target)
    policy = policies.bucket_policy(f"arn:aws:s3:::{name}", require_tls=True)
    dr.put_bucket_policy(target, "pol", {"bucket": name, "policy": json.dumps(policy)})
    s3 = target.client("s3")
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == policy
    s3.put_object(Bucket=name, Key="a.dcm", Body=b"x")  # the loopback stands in for TLS: not denied
    assert s3.get_object(Bucket=name, Key="a.dcm")["Body"].read() == b"x"


def test_a_policy_that_denies_without_a_condition_denies_in_the_sandbox(target: Target) -> None:
    name = bucket(target)
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"}
    dr.put_bucket_policy(target, "pol", {"bucket": name, "policy": {"Version": "2012-10-17", "Statement": [deny]}})
    with pytest.raises(ClientError) as error:
        target.client("s3").put_object(Bucket=name, Key="a.dcm", Body=b"x")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_condition_that_holds_in_the_sandbox_denies(target: Target) -> None:
    name = bucket(target)
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    dr.put_bucket_policy(target, "pol", {"bucket": name, "policy": {"Version": "2012-10-17", "Statement": [deny]}})
    with pytest.raises(ClientError):
        target.client("s3").put_object(Bucket=name, Key="a.dcm", Body=b"x")


def test_lifecycle_rules_are_put_in_the_s3_apis_spelling(target: Target) -> None:
    name = bucket(target)
    rules = [
        {
            "id": "abort",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7.0},
        },
        {
            "id": "expire",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrentVersionExpiration": {"noncurrentDays": 90.0},
        },
    ]
    dr.put_lifecycle(target, "life", {"bucket": name, "rules": rules})
    written = {r["ID"]: r for r in target.client("s3").get_bucket_lifecycle_configuration(Bucket=name)["Rules"]}
    assert written["abort"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert written["expire"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90


def test_logging_points_at_the_target_bucket(target: Target) -> None:
    source, logs = bucket(target, "sbx-source"), bucket(target, "sbx-logs")
    delivery = policies.access_log_delivery_statement(f"arn:aws:s3:::{logs}", [f"arn:aws:s3:::{source}"], ACCOUNT)
    log_policy = policies.bucket_policy(f"arn:aws:s3:::{logs}", require_tls=True, extra_statements=[delivery])
    dr.put_bucket_policy(target, "pol", {"bucket": logs, "policy": log_policy})
    dr.put_logging(target, "log", {"bucket": source, "targetBucket": logs, "targetPrefix": "source/"})
    enabled = target.client("s3").get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert (enabled["TargetBucket"], enabled["TargetPrefix"]) == (logs, "source/")


def test_logging_to_a_bucket_that_never_lets_the_logging_service_write_fails(
    target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dr, "LOGGING_TARGET_WAIT_SECONDS", 0.2)
    source, logs = bucket(target, "sbx-source"), bucket(target, "sbx-logs")
    with pytest.raises(ClientError) as error:
        dr.put_logging(target, "log", {"bucket": source, "targetBucket": logs, "targetPrefix": "source/"})
    assert error.value.response["Error"]["Code"] == "InvalidTargetBucketForLogging"


# --- KMS --------------------------------------------------------------------------------------------------------


def key(target: Target, **inputs: Any) -> tuple[str, dict[str, Any]]:
    return dr.create_key(target, "key", {"description": "sandbox key", **inputs})


def test_a_key_is_created_with_its_policy_and_rotation(target: Target) -> None:
    policy = policies.bucket_key_policy(ACCOUNT)
    key_id, outputs = key(target, policy=json.dumps(policy), enableKeyRotation=True)
    kms = target.client("kms")
    assert outputs == {"keyId": key_id, "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"}
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "sandbox key"
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == policy
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_an_alias_names_its_key(target: Target) -> None:
    key_id, outputs = key(target)
    alias, alias_outputs = dr.create_alias(target, "alias", {"name": "alias/sbx", "targetKeyId": key_id})
    assert alias_outputs["targetKeyArn"] == outputs["arn"]
    assert target.client("kms").describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id


def test_a_key_policy_replaces_the_keys_policy(target: Target) -> None:
    key_id, _ = key(target)
    policy = policies.datastore_key_initial_policy(ACCOUNT)
    dr.put_key_policy(target, "kp", {"keyId": key_id, "policy": json.dumps(policy)})
    assert json.loads(target.client("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == policy


# --- IAM --------------------------------------------------------------------------------------------------------


def role(target: Target) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "medical-imaging.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role_name, _ = dr.create_role(
        target, "role", {"name": "sbx-role", "path": "/", "assumeRolePolicy": json.dumps(trust), "description": "d"}
    )
    return role_name


def test_a_role_is_created_with_its_trust_policy_and_answers_its_arn(target: Target) -> None:
    role_name = role(target)
    found = target.client("iam").get_role(RoleName=role_name)["Role"]
    assert found["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "medical-imaging.amazonaws.com"
    }
    assert found["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/sbx-role"
    assert found["Description"] == "d"


def test_a_role_policy_is_put_inline(target: Target) -> None:
    role_name = role(target)
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    policy_id, _ = dr.put_role_policy(
        target, "rp", {"role": role_name, "name": "Inline", "policy": json.dumps(document)}
    )
    assert policy_id == "sbx-role:Inline"
    assert target.client("iam").get_role_policy(RoleName=role_name, PolicyName="Inline")["PolicyDocument"] == document


def test_a_managed_policy_is_created_and_attached_to_a_group(target: Target) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    policy_arn, outputs = dr.create_policy(
        target, "p", {"name": "sbx-reader", "path": "/", "policy": json.dumps(document)}
    )
    group_name, group_outputs = dr.create_group(target, "g", {"name": "sbx-readers", "path": "/"})
    dr.attach_group_policy(target, "ga", {"group": group_name, "policyArn": policy_arn})
    iam = target.client("iam")
    assert policy_arn == outputs["arn"] == f"arn:aws:iam::{ACCOUNT}:policy/sbx-reader"
    assert group_outputs["arn"] == f"arn:aws:iam::{ACCOUNT}:group/sbx-readers"
    attached = iam.list_attached_group_policies(GroupName=group_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy_arn]


def test_a_managed_policy_is_attached_to_a_role(target: Target) -> None:
    role_name = role(target)
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    policy_arn, _ = dr.create_policy(target, "p", {"name": "sbx-p", "policy": json.dumps(document)})
    dr.attach_role_policy(target, "ra", {"role": role_name, "policyArn": policy_arn})
    attached = target.client("iam").list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [policy_arn]


def test_a_user_is_created_and_joins_its_groups(target: Target) -> None:
    user_name, outputs = dr.create_user(target, "u", {"name": "sbx-admin", "path": "/"})
    group_name, _ = dr.create_group(target, "g", {"name": "sbx-admins"})
    dr.add_user_to_groups(target, "m", {"user": user_name, "groups": [group_name]})
    assert outputs["arn"] == f"arn:aws:iam::{ACCOUNT}:user/sbx-admin"
    groups = target.client("iam").list_groups_for_user(UserName=user_name)["Groups"]
    assert [g["GroupName"] for g in groups] == ["sbx-admins"]


# --- HealthImaging ----------------------------------------------------------------------------------------------


def test_a_data_store_is_created_in_the_emulator_with_its_key(target: Target) -> None:
    _, key_outputs = key(target)
    datastore_id, outputs = dr.create_datastore(
        target, "ds", {"datastoreName": "sbx-store", "kmsKeyArn": key_outputs["arn"]}
    )
    found = target.healthimaging.datastores[datastore_id]
    assert (found.name, found.kms_key_arn, found.status) == ("sbx-store", key_outputs["arn"], "ACTIVE")
    assert outputs["datastoreArn"] == f"arn:aws:medical-imaging:{REGION}:{ACCOUNT}:datastore/{datastore_id}"
    assert outputs["datastoreStatus"] == "ACTIVE"


def test_the_data_store_creators_invocation_creates_the_data_store_with_its_options(target: Target) -> None:
    from healthimaging_functions.datastore_creator.request import IDENTITY_MEMBER, LIFECYCLE_KEY

    event = {
        IDENTITY_MEMBER: "healthimaging-setup/dev/datastore",
        "datastoreName": "sbx-options",
        "losslessStorageFormat": "JPEG_2000_LOSSLESS",
        LIFECYCLE_KEY: {"action": "create"},
    }
    _, outputs = dr.invoke_datastore_creator(target, "creator", {"input": json.dumps(event)})
    answer = json.loads(outputs["result"])
    found = target.healthimaging.datastores[answer["datastoreId"]]
    assert (found.name, found.lossless_storage_format, found.status) == ("sbx-options", "JPEG_2000_LOSSLESS", "ACTIVE")
    assert answer["datastoreArn"] == found.arn
    # What aws-native's Datastore.get reads back is that data store.
    assert dr.read_datastore(target, answer["datastoreId"])["datastoreName"] == "sbx-options"


def test_an_invocation_other_than_the_creators_is_refused(target: Target) -> None:
    with pytest.raises(ValueError, match="only the data store creator's invocations are emulated"):
        dr.invoke_datastore_creator(target, "other", {"input": json.dumps({"anything": 1})})
    assert target.healthimaging.datastores == {}


def test_reading_a_data_store_that_is_not_there_names_it(target: Target) -> None:
    with pytest.raises(KeyError, match="no data store " + "f" * 32):
        dr.read_datastore(target, "f" * 32)
