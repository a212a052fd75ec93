"""Each component's arguments, from the validated stack settings.

``__main__.py`` stays a table of contents (settings, providers, components, exports); the mapping from
configuration keys to component arguments lives here, one function per component.
"""

from __future__ import annotations

from components import (
    HealthImagingAccessArgs,
    ImagingBucketPair,
    ImagingBucketPairArgs,
    ImagingDatastore,
    ImagingDatastoreArgs,
    ImportJobRole,
    ImportJobRoleArgs,
)
from settings import StackSettings, access_settings_args


def datastore_name(s: StackSettings) -> str:
    """The data store's name: configured, or ``<prefix>-datastore``."""
    return s.datastore_name or f"{s.name_prefix}-datastore"


def import_role_name(s: StackSettings) -> str:
    """The import role's name: configured, or ``<prefix>-ImportJobDataAccessRole`` (the guide's name, prefixed)."""
    return s.import_role_name or f"{s.name_prefix}-ImportJobDataAccessRole"


def bucket_pair_args(s: StackSettings) -> ImagingBucketPairArgs:
    """The input, output and log buckets with the stack's security settings."""
    return {
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
    }


def datastore_args(s: StackSettings) -> ImagingDatastoreArgs:
    """The data store. Its name, key and tags are create-only (see the component)."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "datastore_name": datastore_name(s),
        "encryption": s.datastore_encryption,
        "kms_key_arn": s.datastore_kms_key_arn,
        "tags": s.tags,
        "allow_replacement": s.allow_datastore_replacement,
        "protect_data": s.protect_data,
    }


def import_role_args(s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore) -> ImportJobRoleArgs:
    """The role HealthImaging assumes for import jobs, scoped to this stack's data store and buckets."""
    return {
        "account_id": s.account_id,
        "region": s.region,
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
        "role_name": import_role_name(s),
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    }


def access_args(
    s: StackSettings, buckets: ImagingBucketPair, datastore: ImagingDatastore, import_role: ImportJobRole
) -> HealthImagingAccessArgs:
    """The personas' policies and the routes (groups, roles, permission sets, user) that carry them."""
    return {
        **access_settings_args(s),  # type: ignore[typeddict-item]
        "account_id": s.account_id,
        "region": s.region,
        "datastore_arn": datastore.datastore_arn,
        "input_bucket_arn": buckets.input_bucket_arn,
        "output_bucket_arn": buckets.output_bucket_arn,
        "import_role_arn": import_role.role_arn,
        "input_kms_key_arn": buckets.kms_key_arn,
        "output_kms_key_arn": buckets.kms_key_arn,
        "datastore_kms_key_arn": datastore.kms_key_arn,
        "path": s.iam_path,
        "permissions_boundary_arn": s.permissions_boundary_arn,
    }
