"""What ``pulumi up`` creates for the dev stack, created in moto and the HealthImaging stand-in, plus the outputs file.

Every policy document comes from the program's own builders (``components.policies``,
``components.access_policies``), so a change there reaches the end-to-end tests. The outputs file holds every key
``__main__.py`` exports, as ``pulumi stack output --json`` prints them.

moto evaluates bucket policies without their conditions: the TLS-only statements (Deny unless
``aws:SecureTransport``) then deny every object read and write, although moto still answers the bucket-level
reads (policy, encryption, versioning, public access block, ownership, listing). So by default the input and
output buckets get NO bucket policy; ``tls_policy=True`` (the ``deployed_stack_with_tls_policy`` fixture) puts the
program's TLS-only policy on all three buckets, for verify's read-only checks, and no object can then be read or
written in those buckets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ahiops.dicomweb import dicomweb_url
from components import access_policies, audit_trail, policies
from components.access import ACCESS_DEFAULTS, resource_name
from components.aws_cli_command import start_dicom_import_job_command
from components.bucket_pair import generated_bucket_name
from components.datastore import generated_datastore_name, prefixed_key_alias
from components.import_alerts import AlertNames
from components.import_role import PERMISSION_POLICY_NAME, generated_role_name
from components.secure_bucket import DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS, lifecycle_rules
from sandbox.healthimaging import HealthImagingEmulator

from .environment import AwsEnv

#: The dev stack's name prefix (Pulumi.dev.yaml's namePrefix).
NAME_PREFIX = "ahi-dev"
#: The keys ``__main__.py`` exports, in its order (a test checks this list against ``__main__.py``).
EXPORTED_KEYS = (
    "accountId",
    "region",
    "inputBucketName",
    "inputBucketArn",
    "outputBucketName",
    "outputBucketArn",
    "logBucketName",
    "bucketKmsKeyArn",
    "datastoreId",
    "datastoreArn",
    "datastoreKmsKeyArn",
    "datastoreLosslessStorageFormat",
    "datastoreLambdaAuthorizerArn",
    "dicomwebUrl",
    "dicomwebPersonaRoleArns",
    "importRoleArn",
    "accessPolicyArns",
    "accessGroupNames",
    "accessRoleArns",
    "accessPermissionSetArns",
    "accessAdminUserName",
    "importAlertsTopicArn",
    "importAlertsFunctionName",
    "auditTrailArn",
    "auditBucketName",
    "autoImportQueueUrl",
    "autoImportFunctionName",
    "startImportJobCommand",
)


@dataclass(frozen=True)
class DeployedStack:
    """The deployed dev stack: the outputs file and what is behind each output."""

    outputs_path: Path
    outputs: dict[str, Any]
    s3: Any  # a boto3 S3 client configured by the environment (moto)
    healthimaging: HealthImagingEmulator
    env: AwsEnv
    account_id: str
    region: str
    input_bucket: str
    output_bucket: str
    log_bucket: str
    bucket_key_arn: str
    datastore_id: str
    datastore_arn: str
    datastore_key_arn: str
    import_role_name: str
    import_role_arn: str
    tls_policy: bool


def _s3_api(value: Any) -> Any:
    """A Pulumi argument dict (snake_case) in the S3 API's spelling (PascalCase, ``id`` -> ``ID``)."""
    if isinstance(value, dict):
        return {
            ("ID" if key == "id" else "".join(part.capitalize() for part in key.split("_"))): _s3_api(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_s3_api(item) for item in value]
    return value


def _create_key(kms: Any, *, description: str, policy: dict[str, Any], alias: str) -> str:
    """A symmetric key with rotation on and an alias, as ``components.kms.customer_managed_key`` creates it."""
    key = kms.create_key(
        Description=description,
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        Policy=json.dumps(policy),
        BypassPolicyLockoutSafetyCheck=False,
    )["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=key["KeyId"])
    return str(key["Arn"])


def _secure_bucket(s3: Any, name: str, *, role: str, kms_key_arn: str | None, policy: dict[str, Any] | None) -> None:
    """One bucket with the controls ``components.secure_bucket.SecureBucket`` applies."""
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "healthimaging:bucket-role", "Value": role}]})
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    default: dict[str, Any] = (
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn} if kms_key_arn else {"SSEAlgorithm": "AES256"}
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": default,
                    "BucketKeyEnabled": kms_key_arn is not None,
                    "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    rules = lifecycle_rules(
        noncurrent_version_expiration_days=DEFAULT_NONCURRENT_VERSION_EXPIRATION_DAYS,
        current_version_expiration_days=None,
    )
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": _s3_api(rules)})
    if policy is not None:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))


def deploy_stack(
    env: AwsEnv, healthimaging: HealthImagingEmulator, outputs_path: Path, *, tls_policy: bool = False
) -> DeployedStack:
    """Create the dev stack in moto and the stand-in (see the module docstring) and write ``outputs_path``."""
    account, region, prefix = env.account_id, env.region, NAME_PREFIX
    s3, kms, iam = (
        env.client("s3", max_attempts=3),
        env.client("kms", max_attempts=3),
        env.client("iam", max_attempts=3),
    )

    bucket_key_arn = _create_key(
        kms,
        description=f"Encrypts the HealthImaging input and output buckets of {prefix}",
        policy=policies.bucket_key_policy(account),
        alias=f"{prefix}-import-buckets",
    )
    datastore_key_arn = _create_key(
        kms,
        description=f"Encrypts the HealthImaging data store of {prefix}",
        policy=policies.datastore_key_initial_policy(account),
        alias=prefixed_key_alias(prefix),
    )
    datastore_id, datastore_arn = healthimaging.create_datastore(
        generated_datastore_name(prefix), kms_key_arn=datastore_key_arn
    )
    kms.put_key_policy(
        KeyId=datastore_key_arn,
        PolicyName="default",
        Policy=json.dumps(policies.datastore_key_policy(account, datastore_key_arn, datastore_id)),
    )

    names = {role: generated_bucket_name(prefix, role, account, region) for role in ("input", "output", "log")}
    arns = {role: policies.bucket_arn(name) for role, name in names.items()}
    for role in ("input", "output"):
        policy = policies.bucket_policy(arns[role], require_tls=True) if tls_policy else None
        _secure_bucket(s3, names[role], role=role, kms_key_arn=bucket_key_arn, policy=policy)
    delivery = [policies.access_log_delivery_statement(arns["log"], [arns["input"], arns["output"]], account)]
    _secure_bucket(
        s3,
        names["log"],
        role="log",
        kms_key_arn=None,
        policy=policies.bucket_policy(arns["log"], require_tls=False, extra_statements=delivery),
    )
    for role in ("input", "output"):
        s3.put_bucket_logging(
            Bucket=names[role],
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": names["log"], "TargetPrefix": f"{role}/"}},
        )
    if tls_policy:
        # After the logging: moto's PutBucketLogging fails (500) on a target policy whose Principal is "*".
        log_policy = policies.bucket_policy(arns["log"], require_tls=True, extra_statements=delivery)
        s3.put_bucket_policy(Bucket=names["log"], Policy=json.dumps(log_policy))

    role_name = generated_role_name(prefix)
    role_arn = iam.create_role(
        RoleName=role_name,
        Path="/",
        Description="Assumed by AWS HealthImaging to read DICOM P10 files and write import results",
        AssumeRolePolicyDocument=json.dumps(policies.import_role_trust_policy(account, datastore_arn)),
    )["Role"]["Arn"]
    permissions = policies.import_role_permission_policy(
        input_bucket_arn=arns["input"],
        output_bucket_arn=arns["output"],
        account_id=account,
        region=region,
        input_key_arn=bucket_key_arn,
        output_key_arn=bucket_key_arn,
    )
    iam.put_role_policy(RoleName=role_name, PolicyName=PERMISSION_POLICY_NAME, PolicyDocument=json.dumps(permissions))
    healthimaging.check_data_access_role = True

    scope = access_policies.AccessScope(
        account_id=account,
        region=region,
        datastore_arn=datastore_arn,
        input_bucket_arn=arns["input"],
        output_bucket_arn=arns["output"],
        import_role_arn=role_arn,
        input_key_arn=bucket_key_arn,
        output_key_arn=bucket_key_arn,
        datastore_key_arn=datastore_key_arn,
    )
    policy_arns, group_names = {}, {}
    for persona in ACCESS_DEFAULTS["personas"]:
        iam_name = resource_name(prefix, persona)
        policy_arns[persona] = iam.create_policy(
            PolicyName=iam_name,
            Path=ACCESS_DEFAULTS["path"],
            Description=access_policies.PERSONA_DESCRIPTIONS[persona],
            PolicyDocument=json.dumps(access_policies.persona_policy(persona, scope)),
        )["Policy"]["Arn"]
        iam.create_group(GroupName=iam_name, Path=ACCESS_DEFAULTS["path"])
        iam.attach_group_policy(GroupName=iam_name, PolicyArn=policy_arns[persona])
        group_names[persona] = iam_name

    alert_names = AlertNames(prefix)
    outputs: dict[str, Any] = {
        "accountId": account,
        "region": region,
        "inputBucketName": names["input"],
        "inputBucketArn": arns["input"],
        "outputBucketName": names["output"],
        "outputBucketArn": arns["output"],
        "logBucketName": names["log"],
        "bucketKmsKeyArn": bucket_key_arn,
        "datastoreId": datastore_id,
        "datastoreArn": datastore_arn,
        "datastoreKmsKeyArn": datastore_key_arn,
        # The dev stack keeps the data store's creation-time options at their defaults.
        "datastoreLosslessStorageFormat": "HTJ2K",
        "datastoreLambdaAuthorizerArn": None,
        "dicomwebUrl": dicomweb_url(region, datastore_id),
        "dicomwebPersonaRoleArns": {},
        "importRoleArn": role_arn,
        "accessPolicyArns": policy_arns,
        "accessGroupNames": group_names,
        "accessRoleArns": {},
        "accessPermissionSetArns": {},
        "accessAdminUserName": None,
        # The import alerts and the audit trail as the program names them (the fixture does not create them: tests
        # of the alert function set up the pieces they use, tests/functions/test_import_alerts_function.py).
        "importAlertsTopicArn": f"arn:aws:sns:{region}:{account}:{alert_names.topic}",
        "importAlertsFunctionName": alert_names.function,
        "auditTrailArn": f"arn:aws:cloudtrail:{region}:{account}:trail/{audit_trail.trail_name(prefix)}",
        "auditBucketName": audit_trail.generated_bucket_name(prefix, account, region),
        # The dev stack keeps the automatic importer off.
        "autoImportQueueUrl": None,
        "autoImportFunctionName": None,
        "startImportJobCommand": start_dicom_import_job_command(
            region=region,
            account_id=account,
            datastore_id=datastore_id,
            role_arn=role_arn,
            input_bucket=names["input"],
            output_bucket=names["output"],
        ),
    }
    # `pulumi stack output --json` prints the outputs sorted by name, indented by two spaces.
    outputs_path.write_text(json.dumps(outputs, indent=2, sort_keys=True) + "\n")
    return DeployedStack(
        outputs_path=outputs_path,
        outputs=outputs,
        s3=s3,
        healthimaging=healthimaging,
        env=env,
        account_id=account,
        region=region,
        input_bucket=names["input"],
        output_bucket=names["output"],
        log_bucket=names["log"],
        bucket_key_arn=bucket_key_arn,
        datastore_id=datastore_id,
        datastore_arn=datastore_arn,
        datastore_key_arn=datastore_key_arn,
        import_role_name=role_name,
        import_role_arn=role_arn,
        tls_policy=tls_policy,
    )
