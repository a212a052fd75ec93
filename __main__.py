"""AWS HealthImaging setup as code: settings, providers, components, exports.

Reads the stack's configuration once (``settings.py``), creates explicit ``aws`` and ``aws-native``
providers pinned to the stack's account and region, and composes the bucket pair, the data store and
the import job role. ``python -m ahictl plan --stack <name>`` shows what this creates, offline.
"""

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components import HealthImagingAccess, ImagingBucketPair, ImagingDatastore, ImportJobRole
from components.import_command import start_dicom_import_job_command
from settings import load_settings

s = load_settings()
if s.disposable_stack:
    pulumi.log.warn(
        "DISPOSABLE STACK: disposableStack is true, so the data store, the buckets and the KMS keys are NOT "
        "protected and NOT retained: `pulumi destroy` deletes them and the medical images in them. "
        "Never use this setting for a stack that holds real data."
    )

# Both providers refuse to act in any other account. The aws-native provider gets no default tags:
# they would reach the data store, whose tags are create-only (a tag edit would replace it).
aws_provider = aws.Provider(
    "aws",
    region=s.region,
    allowed_account_ids=[s.account_id],
    default_tags={"tags": s.tags} if s.tags else None,
)
native_provider = aws_native.Provider("aws-native", region=s.region, allowed_account_ids=[s.account_id])
providers = pulumi.ResourceOptions(providers=[aws_provider, native_provider])

buckets = ImagingBucketPair(
    "import-buckets",
    {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.name_prefix,
        "input_bucket_name": s.input_bucket_name,
        "output_bucket_name": s.output_bucket_name,
        "log_bucket_name": s.log_bucket_name,
        "naming": s.bucket_naming,
        "encryption": s.bucket_encryption,
        "kms_key_arn": s.bucket_kms_key_arn,
        "block_public_access": s.block_public_access,
        "enforce_bucket_owner": s.enforce_bucket_owner,
        "versioning": s.versioning,
        "require_tls": s.require_tls,
        "access_logging": s.access_logging,
        "noncurrent_version_expiration_days": s.noncurrent_version_expiration_days,
        "current_version_expiration_days": s.current_version_expiration_days or None,
        "force_destroy": s.force_destroy_buckets,
        "protect_data": s.protect_data,
    },
    providers,
)

datastore = ImagingDatastore(
    "datastore",
    {
        "account_id": s.account_id,
        "region": s.region,
        "datastore_name": s.datastore_name or f"{s.name_prefix}-datastore",
        "encryption": s.datastore_encryption,
        "kms_key_arn": s.datastore_kms_key_arn,
        "tags": s.tags,
        "allow_replacement": s.allow_datastore_replacement,
        "protect_data": s.protect_data,
    },
    providers,
)

import_role = ImportJobRole(
    "import-job-role",
    {
        "account_id": s.account_id,
        "region": s.region,
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
        "role_name": s.import_role_name or f"{s.name_prefix}-ImportJobDataAccessRole",
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    },
    providers,
)

# Access for people: a policy per persona, and the groups, roles, permission sets and user that carry it.
access = HealthImagingAccess(
    "access",
    {
        "account_id": s.account_id,
        "region": s.region,
        "name_prefix": s.access_name_prefix or s.name_prefix,
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "import_role_arn": import_role.role_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
        "datastore_kms_key_arn": datastore.kms_key_arn,
        "personas": s.access_personas,
        "groups": s.access_groups,
        "role_principals": s.access_role_principals,
        "roles_require_mfa": s.access_roles_require_mfa,
        "identity_center_instance_arn": s.access_identity_center_instance_arn,
        "session_hours": s.access_session_hours,
        "admin_user_name": s.access_admin_user_name,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    },
    providers,
)

pulumi.export("accountId", s.account_id)
pulumi.export("region", s.region)
pulumi.export("inputBucketName", buckets.input_bucket_name)
pulumi.export("inputBucketArn", buckets.input_bucket_arn)
pulumi.export("outputBucketName", buckets.output_bucket_name)
pulumi.export("outputBucketArn", buckets.output_bucket_arn)
pulumi.export("logBucketName", buckets.log_bucket_name)
pulumi.export("bucketKmsKeyArn", buckets.kms_key_arn)
pulumi.export("datastoreId", datastore.datastore_id)
pulumi.export("datastoreArn", datastore.datastore_arn)
pulumi.export("datastoreKmsKeyArn", datastore.kms_key_arn)
pulumi.export("importRoleArn", import_role.role_arn)
pulumi.export("accessPolicyArns", access.policy_arns)
pulumi.export("accessGroupNames", access.group_names)
pulumi.export("accessRoleArns", access.role_arns)
pulumi.export("accessPermissionSetArns", access.permission_set_arns)
pulumi.export("accessAdminUserName", access.admin_user_name)
pulumi.export(
    "startImportJobCommand",
    pulumi.Output.all(
        datastore.datastore_id, import_role.role_arn, buckets.input_bucket_name, buckets.output_bucket_name
    ).apply(
        lambda v: start_dicom_import_job_command(
            region=s.region,
            account_id=s.account_id,
            datastore_id=v[0],
            role_arn=v[1],
            input_bucket=v[2],
            output_bucket=v[3],
        )
    ),
)
