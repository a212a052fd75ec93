"""How the sandbox creates each resource type the program declares: Pulumi's inputs (camelCase, as the engine
passes them) turned into the AWS API calls a provider would make, against moto or the HealthImaging emulator.

Each creator returns the resource's ID and the outputs AWS answers with (ARNs, names, key IDs); the caller merges
them over the inputs. A type without a creator here is not emulated: :mod:`sandbox.deploy` lists it as skipped.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .healthimaging import HealthImagingEmulator

#: Seconds a bucket logging waits for its target bucket to let the logging service write (its policy may still be
#: on its way: moto checks what real S3 does not).
LOGGING_TARGET_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Target:
    """Where the resources go: boto3 clients to moto (``s3``, ``kms``, ``iam``) and the HealthImaging emulator."""

    clients: Mapping[str, Any]
    healthimaging: HealthImagingEmulator
    account_id: str
    region: str
    #: Set when the deployment failed: a creator that waits gives up.
    stopped: threading.Event = field(default_factory=threading.Event)

    def client(self, service: str) -> Any:
        return self.clients[service]


#: ``creator(target, logical_name, inputs) -> (id, outputs)``.
Creator = Callable[[Target, str, dict[str, Any]], tuple[str, dict[str, Any]]]


def aws_api(value: Any) -> Any:
    """Pulumi inputs (camelCase keys, numbers as floats) in an AWS API's spelling: PascalCase keys, ``id`` as
    ``ID``, whole numbers as ints."""
    if isinstance(value, dict):
        return {("ID" if key == "id" else key[:1].upper() + key[1:]): aws_api(item) for key, item in value.items()}
    if isinstance(value, list):
        return [aws_api(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tags(inputs: Mapping[str, Any], key_name: str = "Key", value_name: str = "Value") -> list[dict[str, str]]:
    return [{key_name: str(k), value_name: str(v)} for k, v in sorted((inputs.get("tags") or {}).items())]


# --- S3 ----------------------------------------------------------------------------------------------------------


def create_bucket(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    s3 = target.client("s3")
    bucket = inputs.get("bucket") or name
    arguments: dict[str, Any] = {"Bucket": bucket}
    if target.region != "us-east-1":
        arguments["CreateBucketConfiguration"] = {"LocationConstraint": target.region}
    s3.create_bucket(**arguments)
    if inputs.get("tags"):
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tags(inputs)})
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "region": target.region,
        "bucketDomainName": f"{bucket}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket}.s3.{target.region}.amazonaws.com",
    }


def put_public_access_block(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    flags = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
    configuration = {key[:1].upper() + key[1:]: bool(inputs.get(key, False)) for key in flags}
    target.client("s3").put_public_access_block(Bucket=inputs["bucket"], PublicAccessBlockConfiguration=configuration)
    return inputs["bucket"], {}


def put_ownership_controls(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rule = aws_api(inputs["rule"])
    target.client("s3").put_bucket_ownership_controls(Bucket=inputs["bucket"], OwnershipControls={"Rules": [rule]})
    return inputs["bucket"], {}


def put_encryption(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = []
    for rule in inputs["rules"]:
        converted: dict[str, Any] = {}
        default = rule.get("applyServerSideEncryptionByDefault")
        if default:
            converted["ApplyServerSideEncryptionByDefault"] = {"SSEAlgorithm": default["sseAlgorithm"]}
            if default.get("kmsMasterKeyId"):
                converted["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        if "bucketKeyEnabled" in rule:
            converted["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
        if rule.get("blockedEncryptionTypes"):
            converted["BlockedEncryptionTypes"] = {"EncryptionType": list(rule["blockedEncryptionTypes"])}
        rules.append(converted)
    target.client("s3").put_bucket_encryption(
        Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return inputs["bucket"], {}


def put_versioning(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    configuration = {"Status": inputs["versioningConfiguration"]["status"]}
    target.client("s3").put_bucket_versioning(Bucket=inputs["bucket"], VersioningConfiguration=configuration)
    return inputs["bucket"], {}


def put_bucket_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    target.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=_json_text(inputs["policy"]))
    return inputs["bucket"], {}


def put_lifecycle(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rules = aws_api(inputs["rules"])
    target.client("s3").put_bucket_lifecycle_configuration(
        Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules}
    )
    return inputs["bucket"], {}


def put_logging(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    enabled: dict[str, Any] = {"TargetBucket": inputs["targetBucket"], "TargetPrefix": inputs.get("targetPrefix", "")}
    if inputs.get("targetObjectKeyFormat"):
        enabled["TargetObjectKeyFormat"] = aws_api(inputs["targetObjectKeyFormat"])
    deadline = time.monotonic() + LOGGING_TARGET_WAIT_SECONDS
    while True:
        try:
            target.client("s3").put_bucket_logging(
                Bucket=inputs["bucket"], BucketLoggingStatus={"LoggingEnabled": enabled}
            )
            return inputs["bucket"], {}
        except ClientError as error:
            # The target's policy that lets the logging service write may not be there yet (the program orders
            # only some of its loggings after it): wait for it, as moto checks it and S3 does not.
            if error.response["Error"]["Code"] != "InvalidTargetBucketForLogging" or time.monotonic() > deadline:
                raise
            if target.stopped.wait(0.05):
                raise


# --- KMS ---------------------------------------------------------------------------------------------------------


def create_key(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kms = target.client("kms")
    arguments: dict[str, Any] = {
        "KeyUsage": inputs.get("keyUsage", "ENCRYPT_DECRYPT"),
        "KeySpec": inputs.get("keySpec") or inputs.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT",
        "BypassPolicyLockoutSafetyCheck": bool(inputs.get("bypassPolicyLockoutSafetyCheck", False)),
    }
    if inputs.get("description"):
        arguments["Description"] = inputs["description"]
    if inputs.get("policy"):
        arguments["Policy"] = _json_text(inputs["policy"])
    if inputs.get("tags"):
        arguments["Tags"] = _tags(inputs, "TagKey", "TagValue")
    metadata = kms.create_key(**arguments)["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"keyId": metadata["KeyId"], "arn": metadata["Arn"]}


def create_alias(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    kms = target.client("kms")
    alias = inputs.get("name") or f"alias/{name}"
    kms.create_alias(AliasName=alias, TargetKeyId=inputs["targetKeyId"])
    key_arn = kms.describe_key(KeyId=inputs["targetKeyId"])["KeyMetadata"]["Arn"]
    return alias, {
        "name": alias,
        "arn": f"arn:aws:kms:{target.region}:{target.account_id}:{alias}",
        "targetKeyArn": key_arn,
    }


def put_key_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    target.client("kms").put_key_policy(
        KeyId=inputs["keyId"],
        PolicyName="default",
        Policy=_json_text(inputs["policy"]),
        BypassPolicyLockoutSafetyCheck=bool(inputs.get("bypassPolicyLockoutSafetyCheck", False)),
    )
    return inputs["keyId"], {}


# --- IAM ---------------------------------------------------------------------------------------------------------


def create_role(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    iam = target.client("iam")
    role_name = inputs.get("name") or name
    arguments: dict[str, Any] = {
        "RoleName": role_name,
        "Path": inputs.get("path", "/"),
        "AssumeRolePolicyDocument": _json_text(inputs["assumeRolePolicy"]),
    }
    optional = {"description": "Description", "permissionsBoundary": "PermissionsBoundary"}
    arguments.update({api: inputs[key] for key, api in optional.items() if inputs.get(key)})
    if inputs.get("maxSessionDuration"):
        arguments["MaxSessionDuration"] = int(inputs["maxSessionDuration"])
    if inputs.get("tags"):
        arguments["Tags"] = _tags(inputs)
    role = iam.create_role(**arguments)["Role"]
    for policy in inputs.get("inlinePolicies") or []:
        iam.put_role_policy(RoleName=role_name, PolicyName=policy["name"], PolicyDocument=_json_text(policy["policy"]))
    for policy_arn in inputs.get("managedPolicyArns") or []:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
    return role_name, {"name": role_name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


def put_role_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or name
    target.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=policy_name, PolicyDocument=_json_text(inputs["policy"])
    )
    return f"{inputs['role']}:{policy_name}", {"name": policy_name}


def create_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or name
    arguments: dict[str, Any] = {
        "PolicyName": policy_name,
        "Path": inputs.get("path", "/"),
        "PolicyDocument": _json_text(inputs["policy"]),
    }
    if inputs.get("description"):
        arguments["Description"] = inputs["description"]
    if inputs.get("tags"):
        arguments["Tags"] = _tags(inputs)
    policy = target.client("iam").create_policy(**arguments)["Policy"]
    return policy["Arn"], {"name": policy_name, "arn": policy["Arn"], "policyId": policy["PolicyId"]}


def create_group(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    group_name = inputs.get("name") or name
    group = target.client("iam").create_group(GroupName=group_name, Path=inputs.get("path", "/"))["Group"]
    return group_name, {"name": group_name, "arn": group["Arn"], "uniqueId": group["GroupId"]}


def attach_group_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    target.client("iam").attach_group_policy(GroupName=inputs["group"], PolicyArn=inputs["policyArn"])
    return f"{inputs['group']}-{name}", {}


def put_group_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    policy_name = inputs.get("name") or name
    target.client("iam").put_group_policy(
        GroupName=inputs["group"], PolicyName=policy_name, PolicyDocument=_json_text(inputs["policy"])
    )
    return f"{inputs['group']}:{policy_name}", {"name": policy_name}


def attach_role_policy(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    target.client("iam").attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
    return f"{inputs['role']}-{name}", {}


def create_user(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    user_name = inputs.get("name") or name
    arguments: dict[str, Any] = {"UserName": user_name, "Path": inputs.get("path", "/")}
    if inputs.get("permissionsBoundary"):
        arguments["PermissionsBoundary"] = inputs["permissionsBoundary"]
    user = target.client("iam").create_user(**arguments)["User"]
    return user_name, {"name": user_name, "arn": user["Arn"], "uniqueId": user["UserId"]}


def add_user_to_groups(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    for group in inputs.get("groups") or []:
        target.client("iam").add_user_to_group(UserName=inputs["user"], GroupName=group)
    return f"{inputs['user']}-{name}", {}


# --- HealthImaging -------------------------------------------------------------------------------------------------


#: Data store options of HealthImaging's CreateDatastore (input name -> the emulator's keyword), passed on when the
#: resource has them.
DATASTORE_OPTIONS = {"losslessStorageFormat": "lossless_storage_format", "lambdaAuthorizerArn": "lambda_authorizer_arn"}


def create_datastore(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    datastore_name = inputs.get("datastoreName") or name
    options = {keyword: inputs[key] for key, keyword in DATASTORE_OPTIONS.items() if inputs.get(key) is not None}
    datastore_id, datastore_arn = target.healthimaging.create_datastore(
        datastore_name, kms_key_arn=inputs.get("kmsKeyArn"), **options
    )
    return datastore_id, {
        "datastoreId": datastore_id,
        "datastoreArn": datastore_arn,
        "datastoreName": datastore_name,
        "datastoreStatus": target.healthimaging.datastores[datastore_id].status,
    }


def invoke_datastore_creator(target: Target, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The data store creator's invocation (a data store with creation-time options,
    ``components/created_datastore.py``): the data store is created in the emulator with the members the function
    would pass to CreateDatastore, and the invocation answers as the function does."""
    from healthimaging_functions.datastore_creator.request import InvalidRequestError, parse_event

    try:
        request = parse_event(json.loads(inputs.get("input") or "{}"))
    except (InvalidRequestError, json.JSONDecodeError) as error:
        raise ValueError(f"only the data store creator's invocations are emulated ({error})") from error
    datastore_id, outputs = create_datastore(target, name, dict(request.members))
    answer = {key: outputs[key] for key in ("datastoreId", "datastoreArn", "datastoreStatus")}
    # The answer also as outputs of their own: a replayed deployment renames the data store's ID and ARN from them.
    return f"{name}-{datastore_id}", {"result": json.dumps(answer), **answer}


def read_datastore(target: Target, datastore_id: str) -> dict[str, Any]:
    """What aws-native's ``Datastore.get`` reads back: the emulator's data store, or a KeyError naming it."""
    found = target.healthimaging.datastores.get(datastore_id)
    if found is None:
        raise KeyError(f"there is no data store {datastore_id} in the HealthImaging emulator")
    return {
        "datastoreId": datastore_id,
        "datastoreArn": found.arn,
        "datastoreName": found.name,
        "datastoreStatus": found.status,
        **({"kmsKeyArn": found.kms_key_arn} if found.kms_key_arn else {}),
    }


#: Resource types a program reads back (``Resource.get``) from what the sandbox created, and how.
READERS: dict[str, Callable[[Target, str], dict[str, Any]]] = {
    "aws-native:healthimaging:Datastore": read_datastore,
}

#: Every resource type the sandbox creates, and how.
CREATORS: dict[str, Creator] = {
    "aws:s3/bucket:Bucket": create_bucket,
    "aws:s3/bucketV2:BucketV2": create_bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": put_public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": put_ownership_controls,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": put_encryption,
    "aws:s3/bucketVersioning:BucketVersioning": put_versioning,
    "aws:s3/bucketPolicy:BucketPolicy": put_bucket_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": put_lifecycle,
    "aws:s3/bucketLogging:BucketLogging": put_logging,
    "aws:kms/key:Key": create_key,
    "aws:kms/alias:Alias": create_alias,
    "aws:kms/keyPolicy:KeyPolicy": put_key_policy,
    "aws:iam/role:Role": create_role,
    "aws:iam/rolePolicy:RolePolicy": put_role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": attach_role_policy,
    "aws:iam/policy:Policy": create_policy,
    "aws:iam/group:Group": create_group,
    "aws:iam/groupPolicy:GroupPolicy": put_group_policy,
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": attach_group_policy,
    "aws:iam/user:User": create_user,
    "aws:iam/userGroupMembership:UserGroupMembership": add_user_to_groups,
    "aws-native:healthimaging:Datastore": create_datastore,
    "aws:lambda/invocation:Invocation": invoke_datastore_creator,
}
